// docs/pg.md: a client released inside an open transaction is closed, not handed to the next caller.
import { pool } from './src/db.js';
import { refund } from './src/routes/refunds.js';

const dirty = new Promise((resolve) => pool.guard.once('dirtyRelease', resolve));
await refund(7);
await dirty;
await pool.end();

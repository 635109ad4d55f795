// docs/reports.md: pool.guard.snapshot() of a pool with one lease reported as a leak and one idle connection.
import { pool } from './src/db.js';
import { handler } from './src/server.js';

const user = { id: 7 };
const other = await pool.connect(); // held while the handler runs, so that it opens a second connection
const leaked = new Promise((resolve) => pool.guard.once('leak', resolve));
await handler({ user, path: '/order', id: 1 }); // the early return: still checked out
other.release(); // given back at once: idle in the snapshot
await leaked;
console.log(JSON.stringify({ snapshot: JSON.stringify(pool.guard.snapshot(), null, 2) }));
process.exit(0);

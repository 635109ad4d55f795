// docs/reports.md: pool.guard.snapshot() of a pool with one lease reported as a leak and one idle connection.
import { pool } from './src/db.js';
import { handler } from './src/server.js';

const user = { id: 7 };
const other = await pool.connect(); // a second connection, given back below: idle in the snapshot
const leaked = new Promise((resolve) => pool.guard.once('leak', resolve));
await handler({ user, path: '/order', id: 1 }); // the early return: still checked out
await leaked;
other.release();
console.log(JSON.stringify({ snapshot: JSON.stringify(pool.guard.snapshot(), null, 2) }));
process.exit(0);

// README's quick start: one leak report, then the pool run dry (9 leaked checkouts at one line and a
// pool.query() still running) and the timeout error a tenth caller gets. Prints { name: text } as JSON.
import { pool } from './src/db.js';
import { handler } from './src/server.js';
const bound = pool.options.connectionTimeoutMillis; pool.options.connectionTimeoutMillis = 30_000; // connections open under 30 s (a cold connect at load can outlast 300 ms); the wait is timed with `bound`
const user = { id: 7 };
const leaked = new Promise((resolve) => pool.guard.once('leak', resolve));
await handler({ user, path: '/order', id: 1 });
await leaked; // the default logger has written the report to stderr by now

for (let id = 3; id < 19; id += 2) await handler({ user, path: '/order', id });
const slow = handler({ user, path: '/orders' }); // the tenth connection, busy
while (pool.idleCount > 0 || pool.totalCount < 10) await new Promise((r) => setTimeout(r, 10));

pool.options.connectionTimeoutMillis = bound;
const callers = [0, 1, 2, 3].map(() => pool.connect().then((c) => c, (err) => err));
const first = await callers[0];
// What console.error(first) prints (pg's own error, then what poolguard wrote into its stack), up to the frames.
console.log(JSON.stringify({ 'pg-timeout': first.stack.split('\n    at ')[0] }));
process.exit(0);

// docs/mysql2.md: a leak report, the timeout error instead of mysql2's wait for ever, the end report.
import { getOrder, pool } from './src/mysql/orders.js';

const leaked = new Promise((resolve) => pool.guard.once('leak', resolve));
await getOrder(1);
await leaked;
await getOrder(3);
const err = await pool.getConnection().then(() => undefined, (e) => e);
await pool.end();
console.log(JSON.stringify({ 'mysql2-timeout': `${err.name}: ${err.message}` }));
process.exit(0);

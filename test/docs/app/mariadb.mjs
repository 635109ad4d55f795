// docs/mariadb.md: a leak report, then the connector's own timeout error, its holders logged.
import { getOrder, pool } from './src/mariadb/orders.js';

const leaked = new Promise((resolve) => pool.guard.once('leak', resolve));
await getOrder(1);
await leaked;
await getOrder(3);
const err = await pool.getConnection().then(() => undefined, (e) => e);
console.log(JSON.stringify({ 'mariadb-timeout': `${err.name}: ${err.message}\ncode: ${err.code}, holders: ${err.holders.length} call site` }));
process.exit(0);

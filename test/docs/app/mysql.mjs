// docs/mysql.md: a leak report, then the timeout error instead of mysql's wait for ever.
import { promisify } from 'node:util';
import { getOrder, pool } from './src/mysqljs/orders.js';

const order = promisify(getOrder);
const leaked = new Promise((resolve) => pool.guard.once('leak', resolve));
await order(1);
await leaked;
await order(3);
const err = await new Promise((resolve) => pool.getConnection((e) => resolve(e)));
console.log(JSON.stringify({ 'mysql-timeout': `${err.name}: ${err.message}` }));
process.exit(0);

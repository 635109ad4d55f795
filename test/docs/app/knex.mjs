// docs/knex.md: a transaction never committed, and the timeout error Knex then throws.
import { closeInvoice, knex } from './src/knex/invoices.js';

const leaked = new Promise((resolve) => knex.client.pool.guard.once('leak', resolve));
await closeInvoice(1);
await leaked;
await closeInvoice(3);
const err = await knex.select(knex.raw('1 AS one')).then(() => undefined, (e) => e);
// What console.error(err) prints, up to the frames.
console.log(JSON.stringify({ 'knex-timeout': err.stack.split('\n    at ')[0], sql: String(err.sql) }));
process.exit(0);

// docs/data-layers.md: a leak through Knex's thenables, without and with guard.asyncCallers.
import { closeInvoice, pool } from './src/knex/billing.js';

const leaked = new Promise((resolve) => pool.guard.once('leak', resolve));
await closeInvoice(1);
await leaked;
process.exit(0);

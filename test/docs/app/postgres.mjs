// docs/postgres.md: a leak report, then the timeout error instead of postgres.js's wait for ever.
import { getOrder, sql } from './src/postgres/orders.js';

const leaked = new Promise((resolve) => sql.guard.once('leak', resolve));
await getOrder(1);
await leaked;
await getOrder(3);
const err = await sql`SELECT 1`.then(() => undefined, (e) => e);
console.log(JSON.stringify({ 'postgres-timeout': `${err.name}: ${err.message}` }));
process.exit(0);

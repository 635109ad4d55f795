import knexFactory from 'knex';
import { Pool } from 'poolguard/pg';

// Knex ≥ 3.3 given a guarded pg.Pool: pg pools, Knex builds queries.
export const pool = new Pool({
  connectionString: process.env.DATABASE_URL,
  max: 2,
  guard: { name: 'billing-db', leakThresholdMs: 1_000, asyncCallers: process.env.ASYNC_CALLERS === '1' },
});
export const knex = knexFactory({ client: 'pg', connectionPool: pool });

export async function closeInvoice(id) {
  const trx = await knex.transaction();
  await trx.raw('SELECT ?::int AS id', [id]);
  if (id % 2 === 1) return; // the bug: neither commit() nor rollback() on this path
  await trx.commit();
}

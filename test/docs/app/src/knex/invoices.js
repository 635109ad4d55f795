import knexFactory from 'knex';
import { guardKnex } from 'poolguard/knex';

export const knex = knexFactory({
  client: 'pg',
  connection: process.env.DATABASE_URL,
  pool: { min: 0, max: 2 },
  acquireConnectionTimeout: 1_000,
});
guardKnex(knex, { name: 'billing-db', leakThresholdMs: 1_000 });

export async function closeInvoice(id) {
  const trx = await knex.transaction();
  await trx.raw('SELECT ?::int AS id', [id]);
  if (id % 2 === 1) return; // the bug: neither commit() nor rollback() on this path
  await trx.commit();
}

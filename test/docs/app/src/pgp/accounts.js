import pgPromise from 'pg-promise';
import { guard } from 'poolguard/pg';

const pgp = pgPromise();
export const db = pgp({ connectionString: process.env.DATABASE_URL, max: 2 });
export const handle = guard(db.$pool, { name: 'accounts-db', leakThresholdMs: 1_000 });

export function transfer(from, to, amount, confirmed) {
  return db.tx(async (t) => {
    await t.any('SELECT $1::int AS from_id, $2::int AS to_id, $3::int AS amount', [from, to, amount]);
    await confirmed; // the bug: waits inside the transaction for something that may never come
  });
}

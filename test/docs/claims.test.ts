// Claims the docs make about the libraries poolguard wraps (not about poolguard), checked against the
// versions in the lockfile and the real server: when a library changes, the doc sentence must too.
import knexFactory from 'knex';
import { afterEach, describe, expect, it } from 'vitest';
import { DATABASE_URL } from '../helpers/db.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
});

describe('docs/knex.md: KnexTimeoutError.sql', () => {
  it('is set by Knex 3.3 itself only for knex.raw(), never for a query builder (plain Knex, no poolguard)', async () => {
    const knex = knexFactory({ client: 'pg', connection: DATABASE_URL, pool: { min: 0, max: 1 }, acquireConnectionTimeout: 300, log: { warn() {} } });
    cleanups.push(() => knex.destroy());
    const trx = await knex.transaction();
    cleanups.push(() => trx.rollback());
    const timeout = (query: PromiseLike<unknown>) =>
      Promise.resolve(query).then(
        () => undefined,
        (e: unknown) => e as Error & { sql?: unknown },
      );
    const builder = await timeout(knex.select(knex.raw('1 AS one')));
    expect(builder?.name).toBe('KnexTimeoutError');
    expect(builder?.sql).toBeUndefined();
    const raw = await timeout(knex.raw('SELECT 1'));
    expect(raw?.name).toBe('KnexTimeoutError');
    expect(raw?.sql).toBe('SELECT 1');
  });
});

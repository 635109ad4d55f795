import knexFactory, { type Knex } from 'knex';
import { afterEach, describe, expect, it } from 'vitest';
import { guardKnex } from '../../src/knex.js';
import { dataLayerErrorSuites, type DataLayer } from '../helpers/data-layer-errors.js';
import { DATABASE_URL } from '../helpers/db.js';
import { caught, expectPoolguardLines, expectSameDriverError } from '../helpers/driver-errors.js';
import { MYSQL } from '../helpers/mysql.js';

// Knex's and tarn's own errors reach the caller of a guarded Knex as Knex raised them: the same
// class, code, message and fields (`sql`, `bindings`). Each path runs on a plain Knex and a guarded
// one, on PostgreSQL and on MariaDB, and the two errors are compared.

const APP = 'poolguard_knex_errors';
const connections: Record<string, () => Knex.Config['connection']> = {
  pg: () => `${DATABASE_URL}?application_name=${APP}`,
  mysql2: () => ({ ...MYSQL }),
};

const open: Knex[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((k) => Promise.race([k.destroy().catch(() => {}), new Promise((r) => setTimeout(r, 2_000))])));
});

type KnexLayer = DataLayer<Knex.Transaction> & { readonly knex: Knex };

function make(dialect: string, guarded: boolean, pool: { max?: number; acquireMs?: number } = {}): KnexLayer {
  const knex = knexFactory({ client: dialect, connection: connections[dialect]!(), pool: { min: 0, max: pool.max ?? 1 }, acquireConnectionTimeout: pool.acquireMs ?? 30_000 });
  open.push(knex);
  return {
    knex,
    guard: guarded ? guardKnex(knex, { name: 'knex-errors', logger: false }) : undefined,
    begin: () => knex.transaction(),
    commit: (trx) => trx.commit(),
    rollback: (trx) => trx.rollback(),
    inTransaction: (trx) => trx.raw('select 1'),
    transaction: (body) => knex.transaction(body),
    query: () => knex.raw('select 1'),
    badQuery: () => knex.raw('select * from poolguard_no_such_table'),
    end: () => knex.destroy(),
    acquireTimeout: (ms) => {
      (knex.client.pool as { acquireTimeoutMillis: number }).acquireTimeoutMillis = ms;
    },
  };
}

dataLayerErrorSuites<Knex.Transaction, KnexLayer>(
  {
    name: 'Knex',
    endCall: 'knex.destroy()',
    dialects: ['pg', 'mysql2'],
    guardName: 'knex-errors',
    make,
    forms: {
      'a builder query': ({ knex }) => knex.select(knex.raw('1 as one')).where(knex.raw('1'), '=', 1).then(),
      'knex.raw()': ({ knex }) => knex.raw('select ? as one', [1]).then(),
      'knex.transaction()': ({ knex }) => knex.transaction().then((trx) => trx.commit()),
      'knex.transaction(cb)': ({ knex }) => knex.transaction(async (trx) => trx.raw('select 1')),
    },
    timeout: { name: 'KnexTimeoutError', message: 'Knex: Timeout acquiring a connection. The pool is probably full. Are you missing a .transacting(trx) call?' },
    missingTableCode: (dialect) => (dialect === 'pg' ? '42P01' : 'ER_NO_SUCH_TABLE'),
  },
  'test/datalayers/knex-driver-errors.test.ts',
);

describe.each(['pg', 'mysql2'])("tarn's own acquire() on a guarded Knex (%s, real server)", (dialect) => {
  it("timeout: tarn's TimeoutError, unchanged; the holders in fields and in the stack", async () => {
    const run = async (guarded: boolean) => {
      const { knex } = make(dialect, guarded);
      (knex.client.pool as { acquireTimeoutMillis: number }).acquireTimeoutMillis = 300;
      const held = await knex.transaction();
      const err = await caught(() => (knex.client.pool as { acquire(): { promise: Promise<unknown> } }).acquire().promise);
      await held.commit();
      return err;
    };
    const mine = await run(true);
    expectSameDriverError(mine, await run(false));
    expect(mine.holders).toHaveLength(1);
    expectPoolguardLines(mine, /^poolguard\[knex-errors\]: 1 of 1 connections checked out/);
  });
});

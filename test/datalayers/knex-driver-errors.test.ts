import knexFactory, { type Knex } from 'knex';
import { afterEach, describe, expect, it } from 'vitest';
import type { EndReport, LeakReport, PoolGuard } from '../../src/index.js';
import { guardKnex } from '../../src/knex.js';
import { DATABASE_URL } from '../helpers/db.js';
import { caught, expectPoolguardLines, expectSameDriverError } from '../helpers/driver-errors.js';
import { MYSQL } from '../helpers/mysql.js';

// Knex's and tarn's own errors reach the caller of a guarded Knex as Knex raised them: the same
// class, code, message and fields (`sql`, `bindings`). Each path runs on a plain Knex and a guarded
// one, on PostgreSQL and on MariaDB, and the two errors are compared.

const APP = 'poolguard_knex_errors';
const connections = {
  pg: () => `${DATABASE_URL}?application_name=${APP}`,
  mysql2: () => ({ ...MYSQL }),
} as const;
type Dialect = keyof typeof connections;

const open: Knex[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((k) => Promise.race([k.destroy().catch(() => {}), new Promise((r) => setTimeout(r, 2_000))])));
});

interface Made {
  knex: Knex;
  guard: PoolGuard | undefined;
}
type Make = (dialect: Dialect, config?: Partial<Knex.Config>) => Made;

const build = (dialect: Dialect, config: Partial<Knex.Config> = {}): Knex => {
  const knex = knexFactory({ client: dialect, connection: connections[dialect](), pool: { min: 0, max: 1 }, acquireConnectionTimeout: 300, ...config });
  open.push(knex);
  return knex;
};
const plain: Make = (dialect, config) => ({ knex: build(dialect, config), guard: undefined });
const guarded: Make = (dialect, config) => {
  const knex = build(dialect, config);
  return { knex, guard: guardKnex(knex, { name: 'knex-errors', logger: false }) };
};

const forms = {
  'a builder query': (knex: Knex) => knex.select(knex.raw('1 as one')).where(knex.raw('1'), '=', 1),
  'knex.raw()': (knex: Knex) => knex.raw('select ? as one', [1]),
  'knex.transaction()': (knex: Knex) => knex.transaction().then((trx) => trx.commit()),
  'knex.transaction(cb)': (knex: Knex) => knex.transaction(async (trx) => trx.raw('select 1')),
} as const;
type Form = keyof typeof forms;

async function timedOut(make: Make, dialect: Dialect, form: Form) {
  const { knex } = make(dialect);
  const held = await knex.transaction();
  const err = await caught(() => forms[form](knex));
  await held.commit();
  return err;
}

async function afterDestroy(make: Make, dialect: Dialect, form: Form) {
  const { knex } = make(dialect);
  await knex.raw('select 1');
  await knex.destroy();
  return caught(() => forms[form](knex));
}

async function duringDestroy(make: Make, dialect: Dialect, form: Form) {
  const { knex } = make(dialect, { pool: { min: 0, max: 2 } });
  const held = await knex.transaction();
  const destroying = knex.destroy();
  const err = await caught(() => forms[form](knex));
  await held.commit();
  await destroying;
  return err;
}

describe.each(['pg', 'mysql2'] as const)("Knex's own errors pass through a guarded Knex unchanged (%s, real server)", (dialect) => {
  it.each(Object.keys(forms) as Form[])('timeout, %s: KnexTimeoutError with its message, sql and bindings; the holders in fields and in the stack', async (form) => {
    const mine = await timedOut(guarded, dialect, form);
    expectSameDriverError(mine, await timedOut(plain, dialect, form));
    expect(mine.name).toBe('KnexTimeoutError');
    expect(mine.message).toBe('Knex: Timeout acquiring a connection. The pool is probably full. Are you missing a .transacting(trx) call?');
    expect(mine.holders).toEqual([expect.objectContaining({ count: 1, idle: 1, inTransaction: 1 })]);
    expect(mine.holders![0]!.site).toContain('test/datalayers/knex-driver-errors.test.ts');
    expectPoolguardLines(mine, /^poolguard\[knex-errors\]: 1 of 1 connections checked out/, /\nNext: /);
  });

  it("timeout of tarn's own acquire(): tarn's TimeoutError, unchanged", async () => {
    const run = async (make: Make) => {
      const { knex } = make(dialect, { pool: { min: 0, max: 1, acquireTimeoutMillis: 300 } });
      const held = await knex.transaction();
      const pool = knex.client.pool as { acquire(): { promise: Promise<unknown> } };
      const err = await caught(() => pool.acquire().promise);
      await held.commit();
      return err;
    };
    const mine = await run(guarded);
    expectSameDriverError(mine, await run(plain));
    expect(mine.holders).toHaveLength(1);
    expectPoolguardLines(mine, /^poolguard\[knex-errors\]: 1 of 1 connections checked out/);
  });

  it.each(Object.keys(forms) as Form[])('after knex.destroy(), %s: Knex\'s own error, unchanged', async (form) => {
    const mine = await afterDestroy(guarded, dialect, form);
    expectSameDriverError(mine, await afterDestroy(plain, dialect, form));
  });

  it.each(Object.keys(forms) as Form[])('during knex.destroy(), %s: the same error as plain Knex', async (form) => {
    const mine = await duringDestroy(guarded, dialect, form);
    expectSameDriverError(mine, await duringDestroy(plain, dialect, form));
  });

  it('a caller queued when knex.destroy() is called: the same outcome as plain Knex', async () => {
    const run = async (make: Make) => {
      const { knex } = make(dialect, { acquireConnectionTimeout: 60_000 });
      const held = await knex.transaction();
      const waiter = knex.raw('select 1').then(
        () => undefined,
        (err: unknown) => err,
      );
      await new Promise((r) => setTimeout(r, 20));
      const destroying = knex.destroy();
      await held.commit();
      const outcome = await waiter;
      await destroying;
      return outcome;
    };
    const mine = await run(guarded);
    const theirs = await run(plain);
    if (theirs === undefined) expect(mine).toBeUndefined();
    else expectSameDriverError(mine, theirs);
  });

  it("a query error is the driver's, unchanged", async () => {
    const run = async (make: Make) => caught(() => make(dialect).knex.raw('select * from poolguard_no_such_table'));
    const mine = await run(guarded);
    expectSameDriverError(mine, await run(plain));
    expect(mine.code).toBe(dialect === 'pg' ? '42P01' : 'ER_NO_SUCH_TABLE');
  });
});

describe.each(['pg', 'mysql2'] as const)('a transaction that ends during knex.destroy() ends its lease (%s, real server)', (dialect) => {
  const ends = {
    'trx.commit()': async (trx: Knex.Transaction) => void (await trx.commit()),
    'trx.rollback()': async (trx: Knex.Transaction) => void (await trx.rollback()),
  } as const;
  it.each(Object.keys(ends) as Array<keyof typeof ends>)('%s while destroy() waits: no leak report, no endForced, no lease in the final snapshot', async (how) => {
    const { knex, guard } = guarded(dialect);
    const seen: Array<LeakReport | EndReport> = [];
    for (const type of ['leak', 'reclaim', 'endForced'] as const) guard!.on(type, (r: LeakReport | EndReport) => seen.push(r));
    const trx = await knex.transaction();
    await trx.raw('select 1');
    const destroying = knex.destroy();
    expect(guard!.snapshot().leases).toHaveLength(1);
    await ends[how](trx);
    expect(guard!.snapshot().leases).toEqual([]);
    await destroying;
    const final = guard!.snapshot();
    expect(final.leases).toEqual([]);
    expect(final.counts.total).toBe(0);
    expect(seen).toEqual([]);
  });

  it('knex.transaction(cb) whose callback settles during destroy(): its lease ends', async () => {
    const { knex, guard } = guarded(dialect);
    let finish!: () => void;
    const started = new Promise<void>((ready) => {
      void knex.transaction(async (trx) => {
        await trx.raw('select 1');
        ready();
        await new Promise<void>((resolve) => (finish = resolve));
      });
    });
    await started;
    const destroying = knex.destroy();
    finish();
    await destroying;
    expect(guard!.snapshot().leases).toEqual([]);
    expect(guard!.snapshot().totals.reclaims).toBe(0);
  });
});

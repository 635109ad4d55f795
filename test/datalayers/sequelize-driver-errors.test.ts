import { Sequelize, type Options, type Transaction } from 'sequelize';
import { afterEach, describe, expect, it } from 'vitest';
import type { EndReport, LeakReport, PoolGuard } from '../../src/index.js';
import { guardSequelize } from '../../src/sequelize.js';
import { DATABASE_URL } from '../helpers/db.js';
import { caught, expectPoolguardLines, expectSameDriverError } from '../helpers/driver-errors.js';
import { MYSQL } from '../helpers/mysql.js';

// Sequelize's and sequelize-pool's own errors reach the caller of a guarded Sequelize as Sequelize
// raised them: the same class, name, message and fields (`parent`, `original`). Each path runs on a
// plain Sequelize and a guarded one, on PostgreSQL and on MariaDB, and the two errors are compared.

const dialects = {
  postgres: (options: Options) => new Sequelize(DATABASE_URL, { logging: false, ...options }),
  mariadb: (options: Options) => new Sequelize(MYSQL.database, MYSQL.user, MYSQL.password, { dialect: 'mysql', host: MYSQL.host, port: MYSQL.port, logging: false, ...options }),
} as const;
type Dialect = keyof typeof dialects;

const open: Sequelize[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => Promise.race([s.close().catch(() => {}), new Promise((r) => setTimeout(r, 2_000))])));
});

interface Made {
  sequelize: Sequelize;
  guard: PoolGuard | undefined;
}
type Make = (dialect: Dialect, pool?: Options['pool']) => Made;

const build = (dialect: Dialect, pool: Options['pool'] = {}): Sequelize => {
  const sequelize = dialects[dialect]({ pool: { max: 1, min: 0, acquire: 300, ...pool } });
  open.push(sequelize);
  return sequelize;
};
const plain: Make = (dialect, pool) => ({ sequelize: build(dialect, pool), guard: undefined });
const guarded: Make = (dialect, pool) => {
  const sequelize = build(dialect, pool);
  return { sequelize, guard: guardSequelize(sequelize, { name: 'sequelize-errors', logger: false }) };
};

const forms = {
  'sequelize.query()': (s: Sequelize) => s.query('SELECT 1 AS one'),
  'sequelize.transaction()': (s: Sequelize) => s.transaction().then((t) => t.commit()),
  'sequelize.transaction(cb)': (s: Sequelize) => s.transaction(async (t) => s.query('SELECT 1', { transaction: t })),
} as const;
type Form = keyof typeof forms;

async function timedOut(make: Make, dialect: Dialect, form: Form) {
  const { sequelize } = make(dialect);
  const held = await sequelize.transaction();
  const err = await caught(() => forms[form](sequelize));
  await held.commit();
  return err;
}

async function afterClose(make: Make, dialect: Dialect, form: Form) {
  const { sequelize } = make(dialect);
  await sequelize.query('SELECT 1');
  await sequelize.close();
  return caught(() => forms[form](sequelize));
}

async function duringClose(make: Make, dialect: Dialect, form: Form) {
  const { sequelize } = make(dialect, { max: 2 });
  const held = await sequelize.transaction();
  const closing = sequelize.close();
  const err = await caught(() => forms[form](sequelize));
  await held.commit();
  await closing;
  return err;
}

describe.each(['postgres', 'mariadb'] as const)("Sequelize's own errors pass through a guarded Sequelize unchanged (%s, real server)", (dialect) => {
  it.each(Object.keys(forms) as Form[])('timeout, %s: ConnectionAcquireTimeoutError with its message and parent; the holders in fields and in the stack', async (form) => {
    const mine = await timedOut(guarded, dialect, form);
    expectSameDriverError(mine, await timedOut(plain, dialect, form));
    expect(mine.name).toBe('SequelizeConnectionAcquireTimeoutError');
    expect(mine.message).toBe('Operation timeout');
    expect(mine.holders).toEqual([expect.objectContaining({ count: 1, idle: 1, inTransaction: 1 })]);
    expect(mine.holders![0]!.site).toContain('test/datalayers/sequelize-driver-errors.test.ts');
    expectPoolguardLines(mine, /^poolguard\[sequelize-errors\]: 1 of 1 connections checked out/, /\nNext: /);
  });

  it.each(Object.keys(forms) as Form[])("after sequelize.close(), %s: Sequelize's own error, unchanged", async (form) => {
    const mine = await afterClose(guarded, dialect, form);
    expectSameDriverError(mine, await afterClose(plain, dialect, form));
  });

  it.each(Object.keys(forms) as Form[])('during sequelize.close(), %s: the same error as plain Sequelize', async (form) => {
    const mine = await duringClose(guarded, dialect, form);
    expectSameDriverError(mine, await duringClose(plain, dialect, form));
  });

  it('a caller queued when sequelize.close() is called: the same outcome as plain Sequelize', async () => {
    const run = async (make: Make) => {
      const { sequelize } = make(dialect, { acquire: 60_000 });
      const held = await sequelize.transaction();
      const waiter = sequelize.query('SELECT 1').then(
        () => undefined,
        (err: unknown) => err,
      );
      await new Promise((r) => setTimeout(r, 20));
      const closing = sequelize.close();
      await held.commit();
      const outcome = await waiter;
      await closing;
      return outcome;
    };
    const mine = await run(guarded);
    const theirs = await run(plain);
    if (theirs === undefined) expect(mine).toBeUndefined();
    else expectSameDriverError(mine, theirs);
  });

  it("a query error is the driver's, unchanged", async () => {
    const run = async (make: Make) => caught(() => make(dialect).sequelize.query('SELECT * FROM poolguard_no_such_table'));
    const mine = await run(guarded);
    expectSameDriverError(mine, await run(plain));
  });
});

describe.each(['postgres', 'mariadb'] as const)('a transaction that ends during sequelize.close() ends its lease (%s, real server)', (dialect) => {
  const ends = {
    't.commit()': (t: Transaction) => t.commit(),
    't.rollback()': (t: Transaction) => t.rollback(),
  } as const;
  it.each(Object.keys(ends) as Array<keyof typeof ends>)('%s while close() waits: no leak report, no endForced, no lease in the final snapshot', async (how) => {
    const { sequelize, guard } = guarded(dialect);
    const seen: Array<LeakReport | EndReport> = [];
    for (const type of ['leak', 'reclaim', 'endForced'] as const) guard!.on(type, (r: LeakReport | EndReport) => seen.push(r));
    const t = await sequelize.transaction();
    await sequelize.query('SELECT 1', { transaction: t });
    const closing = sequelize.close();
    expect(guard!.snapshot().leases).toHaveLength(1);
    await ends[how](t);
    expect(guard!.snapshot().leases).toEqual([]);
    await closing;
    const final = guard!.snapshot();
    expect(final.leases).toEqual([]);
    expect(final.counts.total).toBe(0);
    expect(seen).toEqual([]);
  });

  it('sequelize.transaction(cb) whose callback settles during close(): its lease ends', async () => {
    const { sequelize, guard } = guarded(dialect);
    let finish!: () => void;
    const started = new Promise<void>((ready) => {
      void sequelize.transaction(async (t) => {
        await sequelize.query('SELECT 1', { transaction: t });
        ready();
        await new Promise<void>((resolve) => (finish = resolve));
      });
    });
    await started;
    const closing = sequelize.close();
    finish();
    await closing;
    expect(guard!.snapshot().leases).toEqual([]);
    expect(guard!.snapshot().totals.reclaims).toBe(0);
  });
});

import knexFactory, { type Knex } from 'knex';
import type mysql from 'mysql2';
import pg from 'pg';
import { Sequelize, type Transaction } from 'sequelize';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPool } from '../../src/generic-pool.js';
import { guardKnex } from '../../src/knex.js';
import { guardSequelize } from '../../src/sequelize.js';
import {
  allowOpenLeases,
  assertNoOpenLeases,
  checkOpenLeases,
  configureLeakCheck,
  LeakCheckError,
  leakCheckpoint,
  type LeakFinding,
  type OpenLeaseFinding,
} from '../../src/testing.js';
import { DATABASE_URL } from '../helpers/db.js';
import { pgClientFactory } from '../helpers/factories.js';
import { guardedMysqlPool, guardedPromisePool } from '../helpers/mysql-pools.js';
import { MYSQL } from '../helpers/mysql.js';
import { guardedPool } from '../helpers/pools.js';

// The plain functions, in this process, on every adapter against the real servers. Each test names
// its own pools and looks only at their findings: other pools may be alive in this worker.

const SITE = /^test\/testing\/check\.test\.ts:\d+:\d+$/;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  configureLeakCheck({ settleMs: 100, dirtyReleases: true, doubleReleases: true });
});

const of = (findings: readonly LeakFinding[], pool: string): LeakFinding[] => findings.filter((f) => f.pool === pool);
const open = (findings: readonly LeakFinding[], pool: string): OpenLeaseFinding[] => of(findings, pool).filter((f): f is OpenLeaseFinding => f.type === 'openLease');

function mysqlConnection(pool: mysql.Pool): Promise<mysql.PoolConnection> {
  return new Promise((resolve, reject) => pool.getConnection((err, c) => (err ? reject(err) : resolve(c))));
}

function mysqlQuery(connection: mysql.PoolConnection, sql: string): Promise<void> {
  return new Promise((resolve, reject) => connection.query(sql, (err) => (err ? reject(err) : resolve())));
}

describe('checkOpenLeases / assertNoOpenLeases on every adapter', () => {
  it('a lease left open on pg, mysql2 (callback and promise), generic-pool, Knex and Sequelize fails, with its kind, line and transaction state', async () => {
    const since = leakCheckpoint();

    const pgPool = guardedPool({ max: 2, guard: { name: 'chk-pg' } });
    const client = await pgPool.connect();
    await client.query('BEGIN');

    const myPool = guardedMysqlPool({ guard: { name: 'chk-mysql2' } });
    const connection = await mysqlConnection(myPool);
    await mysqlQuery(connection, 'START TRANSACTION');

    const myPromise = guardedPromisePool({ guard: { name: 'chk-mysql2-promise' } });
    const promiseConnection = await myPromise.getConnection();

    const generic = createPool<pg.Client>(pgClientFactory(), { max: 1, guard: { name: 'chk-generic', logger: false } });
    cleanups.push(async () => {
      await generic.drain();
      await generic.clear();
    });
    const resource = await generic.acquire();

    const knex: Knex = knexFactory({ client: 'pg', connection: DATABASE_URL, pool: { min: 0, max: 2 } });
    cleanups.push(() => knex.destroy());
    guardKnex(knex, { name: 'chk-knex', logger: false });
    const trx = await knex.transaction();
    await trx.raw('SELECT 1');

    const sequelize = new Sequelize({ dialect: 'mysql', host: MYSQL.host, port: MYSQL.port, username: MYSQL.user, password: MYSQL.password, database: MYSQL.database, logging: false });
    cleanups.push(() => sequelize.close());
    guardSequelize(sequelize, { name: 'chk-sequelize', logger: false });
    const transaction: Transaction = await sequelize.transaction();
    await sequelize.query('SELECT 1', { transaction });

    const findings = await checkOpenLeases({ since });
    const expected = {
      'chk-pg': { kind: 'connect', transaction: 'open' },
      'chk-mysql2': { kind: 'connect', transaction: 'open' },
      'chk-mysql2-promise': { kind: 'connect', transaction: undefined },
      'chk-generic': { kind: 'acquire', transaction: undefined },
      'chk-knex': { kind: 'transaction', transaction: 'open' },
      'chk-sequelize': { kind: 'transaction', transaction: 'open' },
    } as const;
    for (const [pool, { kind, transaction: tx }] of Object.entries(expected)) {
      const found = of(findings, pool);
      expect(found, pool).toHaveLength(1);
      const f = found[0] as OpenLeaseFinding;
      expect(f, pool).toMatchObject({ type: 'openLease', fails: true, takenBefore: false, managed: false, allowed: undefined });
      expect(f.lease.kind, pool).toBe(kind);
      expect(f.lease.transaction, pool).toBe(tx);
      expect(f.lease.site, pool).toMatch(SITE);
      expect(f.message, pool).toContain(`${kind}() lease #${f.lease.id} on pool '${pool}', taken at ${f.lease.site}`);
      if (tx === 'open') expect(f.message, pool).toContain('inside an open transaction (BEGIN without COMMIT or ROLLBACK)');
    }

    const error = await assertNoOpenLeases({ since, testName: 'orders > refunds' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LeakCheckError);
    const e = error as LeakCheckError;
    expect(e.code).toBe('POOLGUARD_LEAK_CHECK');
    expect(e.testName).toBe('orders > refunds');
    expect(e.message).toMatch(/^poolguard: test "orders > refunds" ended with \d+ leases still checked out:\n/);
    for (const pool of Object.keys(expected)) expect(e.message).toContain(`on pool '${pool}', taken at test/testing/check.test.ts:`);
    expect(e.message).toContain('Release each on every path (try/finally).');
    // The stack is the checkout lines, so that a runner shows the leaking line's code.
    expect(e.stack!.split('\n')[e.message.split('\n').length]).toMatch(/^ {4}at \S+\(\) lease #\d+ on pool '[^']+' \(\/.*\/test\/testing\/check\.test\.ts:\d+:\d+\)$/);

    await client.query('ROLLBACK');
    client.release();
    await mysqlQuery(connection, 'ROLLBACK');
    connection.release();
    promiseConnection.release();
    await generic.release(resource);
    await trx.rollback();
    await transaction.rollback();
    const after = await checkOpenLeases({ since });
    for (const pool of Object.keys(expected)) expect(of(after, pool), pool).toEqual([]);
    await assertNoOpenLeases({ since });
  });
});

describe('what counts against the test', () => {
  it("a lease taken before the checkpoint is the earlier test's: reported as takenBefore, never failing", async () => {
    const pool = guardedPool({ max: 2, guard: { name: 'chk-before' } });
    const earlier = await pool.connect();
    const since = leakCheckpoint();
    const mine = await pool.connect();
    const findings = open(await checkOpenLeases({ since, settleMs: 0 }), 'chk-before');
    expect(findings.map((f) => [f.lease.id, f.takenBefore, f.fails])).toEqual(
      expect.arrayContaining([
        [1, true, false],
        [2, false, true],
      ]),
    );
    expect(findings.find((f) => f.takenBefore)!.message).toContain('taken before this test started (by an earlier test or a before-all hook), so not counted against it');
    mine.release();
    await assertNoOpenLeases({ since, settleMs: 0 });
    // Without a checkpoint every open lease counts.
    expect(open(await checkOpenLeases({ settleMs: 0 }), 'chk-before').map((f) => f.fails)).toEqual([true]);
    earlier.release();
  });

  it('allowOpenLeases() and pool.guard.exempt() let a hand-over stay open; a lease taken after the call still fails', async () => {
    const pool = guardedPool({ max: 3, guard: { name: 'chk-allow' } });
    const since = leakCheckpoint();
    const handed = await pool.connect();
    expect(allowOpenLeases('the next test commits it')).toBeGreaterThanOrEqual(1);
    const listener = pool.guard.exempt(await pool.connect(), 'LISTEN orders');
    const later = await pool.connect();
    const findings = open(await checkOpenLeases({ since, settleMs: 0 }), 'chk-allow');
    expect(findings.map((f) => [f.lease.id, f.allowed, f.fails])).toEqual(
      expect.arrayContaining([
        [1, 'the next test commits it', false],
        [2, 'LISTEN orders', false],
        [3, undefined, true],
      ]),
    );
    expect(findings.find((f) => f.lease.id === 1)!.message).toContain('allowed to stay open (the next test commits it)');
    for (const c of [handed, listener, later]) c.release();
    expect(() => allowOpenLeases()).toThrow(/^allowOpenLeases\(\): no lease is open on any guarded pool now, so there is nothing to allow\. Call it after the checkout/);
    expect(() => allowOpenLeases('')).toThrow('allowOpenLeases(reason): reason must be a non-empty string, got ""');
  });

  it('waits a moment for a lease released just after the end (settleMs), and fails it when told not to wait', async () => {
    const pool = guardedPool({ max: 2, guard: { name: 'chk-settle' } });
    const since = leakCheckpoint();
    const soon = await pool.connect();
    setTimeout(() => soon.release(), 30);
    expect(of(await checkOpenLeases({ since }), 'chk-settle')).toEqual([]);
    const again = await pool.connect();
    setTimeout(() => again.release(), 30);
    expect(open(await checkOpenLeases({ since, settleMs: 0 }), 'chk-settle').map((f) => f.fails)).toEqual([true]);
  });

  it('an unawaited connect() whose connection is still opening at the end is waited for, and fails once handed out', async () => {
    const pool = guardedPool({ max: 2, guard: { name: 'chk-pending' } });
    const since = leakCheckpoint();
    const pending = pool.connect();
    expect(pool.guard.snapshot().leases).toEqual([]);
    const findings = open(await checkOpenLeases({ since }), 'chk-pending');
    expect(findings.map((f) => [f.lease.kind, f.fails])).toEqual([['connect', true]]);
    (await pending).release();
  });

  it("the wait runs on real time: a test's fake timers do not hold the check up", async () => {
    const pool = guardedPool({ max: 2, guard: { name: 'chk-fake-timers' } });
    const since = leakCheckpoint();
    const client = await pool.connect();
    vi.useFakeTimers();
    try {
      const findings = open(await checkOpenLeases({ since }), 'chk-fake-timers');
      expect(findings.map((f) => f.fails)).toEqual([true]);
    } finally {
      vi.useRealTimers();
      client.release();
    }
  });

  it('a pool.query() still running after the wait is reported as managed and does not fail; the wait is bounded by settleMs', async () => {
    const pool = guardedPool({ max: 2, guard: { name: 'chk-query' } });
    const since = leakCheckpoint();
    const running = pool.query('SELECT pg_sleep(0.5)');
    const started = performance.now();
    const findings = open(await checkOpenLeases({ since }), 'chk-query');
    const waited = performance.now() - started;
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ managed: true, fails: false, lease: expect.objectContaining({ kind: 'query', state: 'busy' }) });
    expect(findings[0]!.message).toContain('pool.query() lease #1');
    expect(findings[0]!.message).toContain('still running 100 ms after the test ended: its pool releases it when the work ends, so it is not a leak');
    expect(waited).toBeGreaterThanOrEqual(95);
    expect(waited).toBeLessThan(450);
    await assertNoOpenLeases({ since, settleMs: 0 });
    await running;
  });
});

describe('release faults since the checkpoint', () => {
  it('a dirty release and a double release fail by default, name the lines, and can be turned off', async () => {
    const pool = guardedPool({ max: 2, guard: { name: 'chk-faults' } });
    // Before the checkpoint: not counted.
    const old = await pool.connect();
    old.release();
    expect(() => old.release()).toThrow();
    const since = leakCheckpoint();
    const dirty = await pool.connect();
    await dirty.query('BEGIN');
    dirty.release();
    const twice = await pool.connect();
    twice.release();
    expect(() => twice.release()).toThrow(/already been released/);

    const findings = of(await checkOpenLeases({ since }), 'chk-faults');
    expect(findings.map((f) => [f.type, f.fails])).toEqual([
      ['doubleRelease', true],
      ['dirtyRelease', true],
    ]);
    const d = findings.find((f) => f.type === 'dirtyRelease')!;
    expect(d.type === 'dirtyRelease' && d.report.releaseSite).toMatch(SITE);
    expect(d.message).toMatch(/^pool 'chk-faults': connect\(\) lease #\d+ released inside an open transaction \(BEGIN without COMMIT or ROLLBACK\) at test\/testing\/check\.test\.ts:\d+:\d+ \(taken at test\/testing\/check\.test\.ts:\d+:\d+\); poolguard closed the connection/);
    expect(findings.find((f) => f.type === 'doubleRelease')).toMatchObject({ count: 1, message: expect.stringContaining("pool 'chk-faults': release() called once on a lease already released") });
    await expect(assertNoOpenLeases({ since })).rejects.toThrow(/ended with 1 dirty release and 1 double release:/);

    configureLeakCheck({ dirtyReleases: false, doubleReleases: false });
    expect(of(await checkOpenLeases({ since }), 'chk-faults').map((f) => f.fails)).toEqual([false, false]);
    await assertNoOpenLeases({ since });
    // Without a checkpoint there is no window to count release faults in.
    configureLeakCheck({ dirtyReleases: true, doubleReleases: true });
    expect(of(await checkOpenLeases(), 'chk-faults')).toEqual([]);
  });

  it('configureLeakCheck and checkOpenLeases refuse bad settings, naming the setting and the value', async () => {
    expect(() => configureLeakCheck({ settleMs: -1 })).toThrow('configureLeakCheck({ settleMs }): must be a number of milliseconds, 0 or more, got -1');
    expect(() => configureLeakCheck({ dirtyReleases: 'yes' as unknown as boolean })).toThrow('configureLeakCheck({ dirtyReleases }): must be true or false, got yes');
    await expect(checkOpenLeases({ settleMs: Infinity })).rejects.toThrow('checkOpenLeases({ settleMs }): must be a number of milliseconds, 0 or more, got Infinity');
    expect(() => configureLeakCheck({ settle: 5 } as never)).toThrow('configureLeakCheck({ settle }): unknown setting; the settings are settleMs, dirtyReleases and doubleReleases');
  });
});

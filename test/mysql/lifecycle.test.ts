import mysql from 'mysql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckoutTimeoutError, createPool, guard, type DirtyReleaseReport, type EndReport, type RetireReport } from '../../src/mysql.js';
import { sleep, until } from '../helpers/db.js';
import { bareMysqljsPool, connectionOf, guardedMysqljsPool, queryOn } from '../helpers/mysqljs-pools.js';
import { siteMatchers } from '../helpers/sites.js';
import { expectStillWaiting } from '../helpers/mysql.js';

const site = siteMatchers('test/mysql/lifecycle.test.ts');
const TABLE = 'mysqljs_guard_dirty';

/** KILL from a connection of its own (the server's side of a dropped connection). */
async function kill(threadId: number | null): Promise<void> {
  const admin = bareMysqljsPool({ connectionLimit: 1 });
  await queryOn(admin, `KILL ${threadId}`);
}

beforeAll(async () => {
  const pool = bareMysqljsPool({ connectionLimit: 1 });
  await queryOn(pool, `CREATE TABLE IF NOT EXISTS ${TABLE} (id INT PRIMARY KEY) ENGINE=InnoDB`);
  await queryOn(pool, `DELETE FROM ${TABLE}`);
});
afterAll(async () => {
  const pool = bareMysqljsPool({ connectionLimit: 1 });
  await queryOn(pool, `DROP TABLE IF EXISTS ${TABLE}`);
  await new Promise((r) => pool.end(r));
});

/**
 * The tests' guard.acquireTimeoutMs. It bounds the whole checkout, and mysql pings even a free
 * connection before handing it out (a connect, for a new one): a round trip to the server, which on
 * a loaded machine took more than 100 ms. The waits that must time out are behind held connections.
 */
const ACQUIRE_TIMEOUT_MS = 1_000;

describe('guard.acquireTimeoutMs: mysql’s acquireTimeout does not bound the wait, poolguard does and names the holders', () => {
  it('bare mysql (the baseline): with acquireTimeout 100, a getConnection() behind a leak still waits after 300 ms', async () => {
    const pool = bareMysqljsPool({ connectionLimit: 1, acquireTimeout: 100 });
    const held = await connectionOf(pool);
    await expectStillWaiting(pool, held);
  });

  it('the waiter fails with CheckoutTimeoutError naming the holders by line, and leaves mysql’s queue', async () => {
    const pool = guardedMysqljsPool({ connectionLimit: 2, guard: { acquireTimeoutMs: ACQUIRE_TIMEOUT_MS, idleAfterMs: 20 } });
    const take = () => new Promise<mysql.PoolConnection>((resolve, reject) => pool.getConnection((e, c) => (e ? reject(e) : resolve(c)))); // SITE:holder
    const held = [await take(), await take()];
    // Still running when the waiter times out, however late its timer fires: the holder is busy.
    const sleeping = queryOn(held[1]!, `SELECT SLEEP(${(ACQUIRE_TIMEOUT_MS * 3) / 1_000})`);
    await sleep(30);
    const started = Date.now();
    const err = await new Promise<mysql.MysqlError | null>((resolve) => pool.getConnection((e) => resolve(e)));
    expect(Date.now() - started).toBeGreaterThanOrEqual(ACQUIRE_TIMEOUT_MS - 10);
    expect(err).toBeInstanceOf(CheckoutTimeoutError);
    const timeout = err as unknown as CheckoutTimeoutError;
    expect(timeout.code).toBe('POOLGUARD_CHECKOUT_TIMEOUT');
    expect(timeout.message).toMatch(new RegExp(`^poolguard\\[127\\.0\\.0\\.1:3306/test\\]: no connection became free within guard\\.acquireTimeoutMs \\(${ACQUIRE_TIMEOUT_MS} ms\\); mysql alone would have waited for ever`));
    expect(timeout.message).toContain('2 of 2 connections checked out');
    expect(timeout.message).toContain('1 idle, 1 busy');
    expect(timeout.holders).toHaveLength(1);
    expect(timeout.holders[0]).toMatchObject({ count: 2, idle: 1, busy: 1 });
    expect(timeout.holders[0]!.site).toMatch(site('holder'));
    expect(timeout.stack).toContain('lifecycle.test.ts');
    expect((pool as unknown as { _connectionQueue: unknown[] })._connectionQueue).toHaveLength(0);
    held[0]!.release();
    expect(pool.guard.snapshot().counts).toMatchObject({ idle: 1, waiting: 0, leased: 1 });
    await sleeping;
    held[1]!.release();
  });

  it('pool.query() times out the same way, with the error in its callback', async () => {
    const pool = guardedMysqljsPool({ connectionLimit: 1, guard: { acquireTimeoutMs: ACQUIRE_TIMEOUT_MS } });
    const held = await connectionOf(pool);
    const err = await queryOn(pool, 'SELECT 1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckoutTimeoutError);
    held.release();
    expect(await queryOn(pool, 'SELECT 1 AS x')).toEqual([{ x: 1 }]);
  });
});

describe('mysql errors reach the caller unchanged', () => {
  it('a bad query, a killed query and a closed pool: the same class, code and message as bare mysql', async () => {
    const results = [];
    for (const pool of [bareMysqljsPool(), guardedMysqljsPool()]) {
      const syntax = (await queryOn(pool, 'SELEC 1').catch((e: unknown) => e)) as mysql.MysqlError;
      const conn = await connectionOf(pool);
      const noTable = (await queryOn(conn, 'SELECT * FROM no_such_table_here').catch((e: unknown) => e)) as mysql.MysqlError;
      conn.release();
      await new Promise((r) => pool.end(r));
      const closed = await new Promise<mysql.MysqlError | null>((resolve) => pool.getConnection((e) => resolve(e)));
      results.push([syntax, noTable, closed].map((e) => ({ class: e?.constructor, code: e?.code, errno: e?.errno, message: e?.message, fatal: e?.fatal })));
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[1]!.map((r) => r.code)).toEqual(['ER_PARSE_ERROR', 'ER_NO_SUCH_TABLE', 'POOL_CLOSED']);
  });
});

describe('connections the server kills', () => {
  it('an idle connection killed in the pool leaves it (retired), and the next caller gets a live one', async () => {
    const pool = guardedMysqljsPool({ connectionLimit: 1 });
    const retired: RetireReport[] = [];
    pool.guard.on('retire', (r) => retired.push(r));
    const conn = await connectionOf(pool);
    const thread = conn.threadId;
    conn.release();
    await kill(thread);
    await until(() => retired.length === 1, 'the killed connection removed');
    expect(retired[0]!.reason).toBe('terminated');
    expect(pool.guard.snapshot().counts).toMatchObject({ total: 0, leased: 0 });
    const rows = (await queryOn(pool, 'SELECT CONNECTION_ID() AS id')) as Array<{ id: number }>;
    expect(rows[0]!.id).not.toBe(thread);
  });

  it('a busy held connection killed mid-query: the holder gets mysql’s error, the lease ends, release() is harmless', async () => {
    const pool = guardedMysqljsPool({ connectionLimit: 1 });
    const conn = await connectionOf(pool);
    const running = queryOn(conn, 'SELECT SLEEP(5)').catch((e: unknown) => e);
    await sleep(50);
    expect(pool.guard.snapshot().leases[0]!.state).toBe('busy');
    await kill(conn.threadId);
    const err = (await running) as mysql.MysqlError;
    expect(err.code).toMatch(/^(PROTOCOL_CONNECTION_LOST|ER_CONNECTION_KILLED)$/);
    await until(() => pool.guard.snapshot().counts.leased === 0, 'the lease ended with its connection');
    expect(() => conn.release()).not.toThrow();
    expect(await queryOn(pool, 'SELECT 3 AS three')).toEqual([{ three: 3 }]);
    expect(pool.guard.snapshot().totals.retired.terminated).toBe(1);
  });
});

describe('a connection released inside a transaction', () => {
  it("bare mysql (the baseline): the next caller inherits the open transaction", async () => {
    const pool = bareMysqljsPool({ connectionLimit: 1 });
    const conn = await connectionOf(pool);
    await queryOn(conn, 'BEGIN');
    conn.release();
    expect(await queryOn(pool, 'SELECT @@in_transaction AS t')).toEqual([{ t: 1 }]);
    await queryOn(pool, 'ROLLBACK');
  });

  it("dirtyRelease 'destroy' (default): reported with both lines, closed; the next caller gets a fresh session without the write", async () => {
    const pool = guardedMysqljsPool({ connectionLimit: 1 });
    const reports: DirtyReleaseReport[] = [];
    pool.guard.on('dirtyRelease', (r) => reports.push(r));
    const conn = await connectionOf(pool);
    const thread = conn.threadId;
    await queryOn(conn, 'BEGIN');
    await queryOn(conn, `INSERT INTO ${TABLE} VALUES (1)`);
    conn.release(); // SITE:dirty
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ transaction: 'open', action: 'destroy', kind: 'connect' });
    expect(reports[0]!.releaseSite).toMatch(site('dirty'));
    const rows = (await queryOn(pool, `SELECT CONNECTION_ID() AS id, @@in_transaction AS t, (SELECT COUNT(*) FROM ${TABLE}) AS n`)) as Array<{ id: number; t: number; n: number }>;
    expect(rows[0]).toMatchObject({ t: 0, n: 0 });
    expect(rows[0]!.id).not.toBe(thread);
    expect(pool.guard.snapshot().totals.retired.dirty).toBe(1);
  });

  it("dirtyRelease 'rollback': rolled back and reused", async () => {
    const pool = guardedMysqljsPool({ connectionLimit: 1, guard: { dirtyRelease: 'rollback' } });
    const conn = await connectionOf(pool);
    const thread = conn.threadId;
    await queryOn(conn, 'BEGIN');
    await queryOn(conn, `INSERT INTO ${TABLE} VALUES (2)`);
    conn.release();
    const rows = (await queryOn(pool, `SELECT CONNECTION_ID() AS id, @@in_transaction AS t, (SELECT COUNT(*) FROM ${TABLE}) AS n`)) as Array<{ id: number; t: number; n: number }>;
    expect(rows[0]).toEqual({ id: thread, t: 0, n: 0 });
  });
});

describe('pool.end() with a lease open', () => {
  it('an idle leak: mysql’s end closes it at once; the lease ends with the pool (endClosed, at the holder’s line), the holder’s next query gets mysql’s own error', async () => {
    const pool = guardedMysqljsPool({ connectionLimit: 1 });
    const closed: EndReport[] = [];
    pool.guard.on('endClosed', (r) => closed.push(r));
    const conn = await new Promise<mysql.PoolConnection>((resolve, reject) => pool.getConnection((e, c) => (e ? reject(e) : resolve(c)))); // SITE:endIdle
    await new Promise<void>((resolve, reject) => pool.end((e) => (e ? reject(e) : resolve())));
    expect(pool.guard.snapshot().counts).toMatchObject({ leased: 0, total: 0 });
    expect(closed.map((r) => r.leases.map((l) => l.where))).toEqual([[expect.stringMatching(site('endIdle'))]]);
    expect(closed[0]!.message).toContain('pool.end() closed 1 connection still checked out, under its holder');
    expect(closed[0]!.message).toContain(`Its holder's next query on it fails with mysql's error "Cannot enqueue Query after invoking quit." (code PROTOCOL_ENQUEUE_AFTER_QUIT)`);
    const err = (await queryOn(conn, 'SELECT 1').catch((e: unknown) => e)) as mysql.MysqlError;
    expect(err.code).toBe('PROTOCOL_ENQUEUE_AFTER_QUIT');
    expect(err.message).toBe('Cannot enqueue Query after invoking quit.');
  });

  it('a busy leak: the end waits, reports who holds it up, and at guard.endTimeoutMs cuts the query so the end finishes', async () => {
    const pool = guardedMysqljsPool({ connectionLimit: 1, guard: { endTimeoutMs: 300 } });
    const blocked: EndReport[] = [];
    const forced: EndReport[] = [];
    pool.guard.on('endBlocked', (r) => blocked.push(r));
    pool.guard.on('endForced', (r) => forced.push(r));
    const conn = await new Promise<mysql.PoolConnection>((resolve, reject) => pool.getConnection((e, c) => (e ? reject(e) : resolve(c)))); // SITE:endBusy
    const running = queryOn(conn, 'SELECT SLEEP(5)').catch((e: unknown) => e);
    await sleep(30);
    const started = Date.now();
    const ended = await new Promise<Error | null | undefined>((resolve) => pool.end((e) => resolve(e)));
    expect(ended).toBeFalsy();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(forced).toHaveLength(1);
    expect(forced[0]!.leases[0]!.site).toMatch(site('endBusy'));
    expect(forced[0]!.leases[0]!.state).toBe('busy');
    const err = (await running) as Error & { code?: string };
    expect(err.code).toBe('POOLGUARD_LEASE_RECLAIMED');
    expect(pool.guard.snapshot().counts).toMatchObject({ leased: 0, total: 0 });
    void blocked;
  });
});

describe('names and guard()', () => {
  it('the default name is host:port/database, never the user or the password, from options or a URL', () => {
    const a = guardedMysqljsPool({ user: 'app', password: 's3cret-pw' });
    expect(a.guard.name).toBe('127.0.0.1:3306/test');
    const b = createPool('mysql://app:s3cret-pw@127.0.0.1:3306/orders');
    expect(b.guard.name).toBe('127.0.0.1:3306/orders');
    expect(JSON.stringify(b.guard.snapshot())).not.toContain('s3cret');
    expect(JSON.stringify(b.guard.resolvedOptions)).not.toContain('s3cret');
    b.end();
  });

  it('guard(existingPool) guards in place, once; a mysql2 pool is refused with a TypeError', async () => {
    const pool = bareMysqljsPool();
    const handle = guard(pool, { logger: false, leakThresholdMs: 50 });
    expect(guard(pool)).toBe(handle);
    expect((pool as unknown as { guard: unknown }).guard).toBe(handle);
    const conn = await connectionOf(pool);
    expect(handle.snapshot().counts.leased).toBe(1);
    conn.release();
    const mysql2 = (await import('mysql2')).default.createPool({ host: '127.0.0.1' });
    expect(() => guard(mysql2 as never)).toThrow(TypeError);
    await new Promise((r) => mysql2.end(r));
  });
});

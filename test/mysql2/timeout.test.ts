import { describe, expect, it } from 'vitest';
import { CheckoutTimeoutError } from '../../src/mysql2.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithPromise } from '../fixtures/mysql-leaky.mjs';
import { sleep, until } from '../helpers/db.js';
import { bareMysqlPool, guardedMysqlPool, guardedPromisePool } from '../helpers/mysql-pools.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { expectStillWaiting } from '../helpers/mysql.js';

const FIXTURE = 'test/fixtures/mysql-leaky.mjs';
const queueOf = (pool: unknown) => (pool as { _connectionQueue: { length: number } })._connectionQueue;

/**
 * The fixture's leak, taken again when the pool's first connect outlasted the test's short timeout
 * (a loaded machine: "No lease is open"); mysql2 finishes that connect meanwhile, so the next try
 * gets it at once. Returns the connection.
 */
async function leakThroughColdConnect(pool: unknown): Promise<any> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await leakWithPromise(pool);
    } catch (err) {
      if (attempt === 10 || !(err instanceof CheckoutTimeoutError) || !err.message.includes('No lease is open')) throw err;
    }
  }
}

describe('guard.acquireTimeoutMs: mysql2 waits for ever, poolguard names who holds the connections', () => {
  it('bare mysql2 (the baseline): a getConnection() behind a leak is still waiting after 300 ms', async () => {
    const pool = bareMysqlPool({ connectionLimit: 1 });
    const held = await pool.promise().getConnection();
    await expectStillWaiting(pool, held);
  });

  it('the waiter fails with CheckoutTimeoutError naming the holders, and leaves mysql2’s queue', async () => {
    const pool = guardedPromisePool({ connectionLimit: 2, guard: { acquireTimeoutMs: 200, idleAfterMs: 20 } });
    const held = [await leakThroughColdConnect(pool), await leakThroughColdConnect(pool)];
    const timeoutsBefore = pool.guard.snapshot().totals.timeouts;
    await sleep(30);
    const started = Date.now();
    const err = (await pool.getConnection().catch((e: unknown) => e)) as CheckoutTimeoutError;
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(err).toBeInstanceOf(CheckoutTimeoutError);
    expect(err.code).toBe('POOLGUARD_CHECKOUT_TIMEOUT');
    expect(err.message).toMatch(/^poolguard\[127\.0\.0\.1:3306\/test\]: no connection became free within guard\.acquireTimeoutMs \(200 ms\); mysql2 alone would have waited for ever\./);
    expect(err.message).toContain('2 of 2 connections checked out');
    expect(err.message).toContain(`2 × ${FIXTURE}:5:33`);
    expect(err.message).toContain('2 idle, 0 busy');
    expect(err.holders).toEqual([{ site: `${FIXTURE}:5:33`, count: 2, oldestHeldMs: expect.any(Number), idle: 2, busy: 0, inTransaction: 0, trace: undefined }]);
    expect(err.waitedMs).toBeGreaterThanOrEqual(190);
    // The caller's own frames, not the timer's.
    expect(err.stack).toContain('timeout.test.ts');
    expect(queueOf(pool.pool).length).toBe(0);
    expect(pool.guard.snapshot().totals.timeouts).toBe(timeoutsBefore + 1);
    // No connection is handed to nobody: a release goes back to the free list.
    held[0].release();
    expect(pool.guard.snapshot().counts).toMatchObject({ idle: 1, waiting: 0, leased: 1 });
    const again = await pool.getConnection();
    expect(again.connection).toBe(held[0].connection);
    again.release();
    held[1].release();
  });

  it('pool.query() times out the same way (callback API), with the error in its callback', async () => {
    const pool = guardedMysqlPool({ connectionLimit: 1, guard: { acquireTimeoutMs: 100 } });
    const held = await leakThroughColdConnect(pool.promise());
    const err = await new Promise<Error | null>((resolve) => pool.query('SELECT 1', (e) => resolve(e)));
    expect(err).toBeInstanceOf(CheckoutTimeoutError);
    expect((err as CheckoutTimeoutError).holders[0]!.site).toBe(`${FIXTURE}:5:33`);
    expect(queueOf(pool).length).toBe(0);
    held.release();
  });

  it("mysql2's own queueLimit error (given synchronously) reaches the caller once, and no timeout follows it", async () => {
    const pool = guardedMysqlPool({ connectionLimit: 1, queueLimit: 1, guard: { acquireTimeoutMs: 100 } });
    const held = await leakThroughColdConnect(pool.promise());
    const queued = new Promise<Error | null>((resolve) => pool.getConnection((e, c) => (c?.release(), resolve(e))));
    const calls: Array<Error | null> = [];
    pool.getConnection((e) => calls.push(e));
    await sleep(250);
    expect(calls.map((e) => e?.message)).toEqual(['Queue limit reached.']);
    expect(await queued).toBeInstanceOf(CheckoutTimeoutError);
    expect(pool.guard.snapshot().counts).toMatchObject({ leased: 1, waiting: 0 });
    held.release();
  });

  it('a waiter served in time clears its timer and is not failed later', async () => {
    // The timeout is far above the wait so that a loaded machine cannot make the waiter late.
    const pool = guardedPromisePool({ connectionLimit: 1, guard: { acquireTimeoutMs: 1_000 } });
    const held = await pool.getConnection();
    const waiting = pool.getConnection();
    await sleep(50);
    held.release();
    const got = await waiting;
    await sleep(1_100);
    expect(pool.guard.snapshot().totals.timeouts).toBe(0);
    got.release();
  });

  it('a connect slower than the timeout: the caller fails at the timeout; the connection, once open, goes to the pool', async () => {
    const proxy = new TcpProxy({ host: '127.0.0.1', port: 3306 });
    await proxy.start();
    try {
      proxy.mode = 'delay';
      proxy.delayMs = 300;
      const pool = guardedPromisePool({ uri: `mysql://root@127.0.0.1:${proxy.port}/test`, connectionLimit: 1, guard: { acquireTimeoutMs: 100 } });
      const err = (await pool.getConnection().catch((e: unknown) => e)) as CheckoutTimeoutError;
      expect(err).toBeInstanceOf(CheckoutTimeoutError);
      expect(err.message).toContain('0 of 1 connections checked out');
      await until(() => pool.guard.snapshot().counts.idle === 1, 'the late connection in the free list', 5_000);
      expect(pool.guard.snapshot().counts).toMatchObject({ total: 1, leased: 0 });
    } finally {
      await proxy.stop();
    }
  });
});

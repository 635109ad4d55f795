import { describe, expect, it } from 'vitest';
import { CheckoutTimeoutError } from '../../src/pg.js';
import type { Annotated } from '../helpers/driver-errors.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithPromise, queryFromHere } from '../fixtures/leaky.mjs';
import { barePool, guardedPool, warm } from '../helpers/pools.js';

const PG_MESSAGE = 'timeout exceeded when trying to connect';

describe('a checkout that times out names who holds the connections', () => {
  it('bare pg.Pool gives only its message (the baseline)', async () => {
    const pool = barePool({ max: 1, connectionTimeoutMillis: 300 });
    await warm(pool, 1);
    const c = await pool.connect();
    await expect(pool.connect()).rejects.toThrow(PG_MESSAGE);
    c.release();
  });

  it('promise form: pg-pool’s own error and message, the holders by site in its fields and its stack', async () => {
    const pool = guardedPool({ max: 2, connectionTimeoutMillis: 300, guard: { idleAfterMs: 20 } });
    await warm(pool, 2);
    const held = [await leakWithPromise(pool), await leakWithPromise(pool)];
    await new Promise((r) => setTimeout(r, 30));
    const err = (await pool.connect().catch((e: unknown) => e)) as Annotated & { holders: NonNullable<Annotated['holders']>; waitedMs: number };
    // pg-pool's own Error: poolguard's CheckoutTimeoutError is for pools without a timeout of their own.
    expect(Object.getPrototypeOf(err)).toBe(Error.prototype);
    expect(err).not.toBeInstanceOf(CheckoutTimeoutError);
    expect(err.message).toBe(PG_MESSAGE);
    expect(err.code).toBeUndefined();
    expect(err.stack).toMatch(/^Error: timeout exceeded when trying to connect\npoolguard\[[^\]]+\]: 2 of 2 connections checked out/);
    expect(err.stack).toContain('\n  2 × test/fixtures/leaky.mjs:5:29');
    expect(err.stack).toContain('2 idle, 0 busy');
    expect(err.stack).toContain('release the client in a finally block');
    expect(err.poolguard).toContain('2 of 2 connections checked out');
    expect(err.holders).toEqual([{ site: 'test/fixtures/leaky.mjs:5:29', count: 2, oldestHeldMs: expect.any(Number), idle: 2, busy: 0, inTransaction: 0 }]);
    expect(err.holders[0]!.oldestHeldMs).toBeGreaterThanOrEqual(300);
    expect(err.waitedMs).toBeGreaterThanOrEqual(290);
    // The caller's stack, not the timer's
    expect(err.stack).toContain('test/pg/timeout.test.ts');
    expect(pool.guard.snapshot().totals.timeouts).toBe(1);
    held.forEach((c) => c.release());
    // The pool still serves.
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('callback form: same error, pool intact', async () => {
    const pool = guardedPool({ max: 1, connectionTimeoutMillis: 300 });
    await warm(pool, 1);
    const c = await leakWithPromise(pool);
    const err = await new Promise<Annotated & { holders: NonNullable<Annotated['holders']> }>((resolve) => pool.connect((e) => resolve(e as Annotated & { holders: NonNullable<Annotated['holders']> })));
    expect(err.message).toBe(PG_MESSAGE);
    expect(err.stack).toMatch(/^Error: timeout exceeded when trying to connect\npoolguard\[/);
    expect(err.holders[0]!.site).toBe('test/fixtures/leaky.mjs:5:29');
    c.release();
    expect(pool.waitingCount).toBe(0);
  });

  it('pool.query that times out gets the same error, with busy holders named', async () => {
    const pool = guardedPool({ max: 1, connectionTimeoutMillis: 300, guard: { captureStacks: 'all' } });
    await warm(pool, 1);
    const slow = queryFromHere(pool, 'SELECT pg_sleep(0.8)');
    const err = (await pool.query('SELECT 1').catch((e: unknown) => e)) as Annotated & { holders: NonNullable<Annotated['holders']> };
    expect(err.message).toBe(PG_MESSAGE);
    expect(err.holders).toEqual([expect.objectContaining({ site: 'test/fixtures/leaky.mjs:19:15', count: 1, busy: 1, idle: 0 })]);
    expect(err.stack).toContain('Next: every holder was busy (a pool.query() running) when the wait timed out: find the slow work');
    expect(err.stack).not.toContain('too small');
    await slow;
  });
});

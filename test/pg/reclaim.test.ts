import { describe, expect, it } from 'vitest';
import { LeaseReclaimedError, type LeakReport } from '../../src/pg.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithPromise } from '../fixtures/leaky.mjs';
import { until } from '../helpers/db.js';
import { guardedPool } from '../helpers/pools.js';

describe('reclaim', () => {
  it('destroys an idle leaked connection, keeps the pool serving, fails the holder clearly, ignores its late release', async () => {
    const pool = guardedPool({ max: 1, connectionTimeoutMillis: 2_000, guard: { leakThresholdMs: 60, idleAfterMs: 30, reclaimAfterMs: 120 } });
    const reclaims: LeakReport[] = [];
    const removed: unknown[] = [];
    pool.guard.on('reclaim', (r) => reclaims.push(r));
    pool.on('remove', (c) => removed.push(c));
    const leaked = await leakWithPromise(pool);
    const pid = (leaked as unknown as { processID: number }).processID;
    // A waiter queued behind the leak gets a fresh connection once the leak is reclaimed.
    const waiter = pool.query('SELECT pg_backend_pid() AS pid');
    await until(() => reclaims.length > 0, 'a reclaim');
    expect(reclaims[0]!.site).toBe('test/fixtures/leaky.mjs:5:29');
    expect(reclaims[0]!.message).toContain('reclaimed a connection checked out at test/fixtures/leaky.mjs:5:29');
    const { rows } = await waiter;
    expect(rows[0].pid).not.toBe(pid);
    await until(() => removed.length === 1, "pg-pool's remove event");
    expect(removed[0]).toBe(leaked);

    const err = (await leaked.query('SELECT 1').catch((e: unknown) => e)) as LeaseReclaimedError;
    expect(err).toBeInstanceOf(LeaseReclaimedError);
    expect(err.code).toBe('POOLGUARD_LEASE_RECLAIMED');
    expect(err.message).toContain('checked out at test/fixtures/leaky.mjs:5:29');
    expect(err.message).toContain('guard.reclaimAfterMs is 120');
    expect(err.stack).toContain('reclaim.test.ts');

    const cbErr = await new Promise<Error>((resolve) => leaked.query('SELECT 1', (e: Error) => resolve(e)));
    expect(cbErr).toBeInstanceOf(LeaseReclaimedError);

    expect(() => leaked.release()).not.toThrow();
    expect(pool.totalCount).toBeLessThanOrEqual(1);
    expect((await pool.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    const snap = pool.guard.snapshot();
    expect(snap.totals.reclaims).toBe(1);
    expect(snap.leases).toHaveLength(0);
  });

  it('does not reclaim a lease with a query in flight', async () => {
    const pool = guardedPool({ max: 1, guard: { leakThresholdMs: 40, idleAfterMs: 20, reclaimAfterMs: 60 } });
    let reclaimed = 0;
    pool.guard.on('reclaim', () => reclaimed++);
    const client = await leakWithPromise(pool);
    await client.query('SELECT pg_sleep(0.3)');
    expect(reclaimed).toBe(0);
    client.release();
    expect(pool.idleCount).toBe(1);
  });
});

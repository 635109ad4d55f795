import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runJsonScript } from '../helpers/scripts.js';
import { createPool, type LeakReport, type RetireReport } from '../../src/generic-pool.js';
import { memoryPool, type Thing } from '../helpers/factories.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('generic-pool timing paths (fake clock)', () => {
  it('reports a leak exactly after the threshold; touch() keeps a lease busy', async () => {
    const { pool } = memoryPool({ guard: { leakThresholdMs: 10_000, idleAfterMs: 2_000 } });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    const a = await pool.acquire();
    const b = await pool.acquire();
    await vi.advanceTimersByTimeAsync(9_000);
    expect(leaks).toHaveLength(0);
    pool.guard.touch(b);
    await vi.advanceTimersByTimeAsync(1_300);
    expect(leaks.map((r) => [r.state, r.heldMs >= 10_000])).toEqual(
      expect.arrayContaining([
        ['idle', true],
        ['busy', true],
      ]),
    );
    await pool.release(a);
    await pool.release(b);
  });

  it('reclaims after reclaimAfterMs on the fake clock and replaces the resource for a waiter', async () => {
    const { pool, created } = memoryPool({ max: 1, guard: { leakThresholdMs: 1_000, idleAfterMs: 100, reclaimAfterMs: 5_000 } });
    const reclaims: LeakReport[] = [];
    pool.guard.on('reclaim', (r) => reclaims.push(r));
    const leaked = await pool.acquire();
    let waiterGot: Thing | undefined;
    void pool.acquire().then((t) => (waiterGot = t));
    await vi.advanceTimersByTimeAsync(4_900);
    expect(reclaims).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_200);
    expect(reclaims).toHaveLength(1);
    expect(leaked.destroyed).toBe(true);
    expect(waiterGot).toBe(created[1]);
    await expect(pool.release(leaked)).resolves.toBeUndefined();
    await pool.release(waiterGot!);
  });

  for (const [kind, make] of [
    ['object', (i: number) => ({ id: i })],
    ['primitive', (i: number) => i],
  ] as const) {
    it(`a late release after a reclaim resolves quietly, even after 1,500 reclaims (${kind} resources)`, async () => {
      let next = 1;
      const pool = createPool<unknown>(
        { create: async () => make(next++), destroy: async () => {} },
        { max: 1_500, guard: { logger: false, leakThresholdMs: 1_000, idleAfterMs: 100, reclaimAfterMs: 1_000 } },
      );
      const holders = await Promise.all(Array.from({ length: 1_500 }, () => pool.acquire()));
      // 100 reports and reclaims per scan: enough scans for every lease.
      for (let i = 0; i < 40 && pool.guard.snapshot().totals.reclaims < 1_500; i++) await vi.advanceTimersByTimeAsync(1_000);
      expect(pool.guard.snapshot().totals.reclaims).toBe(1_500);
      // The very first holder comes back last of all, past any bound on what is remembered.
      await expect(pool.release(holders[0])).resolves.toBeUndefined();
      for (const h of holders.slice(1)) await expect(pool.release(h)).resolves.toBeUndefined();
      expect(pool.guard.snapshot().totals.doubleReleases).toBe(0);
      // Remembered once only: a second late release is a double release, as any other.
      await expect(pool.release(holders[0])).rejects.toThrow(/Resource not currently part of this pool/);
      expect(pool.guard.snapshot().totals.doubleReleases).toBe(1);
      await pool.drain();
      await pool.clear();
    });
  }

  it('retires idle resources on a jittered lifetime, never a borrowed one', async () => {
    const { pool } = memoryPool({ max: 3, guard: { maxLifetimeMs: 60_000, lifetimeJitter: 0.25, leakThresholdMs: 0 } });
    const retired: RetireReport[] = [];
    pool.guard.on('retire', (r) => retired.push(r));
    const things = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    await pool.release(things[0]!);
    await pool.release(things[1]!);
    await vi.advanceTimersByTimeAsync(44_000);
    expect(retired).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(17_100);
    expect(retired.map((r) => r.reason)).toEqual(['lifetime', 'lifetime']);
    expect(things[2]!.destroyed).toBe(false);
    await pool.release(things[2]!);
    await vi.advanceTimersByTimeAsync(10);
    expect(things[2]!.destroyed).toBe(true);
    expect(pool.guard.snapshot().totals.retired.lifetime).toBe(3);
  });

  it('the timeout error lists holders by site with the fake clock’s hold times', async () => {
    const { pool } = memoryPool({ max: 1, acquireTimeoutMillis: 2_000, guard: { idleAfterMs: 500 } });
    const held = await pool.acquire();
    await vi.advanceTimersByTimeAsync(3_000);
    const pending = pool.acquire().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(2_100);
    const err = (await pending) as Error & { holders: Array<{ oldestHeldMs: number; idle: number }> };
    expect(err.name).toBe('TimeoutError');
    expect(err.holders[0]!.oldestHeldMs).toBeGreaterThanOrEqual(5_000);
    expect(err.holders[0]!.idle).toBe(1);
    expect(err.message).toBe('ResourceRequest timed out');
    expect(err.stack).toContain('memory.test.ts');
    await pool.release(held);
  });
});

describe("generic-pool's documented usage, unchanged, on the guarded pool", () => {
  beforeEach(() => vi.useRealTimers());

  it('acquire/release, use, priority acquire, drain then clear', async () => {
    const { pool, created } = memoryPool({ max: 1, priorityRange: 3 });
    // acquire / release
    const r = await pool.acquire();
    expect(pool.isBorrowedResource(r)).toBe(true);
    await pool.release(r);
    expect(pool.isBorrowedResource(r)).toBe(false);
    // use
    const result = await pool.use(async (t) => `used ${t.id}`);
    expect(result).toBe('used 1');
    // priority: with one resource held, the priority-0 waiter is served before the priority-2 one
    const held = await pool.acquire();
    const order: string[] = [];
    const low = pool.acquire(2).then(async (t) => {
      order.push('low');
      await pool.release(t);
    });
    const high = pool.acquire(0).then(async (t) => {
      order.push('high');
      await pool.release(t);
    });
    expect(pool.pending).toBe(2);
    await pool.release(held);
    await Promise.all([low, high]);
    expect(order).toEqual(['high', 'low']);
    // counters
    expect([pool.size, pool.available, pool.borrowed, pool.pending, pool.max, pool.min]).toEqual([1, 1, 0, 0, 1, 0]);
    // drain then clear
    await pool.drain();
    await pool.clear();
    expect(created[0]!.destroyed).toBe(true);
    await expect(pool.acquire()).rejects.toThrow('pool is draining and cannot accept work');
    expect(pool.guard.snapshot().totals.retired.ended).toBe(1);
  });

  it('events: factoryCreateError reaches the user’s listener as in generic-pool', async () => {
    let fail = true;
    const pool = createPool({ create: async () => { if (fail) { fail = false; throw new Error('boom'); } return {}; }, destroy: async () => {} }, { max: 1, guard: { logger: false } });
    const errors: Error[] = [];
    pool.on('factoryCreateError', (e) => errors.push(e));
    const r = await pool.acquire();
    expect(errors.map((e) => e.message)).toEqual(['boom']);
    await pool.release(r);
    await pool.drain();
    await pool.clear();
  });
});

describe('memory stays bounded without forgetting live holders', () => {
  it('reclaimed resources are remembered only while a holder can reach them: after 2,000 reclaims, the ones let go are collected', () => {
    const { status, stderr, result } = runJsonScript<{ reclaims: number; collected: number }>('test/fixtures/reclaimed-gc.mjs');
    expect(status, stderr).toBe(0);
    const { reclaims, collected } = result;
    expect(reclaims).toBe(2_000);
    // All but a handful (the last few a closure or the collector still holds): none kept for a late release.
    expect(collected).toBeGreaterThanOrEqual(1_990);
  }, 60_000);
});

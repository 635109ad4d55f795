import FakeTimers from '@sinonjs/fake-timers';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool, type LeakReport } from '../../src/generic-pool.js';
import { sleep, until } from '../helpers/db.js';
import { guardedPool } from '../helpers/pools.js';

/**
 * Issue 16.7: clocks that jump. Tests install fake timers (@sinonjs/fake-timers, which Vitest and
 * Jest use) over the guard's real clock: held and wait times are never negative, whatever the
 * clock does, and a lease taken under fake timers is still watched once they are gone.
 */
type Installed = ReturnType<typeof FakeTimers.install>;
let installed: Installed | undefined;
const realNow = Object.getOwnPropertyDescriptor(performance, 'now');

function install(config: Parameters<typeof FakeTimers.install>[0]): Installed {
  // A guard made before the fake clock has a real scan timer; when the guard restarts it under the
  // fake clock, the real one must really be cleared (and not warned about and left running).
  installed = FakeTimers.install({ shouldClearNativeTimers: true, ...config });
  return installed;
}

function uninstall(): void {
  installed?.uninstall();
  installed = undefined;
}

afterEach(() => {
  uninstall();
  if (realNow === undefined) delete (performance as { now?: unknown }).now;
  else Object.defineProperty(performance, 'now', realNow);
});

const TIMERS = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance', 'Date'] as const;

function memoryPool(guard: Record<string, unknown>, max = 2) {
  return createPool<object>({ create: async () => ({}), destroy: async () => {} }, { max, guard: { logger: false, ...guard } });
}

describe('clocks that jump: held and wait times are never negative', () => {
  it('a lease taken one fake minute in is held ≥ 0 ms once the fake clock is uninstalled, and is still reported as a leak', async () => {
    const leaks: LeakReport[] = [];
    const clock = install({ now: 0, toFake: [...TIMERS] });
    const pool = memoryPool({ leakThresholdMs: 100, idleAfterMs: 10 });
    pool.guard.on('leak', (r) => leaks.push(r));
    clock.tick(60_000);
    const resource = await pool.acquire();
    clock.tick(20);
    expect(pool.guard.snapshot().leases.map((l) => l.heldMs)).toEqual([20]);
    uninstall();
    const [lease] = pool.guard.snapshot().leases;
    expect(lease!.heldMs).toBeGreaterThanOrEqual(20);
    expect(lease!.heldMs).toBeLessThan(1_000);
    expect(lease!.waitMs).toBeGreaterThanOrEqual(0);
    // The guard's scan timer was made by the fake clock, which is gone: it still runs.
    await until(() => leaks.length === 1, 'the leak report in real time', 2_000);
    expect(leaks[0]!.heldMs).toBeGreaterThanOrEqual(100);
    expect(leaks[0]!.heldMs).toBeLessThan(2_000);
    await pool.release(resource);
    await pool.drain();
    await pool.clear();
  });

  it('install then advance: the fake clock drives hold times and leak reports as the test advances it', async () => {
    const pool = memoryPool({ leakThresholdMs: 1_000, idleAfterMs: 100 });
    // A connection made before the fake clock, a lease taken under it.
    await pool.release(await pool.acquire());
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    const clock = install({ now: 0, toFake: [...TIMERS] });
    const resource = await pool.acquire();
    expect(pool.guard.snapshot().leases[0]!.heldMs).toBe(0);
    await clock.tickAsync(10_000);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]!.heldMs).toBeGreaterThanOrEqual(1_000);
    expect(leaks[0]!.heldMs).toBeLessThanOrEqual(1_250);
    expect(pool.guard.snapshot().leases[0]!.heldMs).toBe(10_000);
    uninstall();
    expect(pool.guard.snapshot().leases[0]!.heldMs).toBeGreaterThanOrEqual(10_000);
    expect(pool.guard.snapshot().leases[0]!.heldMs).toBeLessThan(11_000);
    await pool.release(resource);
    await pool.drain();
    await pool.clear();
  });

  it('a backwards step of the same clock, and a wait across a clock switch, never give a negative time', async () => {
    const pool = memoryPool({ leakThresholdMs: 60_000 }, 1);
    let t = 50_000;
    Object.defineProperty(performance, 'now', { value: () => t, configurable: true, writable: true });
    const first = await pool.acquire();
    const waiting = pool.acquire();
    t += 300;
    expect(pool.guard.snapshot().leases[0]!.heldMs).toBe(300);
    // Back ten seconds: the hold time stays where it was and moves on from there.
    t -= 10_000;
    expect(pool.guard.snapshot().leases[0]!.heldMs).toBe(300);
    t += 50;
    expect(pool.guard.snapshot().leases[0]!.heldMs).toBe(350);
    // Another clock (fake timers from 0) while a caller waits, then the real one back.
    const clock = install({ now: 0, toFake: ['performance'] });
    expect(pool.guard.snapshot().leases[0]!.heldMs).toBe(350);
    clock.tick(5);
    expect(pool.guard.snapshot().leases[0]!.heldMs).toBe(355);
    await pool.release(first);
    const second = await waiting;
    const [lease] = pool.guard.snapshot().leases;
    expect(lease!.waitMs).toBe(355);
    uninstall();
    delete (performance as { now?: unknown }).now;
    const after = pool.guard.snapshot().leases[0]!;
    expect(after.heldMs).toBeGreaterThanOrEqual(0);
    expect(after.heldMs).toBeLessThan(1_000);
    await pool.release(second);
    await pool.drain();
    await pool.clear();
  });

  it('pg (real server): a client checked out one fake minute in is held ≥ 0 ms after the fake clock is uninstalled', async () => {
    const pool = guardedPool({ max: 1, guard: { leakThresholdMs: 60_000 } });
    await sleep(1);
    const clock = install({ now: 0, toFake: ['performance'] });
    clock.tick(60_000);
    const client = await pool.connect();
    clock.tick(10);
    uninstall();
    await client.query('SELECT 1');
    const [lease] = pool.guard.snapshot().leases;
    expect(lease!.heldMs).toBeGreaterThanOrEqual(10);
    expect(lease!.heldMs).toBeLessThan(2_000);
    expect(lease!.waitMs).toBeGreaterThanOrEqual(0);
    client.release();
    expect(pool.guard.snapshot().leases).toEqual([]);
  });
});

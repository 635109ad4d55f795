import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool, guard, type GuardedPool, type LeakReport, type RetireReport } from '../../src/generic-pool.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { acquireHere, useHere } from '../fixtures/leaky.mjs';
import { DATABASE_URL, sleep, until } from '../helpers/db.js';
import { pgClientFactory } from '../helpers/factories.js';
import { NATIVE_AWAIT_USING } from '../../src/core/await-using.js';

const pools: GuardedPool<pg.Client>[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) {
    await p.drain().catch(() => {});
    await p.clear().catch(() => {});
  }
});

/** A realistic factory: each resource is a connected pg.Client. */
function clientPool(options: Parameters<typeof createPool>[1] = {}): GuardedPool<pg.Client> {
  const pool = createPool<pg.Client>(
    { ...pgClientFactory(), validate: async (c) => (await c.query('SELECT 1').then(() => true, () => false)) },
    { max: 2, ...options, guard: { logger: false, ...options.guard } },
  );
  pools.push(pool);
  return pool;
}

describe('generic-pool with pg.Client resources (real server)', () => {
  it('reports a leaked acquire() with the caller’s line, idle; a query in flight makes it busy', async () => {
    const pool = clientPool({ guard: { leakThresholdMs: 60, idleAfterMs: 30 } });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    const idle = await acquireHere(pool);
    const busy = await acquireHere(pool);
    const sleeping = busy.query('SELECT pg_sleep(0.3)');
    await until(() => leaks.length === 2, 'two leak reports');
    const byState = Object.fromEntries(leaks.map((r) => [r.state, r]));
    expect(byState.idle!.site).toBe('test/fixtures/leaky.mjs:29:15');
    expect(byState.idle!.kind).toBe('acquire');
    expect(byState.busy!.site).toBe('test/fixtures/leaky.mjs:29:15');
    await sleeping;
    await pool.release(idle);
    await pool.release(busy);
    expect(pool.guard.snapshot().totals).toMatchObject({ leaks: 2, leaksResolved: 2, checkouts: 2 });
  });

  it('the acquire timeout keeps generic-pool’s TimeoutError and message, and names the holders in its fields and stack', async () => {
    const pool = clientPool({ max: 1, acquireTimeoutMillis: 150, guard: { idleAfterMs: 20 } });
    const held = await acquireHere(pool);
    await sleep(30);
    const err = (await pool.acquire().catch((e: unknown) => e)) as Error & { holders: unknown[]; code: string };
    expect(err.name).toBe('TimeoutError');
    expect(err.message).toBe('ResourceRequest timed out');
    expect(err.stack).toContain('\n  1 × test/fixtures/leaky.mjs:29:15');
    // In generic-pool's words: the resource goes back through the pool.
    expect(err.stack).toContain(
      NATIVE_AWAIT_USING
        ? 'Next: give the resource back with pool.release(resource) in a finally block, or take it with "await using lease = await pool.guard.lease()" at the site with idle leases;'
        : 'Next: give the resource back with pool.release(resource) in a finally block at the site with idle leases',
    );
    expect(err.holders).toEqual([expect.objectContaining({ site: 'test/fixtures/leaky.mjs:29:15', count: 1, idle: 1 })]);
    expect(err.code).toBeUndefined();
    expect(err.stack).toContain('pg-resource.test.ts');
    await pool.release(held);
  });

  it('reclaim destroys the resource, the pool keeps serving, and the late release is harmless', async () => {
    const pool = clientPool({ max: 1, guard: { leakThresholdMs: 40, idleAfterMs: 20, reclaimAfterMs: 80 } });
    const retired: RetireReport[] = [];
    pool.guard.on('retire', (r) => retired.push(r));
    const leaked = await acquireHere(pool);
    const waiter = pool.use((c) => c.query('SELECT pg_backend_pid() AS pid'));
    const { rows } = await waiter;
    expect(rows[0].pid).not.toBe((leaked as any).processID);
    await until(() => retired.length === 1, 'the reclaimed resource to be destroyed');
    expect(retired[0]!.reason).toBe('reclaimed');
    // The destroyed client fails as pg makes it fail.
    await expect(leaked.query('SELECT 1')).rejects.toThrow(/not queryable|closed/);
    await expect(pool.release(leaked)).resolves.toBeUndefined();
    expect(pool.guard.snapshot().totals.reclaims).toBe(1);
    expect(pool.borrowed).toBe(0);
  });

  it('use() leases are busy while the callback runs, and attributed to use()’s caller with captureStacks all', async () => {
    const pool = clientPool({ guard: { leakThresholdMs: 50, captureStacks: 'all' } });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    await useHere(pool, (c: pg.Client) => c.query('SELECT pg_sleep(0.15)'));
    expect(leaks).toHaveLength(1);
    expect(leaks[0]).toMatchObject({ kind: 'use', state: 'busy', site: 'test/fixtures/leaky.mjs:33:15' });
  });

  it('lifetime with jitter and max uses retire resources with their reasons', async () => {
    const pool = clientPool({ max: 1, guard: { maxUses: 2 } });
    const retired: RetireReport[] = [];
    pool.guard.on('retire', (r) => retired.push(r));
    const pids: number[] = [];
    for (let i = 0; i < 3; i++) pids.push(await pool.use(async (c) => (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p));
    expect(pids[0]).toBe(pids[1]);
    expect(pids[2]).not.toBe(pids[1]);
    await until(() => retired.length === 1, 'a retirement');
    expect(retired[0]!.reason).toBe('uses');

    const life = clientPool({ max: 2, min: 2, guard: { maxLifetimeMs: 200, lifetimeJitter: 0.5 } });
    const lifeRetired: RetireReport[] = [];
    life.guard.on('retire', (r) => lifeRetired.push(r));
    await life.ready();
    await until(() => lifeRetired.length >= 2, 'two lifetime retirements', 3_000);
    expect(lifeRetired.every((r) => r.reason === 'lifetime')).toBe(true);
    // generic-pool's min tops the pool back up
    await until(() => life.size === 2, 'the pool back at min');
  });

  it('a second release keeps generic-pool’s rejection and names the problem in its stack', async () => {
    const pool = clientPool();
    const c = await pool.acquire();
    await pool.release(c);
    const err = (await pool.release(c).catch((e: unknown) => e)) as Error;
    expect(err.message).toBe('Resource not currently part of this pool');
    expect(err.stack).toContain('release each resource exactly once');
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(1);
  });

  it('guard() instruments a generic-pool someone else created; idempotent', async () => {
    const gp = await import('generic-pool');
    const pool = gp.createPool(
      {
        create: async () => {
          const c = new pg.Client({ connectionString: DATABASE_URL });
          await c.connect();
          return c;
        },
        destroy: (c) => c.end(),
      },
      { max: 1 },
    );
    const handle = guard(pool, { name: 'legacy-gp', leakThresholdMs: 40, logger: false });
    expect(guard(pool)).toBe(handle);
    const leaks: LeakReport[] = [];
    handle.on('leak', (r) => leaks.push(r));
    const c = await acquireHere(pool);
    await until(() => leaks.length === 1, 'a leak report');
    expect(leaks[0]!.site).toBe('test/fixtures/leaky.mjs:29:15');
    await pool.release(c);
    await pool.drain();
    await pool.clear();
    expect(handle.snapshot().totals.retired.ended).toBe(1);
  });

  it('rejects validateAfterIdleMs, pointing at testOnBorrow', () => {
    expect(() => clientPool({ guard: { validateAfterIdleMs: 100 } })).toThrow(/use generic-pool's own testOnBorrow/);
  });
});

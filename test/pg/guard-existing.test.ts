import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { guard, Pool, type LeakReport } from '../../src/pg.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithPromise } from '../fixtures/leaky.mjs';
import { until } from '../helpers/db.js';
import { barePool, guardedPool } from '../helpers/pools.js';

describe('guard(existingPool)', () => {
  it('instruments a pg.Pool someone else built: leaks are reported with the caller’s line', async () => {
    const pool = barePool({ max: 2 });
    const handle = guard(pool, { name: 'legacy', leakThresholdMs: 50, logger: false });
    expect(pool).toBeInstanceOf(pg.Pool);
    expect(handle.name).toBe('legacy');
    expect((pool as unknown as { guard: unknown }).guard).toBe(handle);
    const seen: LeakReport[] = [];
    handle.on('leak', (r) => seen.push(r));
    const client = await leakWithPromise(pool);
    await until(() => seen.length > 0, 'a leak report');
    expect(seen[0]!.site).toBe('test/fixtures/leaky.mjs:5:29');
    expect(seen[0]!.pool).toBe('legacy');
    client.release();
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect(handle.snapshot().totals.checkouts).toBe(2);
  });

  it('is idempotent: a second call returns the same handle and does not wrap twice', async () => {
    const pool = barePool();
    const a = guard(pool, { logger: false });
    const connect = pool.connect;
    const b = guard(pool, { name: 'other' });
    expect(b).toBe(a);
    expect(pool.connect).toBe(connect);
    const c = await pool.connect();
    c.release();
    expect(a.snapshot().totals.checkouts).toBe(1);
  });

  it('on a poolguard Pool, returns its own guard', () => {
    const pool = guardedPool();
    expect(guard(pool)).toBe(pool.guard);
  });

  it('rejects what is not a pool, naming what it got', () => {
    expect(() => guard(null as unknown as pg.Pool)).toThrow("guard(pool) needs a pg.Pool for 'poolguard/pg', got null: pass a pg.Pool (new pg.Pool(…), or use Pool from 'poolguard/pg').");
    expect(() => guard({} as pg.Pool)).toThrow(/needs a pg\.Pool/);
  });

  it('validates options with the same errors as the Pool constructor', () => {
    expect(() => guard(barePool(), { leakThresholdMs: -5 })).toThrow('guard.leakThresholdMs must be ≥ 0, got -5');
  });

  it('a subclass of poolguard’s Pool can override connect and call super', async () => {
    let calls = 0;
    class Counting extends Pool {
      override connect(...args: any[]): any {
        calls++;
        return (super.connect as any)(...args);
      }
    }
    const { DATABASE_URL } = await import('../helpers/db.js');
    const pool = new Counting({ connectionString: DATABASE_URL, guard: { logger: false } });
    try {
      await pool.query('SELECT 1');
      expect(calls).toBe(1);
      expect(pool.guard.snapshot().totals.checkouts).toBe(1);
    } finally {
      await pool.end();
    }
  });
});

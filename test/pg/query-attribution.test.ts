import { describe, expect, it } from 'vitest';
import type { LeakReport } from '../../src/pg.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { queryFromHere, queryWithCallback } from '../fixtures/leaky.mjs';
import { guardedPool } from '../helpers/pools.js';

describe('pool.query leases', () => {
  it("with captureStacks 'all', a slow pool.query() is attributed to its caller, and is busy", async () => {
    const pool = guardedPool({ guard: { leakThresholdMs: 60, captureStacks: 'all' } });
    const seen: LeakReport[] = [];
    pool.guard.on('leak', (r) => seen.push(r));
    await queryFromHere(pool, 'SELECT pg_sleep(0.25)');
    await queryWithCallback(pool, 'SELECT pg_sleep(0.25)');
    expect(seen.map((r) => [r.kind, r.state, r.site])).toEqual([
      ['query', 'busy', 'test/fixtures/leaky.mjs:19:15'],
      ['query', 'busy', 'test/fixtures/leaky.mjs:24:10'],
    ]);
  });

  it('by default a pool.query() lease pays for no stack: reported busy, without a site, saying how to get one', async () => {
    const pool = guardedPool({ guard: { leakThresholdMs: 60 } });
    const seen: LeakReport[] = [];
    pool.guard.on('leak', (r) => seen.push(r));
    await queryFromHere(pool, 'SELECT pg_sleep(0.2)');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ kind: 'query', state: 'busy', site: undefined });
    expect(seen[0]!.message).toContain('guard.captureStacks');
  });

  it('a checkout inside a pool.query callback is a connect lease with its own site', async () => {
    const pool = guardedPool({ guard: { leakThresholdMs: 40, idleAfterMs: 10 } });
    const seen: LeakReport[] = [];
    pool.guard.on('leak', (r) => seen.push(r));
    const client = await new Promise<any>((resolve) => pool.query('SELECT 1', () => pool.connect().then(resolve)));
    await new Promise((r) => setTimeout(r, 120));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.kind).toBe('connect');
    client.release();
  });
});

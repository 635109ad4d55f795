import type pg from 'pg';
import { describe, it } from 'vitest';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithPromise } from '../fixtures/leaky.mjs';
import { guardedPool } from '../helpers/pools.js';
import { quietTimeScenario, THRESHOLD_MS } from '../helpers/quiet-time.js';

describe('a lease in active use is slow, not a possible leak (real server, issue 24)', () => {
  it('transactions with pauses shorter than the quiet time over a few thresholds: no possible leak; then quiet: exactly one each', async () => {
    const pool = guardedPool({ max: 3, guard: { leakThresholdMs: THRESHOLD_MS } });
    await quietTimeScenario<pg.PoolClient>(pool.guard, 3, {
      checkout: () => leakWithPromise(pool),
      run: (c, sql, values) => c.query(sql, values),
      release: (c) => c.release(),
    }, 'BEGIN', 'SELECT $1::int AS n');
  });
});

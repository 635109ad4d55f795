import type { PoolConnection } from 'mysql2/promise';
import { describe, it } from 'vitest';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithPromise } from '../fixtures/mysql-leaky.mjs';
import { guardedPromisePool } from '../helpers/mysql-pools.js';
import { quietTimeScenario, THRESHOLD_MS } from '../helpers/quiet-time.js';

describe('a lease in active use is slow, not a possible leak (MariaDB, issue 24)', () => {
  it('transactions with pauses shorter than the quiet time over a few thresholds: no possible leak; then quiet: exactly one each', async () => {
    const pool = guardedPromisePool({ connectionLimit: 3, guard: { leakThresholdMs: THRESHOLD_MS } });
    await quietTimeScenario<PoolConnection>(pool.guard, 3, {
      checkout: () => leakWithPromise(pool),
      run: (c, sql, values) => c.query(sql, values),
      release: (c) => c.release(),
    }, 'START TRANSACTION', 'SELECT ? AS n');
  });
});

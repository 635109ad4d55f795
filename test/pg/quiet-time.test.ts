import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithPromise } from '../fixtures/leaky.mjs';
import { until } from '../helpers/db.js';
import { guardedPool } from '../helpers/pools.js';
import { expectQuietTimeReports, reportsOf, statementsWithPauses, THRESHOLD_MS } from '../helpers/quiet-time.js';

describe('a lease in active use is slow, not a possible leak (real server, issue 24)', () => {
  it('transactions with pauses shorter than the quiet time over a few thresholds: no possible leak; then quiet: exactly one each', async () => {
    const holders = 3;
    const pool = guardedPool({ max: holders, guard: { leakThresholdMs: THRESHOLD_MS } });
    expect(pool.guard.snapshot().settings.idleAfterMs).toBe(150);
    const seen = reportsOf(pool.guard);
    const clients = await Promise.all(Array.from({ length: holders }, () => leakWithPromise(pool)));
    await Promise.all(clients.map((c) => c.query('BEGIN')));
    const pauses = await Promise.all(clients.map((c, i) => statementsWithPauses((n) => c.query('SELECT $1::int AS n', [n]), 4 * THRESHOLD_MS, i)));
    // From here the leases sit inside their open transactions with nothing in flight.
    await expectQuietTimeReports(seen, holders, performance.now(), Math.max(...pauses));
    for (const c of clients) {
      await c.query('ROLLBACK');
      c.release();
    }
    await until(() => seen.filter((r) => r.type === 'leakResolved').length === holders, 'a resolved report for each lease');
    expect(pool.guard.snapshot().totals).toMatchObject({ leaks: holders, leaksResolved: holders });
  });
});

import { expect } from 'vitest';
import type { LeakReport, PoolGuard } from '../../src/index.js';
import { sleep, until } from './db.js';

/**
 * The leak threshold of the quiet-time tests; `guard.idleAfterMs` is left at its default, half of
 * it. Pauses of 20 to 50 ms leave 200 ms to spare: on a loaded machine a timer can fire 100 ms late.
 */
export const THRESHOLD_MS = 500;
export const QUIET_MS = THRESHOLD_MS / 2;

/** Every `leak` and `leakResolved` report of a pool, with the time it came at. */
export function reportsOf(guard: PoolGuard) {
  const seen: Array<LeakReport & { at: number }> = [];
  guard.on('leak', (r) => seen.push({ ...r, at: performance.now() }));
  guard.on('leakResolved', (r) => seen.push({ ...r, at: performance.now() }));
  return seen;
}

/**
 * A transaction in active use: one statement after another, with a pause of 20 to 50 ms (shorter
 * than the quiet time) between each reply and the next statement, for `forMs`. Returns the longest
 * pause seen, which a failure shows: a pause longer than the quiet time makes a possible leak right.
 */
export async function statementsWithPauses(run: (n: number) => Promise<unknown>, forMs: number, seed: number): Promise<number> {
  const end = performance.now() + forMs;
  let longest = 0;
  for (let n = 0; performance.now() < end; n++) {
    const replied = performance.now();
    await sleep(20 + ((n * 13 + seed * 7) % 31));
    longest = Math.max(longest, performance.now() - replied);
    await run(n);
  }
  return longest;
}

/** How a test drives one driver: check out at the fixture's line, run a statement, release. */
export interface Holder<C> {
  checkout(): Promise<C>;
  run(conn: C, sql: string, values?: unknown[]): Promise<unknown>;
  release(conn: C): void;
}

/**
 * The scenario of the pg and MariaDB tests: `holders` leases each run a transaction with pauses
 * shorter than the quiet time over three thresholds, then sit in it quiet (see
 * `expectQuietTimeReports`); then each rolls back and releases, and its report is resolved.
 */
export async function quietTimeScenario<C>(guard: PoolGuard, holders: number, driver: Holder<C>, begin: string, select: string): Promise<void> {
  expect(guard.snapshot().settings.idleAfterMs).toBe(QUIET_MS);
  const seen = reportsOf(guard);
  const conns = await Promise.all(Array.from({ length: holders }, () => driver.checkout()));
  await Promise.all(conns.map((c) => driver.run(c, begin)));
  const pauses = await Promise.all(conns.map((c, i) => statementsWithPauses((n) => driver.run(c, select, [n]), 3 * THRESHOLD_MS, i)));
  // From here the leases sit inside their open transactions with nothing in flight.
  await expectQuietTimeReports(seen, holders, performance.now(), Math.max(...pauses));
  for (const c of conns) {
    await driver.run(c, 'ROLLBACK');
    driver.release(c);
  }
  await until(() => seen.filter((r) => r.type === 'leakResolved').length === holders, 'a resolved report for each lease');
  expect(guard.snapshot().totals).toMatchObject({ leaks: holders, leaksResolved: holders });
}

/**
 * The check the pg and MariaDB tests share: `holders` leases ran transactions with short pauses
 * over a few thresholds (`activeUntil`: when they stopped), then went quiet inside them. No
 * possible leak while they were in active use, at most one slow report each; then exactly one
 * possible leak each, worded from what they were doing at the threshold.
 */
export async function expectQuietTimeReports(seen: Array<LeakReport & { at: number }>, holders: number, activeUntil: number, longestPause: number): Promise<void> {
  const possible = (r: LeakReport) => r.type === 'leak' && r.message.includes('possible connection leak');
  const early = seen.filter((r) => possible(r) && r.at < activeUntil);
  expect(early.map((r) => r.message), `possible leak reports while the leases were in active use (longest pause seen: ${Math.round(longestPause)} ms)`).toEqual([]);
  const slow = seen.filter((r) => r.type === 'leak' && !possible(r));
  expect(slow, 'one slow report per lease, made at the threshold').toHaveLength(holders);
  expect(new Set(slow.map((r) => r.leaseId)).size).toBe(holders);
  for (const r of slow) {
    expect(r.message).toMatch(/: slow lease inside an open transaction: a (client|connection) checked out at .* (in active use: no query in flight at this instant, but its last one finished \d+ ms ago \(less than guard\.idleAfterMs, 250 ms\)|with a query in flight now \(running or queued\)): slow, not forgotten\./);
  }
  await until(() => seen.filter(possible).length >= holders, 'a possible leak report for each quiet lease', 3_000);
  await sleep(QUIET_MS); // a few more checks: none reports again
  const leaks = seen.filter(possible);
  expect(leaks).toHaveLength(holders);
  expect(new Set(leaks.map((r) => r.leaseId)).size).toBe(holders);
  for (const r of leaks) {
    expect(r).toMatchObject({ state: 'idle', transaction: 'open' });
    expect(r.idleMs).toBeGreaterThanOrEqual(THRESHOLD_MS);
    expect(r.message).toMatch(/: possible connection leak inside an open transaction: .* with no query in flight; its last query finished \d+ ms ago\. It was (in active use|busy) when it crossed guard\.leakThresholdMs \(500 ms\)/);
  }
}

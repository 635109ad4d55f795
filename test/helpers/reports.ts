import type { LeakReport, PoolGuard } from '../../src/index.js';

/** Every report of one kind a guard emits from now on, in order. */
export function seen(guard: PoolGuard, type: 'leak' | 'leakResolved' | 'reclaim' = 'leak'): LeakReport[] {
  const out: LeakReport[] = [];
  guard.on(type, (r) => out.push(r));
  return out;
}

/**
 * A lease with `SELECT SLEEP(seconds)` in flight past its threshold is reported busy (idle 0 ms);
 * its release once the query is done resolves that report, with the time it was held.
 */
export async function expectBusyThenResolved(guard: PoolGuard, run: (sql: string) => Promise<unknown>, release: () => unknown, seconds = 0.4): Promise<{ leaks: LeakReport[]; resolved: LeakReport[] }> {
  const { expect } = await import('vitest');
  const { until } = await import('./db.js');
  const leaks = seen(guard);
  const resolved = seen(guard, 'leakResolved');
  const sleeping = run(`SELECT SLEEP(${seconds})`);
  await until(() => leaks.length > 0, 'a leak report');
  expect(leaks[0]!.state).toBe('busy');
  expect(leaks[0]!.idleMs).toBe(0);
  await sleeping;
  await release();
  expect(resolved).toHaveLength(1);
  expect(resolved[0]!.leaseId).toBe(leaks[0]!.leaseId);
  expect(resolved[0]!.heldMs).toBeGreaterThanOrEqual(seconds * 1000);
  return { leaks, resolved };
}

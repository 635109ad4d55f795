import { describe, expect, it } from 'vitest';
import type { LeakReport } from '../../src/index.js';
import { memoryGuard } from '../helpers/memory-pool.js';

/** captureStacks: 'adaptive' (issue 20, part 3), on the fake clock. */
describe("captureStacks: 'adaptive'", () => {
  /** Checkouts released at once, none held long: how many captured a stack. */
  const run = (g: ReturnType<typeof memoryGuard>, checkouts: number) => {
    let n = 0;
    for (let i = 0; i < checkouts; i++) {
      const { lease } = g.checkout();
      if (lease.capture !== undefined) n++;
      g.core.released(lease, () => {}, 'POOL MESSAGE');
    }
    return n;
  };
  const captured = (options: Parameters<typeof memoryGuard>[0], checkouts: number) => run(memoryGuard(options), checkouts);
  /** A guard past the start, where 'adaptive' captures every checkout. */
  const pastStart = (options: Parameters<typeof memoryGuard>[0], size?: number) => {
    const g = memoryGuard(options, size);
    run(g, 1_000);
    return g;
  };

  it("is the default: a pool's first 1,000 explicit checkouts all capture, then 1 in 64 while no lease without a stack is held long", () => {
    const g = memoryGuard({ leakThresholdMs: 1_000 });
    expect(g.core.config.captureStacks).toBe('adaptive');
    expect(run(g, 1_000)).toBe(1_000);
    expect(run(g, 640)).toBe(10);
  });

  it('stackSampleRate below 1 sets the sampled share', () => {
    expect(captured({ captureStacks: 'adaptive', stackSampleRate: 0.25 }, 100)).toBe(25);
  });

  it('a lease without a stack held past a quarter of the threshold switches to every checkout, so the next leak from that line is named; back to sampling after a threshold without one', () => {
    const g = pastStart({ captureStacks: 'adaptive', leakThresholdMs: 1_000 });
    const reports: LeakReport[] = [];
    g.guard.on('leak', (r) => reports.push(r));
    // The first checkout is sampled out (the accumulator captures the 64th): a forgotten lease.
    const first = g.checkout();
    expect(first.lease.capture).toBeUndefined();
    g.clock.advance(240);
    expect(g.checkout().lease.capture).toBeUndefined();
    g.clock.advance(260);
    // The scan at 250 ms saw it held 250 ms: every checkout from now on.
    expect(g.logged.some((l) => l.msg.includes("a connect() lease without a stack has been held 250 ms (guard.captureStacks: 'adaptive' samples 1 checkout in 64)"))).toBe(true);
    const second = g.checkout();
    expect(second.lease.capture).toBeDefined();
    g.clock.advance(1_300);
    const named = reports.find((r) => r.leaseId === second.lease.id);
    expect(named?.site).toMatch(/adaptive-capture\.test\.ts:\d+/);
    expect(reports.find((r) => r.leaseId === first.lease.id)?.site).toBeUndefined();
    // Released: no lease without a stack is held, so after a threshold (1 s) sampling resumes.
    for (const l of [first, second]) g.core.released(l.lease, () => {}, 'POOL MESSAGE');
    g.clock.advance(200);
    const stillEvery = g.checkout();
    expect(stillEvery.lease.capture).toBeDefined();
    g.core.released(stillEvery.lease, () => {}, 'POOL MESSAGE');
    g.clock.advance(2_000);
    const sampled = [0, 1, 2].map(() => g.checkout().lease.capture);
    expect(sampled.filter((c) => c !== undefined).length).toBeLessThanOrEqual(1);
  });

  it('a timeout error on a pool drained by leases without stacks says what to do, per mode', () => {
    const drained = (options: Parameters<typeof memoryGuard>[0]) => {
      // 'adaptive' (the default) past its start; the other modes from their first checkout.
      const adaptive = options?.captureStacks === undefined || options?.captureStacks === 'adaptive';
      const g = adaptive ? pastStart({ leakThresholdMs: 1_000, ...options }, 2) : memoryGuard({ leakThresholdMs: 1_000, ...options }, 2);
      g.checkout();
      g.checkout();
      const waiter = g.core.checkoutRequested('connect', undefined);
      g.clock.advance(100);
      return g.core.checkoutTimedOut(waiter, 'timeout exceeded when trying to connect', undefined).message;
    };
    const adaptive = drained({ captureStacks: 'adaptive' });
    expect(adaptive).toContain('2 × an unknown site (no stack captured for this connect())');
    expect(adaptive).toContain(
      "2 holders have no stack: guard.captureStacks 'adaptive' (the default) captures 1 checkout in 64 after the pool's first 1,000 until a lease without one is held 250 ms, then every checkout: the next leak from the same line is reported with its stack (pool.guard.on('leak'), the log). To name every holder at once, set guard.captureStacks: 'connect'.",
    );
    // The defaults are 'adaptive': the same words.
    expect(drained({})).toContain("2 holders have no stack: guard.captureStacks 'adaptive' (the default)");
    expect(drained({ captureStacks: 'none' })).toContain("2 holders have no stack because guard.captureStacks is 'none': set it to 'connect' to name the line of every checkout");
    expect(drained({ captureStacks: 'connect', stackSampleRate: 0.1 })).toContain('2 holders have no stack because guard.stackSampleRate is 0.1: raise it to 1');
    // Every holder captured: no hint.
    expect(drained({ captureStacks: 'connect' })).not.toContain('no stack');
  });
});

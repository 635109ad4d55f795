import { describe, expect, it } from 'vitest';
import type { LeakReport } from '../../src/index.js';
import { memoryGuard } from '../helpers/memory-pool.js';

function collect(guard: ReturnType<typeof memoryGuard>['guard']) {
  const events: LeakReport[] = [];
  guard.on('leak', (r) => events.push(r));
  guard.on('leakResolved', (r) => events.push(r));
  guard.on('reclaim', (r) => events.push(r));
  return events;
}

describe('leak detection (fake clock)', () => {
  it('reports a lease once when it crosses the threshold, not before', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000 });
    const events = collect(g.guard);
    g.checkout();
    g.clock.advance(900);
    expect(events).toHaveLength(0);
    g.clock.advance(400);
    expect(events.map((e) => e.type)).toEqual(['leak']);
    g.clock.advance(10_000);
    expect(events).toHaveLength(1);
    expect(events[0]!.heldMs).toBeGreaterThanOrEqual(1_000);
    expect(events[0]!.heldMs).toBeLessThanOrEqual(1_250);
    expect(g.core.ledger.totals.leaks).toBe(1);
  });

  it('names the test line that took the lease', () => {
    const g = memoryGuard({ leakThresholdMs: 100 });
    const events = collect(g.guard);
    g.checkout();
    g.clock.advance(200);
    // The memory adapter's checkout() is the entry point, so the site is its caller in the helper.
    expect(events[0]!.site).toMatch(/^test\/unit\/leak-detector\.test\.ts:\d+:\d+$/);
    expect(events[0]!.stack).toContain('leak-detector.test.ts');
  });

  it('classifies a lease with a query in flight as busy and one doing nothing as idle', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000, idleAfterMs: 500 });
    const events = collect(g.guard);
    const busy = g.checkout();
    busy.resource.busy = true;
    g.checkout();
    g.clock.advance(1_100);
    const byId = new Map(events.map((e) => [e.leaseId, e]));
    expect(byId.get(busy.lease.id)!.state).toBe('busy');
    expect(byId.get(busy.lease.id)!.idleMs).toBe(0);
    expect(byId.get(busy.lease.id)!.message).toContain('slow lease');
    const idle = events.find((e) => e.leaseId !== busy.lease.id)!;
    expect(idle.state).toBe('idle');
    expect(idle.idleMs).toBeGreaterThanOrEqual(1_000);
    expect(idle.message).toContain('possible connection leak');
  });

  // A lease between two queries, and reportBusy: false: test/unit/lease-state.test.ts (state is
  // read from the driver, never from recent activity).

  it('says "resolved" with the total hold time when a reported lease is released', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000 });
    const events = collect(g.guard);
    const { lease } = g.checkout();
    g.clock.advance(4_000);
    expect(g.core.released(lease, () => {}, 'released twice')).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['leak', 'leakResolved']);
    expect(events[1]!.heldMs).toBe(4_000);
    expect(events[1]!.leaseId).toBe(events[0]!.leaseId);
    expect(g.core.ledger.totals.leaksResolved).toBe(1);
  });

  it('never reports managed (query) leases as idle', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000, idleAfterMs: 10 });
    const events = collect(g.guard);
    g.checkout('query');
    g.clock.advance(2_000);
    expect(events[0]!.state).toBe('busy');
    expect(events[0]!.kind).toBe('query');
  });

  it('runs its timer only while leases are open', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000 });
    expect(g.clock.activeTimers).toBe(0);
    const { lease } = g.checkout();
    expect(g.clock.activeTimers).toBe(1);
    g.core.released(lease, () => {}, 'x');
    g.clock.advance(2_000);
    expect(g.clock.activeTimers).toBe(0);
  });

  it('with leakThresholdMs 0 and no reclaim, reports nothing; its timer (which formats long-held stacks) stops with the last lease, and with stacks off there is none', () => {
    const g = memoryGuard({ leakThresholdMs: 0 });
    const events = collect(g.guard);
    const a = g.checkout();
    expect(g.clock.activeTimers).toBe(1);
    g.clock.advance(1e9);
    expect(events).toHaveLength(0);
    g.core.released(a.lease, () => {}, 'POOL MESSAGE');
    g.clock.advance(1_000);
    expect(g.clock.activeTimers).toBe(0);
    const off = memoryGuard({ leakThresholdMs: 0, captureStacks: 'none' });
    off.checkout();
    expect(off.clock.activeTimers).toBe(0);
  });

  it('scans only the leases that crossed a threshold: the young ones stay in the open list', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000 });
    g.checkout();
    g.clock.advance(600);
    for (let i = 0; i < 100; i++) g.checkout();
    g.clock.advance(500);
    expect(g.core.ledger.suspects.size).toBe(1);
    expect(g.core.ledger.open.size).toBe(100);
  });
});

describe('reclaim (fake clock)', () => {
  it('reclaims an idle lease after reclaimAfterMs and makes a late release harmless', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000, reclaimAfterMs: 5_000 });
    const events = collect(g.guard);
    const { lease, resource } = g.checkout();
    g.clock.advance(4_000);
    expect(resource.destroyed).toBe(false);
    g.clock.advance(1_300);
    expect(resource.destroyed).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['leak', 'reclaim']);
    expect(resource.reclaimError!.message).toContain('guard.reclaimAfterMs is 5000');
    expect(resource.reclaimError!.message).toMatch(/checked out at test\/unit\/leak-detector\.test\.ts:\d+/);
    expect(g.core.ledger.leased).toBe(0);
    expect(g.core.released(lease, () => {}, 'x')).toBe(false);
    expect(g.core.ledger.totals.reclaims).toBe(1);
  });

  it('never reclaims a busy lease', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000, reclaimAfterMs: 2_000 });
    const { resource } = g.checkout();
    resource.busy = true;
    g.clock.advance(10_000);
    expect(resource.destroyed).toBe(false);
  });

  it('with reclaimWhenUsedPercent, reclaims only while the pool is that full', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000, reclaimAfterMs: 2_000, reclaimWhenUsedPercent: 50 }, 4);
    const first = g.checkout();
    g.clock.advance(3_000);
    expect(first.resource.destroyed).toBe(false);
    g.checkout();
    g.clock.advance(1_000);
    expect(first.resource.destroyed).toBe(true);
  });
});

describe('double release', () => {
  it('throws with the pool message first, then says what is left of the lease; in auto mode the next one names the first release', () => {
    const g = memoryGuard();
    const a = g.checkout();
    g.core.released(a.lease, () => {}, 'POOL MESSAGE');
    let err: Error | undefined;
    try {
      g.core.released(a.lease, () => {}, 'POOL MESSAGE');
    } catch (e) {
      err = e as Error;
    }
    expect(err!.message.startsWith('POOL MESSAGE')).toBe(true);
    // The checkout stack is dropped at release (it would keep the caller's objects alive): the
    // message says what is left, and that the error's own stack is the second release().
    expect(err!.message).toMatch(/The connect\(\) lease #\d+ on connection #\d+, checked out 0 ms ago \(its checkout stack is dropped at release; the stack below is the second release\(\)\)\./);
    expect(err!.message).toContain('now records release sites');
    const b = g.checkout();
    const releaseHere = () => g.core.released(b.lease, releaseHere, 'POOL MESSAGE');
    releaseHere();
    g.clock.advance(250);
    let second: (Error & { firstReleaseSite?: string }) | undefined;
    try {
      releaseHere();
    } catch (e) {
      second = e as typeof second;
    }
    expect(second!.message).toMatch(/first release\(\) was 250 ms ago at test\/unit\/leak-detector\.test\.ts:\d+/);
    expect(second!.firstReleaseSite).toMatch(/leak-detector\.test\.ts/);
    expect(g.core.ledger.totals.doubleReleases).toBe(2);
  });
});

describe('what a lease keeps of its capture (issue 20)', () => {
  const liveFrames = (capture: object | undefined) => capture !== undefined && Object.getOwnPropertyDescriptor(capture, 'stack') !== undefined;

  it('a released lease keeps no capture: its frames would keep the caller\'s objects alive', () => {
    const g = memoryGuard();
    const a = g.checkout();
    expect(liveFrames(a.lease.capture)).toBe(true);
    g.core.released(a.lease, () => {}, 'POOL MESSAGE');
    expect(a.lease.capture).toBeUndefined();
  });

  it('a lease held 10 s keeps only its formatted stack, even with leak reports off; a reported one still names its site after release', () => {
    const g = memoryGuard({ leakThresholdMs: 0 });
    const a = g.checkout();
    g.clock.advance(9_000);
    expect(liveFrames(a.lease.capture)).toBe(true);
    g.clock.advance(2_000);
    expect(liveFrames(a.lease.capture)).toBe(false);
    expect(a.lease.capture?.described?.site).toMatch(/leak-detector\.test\.ts:\d+/);
    const r = memoryGuard({ leakThresholdMs: 100 });
    const b = r.checkout();
    r.clock.advance(200);
    expect(liveFrames(b.lease.capture)).toBe(false);
    r.core.released(b.lease, () => {}, 'POOL MESSAGE');
    expect(() => r.core.released(b.lease, () => {}, 'POOL MESSAGE')).toThrow(/The connect\(\) lease #\d+ on connection #\d+, checked out 200 ms ago at test\/unit\/leak-detector\.test\.ts:\d+/);
  });

  it('a recorded release stack is formatted at once (guard.releaseStacks: always)', () => {
    const g = memoryGuard({ releaseStacks: 'always' });
    const a = g.checkout();
    g.core.released(a.lease, () => {}, 'POOL MESSAGE');
    const data = Object.getOwnPropertyDescriptor(a.lease.releaseCapture!, 'stack');
    expect(typeof data?.value).toBe('string');
  });
});

describe('robustness of reporting', () => {
  it('a listener that throws is logged and does not stop other listeners or the pool', () => {
    const g = memoryGuard({ leakThresholdMs: 100 });
    const seen: number[] = [];
    g.guard.on('leak', () => {
      throw new Error('listener bug');
    });
    g.guard.on('leak', (r) => seen.push(r.leaseId));
    g.checkout();
    expect(() => g.clock.advance(200)).not.toThrow();
    expect(seen).toHaveLength(1);
    expect(g.logged.some((l) => l.msg.includes("a 'leak' listener on pool.guard threw (listener bug)"))).toBe(true);
  });

  it('a logger that throws does not break detection', () => {
    const g = memoryGuard({ leakThresholdMs: 100, logger: { warn: () => { throw new Error('logger down'); } } });
    const events = collect(g.guard);
    g.checkout();
    g.clock.advance(200);
    expect(events).toHaveLength(1);
  });

  it('logs one line per call site per minute, and says how many were held back', () => {
    const g = memoryGuard({ leakThresholdMs: 100, idleAfterMs: 50 });
    for (let i = 0; i < 5; i++) g.checkout();
    g.clock.advance(200);
    const leakLines = g.logged.filter((l) => l.msg.includes('possible connection leak'));
    expect(leakLines).toHaveLength(1);
    g.clock.advance(60_000);
    g.checkout();
    g.clock.advance(200);
    const later = g.logged.filter((l) => l.msg.includes('possible connection leak'));
    expect(later).toHaveLength(2);
    expect(later[1]!.msg).toContain('4 similar lines held back');
  });

  it('once() listeners fire once', () => {
    const g = memoryGuard({ leakThresholdMs: 100 });
    let n = 0;
    g.guard.once('leak', () => n++);
    g.checkout();
    g.checkout();
    g.clock.advance(200);
    expect(n).toBe(1);
  });
});

describe('bursts', () => {
  it('when many leases cross the threshold at once, each scan reports at most 100; all are reported within a few scans', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000, idleAfterMs: 10 });
    let reports = 0;
    g.guard.on('leak', () => reports++);
    for (let i = 0; i < 250; i++) g.checkout();
    g.clock.advance(1_000); // the scan at 1 s, exactly at the threshold
    expect(reports).toBe(100);
    g.clock.advance(250);
    expect(reports).toBe(200);
    g.clock.advance(250);
    expect(reports).toBe(250);
  });
});

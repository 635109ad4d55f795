import { describe, expect, it } from 'vitest';
import type { LeakReport } from '../../src/index.js';
import { memoryGuard } from '../helpers/memory-pool.js';

function collect(guard: ReturnType<typeof memoryGuard>['guard']) {
  const events: LeakReport[] = [];
  for (const type of ['leak', 'leakResolved', 'reclaim'] as const) guard.on(type, (r) => events.push(r));
  return events;
}

describe('intentional long holds are exempt (fake clock)', () => {
  it('pool.guard.exempt(client, reason): never reported nor reclaimed, shown in snapshots, returns the client', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000, reclaimAfterMs: 2_000, idleAfterMs: 100 });
    const events = collect(g.guard);
    const held = g.checkout();
    const other = g.checkout();
    expect(g.guard.exempt(held.resource, 'LISTEN orders')).toBe(held.resource);
    g.clock.advance(60_000);
    expect(events.filter((e) => e.leaseId === held.lease.id)).toEqual([]);
    expect(held.resource.destroyed).toBe(false);
    // The other lease is watched as usual.
    expect(events.filter((e) => e.leaseId === other.lease.id).map((e) => e.type)).toEqual(['leak', 'reclaim']);
    const lease = g.guard.snapshot().leases.find((l) => l.id === held.lease.id)!;
    expect(lease.exempt).toBe('LISTEN orders');
    expect(lease.reported).toBe(false);
    expect(g.guard.snapshot().counts.leased).toBe(1);
    expect(g.core.ledger.totals.leaks).toBe(1);
  });

  it('the mark ends with the lease: the next lease on the same connection is watched', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000 });
    const events = collect(g.guard);
    const first = g.checkout();
    g.guard.exempt(first.resource);
    g.core.released(first.lease, () => {}, 'released twice');
    const second = g.checkout('connect', first.record);
    g.clock.advance(1_500);
    expect(events.map((e) => [e.type, e.leaseId])).toEqual([['leak', second.lease.id]]);
    expect(g.guard.snapshot().leases[0]!.exempt).toBeUndefined();
  });

  it('exempting a lease already reported stops further reports and reclaim, and its release still resolves', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000, reclaimAfterMs: 3_000, idleAfterMs: 100 });
    const events = collect(g.guard);
    const held = g.checkout();
    g.clock.advance(1_500);
    g.guard.exempt(held.resource, 'report export');
    g.clock.advance(10_000);
    expect(held.resource.destroyed).toBe(false);
    g.core.released(held.lease, () => {}, 'released twice');
    expect(events.map((e) => e.type)).toEqual(['leak', 'leakResolved']);
  });

  it('refuses what is not an open lease of this pool, and a reason that is not a string, saying what to pass', () => {
    const g = memoryGuard();
    const { resource, lease } = g.checkout();
    expect(() => g.guard.exempt({})).toThrow(/has no open lease for this object\. Pass the client exactly as the pool handed it out, before releasing it/);
    expect(() => g.guard.exempt(resource, 42 as unknown as string)).toThrow(TypeError);
    g.core.released(lease, () => {}, 'released twice');
    expect(() => g.guard.exempt(resource)).toThrow(/has no open lease/);
  });

  it('guard.exemptSites: leases taken at a matching site are exempt, others are reported', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000, exemptSites: [/exempt\.test\.ts:\d+:\d+$/] });
    const events = collect(g.guard);
    g.checkout();
    g.clock.advance(1_500);
    expect(events).toEqual([]);
    expect(g.guard.snapshot().leases[0]!.exempt).toMatch(/^guard\.exemptSites \/exempt/);
    const other = memoryGuard({ leakThresholdMs: 1_000, exemptSites: ['src/jobs/report.js'] });
    const otherEvents = collect(other.guard);
    other.checkout();
    other.clock.advance(1_500);
    expect(otherEvents.map((e) => e.type)).toEqual(['leak']);
  });

  it('guard.exemptSites needs a stack: a lease without one is watched as usual', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000, captureStacks: 'none', exemptSites: ['exempt.test.ts'] });
    const events = collect(g.guard);
    g.checkout();
    g.clock.advance(1_500);
    expect(events.map((e) => e.type)).toEqual(['leak']);
  });
});

import { describe, expect, it } from 'vitest';
import { resolveGuardConfig } from '../../src/core/config.js';
import { LeaseReclaimedError, type EndReport, type LeakReport } from '../../src/index.js';
import { memoryGuard } from '../helpers/memory-pool.js';

function collect(g: ReturnType<typeof memoryGuard>) {
  const ends: EndReport[] = [];
  const reclaims: LeakReport[] = [];
  g.guard.on('endBlocked', (r) => ends.push(r));
  g.guard.on('endForced', (r) => ends.push(r));
  g.guard.on('reclaim', (r) => reclaims.push(r));
  return { ends, reclaims };
}

describe('pool end with leases still out (fake clock)', () => {
  it('says once, a second after end(), who holds the pool up: site, age, what it is doing', () => {
    const g = memoryGuard({ leakThresholdMs: 0, endTimeoutMs: 30_000 });
    const { ends } = collect(g);
    const forgotten = g.checkout();
    g.clock.advance(5_000);
    const working = g.checkout();
    working.resource.busy = true;
    g.clock.advance(2_000);
    g.core.endStarted('pool.end()');
    g.clock.advance(999);
    expect(ends).toHaveLength(0);
    g.clock.advance(1);
    expect(ends.map((e) => e.type)).toEqual(['endBlocked']);
    const report = ends[0]!;
    expect(report).toMatchObject({ pool: 'memory', call: 'pool.end()', waitedMs: 1_000, endTimeoutMs: 30_000 });
    expect(report.leases.map((l) => [l.id, l.heldMs, l.idleMs])).toEqual([
      [forgotten.lease.id, 8_000, 8_000],
      [working.lease.id, 3_000, 0],
    ]);
    expect(report.leases[0]!.site).toMatch(/^test\/unit\/end-deadline\.test\.ts:\d+:\d+$/);
    expect(report.leases[0]!.transaction).toBeUndefined();
    expect(report.leases.map((l) => l.inFlight)).toEqual([false, true]);
    const lines = report.message.split('\n');
    expect(lines[0]).toBe('poolguard[memory]: pool.end() has waited 1.0 s for 2 checked-out connections, and cannot finish until they come back. Held by:');
    expect(lines[1]).toMatch(new RegExp(`^  lease ${forgotten.lease.id} \\(connect\\) from test/unit/end-deadline\\.test\\.ts:\\d+:\\d+: held 8\\.0 s, nothing in flight for 8\\.0 s$`));
    expect(lines[2]).toMatch(/: held 3\.0 s, a query in flight$/);
    expect(lines[3]).toContain('At 30.0 s after the call (guard.endTimeoutMs) poolguard reclaims the ones still held so that pool.end() finishes');
    expect(g.logged.map((l) => l.msg)).toEqual([report.message]);
    // Once per end, however long it goes on.
    g.clock.advance(20_000);
    expect(ends).toHaveLength(1);
  });

  it('reclaims what is still held at guard.endTimeoutMs through the reclaim path, and lists what was cut', () => {
    const g = memoryGuard({ leakThresholdMs: 0, endTimeoutMs: 4_000 });
    const { ends, reclaims } = collect(g);
    const leaked = g.checkout();
    const listener = g.checkout();
    g.guard.exempt(listener.resource, 'LISTEN orders');
    const query = g.checkout('query');
    g.clock.advance(500);
    g.core.endStarted('pool.end()');
    g.clock.advance(3_999);
    expect(reclaims).toHaveLength(0);
    expect(leaked.resource.destroyed).toBe(false);
    g.clock.advance(1);
    expect(ends.map((e) => e.type)).toEqual(['endBlocked', 'endForced']);
    const forced = ends[1]!;
    expect(forced.waitedMs).toBe(4_000);
    expect(forced.leases.map((l) => l.id).sort()).toEqual([leaked.lease.id, listener.lease.id, query.lease.id].sort());
    expect(forced.message).toMatch(/^poolguard\[memory\]: pool\.end\(\) reached guard\.endTimeoutMs \(4\.0 s\) with 3 connections still checked out; poolguard reclaimed them so that pool\.end\(\) can finish:\n/);
    expect(forced.message).toContain('exempt from leak reports (LISTEN orders)');
    expect(forced.message).toContain('taken by pool.query(), which releases it when the query ends');
    expect(forced.message).toContain("Their holders' queries on them fail with LeaseReclaimedError (code POOLGUARD_LEASE_RECLAIMED); a late release() is harmless.");
    // Every lease went through the reclaim path: event, totals, destroyed resource, holder's error.
    expect(reclaims).toHaveLength(3);
    expect(reclaims[0]!.message).toContain('when pool.end() reached guard.endTimeoutMs (4.0 s)');
    expect(g.core.ledger.totals.reclaims).toBe(3);
    expect(g.core.ledger.leased).toBe(0);
    expect(g.guard.snapshot().leases).toEqual([]);
    for (const r of [leaked, listener, query]) expect(r.resource.destroyed).toBe(true);
    const err = leaked.resource.reclaimError as LeaseReclaimedError;
    expect(err).toBeInstanceOf(LeaseReclaimedError);
    expect(err.code).toBe('POOLGUARD_LEASE_RECLAIMED');
    expect(err.reason).toBe('end');
    expect(err.message).toMatch(/^poolguard\[memory\]: this connection was reclaimed because the pool is shutting down: pool\.end\(\) waited 4\.0 s \(guard\.endTimeoutMs\) for it, and it had been held 4\.5 s\. It was checked out at test\/unit\/end-deadline\.test\.ts:\d+:\d+ and never released\./);
    // One log line for the blocked end and one for the cut, not one per lease.
    expect(g.logged).toHaveLength(2);
  });

  it('reports at half the deadline when the deadline is under two seconds', () => {
    const g = memoryGuard({ leakThresholdMs: 0, endTimeoutMs: 600 });
    const { ends } = collect(g);
    g.checkout();
    g.core.endStarted('pool.drain()');
    g.clock.advance(299);
    expect(ends).toHaveLength(0);
    g.clock.advance(1);
    expect(ends.map((e) => [e.type, e.waitedMs, e.call])).toEqual([['endBlocked', 300, 'pool.drain()']]);
    g.clock.advance(300);
    expect(ends.map((e) => [e.type, e.waitedMs])).toEqual([
      ['endBlocked', 300],
      ['endForced', 600],
    ]);
  });

  it('with guard.endTimeoutMs: 0, reports and then waits for ever, as pg does', () => {
    const g = memoryGuard({ leakThresholdMs: 0, endTimeoutMs: 0 });
    const { ends, reclaims } = collect(g);
    const { resource } = g.checkout();
    g.core.endStarted('pool.end()');
    g.clock.advance(3_600_000);
    expect(ends.map((e) => e.type)).toEqual(['endBlocked']);
    expect(ends[0]!.message).toContain('guard.endTimeoutMs is 0, so pool.end() waits until they are given back, for ever if they never are');
    expect(reclaims).toHaveLength(0);
    expect(resource.destroyed).toBe(false);
  });

  it('says nothing and cuts nothing when the end finishes in time, and leaves no timer behind', () => {
    const g = memoryGuard({ leakThresholdMs: 0, endTimeoutMs: 2_000 });
    const { ends, reclaims } = collect(g);
    const { lease } = g.checkout();
    g.core.endStarted('pool.end()');
    g.clock.advance(900);
    g.core.released(lease, () => {}, 'released twice');
    g.core.endFinished();
    // The scan timer (which formats long-held stacks, even with leak reports off) stops at its next tick.
    g.clock.advance(1_000);
    expect(g.clock.activeTimers).toBe(0);
    g.clock.advance(10_000);
    expect(ends).toHaveLength(0);
    expect(reclaims).toHaveLength(0);
  });

  it('a second end() call does not restart the clock', () => {
    const g = memoryGuard({ leakThresholdMs: 0, endTimeoutMs: 2_000 });
    const { ends } = collect(g);
    g.checkout();
    g.core.endStarted('pool.end()');
    g.clock.advance(1_500);
    g.core.endStarted('pool.end()');
    g.clock.advance(500);
    expect(ends.map((e) => [e.type, e.waitedMs])).toEqual([
      ['endBlocked', 1_000],
      ['endForced', 2_000],
    ]);
  });

  it('the end report is logged even when a minute of leak reports used up the log limit', () => {
    const g = memoryGuard({ leakThresholdMs: 0, endTimeoutMs: 0 });
    // 25 lines from 25 sites: the pool's limit (20 a minute) holds back the last 5.
    for (let i = 0; i < 25; i++) g.core.log('warn', `leak site-${i}`, {}, `leak ${i}`);
    expect(g.logged).toHaveLength(20);
    for (let i = 0; i < 30; i++) g.checkout();
    g.core.endStarted('pool.end()');
    g.clock.advance(1_000);
    expect(g.logged).toHaveLength(21);
    expect(g.logged.at(-1)!.msg).toMatch(/^poolguard\[memory\]: pool\.end\(\) has waited 1\.0 s for 30 checked-out connections/);
    expect(g.logged.at(-1)!.msg.split('\n').filter((l) => l.startsWith('  lease '))).toHaveLength(10);
    expect(g.logged.at(-1)!.msg).toContain('… and 20 more (report.leases, pool.guard.snapshot())');
  });

  it('tells a refused caller that the pool is ending, after the pool\'s own message', () => {
    const g = memoryGuard({ endTimeoutMs: 1_000 });
    expect(g.core.endingNote()).toBeUndefined();
    g.core.endStarted('pool.end()');
    g.clock.advance(250);
    expect(g.core.endingNote()).toBe(
      'poolguard[memory]: the pool is ending (pool.end() was called 250 ms ago); this checkout can no longer be served. Stop taking work (close the server, stop consumers and timers) before ending the pool.',
    );
    g.core.endFinished();
    g.clock.advance(100);
    expect(g.core.endingNote()).toContain('the pool has ended (pool.end() was called 350 ms ago and finished 100 ms ago)');
  });
});

describe('guard.endTimeoutMs', () => {
  it('defaults to 10 s and takes 0 for no deadline', () => {
    expect(resolveGuardConfig({}, 'x').endTimeoutMs).toBe(10_000);
    expect(resolveGuardConfig({ endTimeoutMs: 0 }, 'x').endTimeoutMs).toBe(0);
    expect(resolveGuardConfig({ endTimeoutMs: 25_000 }, 'x').endTimeoutMs).toBe(25_000);
  });

  it('is refused at construction with a message naming it', () => {
    expect(() => resolveGuardConfig({ endTimeoutMs: -5 }, 'x')).toThrow(new RangeError('guard.endTimeoutMs must be ≥ 0, got -5'));
    expect(() => resolveGuardConfig({ endTimeoutMs: Infinity }, 'x')).toThrow(RangeError);
    expect(() => resolveGuardConfig({ endTimeoutMs: Infinity }, 'x')).toThrow(/^guard\.endTimeoutMs must be at most 2147483647/);
    expect(() => resolveGuardConfig({ endTimeoutMs: '10s' }, 'x')).toThrow(new TypeError('guard.endTimeoutMs must be a number of milliseconds, got "10s"'));
    expect(() => resolveGuardConfig({ endTimeoutMS: 10 }, 'x')).toThrow(/Did you mean guard\.endTimeoutMs\?/);
  });
});

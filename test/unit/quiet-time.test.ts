import { describe, expect, it } from 'vitest';
import type { LeakReport } from '../../src/index.js';
import { memoryGuard } from '../helpers/memory-pool.js';

// Issue 24: a lease between two statements of a transaction is slow, not forgotten, wherever the
// scan falls in the pause; it is a possible leak only once it has been quiet.

function collect(g: ReturnType<typeof memoryGuard>) {
  const events: LeakReport[] = [];
  g.guard.on('leak', (r) => events.push(r));
  g.guard.on('leakResolved', (r) => events.push(r));
  return events;
}

const possibleLeaks = (events: LeakReport[]) => events.filter((e) => e.message.includes('possible connection leak'));
const slow = (events: LeakReport[]) => events.filter((e) => e.type === 'leak' && e.message.includes(': slow lease'));

/**
 * A holder that runs a statement (in flight `runMs`) every `everyMs`, the first `firstAt` ms after
 * now, for `forMs`; time moves with it.
 */
function statements(g: ReturnType<typeof memoryGuard>, lease: ReturnType<ReturnType<typeof memoryGuard>['checkout']>, everyMs: number, forMs: number, firstAt = 0, runMs = 2) {
  const { resource, record } = lease;
  let elapsed = 0;
  if (firstAt > 0) {
    g.clock.advance(firstAt);
    elapsed += firstAt;
  }
  while (elapsed + everyMs <= forMs + firstAt) {
    resource.busy = true;
    g.clock.advance(runMs);
    resource.busy = false;
    g.core.connectionActive(record); // the statement's reply
    g.clock.advance(everyMs - runMs);
    elapsed += everyMs;
  }
}

describe('a lease in active use is slow, not a possible leak (fake clock)', () => {
  it('the scan falling 1 ms after a query ends: slow, in active use, with what was read', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000 }); // idleAfterMs 500, a check every 250 ms
    const events = collect(g);
    const { resource, record } = g.checkout();
    resource.transaction = 'open';
    resource.busy = true;
    g.clock.advance(999);
    resource.busy = false;
    g.core.connectionActive(record);
    g.clock.advance(1); // the check at the threshold
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'leak', state: 'idle', idleMs: 1, heldMs: 1_000, transaction: 'open' });
    expect(events[0]!.message).toMatch(/^poolguard\[memory\]: slow lease inside an open transaction: a client checked out at test\/unit\/quiet-time\.test\.ts:\d+:\d+ has been held 1\.0 s in active use: no query in flight at this instant, but its last one finished 1 ms ago \(less than guard\.idleAfterMs, 500 ms\): slow, not forgotten\. Its session is inside an open transaction/);
    expect(events[0]!.message).toContain('Should it then have nothing in flight for guard.leakThresholdMs (1000 ms), it is reported again, as a possible leak. If that is expected, raise guard.leakThresholdMs or set guard.reportBusy: false.');
    // What is read stays what it is: nothing in flight.
    expect(g.guard.snapshot().leases[0]).toMatchObject({ state: 'idle', idleMs: 1, reported: true });
    expect(g.core.holders()[0]).toMatchObject({ idle: 1, busy: 0 });
  });

  it('statements every 30 ms over five thresholds: one slow report, no possible leak; then a true quiet time: one possible leak', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000 });
    const events = collect(g);
    const lease = g.checkout();
    lease.resource.transaction = 'open';
    statements(g, lease, 30, 5_000);
    expect(possibleLeaks(events)).toEqual([]);
    expect(events).toHaveLength(1);
    expect(events[0]!.message).toContain('in active use: no query in flight at this instant, but its last one finished 8 ms ago');
    // Quiet from here: not a leak before it has been quiet for the threshold, one report after.
    g.clock.advance(900);
    expect(events).toHaveLength(1);
    g.clock.advance(250);
    expect(events).toHaveLength(2);
    const leak = events[1]!;
    expect(leak).toMatchObject({ type: 'leak', state: 'idle', leaseId: events[0]!.leaseId, transaction: 'open' });
    expect(leak.idleMs).toBeGreaterThanOrEqual(1_000);
    expect(leak.message).toMatch(/^poolguard\[memory\]: possible connection leak inside an open transaction: .* with no query in flight; its last query finished 1\.\d s ago\. It was in active use when it crossed guard\.leakThresholdMs \(1000 ms\) and has since had nothing in flight for at least that long\./);
    g.clock.advance(20_000);
    expect(events).toHaveLength(2);
    expect(g.core.ledger.totals.leaks).toBe(1);
  });

  it('pauses just under the quiet time, wherever the checks fall in them: never a possible leak', () => {
    // idleAfterMs 500: pauses of 480 ms, the first statement at every offset in 10 ms steps.
    for (let offset = 0; offset < 480; offset += 10) {
      const g = memoryGuard({ leakThresholdMs: 1_000 });
      const events = collect(g);
      const lease = g.checkout();
      statements(g, lease, 480, 4_000, offset);
      expect(possibleLeaks(events), `first statement at ${offset} ms`).toEqual([]);
      expect(slow(events), `first statement at ${offset} ms`).toHaveLength(1);
      g.core.released(lease.lease, () => {}, 'x');
      expect(events.map((e) => e.type)).toEqual(['leak', 'leakResolved']);
      expect(events[1]!.message).toContain('reported as slow earlier was released after');
      // As last reported: idle when the check fell in a pause, busy when it fell on a statement.
      expect(events[1]!.state).toBe(events[0]!.state);
    }
  });

  it('a quiet time shorter than the threshold after a slow report is still not a leak; each report is made once', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000 });
    const events = collect(g);
    const lease = g.checkout();
    statements(g, lease, 40, 1_200);
    expect(events).toHaveLength(1);
    g.clock.advance(800); // quiet longer than idleAfterMs, shorter than the threshold
    statements(g, lease, 40, 2_000);
    g.clock.advance(600);
    expect(possibleLeaks(events)).toEqual([]);
    expect(events).toHaveLength(1);
    g.clock.advance(600);
    expect(possibleLeaks(events)).toHaveLength(1);
    statements(g, lease, 40, 2_000);
    g.clock.advance(5_000);
    expect(events).toHaveLength(2);
  });

  it('a last query that finished longer than the quiet time before the threshold: a possible leak at the threshold, as a lease that never ran one', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000 });
    const events = collect(g);
    const used = g.checkout();
    g.checkout();
    g.clock.advance(100);
    g.core.connectionActive(used.record);
    g.clock.advance(900);
    expect(events.map((e) => e.message.match(/held 1\.0 s (.*?)\./)![1])).toEqual([
      'with no query in flight; its last query finished 900 ms ago',
      'with no query in flight and none run since checkout',
    ]);
    expect(possibleLeaks(events)).toHaveLength(2);
  });

  it('with reportBusy false, a lease in active use at the threshold is muted and reported once it has been quiet', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000, reportBusy: false });
    const events = collect(g);
    const lease = g.checkout();
    statements(g, lease, 30, 3_000);
    expect(events).toEqual([]);
    g.clock.advance(1_250);
    expect(events).toHaveLength(1);
    expect(events[0]!.message).toContain('possible connection leak: a client');
    expect(events[0]!.message).toContain('It was in active use when it crossed guard.leakThresholdMs (1000 ms)');
  });

  it('a query in flight at the threshold keeps its words, and its later possible leak says it was busy', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000 });
    const events = collect(g);
    const lease = g.checkout();
    statements(g, lease, 30, 990);
    lease.resource.busy = true;
    g.clock.advance(100);
    lease.resource.busy = false;
    g.core.connectionActive(lease.record);
    expect(events[0]).toMatchObject({ state: 'busy', idleMs: 0 });
    expect(events[0]!.message).toContain('with a query in flight now (running or queued): slow, not forgotten');
    g.clock.advance(1_250);
    expect(events[1]!.message).toContain('It was busy when it crossed guard.leakThresholdMs (1000 ms) and has since had nothing in flight for at least that long.');
  });
});

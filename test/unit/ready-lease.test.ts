import { describe, expect, it, vi } from 'vitest';
import type { LeakReport } from '../../src/index.js';
import type { Lease } from '../../src/core/ledger.js';
import type { TelemetrySink } from '../../src/core/telemetry.js';
import { memoryGuard } from '../helpers/memory-pool.js';

/** A sink that records what the core told it, with the lease's wait as it was at the call. */
function spySink() {
  const granted: Array<{ id: number; waitedMs: number }> = [];
  const failed: Array<{ id: number; timedOut: boolean }> = [];
  const released: number[] = [];
  const sink: TelemetrySink = {
    activeTrace: () => undefined,
    granted: (lease: Lease) => granted.push({ id: lease.id, waitedMs: lease.acquiredAt - lease.requestedAt }),
    failed: (lease: Lease, timedOut: boolean) => failed.push({ id: lease.id, timedOut }),
    released: (lease: Lease) => released.push(lease.id),
    created: () => undefined,
    leak: () => undefined,
    close: () => undefined,
  };
  return { sink, granted, failed, released };
}

/** A memory pool with the spy sink and one open connection to hand out. */
function setup(options: Parameters<typeof memoryGuard>[0] = {}) {
  const g = memoryGuard(options);
  const spy = spySink();
  g.core.useTelemetry(spy.sink);
  const record = g.core.connectionOpened({ busy: false, destroyed: false });
  return { ...g, spy, record };
}

describe('a ready checkout (an idle connection, nobody ahead)', () => {
  it('stays off the waiting queue; a checkout that is not ready joins it', () => {
    const { core } = setup();
    const ready = core.checkoutRequested('connect', undefined, 'query', true);
    expect(ready.ready).toBe(true);
    expect(core.ledger.waiting.size).toBe(0);
    expect(core.ledger.waiting.head).toBeUndefined();
    expect(ready.list).toBeUndefined();

    const waiting = core.checkoutRequested('connect', undefined, 'query');
    expect(waiting.ready).toBe(false);
    expect(core.ledger.waiting.size).toBe(1);
    expect(core.ledger.waiting.head).toBe(waiting);
  });

  it('is granted at its request time with a wait of exactly 0, even when the clock has moved, reading the clock once', () => {
    const { core, clock, spy, record, guard } = setup();
    const reads = vi.spyOn(clock, 'now');
    const lease = core.checkoutRequested('connect', undefined, undefined, true);
    const requestedAt = lease.requestedAt;
    expect(requestedAt).toBe(1_000);
    clock.advance(250);
    core.checkoutGranted(lease, record);
    expect(reads).toHaveBeenCalledTimes(1);
    expect(lease.acquiredAt).toBe(requestedAt);
    expect(spy.granted).toEqual([{ id: lease.id, waitedMs: 0 }]);
    expect(core.ledger.totals.checkouts).toBe(1);
    expect(lease.list).toBe(core.ledger.open);
    expect(record.lease).toBe(lease);
    const snap = guard.snapshot().leases;
    expect(snap.map((l) => [l.id, l.waitMs, l.heldMs, l.connectionId])).toEqual([[lease.id, 0, 250, record.id]]);

    // A checkout that is not ready reads the clock at its grant as well: two reads.
    const other = core.connectionOpened({ busy: false, destroyed: false });
    reads.mockClear();
    const waited = core.checkoutRequested('connect', undefined);
    clock.advance(30);
    core.checkoutGranted(waited, other);
    expect(reads).toHaveBeenCalledTimes(2);
    expect(waited.acquiredAt - waited.requestedAt).toBe(30);
    expect(spy.granted[1]).toEqual({ id: waited.id, waitedMs: 30 });
    expect(core.ledger.waiting.size).toBe(0);
  });

  it('is leak-detected from its request time, with waitMs 0 in the report', () => {
    const { core, clock, record, guard } = setup({ leakThresholdMs: 1_000, idleAfterMs: 100 });
    const leaks: LeakReport[] = [];
    guard.on('leak', (r) => leaks.push(r));
    const lease = core.checkoutRequested('connect', undefined, undefined, true);
    core.checkoutGranted(lease, record);
    clock.advance(900);
    expect(leaks).toHaveLength(0);
    clock.advance(400);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]).toMatchObject({ type: 'leak', leaseId: lease.id, waitMs: 0, state: 'idle' });
    expect(leaks[0]!.heldMs).toBeGreaterThanOrEqual(1_000);
    expect(leaks[0]!.heldMs).toBeLessThanOrEqual(1_300);
  });

  it('checkoutWaits puts it on the waiting queue (once), and its grant then reads the clock', () => {
    const { core, clock, spy, record, guard } = setup();
    const lease = core.checkoutRequested('connect', undefined, undefined, true);
    clock.advance(10);
    core.checkoutWaits(lease);
    expect(lease.ready).toBe(false);
    expect(core.ledger.waiting.size).toBe(1);
    expect(core.ledger.waiting.head).toBe(lease);
    // A second call (a second discard on the same checkout) does not queue it twice.
    core.checkoutWaits(lease);
    expect(core.ledger.waiting.size).toBe(1);
    clock.advance(65);
    core.checkoutGranted(lease, record);
    expect(lease.acquiredAt - lease.requestedAt).toBe(75);
    expect(core.ledger.waiting.size).toBe(0);
    expect(lease.list).toBe(core.ledger.open);
    expect(spy.granted).toEqual([{ id: lease.id, waitedMs: 75 }]);
    expect(guard.snapshot().leases.map((l) => [l.id, l.waitMs, l.heldMs])).toEqual([[lease.id, 75, 0]]);
  });

  it('checkoutWaits keeps the queue in request order behind earlier waiters', () => {
    const { core, clock } = setup();
    const first = core.checkoutRequested('connect', undefined);
    clock.advance(5);
    const ready = core.checkoutRequested('connect', undefined, undefined, true);
    core.checkoutWaits(ready);
    expect(core.ledger.waiting.size).toBe(2);
    expect([...core.ledger.waiting].map((l) => l.id)).toEqual([first.id, ready.id]);
  });

  it('checkoutFailed on a ready lease tells telemetry exactly once across two calls', () => {
    const { core, spy } = setup();
    const lease = core.checkoutRequested('connect', undefined, undefined, true);
    core.checkoutFailed(lease, false);
    expect(spy.failed).toEqual([{ id: lease.id, timedOut: false }]);
    expect(lease.ready).toBe(false);
    expect(core.ledger.waiting.size).toBe(0);
    core.checkoutFailed(lease, true);
    expect(spy.failed).toHaveLength(1);
    // Failed, it no longer waits for anything: checkoutWaits does not queue it.
    core.checkoutWaits(lease);
    expect(core.ledger.waiting.size).toBe(0);
  });

  it('checkoutFailed on a ready lease that was made to wait removes it from the queue, once', () => {
    const { core, spy } = setup();
    const lease = core.checkoutRequested('connect', undefined, undefined, true);
    core.checkoutWaits(lease);
    expect(core.ledger.waiting.size).toBe(1);
    core.checkoutFailed(lease, false);
    expect(core.ledger.waiting.size).toBe(0);
    core.checkoutFailed(lease, false);
    expect(spy.failed).toEqual([{ id: lease.id, timedOut: false }]);
  });

  it('a ready lease that times out counts one timeout and one failed(…, true)', () => {
    const { core, clock, spy } = setup();
    const lease = core.checkoutRequested('connect', undefined, undefined, true);
    clock.advance(40);
    const err = core.checkoutTimedOut(lease, 'timeout exceeded when trying to connect', undefined);
    expect(err.waitedMs).toBe(40);
    expect(core.ledger.totals.timeouts).toBe(1);
    expect(spy.failed).toEqual([{ id: lease.id, timedOut: true }]);
    core.checkoutFailed(lease, false);
    expect(spy.failed).toHaveLength(1);
  });

  it('checkoutWaits after the grant does nothing: the lease stays open with its wait of 0', () => {
    const { core, clock, spy, record } = setup();
    const lease = core.checkoutRequested('connect', undefined, undefined, true);
    core.checkoutGranted(lease, record);
    clock.advance(20);
    core.checkoutWaits(lease);
    expect(core.ledger.waiting.size).toBe(0);
    expect(lease.list).toBe(core.ledger.open);
    expect(lease.acquiredAt).toBe(lease.requestedAt);
    expect(core.ledger.leased).toBe(1);
    // A failure reported after the grant is ignored too.
    core.checkoutFailed(lease, false);
    expect(spy.failed).toHaveLength(0);
    expect(core.released(lease, () => {}, 'double release')).toBe(true);
    expect(spy.released).toEqual([lease.id]);
    expect(core.ledger.leased).toBe(0);
    expect(record.uses).toBe(1);
  });
});

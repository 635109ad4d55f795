import { describe, expect, it } from 'vitest';
import type { LeakReport, StallReport } from '../../src/index.js';
import { memoryGuard } from '../helpers/memory-pool.js';

function collect(g: ReturnType<typeof memoryGuard>) {
  const events: LeakReport[] = [];
  g.guard.on('leak', (r) => events.push(r));
  g.guard.on('reclaim', (r) => events.push(r));
  return events;
}

describe('lease state is read, never guessed from time (fake clock)', () => {
  it('a lease with nothing in flight reads idle even with idleAfterMs above the threshold; a query finished within idleAfterMs makes it slow, not a possible leak', () => {
    const g = memoryGuard({ leakThresholdMs: 500, idleAfterMs: 1_000 });
    const events = collect(g);
    const { record } = g.checkout();
    g.clock.advance(400);
    g.core.connectionActive(record); // a query finished
    g.clock.advance(100);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'leak', state: 'idle', idleMs: 100, heldMs: 500, transaction: undefined });
    expect(events[0]!.message).toContain('slow lease: a client checked out at');
    expect(events[0]!.message).toContain('held 500 ms in active use: no query in flight at this instant, but its last one finished 100 ms ago (less than guard.idleAfterMs, 1000 ms): slow, not forgotten.');
    expect(events[0]!.message).not.toContain('in flight now');
    expect(g.guard.snapshot().leases[0]).toMatchObject({ state: 'idle', idleMs: 100 });
    // A possible leak once quiet for the threshold and for idleAfterMs (the longer, here).
    g.clock.advance(875);
    expect(events).toHaveLength(1);
    g.clock.advance(125);
    expect(events.map((e) => e.message.split(':')[1])).toEqual([' slow lease', ' possible connection leak']);
    expect(events[1]!.message).toContain('held 1.5 s with no query in flight; its last query finished 1.1 s ago.');
  });

  it('a lease that ran no query says so', () => {
    const g = memoryGuard({ leakThresholdMs: 500, idleAfterMs: 5_000 });
    const events = collect(g);
    g.checkout();
    g.clock.advance(500);
    expect(events[0]!.message).toContain('with no query in flight and none run since checkout');
  });

  it('busy means a query in flight now, and the words say so', () => {
    const g = memoryGuard({ leakThresholdMs: 500 });
    const events = collect(g);
    g.checkout().resource.busy = true;
    g.clock.advance(500);
    expect(events[0]).toMatchObject({ state: 'busy', idleMs: 0 });
    expect(events[0]!.message).toContain('slow lease: a client checked out at');
    expect(events[0]!.message).toContain('with a query in flight now (running or queued): slow, not forgotten');
  });

  it('a lease reported slow that then sits idle past the threshold is reported again, once, as a possible leak', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000 });
    const events = collect(g);
    const { resource, record } = g.checkout();
    resource.busy = true;
    g.clock.advance(1_000);
    expect(events.map((e) => e.state)).toEqual(['busy']);
    g.clock.advance(2_000);
    resource.busy = false;
    g.core.connectionActive(record);
    // A pause shorter than the threshold is not a leak.
    g.clock.advance(900);
    expect(events).toHaveLength(1);
    g.clock.advance(250);
    expect(events.map((e) => [e.type, e.state])).toEqual([
      ['leak', 'busy'],
      ['leak', 'idle'],
    ]);
    expect(events[1]!.leaseId).toBe(events[0]!.leaseId);
    expect(events[1]!.idleMs).toBeGreaterThanOrEqual(1_000);
    expect(events[1]!.message).toContain('It was busy when it crossed guard.leakThresholdMs (1000 ms) and has since had nothing in flight for at least that long.');
    g.clock.advance(10_000);
    expect(events).toHaveLength(2);
    expect(g.core.ledger.totals.leaks).toBe(1);
  });

  it('with reportBusy false, a busy lease is muted and reported once it has sat idle past the threshold', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000, reportBusy: false });
    const events = collect(g);
    const { resource, record } = g.checkout();
    resource.busy = true;
    g.clock.advance(3_000);
    expect(events).toHaveLength(0);
    resource.busy = false;
    g.core.connectionActive(record);
    g.clock.advance(900);
    expect(events).toHaveLength(0);
    g.clock.advance(250);
    expect(events.map((e) => [e.type, e.state])).toEqual([['leak', 'idle']]);
  });

  it('reclaims only a lease with nothing in flight for idleAfterMs: not one caught between two queries', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000, reclaimAfterMs: 2_000, idleAfterMs: 500 });
    const { resource, record } = g.checkout();
    resource.busy = true;
    g.clock.advance(2_500);
    resource.busy = false;
    g.core.connectionActive(record);
    g.clock.advance(400);
    expect(resource.destroyed).toBe(false);
    g.clock.advance(300);
    expect(resource.destroyed).toBe(true);
  });

  it('for a resource whose work cannot be read, busy is a touch() within idleAfterMs, and no report speaks of queries', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000, idleAfterMs: 400 });
    const events = collect(g);
    const untouched = g.checkout();
    untouched.resource.busy = undefined;
    const touched = g.checkout();
    touched.resource.busy = undefined;
    g.clock.advance(800);
    g.guard.touch(touched.resource);
    g.clock.advance(200);
    const byId = new Map(events.map((e) => [e.leaseId, e]));
    const a = byId.get(untouched.lease.id)!;
    const b = byId.get(touched.lease.id)!;
    expect(a.state).toBe('idle');
    expect(a.message).toContain('has not been touched since checkout');
    expect(b.state).toBe('busy');
    expect(b.message).toContain('was last touched 200 ms ago (a touch() within guard.idleAfterMs, 400 ms, counts as busy)');
    for (const e of events) expect(e.message).not.toMatch(/query/);
  });

  it('a never-touched resource is idle even when idleAfterMs is longer than the threshold; the contradiction is warned at construction', () => {
    const g = memoryGuard({ leakThresholdMs: 500, idleAfterMs: 2_000 });
    expect(g.logged.map((l) => l.msg)).toEqual([
      expect.stringContaining('poolguard[memory]: guard.idleAfterMs 2000 is not shorter than guard.leakThresholdMs 500'),
    ]);
    const events = collect(g);
    g.checkout().resource.busy = undefined;
    g.clock.advance(500);
    expect(events[0]!.state).toBe('idle');
  });

  it('the default idleAfterMs never contradicts the thresholds', () => {
    expect(memoryGuard({ leakThresholdMs: 500 }).core.config.idleAfterMs).toBe(250);
    expect(memoryGuard({ leakThresholdMs: 5_000, reclaimAfterMs: 600 }).core.config.idleAfterMs).toBe(300);
    expect(memoryGuard({}).core.config.idleAfterMs).toBe(1_000);
    expect(memoryGuard({ leakThresholdMs: 500 }).logged).toEqual([]);
  });
});

describe('the timeout error advises from the holders real states', () => {
  function timeoutMessage(g: ReturnType<typeof memoryGuard>) {
    const waiter = g.core.checkoutRequested('connect', undefined);
    return g.core.timeoutDetails(waiter, 'timeout exceeded when trying to connect').message;
  }

  it('holders with nothing in flight get the release advice, whatever idleAfterMs', () => {
    const g = memoryGuard({ leakThresholdMs: 10_000, idleAfterMs: 10_000 }, 2);
    for (let i = 0; i < 2; i++) g.checkout();
    g.clock.advance(300);
    const message = timeoutMessage(g);
    expect(message).toContain('2 idle, 0 busy ← 2 leases with nothing in flight');
    expect(message).toContain('Next: release the client in a finally block');
    expect(message).not.toContain('too small');
  });

  it('holders with queries in flight get advice about slow work, not a guess that the pool is too small', () => {
    const g = memoryGuard({}, 2);
    for (let i = 0; i < 2; i++) g.checkout().resource.busy = true;
    const message = timeoutMessage(g);
    expect(message).toContain('Next: every holder was busy (a query in flight) when the wait timed out: find the slow work');
    expect(message).not.toContain('too small');
  });
});

describe('a lease inside a transaction says so first (fake clock)', () => {
  it('report, snapshot and holders name the open transaction; the message leads with it', () => {
    const g = memoryGuard({ leakThresholdMs: 500 }, 2);
    const events = collect(g);
    const { resource } = g.checkout();
    resource.transaction = 'open';
    g.clock.advance(500);
    expect(events[0]).toMatchObject({ state: 'idle', transaction: 'open' });
    expect(events[0]!.message).toMatch(/^poolguard\[memory\]: possible connection leak inside an open transaction: a client checked out at /);
    expect(events[0]!.message).toContain('keeps every lock it took until it ends: other sessions that need those rows wait behind it. Add the missing COMMIT or ROLLBACK at that line');
    expect(g.guard.snapshot().leases[0]!.transaction).toBe('open');
    expect(g.core.holders()[0]).toMatchObject({ count: 1, idle: 1, inTransaction: 1 });
    const waiter = g.core.checkoutRequested('connect', undefined);
    const { message } = g.core.timeoutDetails(waiter, 'timeout');
    expect(message).toContain('1 idle, 0 busy, 1 inside a transaction');
    expect(message).toContain('Next: 1 lease is inside a transaction');
  });

  it('a failed transaction asks for the ROLLBACK', () => {
    const g = memoryGuard({ leakThresholdMs: 500 });
    const events = collect(g);
    g.checkout().resource.transaction = 'failed';
    g.clock.advance(500);
    expect(events[0]!.transaction).toBe('failed');
    expect(events[0]!.message).toMatch(/^poolguard\[memory\]: possible connection leak inside a failed transaction:/);
    expect(events[0]!.message).toContain('Add the missing ROLLBACK at that line');
  });
});

describe('a blocked event loop is not a leak (fake clock)', () => {
  function stalls(g: ReturnType<typeof memoryGuard>) {
    const seen: StallReport[] = [];
    g.guard.on('stall', (r) => seen.push(r));
    return seen;
  }

  it('a late check reports the stall once and decides nothing; a holder that runs after it is not reported or reclaimed', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000, reclaimAfterMs: 1_000 });
    const events = collect(g);
    const seen = stalls(g);
    const { resource, record, lease } = g.checkout();
    g.clock.advance(100);
    g.clock.block(3_000);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ pool: 'memory', expectedMs: 250, leased: 1, waiting: 0 });
    expect(seen[0]!.blockedMs).toBeGreaterThanOrEqual(2_750);
    expect(seen[0]!.message).toContain('poolguard[memory]: the event loop was blocked for at least 2.9 s');
    expect(seen[0]!.message).toContain('made no leak report or reclaim on that time');
    expect(events).toHaveLength(0);
    expect(resource.destroyed).toBe(false);
    // The holder's timer fires after the block: it queries and releases before the next check.
    resource.busy = true;
    g.clock.advance(5);
    resource.busy = false;
    g.core.connectionActive(record);
    g.core.released(lease, () => {}, 'x');
    g.clock.advance(1_000);
    expect(events).toHaveLength(0);
    expect(g.guard.snapshot().totals).toMatchObject({ stalls: 1, leaks: 0, reclaims: 0 });
    expect(g.logged.filter((l) => l.msg.includes('event loop was blocked'))).toHaveLength(1);
  });

  it('a real leak is still reported, one check after the stall', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000 });
    const events = collect(g);
    g.checkout();
    g.clock.block(3_000);
    expect(events).toHaveLength(0);
    g.clock.advance(250);
    expect(events.map((e) => e.state)).toEqual(['idle']);
  });

  it('a loop blocked at every check still gets its leaks reported after a few late checks', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000 });
    const events = collect(g);
    const seen = stalls(g);
    g.checkout();
    for (let i = 0; i < 3; i++) g.clock.block(2_000);
    expect(events).toHaveLength(0);
    g.clock.block(2_000);
    expect(events).toHaveLength(1);
    expect(seen).toHaveLength(4);
    expect(seen[3]!.message).toContain('after 3 late checks in a row poolguard decides anyway');
  });

  it('checks on time are not stalls', () => {
    const g = memoryGuard({ leakThresholdMs: 1_000 });
    const seen = stalls(g);
    g.checkout();
    g.clock.advance(60_000);
    expect(seen).toHaveLength(0);
  });
});

import { describe, expect, it } from 'vitest';
import { errorReason, retireAt } from '../../src/core/recycle-policy.js';
import type { RetireReport } from '../../src/index.js';
import { memoryGuard } from '../helpers/memory-pool.js';

describe('lifetime with jitter', () => {
  it('subtracts a random share of up to the jitter from the lifetime', () => {
    const s = { maxLifetimeMs: 60_000, lifetimeJitter: 0.25, maxUses: 0 };
    expect(retireAt(1_000, s, () => 0)).toBe(61_000);
    expect(retireAt(1_000, s, () => 1)).toBe(46_000);
    expect(retireAt(1_000, s, () => 0.5)).toBe(53_500);
    expect(retireAt(1_000, { ...s, maxLifetimeMs: 0 }, () => 0.5)).toBe(Infinity);
  });

  it('spreads the retirements of connections opened together across the jitter window', () => {
    let i = 0;
    const randoms = [0, 0.25, 0.5, 0.75, 0.999];
    const g = memoryGuard({ maxLifetimeMs: 10_000, lifetimeJitter: 0.5, leakThresholdMs: 0 }, 10, () => randoms[i++ % randoms.length]!);
    const records = randoms.map(() => g.core.connectionOpened({ busy: false, destroyed: false }));
    const retiredAt: number[] = [];
    g.guard.on('retire', () => retiredAt.push(g.clock.now()));
    g.clock.advance(10_100);
    expect(g.retiredIdle).toEqual([...records].reverse());
    // from 5 s (jitter 0.5 × 0.999) to 10 s, at least one scan interval (1 s) apart
    expect(retiredAt[0]! - 1_000).toBeGreaterThanOrEqual(5_000);
    expect(retiredAt.at(-1)! - 1_000).toBeLessThanOrEqual(10_000);
    expect(new Set(retiredAt).size).toBe(5);
    expect(g.core.ledger.totals.retired.lifetime).toBe(5);
  });

  it('never retires a connection under its holder: it is due at release instead', () => {
    const g = memoryGuard({ maxLifetimeMs: 1_000, lifetimeJitter: 0, leakThresholdMs: 0 });
    const { lease, record } = g.checkout();
    g.clock.advance(5_000);
    expect(g.retiredIdle).toHaveLength(0);
    g.core.released(lease, () => {}, 'x');
    expect(g.core.dueForRetirement(record)).toBe('lifetime');
    expect(record.retireReason).toBe('lifetime');
  });

  it('the housekeeping timer runs while connections exist and lifetimes are on, and stops after', () => {
    const g = memoryGuard({ maxLifetimeMs: 1_000, leakThresholdMs: 0 });
    expect(g.clock.activeTimers).toBe(0);
    g.core.connectionOpened({ busy: false, destroyed: false });
    expect(g.clock.activeTimers).toBe(1);
    g.clock.advance(3_000);
    expect(g.core.ledger.connections.size).toBe(0);
    expect(g.clock.activeTimers).toBe(0);
  });
});

describe('max uses and reasons', () => {
  it('retires after maxUses leases with reason uses', () => {
    const g = memoryGuard({ maxUses: 2, leakThresholdMs: 0 });
    const first = g.checkout();
    g.core.released(first.lease, () => {}, 'x');
    expect(g.core.dueForRetirement(first.record)).toBeUndefined();
    const second = g.checkout('connect', first.record);
    g.core.released(second.lease, () => {}, 'x');
    expect(g.core.dueForRetirement(first.record)).toBe('uses');
    const reports: RetireReport[] = [];
    g.guard.on('retire', (r) => reports.push(r));
    g.core.connectionRemoved(first.record, 'idle');
    expect(reports.map((r) => [r.reason, r.connection.uses])).toEqual([['uses', 2]]);
    expect(g.core.ledger.totals.retired).toMatchObject({ uses: 1, idle: 0 });
  });

  it('the first cause wins; an unmarked removal takes the adapter’s guess; a second removal is ignored', () => {
    const g = memoryGuard({ leakThresholdMs: 0 });
    const a = g.core.connectionOpened({});
    g.core.markRetiring(a, 'dirty');
    g.core.markRetiring(a, 'error');
    g.core.connectionRemoved(a, 'idle');
    g.core.connectionRemoved(a, 'idle');
    const b = g.core.connectionOpened({});
    g.core.connectionRemoved(b, 'ended');
    expect(g.core.ledger.totals.retired).toMatchObject({ dirty: 1, ended: 1, idle: 0, error: 0 });
    expect(g.core.ledger.totals.destroyed).toBe(2);
  });

  it('classifies server-side endings as terminated', () => {
    expect(errorReason(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe('terminated');
    expect(errorReason(new Error('Connection terminated unexpectedly'))).toBe('terminated');
    expect(errorReason(Object.assign(new Error('x'), { code: '25P03' }))).toBe('terminated');
    // A socket the server closed, in a driver's own words (mysql2: EPIPE on the next write).
    expect(errorReason(Object.assign(new Error('This socket has been ended by the other party'), { code: 'EPIPE' }))).toBe('terminated');
    expect(errorReason(Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST' }))).toBe('terminated');
    expect(errorReason(new Error('syntax error'))).toBe('error');
    expect(errorReason(true)).toBe('error');
  });
});

describe('validation window', () => {
  it('asks for a check only after validateAfterIdleMs of idleness', () => {
    const g = memoryGuard({ validateAfterIdleMs: 1_000, leakThresholdMs: 0 });
    const { lease, record } = g.checkout();
    g.core.released(lease, () => {}, 'x');
    g.clock.advance(999);
    expect(g.core.needsValidation(record)).toBe(false);
    g.clock.advance(1);
    expect(g.core.needsValidation(record)).toBe(true);
    g.core.validationPassed(record);
    expect(g.core.needsValidation(record)).toBe(false);
  });
});

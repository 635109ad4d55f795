import { describe, expect, it } from 'vitest';
import { resolveGuardConfig, settingConflicts } from '../../src/core/config.js';
import { createPool } from '../../src/generic-pool.js';
import { Pool } from '../../src/pg.js';
import { GuardCore } from '../../src/core/guard.js';
import type { AdapterHooks } from '../../src/core/hooks.js';
import type { ConnectionRecord, Lease } from '../../src/core/ledger.js';
import { FakeClock } from '../helpers/fake-clock.js';

/**
 * A core whose adapter gives `words` (or none), driven through every sentence that speaks of the
 * pool library: an unhandled error (idle and leased), a use() callback that cannot release, slow
 * query() and use() leases, a timeout with busy holders, and an end that reclaims.
 */
function sentences(words?: AdapterHooks['words']): string[] {
  const clock = new FakeClock();
  const messages: string[] = [];
  const records = new WeakMap<object, ConnectionRecord>();
  const hooks: AdapterHooks = {
    recordOf: (r) => (typeof r === 'object' && r !== null ? records.get(r) : undefined),
    inFlight: (r) => (r as { busy?: boolean }).busy,
    reclaim: () => {},
    counts: () => ({ total: 3, idle: 0, waiting: 1, max: 3, min: 0 }),
    ...(words === undefined ? {} : { words }),
  };
  const logger = { warn: (_: object, msg: string) => messages.push(msg), info: (_: object, msg: string) => messages.push(msg) };
  const config = resolveGuardConfig({ logger, leakThresholdMs: 1_000, endTimeoutMs: 4_000, captureStacks: 'none' }, 'p');
  const core = new GuardCore(config, hooks, clock);
  const checkout = (kind: Lease['kind'], busy: boolean | undefined): ConnectionRecord => {
    const record = core.connectionOpened({ busy });
    records.set(record.resource, record);
    const lease = kind === 'query' || kind === 'use' ? core.runManaged(undefined, () => core.checkoutRequested('connect', undefined, kind)) : core.checkoutRequested(kind, undefined);
    core.checkoutGranted(lease, record);
    return record;
  };
  core.unhandledError(core.connectionOpened({}), new Error('idle boom'));
  core.unhandledError(checkout('connect', true), new Error('leased boom'));
  core.useCallbackFailed(checkout('use', undefined).resource, 'threw synchronously (x)', sentences);
  checkout('query', undefined);
  clock.advance(1_500);
  messages.push(core.checkoutTimedOut(core.checkoutRequested('connect', undefined), 'timeout exceeded', undefined).message);
  core.endStarted('end()');
  clock.advance(5_000);
  return messages;
}

/** The words `sentences` is given for the second column of PHRASES. */
const GIVEN = { library: 'lib', connection: 'thing', lent: 'handle', releaseCall: 'lib.free(handle)', sessions: 'sys.sessions for the pids in', cutError: 'an error of lib' } as const;

/** Each sentence as it reads with no words, and with GIVEN. */
const PHRASES: ReadonlyArray<readonly [neutral: string, given: string]> = [
  ["listens for no 'error' event. The pool would have ended the process", "listens for no 'error' event. lib would have ended the process"],
  ['The holder\'s next query fails; release the connection as usual.', 'The holder\'s next query fails; release the handle as usual.'],
  ["set guard.unhandledErrors: 'throw' for the pool's behaviour", "set guard.unhandledErrors: 'throw' for lib's behaviour"],
  ['so the pool would have kept its resource checked out forever', 'so lib would have kept its resource checked out forever'],
  ['with its pool.query() still running (the pool releases the connection when the query ends)', 'with its pool.query() still running (lib releases the handle when the query ends)'],
  ["with its use() callback still running (the pool releases the resource when the callback's promise settles)", "with its use() callback still running (lib releases the resource when the callback's promise settles)"],
  [' connections checked out, ', ' things checked out, '],
  ['find the slow work at the sites above before raising max', 'find the slow work (sys.sessions for the pids in pool.guard.snapshot()) before raising max'],
  ['for 3 checked-out connections', 'for 3 checked-out things'],
  ["Their holders' queries on them fail with LeaseReclaimedError (code POOLGUARD_LEASE_RECLAIMED); a late release() is harmless.", "Their holders' queries on them fail with an error of lib; a late lib.free(handle) is harmless."],
];

describe("the core's sentences about the pool library", () => {
  it('name no library when the adapter gives no words', () => {
    const text = sentences().join('\n');
    for (const [neutral] of PHRASES) expect(text).toContain(neutral);
    expect(text).not.toMatch(/\bpg\b|generic-pool|pg_stat_activity|PROCESSLIST|mysql2|knex|sequelize|\bclient/i);
  });

  it("are the adapter's words where it gives them", () => {
    const text = sentences(GIVEN).join('\n');
    for (const [, given] of PHRASES) expect(text).toContain(given);
    const own = sentences({ queryEnds: 'lib ends it with the query', useEnds: 'lib ends it with the callback' }).join('\n');
    expect(own).toContain('with its pool.query() still running (lib ends it with the query)');
    expect(own).toContain('with its use() callback still running (lib ends it with the callback)');
  });
});

describe('the warning about guard.idleAfterMs against the thresholds', () => {
  const conflicting = { leakThresholdMs: 1_000, idleAfterMs: 2_000, reclaimAfterMs: 0 };
  const warned = (): string => {
    const conflict = settingConflicts(conflicting);
    expect(conflict).toHaveLength(1);
    return conflict[0]!.why;
  };

  it('names no pool library unless the adapter gives the words (the audit gives none)', () => {
    const why = warned();
    expect(why).toContain('(or, for a resource poolguard cannot read, whose last touch() was) within the last 2000 ms is taken to be in active use');
    expect(why).not.toMatch(/\bpg\b|generic-pool|mysql2|knex|sequelize|\bclient/i);
  });

  it('as the guard logs it on a generic-pool pool and on a pg pool', async () => {
    const logged: string[] = [];
    const logger = { warn: (_: object, msg: string) => logged.push(msg) };
    const gp = createPool({ create: async () => ({}), destroy: async () => {} }, { max: 1, guard: { name: 'words-conflict-1', logger, ...conflicting } });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('guard.idleAfterMs 2000 is not shorter than guard.leakThresholdMs 1000');
    expect(logged[0]).not.toMatch(/\bpg\b|\bclient/);
    logged.length = 0;
    const pool = new Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', guard: { name: 'words-conflict-2', logger, ...conflicting } });
    expect(logged).toHaveLength(1);
    expect(logged[0]).not.toMatch(/\bpg\b|generic-pool/);
    await Promise.all([gp.drain().then(() => gp.clear()), pool.end()]);
  });
});

describe("the core's hints name the user's handle on the guard (PoolWords.handle)", () => {
  it('a throwing listener, exempt() misuse, a lease no driver state tells, the end report and held-back lines say sql.guard, never pool.guard', () => {
    const clock = new FakeClock();
    const messages: string[] = [];
    const records = new WeakMap<object, ConnectionRecord>();
    const hooks: AdapterHooks = {
      recordOf: (r) => (typeof r === 'object' && r !== null ? records.get(r) : undefined),
      // A resource whose work no driver state tells, as generic-pool's.
      inFlight: () => undefined,
      reclaim: () => {},
      counts: () => ({ total: 2, idle: 0, waiting: 0, max: 2, min: 0 }),
      words: { handle: 'sql.guard' },
    };
    const logger = { warn: (_: object, msg: string) => messages.push(msg), info: (_: object, msg: string) => messages.push(msg) };
    const config = resolveGuardConfig({ logger, leakThresholdMs: 1_000, endTimeoutMs: 4_000, captureStacks: 'none' }, 'p');
    const core = new GuardCore(config, hooks, clock);
    core.handle.on('leak', () => {
      throw new Error('listener bug');
    });
    const errors: string[] = [];
    try {
      core.handle.exempt({}, 'x');
    } catch (err) {
      errors.push((err as Error).message);
    }
    try {
      core.handle.exempt({}, '');
    } catch (err) {
      errors.push((err as Error).message);
    }
    const checkout = (): void => {
      const record = core.connectionOpened({});
      records.set(record.resource, record);
      core.checkoutGranted(core.checkoutRequested('connect', undefined), record);
    };
    checkout();
    checkout();
    clock.advance(1_500);
    core.scan();
    core.endStarted('end()');
    clock.advance(5_000);
    const text = [...errors, ...messages].join('\n');
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^sql\.guard\.exempt\(connection\): /);
    expect(errors[1]).toMatch(/^sql\.guard\.exempt\(connection, reason\): /);
    expect(text).toContain("a 'leak' listener on sql.guard threw (listener bug)");
    expect(text).toContain("poolguard cannot see this resource's work; sql.guard.touch(resource) marks it");
    expect(text).toContain('(sql.guard.touch(resource) marks activity)');
    expect(text).toMatch(/held back in the last minute; every report is on sql\.guard's events and in sql\.guard\.snapshot\(\)/);
    expect(text).not.toContain('pool.guard');
  });
});

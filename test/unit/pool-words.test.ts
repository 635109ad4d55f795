import { describe, expect, it } from 'vitest';
import { resolveGuardConfig } from '../../src/core/config.js';
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
  core.useCallbackFailed(checkout('use', undefined).resource, 'threw synchronously (x)');
  checkout('query', undefined);
  clock.advance(1_500);
  messages.push(core.checkoutTimedOut(core.checkoutRequested('connect', undefined), 'timeout exceeded', undefined).message);
  core.endStarted('end()');
  clock.advance(5_000);
  return messages;
}

/** Each sentence as it reads with no words, and with `{ library: 'lib', sessions: 'sys.sessions', reclaimedAtEnd: … }`. */
const PHRASES: ReadonlyArray<readonly [neutral: string, given: string]> = [
  ["listens for no 'error' event. The pool would have ended the process", "listens for no 'error' event. lib would have ended the process"],
  ["set guard.unhandledErrors: 'throw' for the pool's behaviour", "set guard.unhandledErrors: 'throw' for lib's behaviour"],
  ['so the pool would have kept its resource checked out forever', 'so lib would have kept its resource checked out forever'],
  ['with its pool.query() still running (the pool releases the client when the query ends)', 'with its pool.query() still running (lib releases the client when the query ends)'],
  ["with its use() callback still running (the pool releases the resource when the callback's promise settles)", "with its use() callback still running (lib releases the resource when the callback's promise settles)"],
  ["find the slow work (the server's list of sessions for the pids", 'find the slow work (sys.sessions for the pids'],
  ["Their holders' next queries fail (with LeaseReclaimedError, code POOLGUARD_LEASE_RECLAIMED, reason 'end');", "Their holders' next queries fail (with an error of lib);"],
];

describe("the core's sentences about the pool library", () => {
  it('name no library when the adapter gives no words', () => {
    const text = sentences().join('\n');
    for (const [neutral] of PHRASES) expect(text).toContain(neutral);
    expect(text).not.toMatch(/\bpg\b|generic-pool|pg_stat_activity|mysql2|knex|sequelize/i);
  });

  it("are the adapter's words where it gives them", () => {
    const text = sentences({ library: 'lib', sessions: 'sys.sessions', reclaimedAtEnd: '(with an error of lib)' }).join('\n');
    for (const [, given] of PHRASES) expect(text).toContain(given);
    const own = sentences({ queryEnds: 'lib ends it with the query', useEnds: 'lib ends it with the callback' }).join('\n');
    expect(own).toContain('with its pool.query() still running (lib ends it with the query)');
    expect(own).toContain('with its use() callback still running (lib ends it with the callback)');
  });
});

import { resolveGuardConfig, type GuardOptions } from '../../src/core/config.js';
import { GuardCore, type AdapterHooks } from '../../src/core/guard.js';
import type { ConnectionRecord, Lease } from '../../src/core/ledger.js';
import { FakeClock } from './fake-clock.js';

/**
 * A resource whose "query in flight" flag the test sets by hand (`undefined`: poolguard cannot
 * read it, as for a generic-pool resource that is not a pg client), and its session's transaction.
 */
export interface FakeResource {
  busy: boolean | undefined;
  transaction?: 'open' | 'failed';
  destroyed: boolean;
  reclaimError?: Error;
}

/**
 * The smallest adapter there is, for unit tests of the core's timing logic: resources are plain
 * objects, time is a FakeClock.
 */
export function memoryGuard(options: GuardOptions = {}, max = 10, random: () => number = Math.random) {
  const clock = new FakeClock();
  const retiredIdle: ConnectionRecord[] = [];
  const logged: Array<{ obj: object; msg: string }> = [];
  const records = new WeakMap<object, ConnectionRecord>();
  const hooks: AdapterHooks = {
    recordOf: (r) => (typeof r === 'object' && r !== null ? records.get(r) : undefined),
    inFlight: (r) => (r as FakeResource).busy,
    transaction: (r) => (r as FakeResource).transaction,
    reclaim: (lease: Lease, makeError) => {
      const r = lease.conn!.resource as FakeResource;
      r.destroyed = true;
      r.reclaimError = makeError();
    },
    counts: () => ({ total: core.ledger.connections.size, idle: 0, waiting: 0, max, min: 0 }),
    retireIdle: (record) => {
      retiredIdle.push(record);
      core.connectionRemoved(record, 'idle');
      return true;
    },
    // pg's noun, as the unit tests read its sentences.
    words: { lent: 'client' },
  };
  const config = resolveGuardConfig({ logger: { warn: (obj: object, msg: string) => logged.push({ obj, msg }) }, ...options }, 'memory');
  const core = new GuardCore(config, hooks, clock, random);
  function checkout(kind: Lease['kind'] = 'connect', existing?: ConnectionRecord): { lease: Lease; resource: FakeResource; record: ConnectionRecord } {
    const record = existing ?? core.connectionOpened({ busy: false, destroyed: false } as FakeResource);
    const resource = record.resource as FakeResource;
    records.set(resource, record);
    const capture = core.prepareCapture();
    if (capture !== undefined) Error.captureStackTrace(capture, checkout);
    const lease = core.checkoutRequested(kind, capture);
    core.checkoutGranted(lease, record);
    return { lease, resource, record };
  }
  return { core, clock, logged, checkout, retiredIdle, guard: core.handle };
}

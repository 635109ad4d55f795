/**
 * What every adapter does the same way, written once: attach a core to a pool, answer a second
 * `guard()`, watch the pool's own end, end a lease at its release with the dirty check first,
 * admit a connection (retire, validate, ask again), and follow a pool's factory. An adapter keeps
 * only what its library needs: which of its events or methods these calls translate.
 */
import type { Clock } from '../core/clock.js';
import type { GuardOptions, ResolvedGuardConfig } from '../core/config.js';
import { GuardCore, type AdapterHooks, type PoolGuard } from '../core/guard.js';
import type { ConnectionRecord, Lease } from '../core/ledger.js';
import type { RetireReason } from '../core/recycle-policy.js';
import { claimName, guardOf, markGuarded, secondGuard } from '../core/registry.js';
import { useGuardTelemetry, type TelemetrySettings } from '../otel/telemetry.js';

/** How a pool tells its end, and what its telemetry needs beside the core's configuration. */
export interface PoolTraits {
  /** `db.system.name` (see `TelemetrySettings`); `undefined` for a pool of anything. */
  readonly dbSystem: TelemetrySettings['dbSystem'];
  /** The pool has ended: its metrics stop being reported. */
  readonly ended: () => boolean;
  /**
   * The pool's end has begun (or it has ended): its name is free for the pool that replaces it.
   * Defaults to `ended`.
   */
  readonly ending?: () => boolean;
  /** See `TelemetrySettings.countsRecordedElsewhere` (pg's own instrumentation). */
  readonly countsRecordedElsewhere?: boolean;
}

/**
 * Attaches a new core to `pool`: its telemetry, the mark every copy of poolguard reads (and
 * `pool.guard`), and its name, which a second live pool under the same name is warned about.
 */
export function attachGuard(pool: object, config: ResolvedGuardConfig, hooks: AdapterHooks, traits: PoolTraits): GuardCore {
  const core = new GuardCore(config, hooks);
  useGuardTelemetry(core, traits.dbSystem, traits.ended, traits.countsRecordedElsewhere);
  markGuarded(pool, core.handle);
  claimName(config.name, pool, traits.ending ?? traits.ended, (msg) => core.log('warn', 'name', { pool: config.name }, msg));
  return core;
}

/**
 * The handle of a pool guarded already, by this copy of poolguard or another (its CommonJS and ESM
 * builds both loaded), or `undefined`. One guard per pool: options of the second call that differ
 * are said (`resolve` refuses bad ones as the first call would), not silently dropped.
 */
export function guardedAlready(pool: object, options: GuardOptions | undefined, resolve: (options: GuardOptions) => ResolvedGuardConfig): PoolGuard | undefined {
  const existing = guardOf<PoolGuard>(pool);
  if (existing !== undefined && options !== undefined) secondGuard(existing, options, resolve(options));
  return existing;
}

/**
 * Runs a pool's own end (`end`, promise form) as an end the core watches: a pool's end waits for
 * every lease to come back, which a leaked one never does, so the core reports who holds it up
 * (`endBlocked`) and, at `guard.endTimeoutMs`, reclaims them (`endForced`). The pool's promise and
 * its value come back unchanged.
 */
export function watchEnd<T>(core: GuardCore, call: string, end: () => Promise<T>): Promise<T>;
export function watchEnd<T>(core: GuardCore, call: string, end: () => PromiseLike<T>): PromiseLike<T>;
export function watchEnd<T>(core: GuardCore, call: string, end: () => PromiseLike<T>): PromiseLike<T> {
  core.endStarted(call);
  return end().then(
    (value) => {
      core.endFinished();
      return value;
    },
    (err: unknown) => {
      core.endFinished();
      throw err;
    },
  );
}

/** {@link watchEnd} for a pool whose end takes a callback: `done` is called once the core knows. */
export function watchEndCallback<E, R>(core: GuardCore, call: string, end: (finished: (err: E) => void) => R, done: (err: E) => void): R {
  core.endStarted(call);
  return end((err) => {
    core.endFinished();
    done(err);
  });
}

/** What a dirty release asks of the adapter (`GuardCore.dirtyReleased`). */
export type DirtyRelease = ReturnType<GuardCore['dirtyReleased']>;

/**
 * Ends a lease at its holder's release. `transaction` is the state of the connection's session,
 * read by the adapter (without a round trip) for this call, and so before `core.released()`, which
 * drops the checkout stack that a dirty release reports; `undefined` for none, and when the lease
 * was reclaimed or already released. Returns `false` when the lease had been reclaimed (the late
 * release is harmless: the adapter leaves the pool alone), what to do with a connection released
 * inside a transaction, or `true`. Throws the core's `DoubleReleaseError` on a second release.
 */
export function releaseChecked(core: GuardCore, lease: Lease, transaction: 'open' | 'failed' | undefined, above: Function, poolMessage: string): DirtyRelease | boolean {
  // Small, so that inlined into a pool's release it leaves V8 room to inline what follows.
  return transaction === undefined ? core.released(lease, above, poolMessage) : releasedDirty(core, lease, transaction, above, poolMessage);
}

function releasedDirty(core: GuardCore, lease: Lease, transaction: 'open' | 'failed', above: Function, poolMessage: string): DirtyRelease | false {
  const dirty = core.dirtyReleased(lease, transaction, above);
  return core.released(lease, above, poolMessage) && dirty;
}

/**
 * Why a connection left when nothing marked a cause: the pool's end, a failure (the default: it
 * was still lent out), or idleness.
 */
export function removalReason(ending: boolean, failed: boolean): RetireReason {
  return ending ? 'ended' : failed ? 'error' : 'idle';
}

/** How an adapter carries out the core's admission of one connection for one checkout. */
export interface AdmissionSteps {
  /** Hands the connection to the caller. */
  handOut(): void;
  /** Closes the connection without handing it out: retired (`err` undefined) or failed its check. */
  discard(err: Error | undefined): void;
  /** Asks the pool again for the same lease, which has now discarded `discarded` connections. */
  retry(discarded: number): void;
  /** Checks the connection when `guard.validate` is not set (pg: `SELECT 1`, mysql2: a ping). */
  check(): unknown;
  /** The lease discarded too many connections and has left the ledger: the caller gets `err`. */
  fail(err: Error): void;
}

/**
 * The admission loop for a connection the pool just handed to a lease: retired (its lifetime
 * ended while idle) and asked for again, checked first (idle past `guard.validateAfterIdleMs`),
 * or handed out; a lease that has discarded too many gets the last check's error. Pools that
 * neither recycle nor validate never come here (`core.recycles`, `core.validates`).
 */
export function admit(core: GuardCore, lease: Lease, record: ConnectionRecord, resource: unknown, discarded: number, steps: AdmissionSteps): void {
  const next = core.admission(lease, record, discarded);
  if (next === 'retire') {
    steps.discard(undefined);
    return steps.retry(discarded + 1);
  }
  if (next === 'validate') {
    return core.validateConnection(record, resource, steps.check, (err) => {
      if (err === undefined) return steps.handOut();
      steps.discard(err);
      if (core.validationDiscarded(lease, record, err, discarded + 1)) return steps.fail(err);
      steps.retry(discarded + 1);
    });
  }
  steps.handOut();
}

/** The two calls of a pool's factory (generic-pool, sequelize-pool) through which every resource passes. */
export interface FactoryLike {
  create(): PromiseLike<unknown>;
  destroy(resource: unknown): unknown;
}

/**
 * Follows every resource a pool's factory creates or destroys (the lifecycle's choke point):
 * `target`'s create and destroy call `source`'s, timing the creation with `clock`.
 */
export function watchFactory(target: FactoryLike, source: FactoryLike, clock: Clock, created: (resource: unknown, createMs: number) => void, destroying: (resource: unknown) => void): void {
  const { create, destroy } = source;
  target.create = async function create_(): Promise<unknown> {
    const started = clock.now();
    const resource = await create.call(source);
    created(resource, clock.now() - started);
    return resource;
  };
  target.destroy = async function destroy_(resource: unknown): Promise<unknown> {
    destroying(resource);
    return destroy.call(source, resource);
  };
}

/**
 * The record of a resource a pool lends, by the resource (the pool hands the resource itself
 * around), opened on first sight; `watch` reads what it can of it (its backend id, its activity).
 */
export function recordOnSight(core: GuardCore, records: Map<unknown, ConnectionRecord>, resource: unknown, createMs: number | undefined, watch: (resource: object, record: ConnectionRecord) => void): ConnectionRecord {
  let record = records.get(resource);
  if (record === undefined) {
    const object = typeof resource === 'object' && resource !== null ? resource : { value: resource };
    record = core.connectionOpened(object, createMs);
    records.set(resource, record);
    watch(object, record);
  }
  return record;
}

/** A resource left the pool: its record leaves the ledger, with why (`failed`: see {@link removalReason}). */
export function resourceRemoved(core: GuardCore, records: Map<unknown, ConnectionRecord>, resource: unknown, ending: boolean, failed?: (record: ConnectionRecord) => boolean): void {
  const record = records.get(resource);
  if (record === undefined) return;
  records.delete(resource);
  core.connectionRemoved(record, removalReason(ending, failed === undefined ? record.lease !== undefined : failed(record)));
}

/**
 * A second release that the pool itself ignores (mysql2, the MariaDB connector) or refuses with its
 * own error (mysql): counted and logged with the stack of that second release() (the checkout
 * stack is not kept after the first), never thrown by poolguard.
 */
export function logDoubleRelease(core: GuardCore, last: Lease, above: Function, words: string): void {
  try {
    core.released(last, above, words);
  } catch (err) {
    core.log('warn', `double release ${last.id}`, { pool: core.config.name, leaseId: last.id, err }, (err as Error).stack ?? (err as Error).message);
  }
}

import * as genericPool from 'generic-pool';
import { systemClock } from '../core/clock.js';
import { resolveGuardConfig, type GuardOptions } from '../core/config.js';
import { annotate } from '../core/errors.js';
import type { GuardCore } from '../core/guard.js';
import { isGenericPool, wrongPool } from '../core/pool-kind.js';
import type { ConnectionRecord, Lease } from '../core/ledger.js';
import { attachGuard, guardedAlready, recordOnSight, resourceRemoved, watchEnd, watchFactory, type FactoryLike } from './kit.js';
import { ResourceLease, type DisposableLease, type GenericPoolGuard } from './generic-pool-lease.js';
import { onQueryDone, queryInFlight, transactionStatus } from './pg-client.js';

// generic-pool's own messages, matched to recognise its errors (which reach the caller unchanged).
const NOT_IN_POOL_MESSAGE = 'Resource not currently part of this pool';
const DRAINING_MESSAGE = 'pool is draining and cannot accept work';

const kState = Symbol('poolguard.generic-pool.state');

/**
 * generic-pool's options with poolguard's under `guard`. `guard.validateAfterIdleMs` is not
 * accepted here: generic-pool validates with its own `testOnBorrow` and `factory.validate`.
 * @public
 */
export interface GuardedPoolOptions extends genericPool.Options {
  /** poolguard's own options; never passed on to generic-pool. */
  guard?: GuardOptions;
}

/**
 * generic-pool's own `Pool`, with poolguard's handle.
 * @public
 */
export type GuardedPool<T> = genericPool.Pool<T> & {
  /** poolguard's handle: leak events, `snapshot()`, `touch()`, `lease()` for `await using`. */
  readonly guard: GenericPoolGuard<T>;
};

type AnyPool = genericPool.Pool<unknown>;

/** generic-pool internals used to close one idle resource the lifetime policy retired; feature-detected. */
interface GenericPoolInternals {
  _factory?: genericPool.Factory<unknown>;
  _availableObjects?: {
    readonly length: number;
    iterator?(): { next(): { done: boolean; value: { obj: unknown; state?: string } }; remove(): void };
  };
  _destroy?: (pooled: { obj: unknown }) => void;
  _draining?: boolean;
}

/**
 * The resources idle in the pool. generic-pool's `available` counts its available list, and its
 * `clear()` (3.9: `_destroy` of each, which invalidates it and drops it from `size`) leaves the
 * destroyed ones on that list: after `drain()` and `clear()` it still says they are idle. The ones
 * invalidated are gone; the rest are idle.
 */
function idleResources(pool: AnyPool): number {
  const available = (pool as GenericPoolInternals)._availableObjects;
  const iterator = available?.iterator?.();
  if (available === undefined || iterator === undefined || available.length === 0) return pool.available;
  let idle = 0;
  for (let next = iterator.next(); !next.done; next = iterator.next()) if (next.value.state !== 'INVALID') idle++;
  return idle;
}

interface State {
  readonly core: GuardCore;
  readonly pool: AnyPool;
  readonly records: Map<unknown, ConnectionRecord>;
  /** Reclaimed leases whose holders have not called release() yet: that call must be harmless. */
  readonly reclaimed: ReclaimedLeases;
  readonly acquire: (priority?: number) => PromiseLike<unknown>;
  readonly release: (resource: unknown) => PromiseLike<void>;
  readonly destroy: (resource: unknown) => PromiseLike<void>;
  readonly use: (fn: (resource: unknown) => PromiseLike<unknown>, priority?: number) => PromiseLike<unknown>;
  readonly drain: () => PromiseLike<void>;
}

/**
 * Drop-in for generic-pool's `createPool`: the same factory and options (plus `guard`), returning
 * generic-pool's own `Pool` with leak detection, recycling and a `guard` handle.
 * @public
 */
export function createPool<T>(factory: genericPool.Factory<T>, options?: GuardedPoolOptions): GuardedPool<T> {
  let poolOptions: genericPool.Options | undefined = options;
  let guardOptions: GuardOptions | undefined;
  if (options != null && typeof options === 'object' && 'guard' in options) {
    const { guard: g, ...rest } = options;
    guardOptions = g;
    poolOptions = rest;
  }
  // Options are checked before generic-pool creates anything (autostart creates `min` at once).
  const config = resolveConfig(guardOptions);
  const holder: { state?: State } = {};
  const pool = genericPool.createPool(wrapFactory(factory as genericPool.Factory<unknown>, holder), poolOptions) as AnyPool;
  holder.state = attach(pool, config);
  return pool as GuardedPool<T>;
}

/**
 * Guards a generic-pool `Pool` someone else created. Idempotent, even across two copies of
 * poolguard: a second call returns the same handle, and logs the options it did not apply when
 * they differ. Resources created before the call are tracked from their first checkout. Anything
 * but a generic-pool `Pool` (Sequelize's sequelize-pool, tarn) is refused with a `TypeError`, untouched.
 * @public
 */
export function guard<T>(pool: genericPool.Pool<T>, options?: GuardOptions): GenericPoolGuard<T> {
  const target = pool as unknown as AnyPool & { [kState]?: State } & GenericPoolInternals;
  if (!isGenericPool(target)) throw wrongPool('poolguard/generic-pool', 'a generic-pool Pool', target);
  const existing = guardedAlready(target, options, resolveConfig) as GenericPoolGuard<T> | undefined;
  if (existing !== undefined) return existing;
  const config = resolveConfig(options);
  const holder: { state?: State } = {};
  if (target._factory !== undefined) target._factory = wrapFactory(target._factory, holder);
  holder.state = attach(target, config);
  return holder.state.core.handle as GenericPoolGuard<T>;
}

function resolveConfig(options: GuardOptions | undefined) {
  const config = resolveGuardConfig(options, 'generic-pool');
  if (config.validateAfterIdleMs > 0) {
    throw new TypeError(
      `guard.validateAfterIdleMs is not available for generic-pool, got ${config.validateAfterIdleMs}: use generic-pool's own testOnBorrow: true with factory.validate`,
    );
  }
  return config;
}

/** Every resource the pool creates or destroys passes the factory: the lifecycle's choke point. */
function wrapFactory(factory: genericPool.Factory<unknown>, holder: { state?: State }): genericPool.Factory<unknown> {
  // Everything else the factory carries stays readable through the prototype: a guard adds
  // to the factory's two lifecycle calls and changes nothing a pool might read from it.
  const wrapped: genericPool.Factory<unknown> = Object.create(factory);
  // The guard may not exist yet (generic-pool creates `min` resources in its constructor), so
  // creations are timed by the core's clock directly.
  watchFactory(
    wrapped as FactoryLike,
    factory as FactoryLike,
    systemClock,
    (resource, createMs) => {
      if (holder.state !== undefined) recordFor(holder.state, resource, createMs);
    },
    (resource) => {
      const state = holder.state;
      if (state !== undefined) resourceRemoved(state.core, state.records, resource, (state.pool as GenericPoolInternals)._draining === true);
    },
  );
  if (typeof factory.validate === 'function') wrapped.validate = factory.validate.bind(factory);
  return wrapped;
}

function recordFor(state: State, resource: unknown, createMs?: number): ConnectionRecord {
  // A pg client resource tells when its queries end, as under poolguard/pg.
  return recordOnSight(state.core, state.records, resource, createMs, (object, record) => onQueryDone(object, () => state.core.connectionActive(record)));
}

function attach(pool: AnyPool, config: ReturnType<typeof resolveGuardConfig>): State {
  const records = new Map<unknown, ConnectionRecord>();
  const draining = (): boolean => (pool as GenericPoolInternals)._draining === true;
  const core = attachGuard(pool, config, {
    // A pg client resource is read as the pg adapter reads it; any other resource is unknown (touch()).
    inFlight: queryInFlight,
    transaction: transactionStatus,
    reclaim: (lease) => {
      const resource = resourceOf(state, lease);
      if (resource === undefined) return;
      state.reclaimed.set(resource, lease);
      void Promise.resolve(state.destroy.call(pool, resource)).catch(() => {});
    },
    counts: () => ({ total: pool.size, idle: idleResources(pool), waiting: pool.pending, max: pool.max, min: pool.min }),
    retireIdle: (record) => retireIdleResource(state, record),
    recordOf: (resource) => records.get(resource),
    releaseWords: 'give the resource back with pool.release(resource)',
    // Resources of any kind: poolguard cannot tell what a destroyed one does, nor where it runs.
    words: {
      library: 'generic-pool',
      awaitUsing: 'await using lease = await pool.guard.lease()',
      connection: 'resource',
      releaseCall: 'pool.release(resource)',
      cutError: null,
      noLease: "generic-pool could not create a resource in time (does the factory's create() settle?)",
    },
  }, { dbSystem: undefined, ended: () => draining() && pool.size === 0, ending: draining });
  const state: State = {
    core,
    pool,
    records,
    reclaimed: new ReclaimedLeases(),
    acquire: pool.acquire,
    release: pool.release,
    destroy: pool.destroy,
    use: pool.use,
    drain: pool.drain,
  };
  Object.defineProperty(pool, kState, { value: state });

  pool.acquire = function acquire(this: AnyPool, priority?: number) {
    // Captured in this frame, not in a helper: see GuardCore.prepareCapture.
    const capture = core.prepareCapture();
    if (capture !== undefined) Error.captureStackTrace(capture, acquire);
    return acquireFor(state, this, core.checkoutRequested('acquire', capture, 'use'), priority, 0);
  } as AnyPool['acquire'];

  // pool.guard.lease(): acquire() for `await using`, on the handle (generic-pool's own methods stay).
  Object.defineProperty(core.handle, 'lease', {
    configurable: true,
    writable: true,
    value: function lease(priority?: number): Promise<DisposableLease<unknown>> {
      const capture = core.prepareCapture();
      if (capture !== undefined) Error.captureStackTrace(capture, lease);
      const held = core.checkoutRequested('acquire', capture);
      return acquireFor(state, pool, held, priority, 0).then(
        (resource) => new ResourceLease(resource, () => (held.released ? Promise.resolve() : Promise.resolve(pool.release(resource)))),
      );
    },
  });

  pool.use = function use(this: AnyPool, fn: (resource: unknown) => PromiseLike<unknown>, priority?: number) {
    // generic-pool's use() calls this.acquire() synchronously: that checkout becomes a `use` lease.
    const capture = core.prepareManagedCapture();
    if (capture !== undefined) Error.captureStackTrace(capture, use);
    const self = this;
    return core.runManaged(capture, () => state.use.call(this, (resource: unknown) => callUse(state, self, fn, resource), priority));
  } as AnyPool['use'];

  pool.release = function release(this: AnyPool, resource: unknown) {
    const record = records.get(resource);
    const lease = record?.lease;
    if (lease === undefined || lease.released) {
      const late = state.reclaimed.take(resource);
      if (late !== undefined) {
        core.released(late, release, NOT_IN_POOL_MESSAGE);
        return Promise.resolve();
      }
      return doubleRelease(state, this, resource, release);
    }
    core.released(lease, release, NOT_IN_POOL_MESSAGE);
    if (record !== undefined && core.dueForRetirement(record) !== undefined) return state.destroy.call(this, resource);
    return state.release.call(this, resource);
  } as AnyPool['release'];

  pool.destroy = function destroy(this: AnyPool, resource: unknown) {
    const record = records.get(resource);
    const lease = record?.lease;
    if (lease !== undefined && !lease.released) {
      core.released(lease, destroy, NOT_IN_POOL_MESSAGE);
      if (record !== undefined) core.markRetiring(record, 'error');
    }
    return state.destroy.call(this, resource);
  } as AnyPool['destroy'];

  pool.drain = function drain(this: AnyPool) {
    return watchEnd(core, 'pool.drain()', () => state.drain.call(this));
  } as AnyPool['drain'];

  return state;
}

/**
 * Calls a use() callback as generic-pool does. generic-pool releases the resource when the
 * callback's promise settles, and never when the callback throws before returning one or returns
 * something else: the resource would stay checked out forever, its lease reading busy. poolguard
 * destroys it then, as generic-pool does when the promise rejects, and use() rejects unchanged.
 */
function callUse(state: State, pool: AnyPool, fn: (resource: unknown) => PromiseLike<unknown>, resource: unknown): PromiseLike<unknown> {
  let result: PromiseLike<unknown>;
  try {
    result = fn(resource);
  } catch (err) {
    useFailed(state, pool, resource, `threw synchronously (${String((err as Error)?.message ?? err)})`);
    throw err;
  }
  if (result == null || typeof (result as { then?: unknown }).then !== 'function') {
    useFailed(state, pool, resource, `returned ${result === null ? 'null' : typeof result === 'object' ? 'an object that is not a promise' : typeof result === 'undefined' ? 'undefined' : `a ${typeof result}`}`);
  }
  return result;
}

function useFailed(state: State, pool: AnyPool, resource: unknown, what: string): void {
  state.core.useCallbackFailed(resource, what, callUse);
  void Promise.resolve(pool.destroy(resource)).catch(() => {});
}

function acquireFor(state: State, pool: AnyPool, lease: Lease, priority: number | undefined, discarded: number): Promise<unknown> {
  const { core } = state;
  let acquiring: PromiseLike<unknown>;
  try {
    acquiring = state.acquire.call(pool, priority);
  } catch (err) {
    // generic-pool's acquire() can throw synchronously (a priority that is not a number): the
    // caller gets its throw unchanged, and the lease leaves the ledger.
    core.checkoutFailed(lease, false);
    throw err;
  }
  return Promise.resolve(acquiring).then(
    (resource) => {
      try {
        const record = recordFor(state, resource);
        // A resource whose lifetime ended while idle (and could not be closed then) is replaced
        // (validation is generic-pool's own testOnBorrow here).
        if (core.recycles && core.admission(lease, record, discarded) === 'retire') {
          return Promise.resolve(state.destroy.call(pool, resource)).then(
            () => acquireFor(state, pool, lease, priority, discarded + 1),
            (err: unknown) => failed(core, lease, err),
          );
        }
        core.checkoutGranted(lease, record);
        return resource;
      } catch (err) {
        return failed(core, lease, err);
      }
    },
    (err: unknown) => {
      if (err instanceof Error && err.name === 'TimeoutError') throw core.poolTimedOut(lease, err);
      // drain() still serves the callers queued before it; only new ones are refused, and told why.
      const refused = err instanceof Error && err.message === DRAINING_MESSAGE ? core.checkoutRefusedAtEnd(lease, err, false) : undefined;
      if (refused !== undefined) throw refused;
      return failed(core, lease, err);
    },
  );
}

/** Whatever ended a checkout, its lease leaves the ledger (a no-op for one already granted or failed). */
function failed(core: GuardCore, lease: Lease, err: unknown): never {
  core.checkoutFailed(lease, false);
  throw err;
}

/**
 * The reclaimed leases whose holders may still call release(). An object resource is remembered
 * for as long as anything (its holder) can still reach it, and no longer: a WeakMap, so that no
 * number of reclaims forgets a live holder or grows memory. A primitive resource cannot be held
 * weakly: the most recent {@link MAX_RECLAIMED_PRIMITIVES} are kept, the oldest forgotten one by one.
 */
class ReclaimedLeases {
  readonly #objects = new WeakMap<object, Lease>();
  readonly #primitives = new Map<unknown, Lease>();

  set(resource: unknown, lease: Lease): void {
    if ((typeof resource === 'object' && resource !== null) || typeof resource === 'function') {
      this.#objects.set(resource as object, lease);
      return;
    }
    this.#primitives.delete(resource);
    this.#primitives.set(resource, lease);
    if (this.#primitives.size > MAX_RECLAIMED_PRIMITIVES) this.#primitives.delete(this.#primitives.keys().next().value);
  }

  /** The reclaimed lease of `resource`, forgotten once returned (a second release is a double release). */
  take(resource: unknown): Lease | undefined {
    if ((typeof resource === 'object' && resource !== null) || typeof resource === 'function') {
      const lease = this.#objects.get(resource as object);
      if (lease !== undefined) this.#objects.delete(resource as object);
      return lease;
    }
    const lease = this.#primitives.get(resource);
    if (lease !== undefined) this.#primitives.delete(resource);
    return lease;
  }
}

/** Reclaimed primitive resources (numbers, strings) remembered for a late release() (README). */
const MAX_RECLAIMED_PRIMITIVES = 10_000;


function doubleRelease(state: State, pool: AnyPool, resource: unknown, above: Function): Promise<void> {
  // Not a lease poolguard knows of: generic-pool decides (and rejects if it is not on loan).
  return Promise.resolve(state.release.call(pool, resource)).catch((err: unknown) => {
    if (err instanceof Error && err.message === NOT_IN_POOL_MESSAGE) {
      const { name } = state.core.config;
      state.core.ledger.totals.doubleReleases++;
      Error.captureStackTrace(err, above);
      annotate(err, `poolguard[${name}]: it was already released (or never acquired from this pool); release each resource exactly once.`, { pool: name });
    }
    throw err;
  });
}

/** The resource a lease holds: its record keeps it (a primitive resource inside a `{ value }` wrapper). */
function resourceOf(state: State, lease: Lease): unknown {
  const record = lease.conn;
  if (record === undefined) return undefined;
  return state.records.get(record.resource) === record ? record.resource : (record.resource as { value: unknown }).value;
}

function retireIdleResource(state: State, record: ConnectionRecord): boolean {
  const p = state.pool as unknown as GenericPoolInternals;
  const iterator = p._availableObjects?.iterator?.();
  if (iterator === undefined || typeof p._destroy !== 'function' || p._draining) return false;
  for (let step = iterator.next(); !step.done; step = iterator.next()) {
    const pooled = step.value;
    if (state.records.get(pooled.obj) !== record) continue;
    // As generic-pool's own evictor does: out of the available list, then destroyed (which also
    // tops the pool back up to `min`).
    iterator.remove();
    p._destroy.call(state.pool, pooled);
    return true;
  }
  return false;
}


import { refusePoolOwnedOptions, resolveGuardConfig, type GuardOptions } from '../core/config.js';
import type { GuardCore, PoolGuard } from '../core/guard.js';
import type { ConnectionRecord, Lease, LeaseKind } from '../core/ledger.js';
import type { CapturedStack } from '../core/stack.js';
import type { LeaseReclaimedError } from '../core/errors.js';
import { wrongPool } from '../core/pool-kind.js';
import { guardOf } from '../core/registry.js';
import { defaultName } from './default-name.js';
import { driverInFlight, driverRecord, driverTransaction } from './driver-client.js';
import { attachGuard, guardedAlready, releaseChecked, resourceRemoved } from './kit.js';
import { driverWords } from './driver-words.js';
import type { PoolWords } from '../core/hooks.js';

const kState = Symbol('poolguard.tarn.state');
const kClient = Symbol('poolguard.knex.client');
const kCapture = Symbol('poolguard.knex.capture');
const OWNED = Symbol('poolguard.knex.owned');

/**
 * The structural shape of a tarn `Pool` (Knex's own pool, `knex.client.pool`) that poolguard
 * reads: its events and counters; nothing of it is replaced.
 * @public
 */
export interface TarnPoolLike {
  /** Left as tarn's own: poolguard listens to the `acquireRequest`/`acquireSuccess`/`acquireFail` events it emits. */
  acquire(): { promise: Promise<unknown> };
  /** Left as tarn's own: poolguard listens to its `release` event. */
  release(resource: unknown): boolean;
  /** tarn's event subscription, through which poolguard follows every acquire, release, create and destroy. */
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** Connections lent out now (the snapshot's `total` adds the free and the ones being opened). */
  numUsed(): number;
  /** Idle connections, the snapshot's `idle`. */
  numFree(): number;
  /** Callers waiting, the snapshot's `waiting`. */
  numPendingAcquires(): number;
  /** Connections being opened. */
  numPendingCreates(): number;
}

/**
 * The structural shape of a Knex instance (`knex(config)`) that `guardKnex` needs.
 * @public
 */
export interface KnexLike {
  /** Knex's dialect client: its `pool` is guarded, its `acquireConnection`, `transaction` and `runner` record who asked. */
  readonly client: object;
}

/** tarn internals used to take a reclaimed connection out of the pool; feature-detected. */
interface TarnInternals {
  used?: Array<{ resource: unknown; settle?: () => void }>;
  _destroy?: (resource: unknown) => unknown;
  _tryAcquireOrCreate?: () => void;
  destroyed?: boolean;
}

interface KnexClientLike {
  pool?: unknown;
  dialect?: string;
  driverName?: string;
  /** An object, or the connection string Knex was given. */
  connectionSettings?: unknown;
  acquireConnection(): Promise<unknown>;
  transaction(container: unknown, config: unknown, outerTx: unknown): object;
  runner(builder: unknown): { ensureConnection(...args: unknown[]): unknown; builder?: unknown };
  queryBuilder(): object;
  raw(...args: unknown[]): object;
  schemaBuilder(): object;
  [kClient]?: true;
}

interface Pending {
  kind: LeaseKind;
  capture: CapturedStack | undefined;
  /** The caller that asked (Knex's acquireConnection): it turns a timeout into the holders' error. */
  owned: boolean;
}

interface TarnState {
  readonly core: GuardCore;
  readonly pool: TarnPoolLike;
  readonly records: Map<unknown, ConnectionRecord>;
  readonly requests: Map<number, Lease>;
  readonly creating: Map<number, number>;
  /** Set by the adapter's entry points just before tarn's synchronous `acquireRequest`. */
  pending: Pending | undefined;
  /** The lease tarn's `acquireRequest` created for the entry point that is running now. */
  requested: Lease | undefined;
  ending: boolean;
  /** Connections poolguard cut (reclaimed, or forced at the end): their transactions cannot commit. */
  readonly cut: WeakSet<object>;
}

/**
 * Guards the tarn pool a Knex instance owns (Knex's default, without `connectionPool`), in place:
 * leak reports name your line for `knex.transaction()` (with or without a callback) never
 * committed and, with `guard.captureStacks: 'all'`, for a builder query stuck in flight; Knex's
 * `KnexTimeoutError` names who holds the connections. Idempotent: a second call returns the same
 * handle. The pool's behaviour and settings are Knex's own.
 * @public
 */
export function guardKnex(knex: KnexLike, options?: GuardOptions): PoolGuard {
  const client = (knex as { client?: unknown } | null | undefined)?.client as KnexClientLike | undefined;
  if (client == null || typeof client.acquireConnection !== 'function' || typeof client.transaction !== 'function') {
    throw new TypeError(`guardKnex(knex) needs a Knex instance (the function knex(config) returns), got ${knex === null ? 'null' : typeof knex}`);
  }
  if (!isTarnPool(client.pool)) {
    throw new TypeError(
      client.pool == null
        ? 'guardKnex(knex): this Knex instance has no pool (no connection configured, pool.max 0, or destroyed). Guard it after knex(config) with a connection, before knex.destroy().'
        : "guardKnex(knex): this Knex instance uses an external pool (connectionPool), not its own tarn pool. Guard that pool instead: guard(pool) from 'poolguard/pg' for a pg.Pool.",
    );
  }
  const pool = client.pool as TarnPoolLike & { [kState]?: TarnState };
  if (client[kClient] === true) {
    const again = guardedAlready(pool, options, (o) => resolveConfig(o, knexName(client)));
    if (again !== undefined) return again;
  }
  const guarded = guardOf<PoolGuard>(pool);
  // A pool guarded through guard(pool) by this copy gains the Knex entry points; by another copy
  // of poolguard, it keeps that copy's guard.
  const state = pool[kState] ?? (guarded === undefined ? guardTarnPool(pool, options, knexName(client), knexWords(client)) : undefined);
  if (state === undefined) return guarded!;
  Object.defineProperty(client, kClient, { value: true, configurable: true });
  wrapClient(state, client);
  return state.core.handle;
}

/**
 * Guards a tarn `Pool` through its events only (`knex.client.pool`, or a pool of your own). Leases
 * are named at the line that called `pool.acquire()` when it is on the stack; through Knex, use
 * `guardKnex(knex)`, which also names the line of a transaction or builder query. Idempotent.
 * @public
 */
export function guard(pool: TarnPoolLike, options?: GuardOptions): PoolGuard {
  if (!isTarnPool(pool)) throw wrongPool('poolguard/knex', 'a tarn Pool (knex.client.pool)', pool);
  // A tarn pool on its own lends whatever its factory makes: what a destroyed one does is its own.
  return guardedAlready(pool, options, (o) => resolveConfig(o, 'tarn')) ?? guardTarnPool(pool, options, 'tarn', { releaseCall: 'pool.release(connection)', cutError: null }).core.handle;
}

function isTarnPool(pool: unknown): pool is TarnPoolLike {
  const p = pool as Partial<TarnPoolLike> | null | undefined;
  return p != null && typeof p.acquire === 'function' && typeof p.release === 'function' && typeof p.on === 'function' && typeof p.numUsed === 'function' && typeof p.numPendingAcquires === 'function';
}

/**
 * The words of a Knex instance's reports, by its driver: where its server lists sessions, the
 * driver's error for a closed connection, and Knex's own calls.
 */
function knexWords(client: KnexClientLike): PoolWords {
  const driver = client.driverName;
  const server = driver === 'pg' || driver === 'pgnative' ? 'postgres' : driver === 'mysql' || driver === 'mysql2' || driver === 'mariadb' ? 'mysql' : undefined;
  return { ...driverWords({ server, driver }), releaseCall: 'knex.client.releaseConnection(connection)', transactionCall: 'knex.transaction()', handle: 'knex.client.pool.guard' };
}

function guardTarnPool(pool: TarnPoolLike, options: GuardOptions | undefined, name: string, words: PoolWords): TarnState {
  const config = resolveConfig(options, name);
  const records = new Map<unknown, ConnectionRecord>();
  const destroyed = (): boolean => (pool as TarnInternals).destroyed === true;
  const core = attachGuard(pool, config, {
    inFlight: driverInFlight,
    transaction: driverTransaction,
    reclaim: (lease, makeError) => reclaimConnection(state, lease, makeError),
    counts: () => ({
      total: pool.numUsed() + pool.numFree() + pool.numPendingCreates(),
      idle: pool.numFree(),
      waiting: pool.numPendingAcquires(),
      // tarn's `max` and `min` (Knex's pool.max and pool.min), protected in tarn's types only.
      max: (pool as unknown as { max: number }).max,
      min: (pool as unknown as { min: number }).min,
    }),
    recordOf: (resource) => records.get(resource),
    words,
  }, { dbSystem: undefined, ended: destroyed });
  const state: TarnState = {
    core,
    pool,
    records,
    requests: new Map(),
    creating: new Map(),
    pending: undefined,
    requested: undefined,
    ending: false,
    cut: new WeakSet(),
  };
  Object.defineProperty(pool, kState, { value: state, configurable: true });
  listen(state);
  return state;
}

/** Options whose mechanism lives in the pool itself, which tarn and Knex already provide, are refused. */
function resolveConfig(options: GuardOptions | undefined, name: string): ReturnType<typeof resolveGuardConfig> {
  return refusePoolOwnedOptions(resolveGuardConfig(options, name), 'a tarn (Knex) pool', {
    maxLifetimeMs: "Knex's pool.maxConnectionLifetimeMillis",
    maxUses: "Knex's pool.validate",
    validateAfterIdleMs: "Knex's pool.validate (tarn validates every connection it hands out)",
  });
}

function listen(state: TarnState): void {
  const { core, pool, records, requests, creating } = state;
  pool.on('createRequest', (eventId: number) => creating.set(eventId, core.clock.now()));
  pool.on('createSuccess', (eventId: number, resource: unknown) => {
    const started = creating.get(eventId);
    creating.delete(eventId);
    recordFor(state, resource, started === undefined ? undefined : core.clock.now() - started);
  });
  pool.on('createFail', (eventId: number) => creating.delete(eventId));
  const removed = (_eventId: number, resource: unknown): void => {
    // Knex marks a connection whose driver reported an error or an end (`__knex__disposed`);
    // its validation then has tarn destroy it at the next acquire.
    const failed = (record: ConnectionRecord): boolean => record.lease !== undefined || (resource as { __knex__disposed?: unknown } | null)?.__knex__disposed != null;
    resourceRemoved(core, records, resource, state.ending || (pool as TarnInternals).destroyed === true, failed);
  };
  pool.on('destroySuccess', removed);
  pool.on('destroyFail', removed);
  pool.on('poolDestroyRequest', () => {
    state.ending = true;
    core.endStarted('knex.destroy()');
  });
  pool.on('poolDestroySuccess', () => core.endFinished());
  pool.on('acquireRequest', function acquireRequest(eventId: number) {
    let pending = state.pending;
    state.pending = undefined;
    if (pending === undefined) {
      // Someone called the pool's acquire() directly: the stack above tarn names the caller.
      const capture = core.prepareCapture();
      if (capture !== undefined) Error.captureStackTrace(capture, acquireRequest);
      pending = { kind: 'acquire', capture, owned: false };
    }
    const lease = core.checkoutRequested(pending.kind, pending.capture);
    // Marks the lease whose timeout Knex's acquireConnection (wrapped) turns into its error.
    if (pending.owned) lease.token = OWNED;
    requests.set(eventId, lease);
    state.requested = lease;
  });
  pool.on('acquireSuccess', (eventId: number, resource: unknown) => {
    const lease = requests.get(eventId);
    if (lease === undefined) return;
    requests.delete(eventId);
    core.checkoutGranted(lease, recordFor(state, resource));
  });
  pool.on('acquireFail', (eventId: number, err: unknown) => {
    const lease = requests.get(eventId);
    if (lease === undefined) return;
    requests.delete(eventId);
    // tarn's TimeoutError keeps Error's name: its class tells it apart.
    const timedOut = err instanceof Error && err.constructor?.name === 'TimeoutError';
    // Knex's acquireConnection replaces the timeout with its own error, which gains the holders
    // there; a direct caller of tarn's acquire() gets tarn's error, which gains them here.
    if (timedOut && lease.token === OWNED) return;
    if (timedOut) core.poolTimedOut(lease, err as Error);
    else core.checkoutFailed(lease, false);
  });
  pool.on('release', function release(resource: unknown) {
    const record = records.get(resource);
    const lease = record?.lease;
    // tarn announces every release() call, also of a resource it no longer lends (and ignores it).
    if (lease === undefined || lease.released) return;
    const outcome = releaseChecked(core, lease, lease.reclaimed ? undefined : driverTransaction(resource as object), release, 'tarn: release');
    if (typeof outcome === 'object') closeDirty(state, record!, outcome.error);
  });
}

/**
 * A connection released inside a transaction (a raw `BEGIN` run as a builder query): the next
 * caller must not inherit it. tarn takes it back right after this event, so it is marked for
 * Knex's validation (a waiter that gets it now has it destroyed and replaced) and, once tarn has
 * it, taken out of the free list and closed.
 */
function closeDirty(state: TarnState, record: ConnectionRecord, error: Error): void {
  const resource = record.resource as { __knex__disposed?: unknown };
  resource.__knex__disposed = error;
  queueMicrotask(() => {
    const p = state.pool as TarnInternals & { free?: Array<{ resource: unknown }> };
    const index = Array.isArray(p.free) ? p.free.findIndex((f) => f.resource === resource) : -1;
    if (index === -1 || typeof p._destroy !== 'function') return;
    p.free!.splice(index, 1);
    Promise.resolve(p._destroy.call(p, resource)).catch(() => {});
  });
}

function recordFor(state: TarnState, resource: unknown, createMs?: number): ConnectionRecord {
  return driverRecord(state.core, state.records, resource, createMs);
}

/**
 * Takes the connection out of tarn's hands and destroys it through tarn (Knex closes the driver
 * connection, the server rolls back its transaction, tarn opens a replacement for waiters). The
 * holder's late release is ignored by tarn; its next query fails with the driver's closed-connection
 * error, and Knex's validation never hands the connection out again.
 */
function reclaimConnection(state: TarnState, lease: Lease, makeError: () => LeaseReclaimedError): void {
  const resource = lease.conn?.resource;
  const p = state.pool as TarnInternals;
  if (resource === undefined || !Array.isArray(p.used) || typeof p._destroy !== 'function') return;
  const index = p.used.findIndex((u) => u.resource === resource);
  if (index === -1) return;
  (resource as { __knex__disposed?: unknown }).__knex__disposed = makeError();
  state.cut.add(resource as object);
  // Settled as a release settles it: tarn's destroy() (knex.destroy()) waits for every used entry.
  const [used] = p.used.splice(index, 1);
  used?.settle?.();
  Promise.resolve(p._destroy.call(p, resource)).catch(() => {});
  p._tryAcquireOrCreate?.call(p);
}

/**
 * The entry points where an application's call reaches Knex synchronously: the stack captured
 * there holds the application's line, which the later, asynchronous acquire has lost.
 */
function wrapClient(state: TarnState, client: KnexClientLike): void {
  const { core } = state;
  const acquireConnection = client.acquireConnection;
  const transaction = client.transaction;
  const runner = client.runner;

  client.acquireConnection = function guardedAcquireConnection(this: KnexClientLike): Promise<unknown> {
    if (state.pending === undefined) {
      // A direct call (a plugin, or application code): the caller's stack is here.
      const capture = core.prepareCapture();
      if (capture !== undefined) Error.captureStackTrace(capture, guardedAcquireConnection);
      state.pending = { kind: 'acquire', capture, owned: true };
    } else {
      state.pending.owned = true;
    }
    state.requested = undefined;
    let result: Promise<unknown>;
    try {
      result = acquireConnection.call(this);
    } finally {
      state.pending = undefined;
    }
    const lease = state.requested as Lease | undefined;
    state.requested = undefined;
    if (lease === undefined) return result;
    return result.catch((err: unknown) => {
      if (err instanceof Error && err.name === 'KnexTimeoutError') throw core.poolTimedOut(lease, err);
      core.checkoutFailed(lease, false);
      throw err;
    });
  };

  client.transaction = function guardedTransaction(this: KnexClientLike, container: unknown, config: unknown, outerTx: unknown): object {
    const capture = core.prepareCapture();
    if (capture !== undefined) {
      Error.captureStackTrace(capture, guardedTransaction);
      core.captureTaken(false);
    }
    const trx = transaction.call(this, container, config, outerTx) as KnexTransactionLike;
    commitFailsWhenCut(state, trx);
    const own = trx.acquireConnection;
    if (typeof own === 'function') {
      // Transaction#acquireConnection runs later, from a promise: it carries this call's stack.
      trx.acquireConnection = function acquireForTransaction(this: unknown, ...args: unknown[]): unknown {
        state.pending = { kind: 'transaction', capture, owned: false };
        try {
          return own.apply(this, args);
        } finally {
          state.pending = undefined;
        }
      };
    }
    return trx;
  };

  // One function for every runner (no closure per query): the runner knows its builder.
  let ensure: ((...args: unknown[]) => unknown) | undefined;
  const ensureConnection = function ensureConnection(this: { builder?: { [kCapture]?: CapturedStack } | null }, a: unknown, b: unknown): unknown {
    state.pending = { kind: 'statement', capture: this.builder?.[kCapture], owned: false };
    try {
      return ensure!.call(this, a, b);
    } finally {
      state.pending = undefined;
    }
  };
  client.runner = function guardedRunner(this: KnexClientLike, builder: unknown): ReturnType<KnexClientLike['runner']> {
    const r = runner.call(this, builder);
    ensure ??= r.ensureConnection;
    r.ensureConnection = ensureConnection;
    return r;
  };

  // With captureStacks: 'all', a builder keeps the stack of the line that built it: awaiting a
  // builder (a thenable) runs its query from a microtask, where no frame of the application is left.
  if (core.config.captureStacks === 'all') {
    for (const method of ['queryBuilder', 'raw', 'schemaBuilder'] as const) {
      const make = client[method] as (...args: unknown[]) => object;
      client[method] = function builderWithStack(this: KnexClientLike, ...args: unknown[]): object {
        const capture = core.prepareManagedCapture();
        if (capture !== undefined) {
          Error.captureStackTrace(capture, builderWithStack);
          core.captureTaken(true);
        }
        const builder = make.apply(this, args);
        if (capture !== undefined && builder !== null && typeof builder === 'object') (builder as { [kCapture]?: CapturedStack })[kCapture] = capture;
        return builder;
      };
    }
  }
}

/** What `commitFailsWhenCut` reads of a Knex `Transaction` (the object behind `trx`). */
interface KnexTransactionLike {
  acquireConnection?: (...args: unknown[]) => unknown;
  commit?: (conn: unknown, value: unknown) => Promise<unknown>;
  transactor?: { executionPromise?: Promise<unknown> };
}

/**
 * Knex's `trx.commit()` resolves even when its COMMIT fails: the error only settles the
 * transaction's own promise (`trx.executionPromise`), which most code never awaits. On a connection
 * poolguard cut, the server rolled the transaction back; a commit that resolves would tell the
 * holder its rows were saved. So there, commit() rejects with the error Knex settled the
 * transaction with (the driver's, unchanged). A COMMIT that fails for another reason stays Knex's.
 */
function commitFailsWhenCut(state: TarnState, trx: KnexTransactionLike): void {
  const commit = trx.commit;
  if (typeof commit !== 'function') return;
  trx.commit = function commitUnlessCut(this: KnexTransactionLike, conn: unknown, value: unknown): Promise<unknown> {
    return commit.call(this, conn, value).then((result) => {
      const settled = this.transactor?.executionPromise;
      if (settled === undefined || typeof conn !== 'object' || conn === null || !state.cut.has(conn)) return result;
      // Settled by now: Knex resolves or rejects it before commit()'s own promise resolves.
      return settled.then(() => result);
    });
  };
}

/** `knex:dialect host:port/database` from Knex's connection settings (an object or a connection string). */
function knexName(client: KnexClientLike): string {
  const dialect = client.dialect ?? client.driverName ?? 'knex';
  return defaultName(client.connectionSettings, { prefix: `knex:${dialect} `, host: 'localhost', database: '', unnamed: `knex:${dialect}` });
}

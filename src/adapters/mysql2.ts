import mysql from 'mysql2';
import mysqlPromise from 'mysql2/promise';
import type { Pool as PromisePool } from 'mysql2/promise';
import { resolveGuardConfig, splitGuardOptions, type GuardOptions, type ResolvedGuardConfig } from '../core/config.js';
import type { GuardCore, PoolGuard } from '../core/guard.js';
import type { PoolCounts } from '../core/types.js';
import { isMysql2Pool, isMysql2PromisePool, wrongPool } from '../core/pool-kind.js';
import type { ConnectionRecord, Lease } from '../core/ledger.js';
import type { CapturedStack } from '../core/stack.js';
import { defaultName } from './default-name.js';
import { attachGuard, guardedAlready, watchEndCallback } from './kit.js';
import { isWaiting, waitForConnection } from './queued-checkout.js';
import { MYSQL2_CLOSED_ERROR, MYSQL_SESSIONS } from './driver-words.js';
import { commandInFlight, onCommandDone, serverTransaction } from './mysql2-connection.js';
import { reclaimConnection, retireIdleConnection } from './mysql2-pool-internals.js';
import { clusterCalls, originalOf, patchPrototype, routeMethods, routesOf, setRoutes, type ClusterCall, type Route } from './mysql2-dispatch.js';
import { connectionRoutes, DOUBLE_RELEASE_MESSAGE, endDeferred, kRecord, releaseThrough, type ConnectionLike, type CorePoolLike, type State } from './mysql2-release.js';

// mysql2's own message for a pool that has ended: the caller gets that error as it is, and
// poolguard's note beside it.
const CLOSED_MESSAGE = 'Pool is closed.';


// Where mysql2/promise's connection wrappers (PromisePoolConnection) find release().
const PromiseConnectionPrototype: object = (mysqlPromise as unknown as { PromiseConnection: { prototype: object } }).PromiseConnection.prototype;

// The methods poolguard sees, routed through mysql2's prototypes (see mysql2-dispatch.ts).
const POOL_METHODS = ['getConnection', 'query', 'execute', 'releaseConnection', 'end', 'promise'] as const;
const CONNECTION_METHODS = ['release', 'destroy'] as const;

type ConnectionCallback = (err: Error | null, connection?: mysql.PoolConnection) => void;
type Answer = (err: Error | null, connection?: ConnectionLike) => void;



/**
 * mysql2's pool options with poolguard's under `guard`.
 * @public
 */
export interface GuardedPoolOptions extends mysql.PoolOptions {
  /** poolguard's own options; never passed on to mysql2. */
  guard?: GuardOptions;
}

/**
 * mysql2's own callback `Pool` (`instanceof` holds), with poolguard's handle. Its `promise()`
 * returns mysql2's own promise pool, which carries the same handle.
 * @public
 */
export type GuardedPool = mysql.Pool & {
  /** poolguard's handle: leak events, `snapshot()`. */
  readonly guard: PoolGuard;
};

/**
 * mysql2's own promise pool (`mysql2/promise`'s `createPool`, `instanceof PromisePool` holds),
 * with poolguard's handle; its `pool` is the guarded callback pool.
 * @public
 */
export type GuardedPromisePool = PromisePool & {
  /** poolguard's handle: leak events, `snapshot()`. */
  readonly guard: PoolGuard;
};

/**
 * Drop-in for `mysql2/promise`'s `createPool`: the same options (plus `guard`), or a connection
 * URL. Returns mysql2's own promise pool over a guarded callback pool.
 * @public
 */
export function createPromisePool(options: GuardedPoolOptions | string): GuardedPromisePool {
  const pool = createPool(options);
  const promiseImpl = typeof options === 'object' && options !== null ? (options.Promise as PromiseConstructor | undefined) : undefined;
  return pool.promise(promiseImpl) as GuardedPromisePool;
}

/**
 * Drop-in for mysql2's `createPool` (callback API): the same options (plus `guard`), or a
 * connection URL. Returns mysql2's own `Pool`, guarded.
 * @public
 */
export function createPool(options: GuardedPoolOptions | string): GuardedPool {
  const { pool: poolOptions, guard: guardOptions } = splitGuardOptions<mysql.PoolOptions | string>(options);
  // Checked before mysql2 builds the pool, which may start its idle timer at once.
  const config = resolveGuardConfig(guardOptions, mysqlName(options));
  const pool = mysql.createPool(poolOptions as mysql.PoolOptions) as unknown as CorePoolLike;
  install(pool, config);
  return pool as unknown as GuardedPool;
}

/**
 * Guards a mysql2 pool someone else built (an ORM's, a query builder's): the callback pool or the
 * promise pool (`mysql2/promise`), whose callback pool is the one guarded. Idempotent, even across
 * two copies of poolguard: a second call returns the same handle, and logs the options it did not
 * apply when they differ. The pool keeps mysql2's own methods (`pool.getConnection` is still
 * `BasePool.prototype.getConnection`, whose dispatcher poolguard installs once per mysql2 copy);
 * it gains a `guard` property. Anything but a mysql2 pool is refused with a `TypeError`, untouched.
 * @public
 */
export function guard(pool: mysql.Pool | { pool: mysql.Pool }, options?: GuardOptions): PoolGuard {
  const target = pool as unknown as (CorePoolLike & { pool?: CorePoolLike }) | null;
  // A promise pool (mysql2/promise) keeps its callback pool in `pool`.
  const promiseForm = isMysql2PromisePool(target);
  if (!promiseForm && !isMysql2Pool(target)) throw wrongPool('poolguard/mysql2', 'a mysql2 pool', target);
  const core = (promiseForm ? target!.pool : target) as CorePoolLike;
  const name = (): string => mysqlName(core.config?.connectionConfig ?? {});
  const handle = guardedAlready(core, options, (o) => resolveGuardConfig(o, name())) ?? install(core, resolveGuardConfig(options, name())).core.handle;
  if (promiseForm) Object.defineProperty(target, 'guard', { value: handle, enumerable: false, configurable: true });
  return handle;
}

/**
 * Guards one callback pool (a created one, a `guard()`ed one, a cluster's member). `handle`: where
 * the user reaches its guard (a cluster member's is on the cluster; see `PoolWords.handle`).
 */
export function install(pool: CorePoolLike, config: ResolvedGuardConfig, handle = 'pool.guard'): State {
  const server: { system: 'mysql' | 'mariadb' | undefined } = { system: undefined };
  const closed = (): boolean => pool._closed === true;
  // db.system.name is known once a connection has shaken hands: mysql2 reads it from the server's version string.
  const core = attachGuard(pool, config, {
    inFlight: commandInFlight,
    transaction: serverTransaction,
    reclaim: reclaimConnection,
    counts: () => {
      // mysql2's connectionLimit 0 means no limit.
      const max = pool.config?.connectionLimit || Infinity;
      if (closed()) return closedCounts(core, max);
      return { total: pool._allConnections?.length ?? 0, idle: pool._freeConnections?.length ?? 0, waiting: pool._connectionQueue?.length ?? 0, max, min: 0 };
    },
    retireIdle: (record) => retireIdleConnection(pool, record),
    recordOf: (resource) => (resource as ConnectionLike | null)?.[kRecord],
    words: {
      library: 'mysql2',
      awaitUsing: 'await using conn = await pool.getConnection()',
      connectCall: 'getConnection()',
      sessions: MYSQL_SESSIONS,
      handle,
      closedAtEnd: "mysql2's end closes every connection, checked out or not, once what runs on it has finished",
      closedError: MYSQL2_CLOSED_ERROR,
    },
  }, { dbSystem: () => server.system, ended: closed });
  const missed = routeMethods(pool, POOL_METHODS);
  const state: State = {
    core,
    pool,
    getConnection: originalOf(pool, 'getConnection') as CorePoolLike['getConnection'],
    releaseConnection: originalOf(pool, 'releaseConnection') as CorePoolLike['releaseConnection'],
    server,
    deferred: new Set(),
    connectionRoutes: {},
    ask: (answer) => state.getConnection.call(pool, answer as unknown as ConnectionCallback),
    dequeue: (answer) => {
      const queue = pool._connectionQueue;
      if (queue === undefined || typeof queue.removeOne !== 'function') return;
      for (let i = 0; i < queue.length; i++) {
        if (queue.get(i) === answer) return queue.removeOne(i);
      }
    },
    recordOf: (connection) => connection[kRecord] ?? register(state, connection),
    putBack: (connection) => state.releaseConnection.call(pool, connection),
    destroy: (connection) => connection.destroy(),
    ping: (connection) => new Promise<void>((resolve, reject) => connection.ping((err) => (err ? reject(err) : resolve()))),
    run: (connection, sql, done) => connection.query(sql, done),
    transaction: serverTransaction,
    granted: keepPrevious,
    refused: (_lease, err) => {
      core.checkoutFailed(_lease, false);
      // mysql2's own error for a closed pool stays as it is; why it is closed goes in its fields and the log.
      if (err != null && err.message === CLOSED_MESSAGE) core.noteRefusedAtEnd(err);
    },
    timeoutWords: 'mysql2 alone would have waited for ever.',
    doubleReleaseWords: DOUBLE_RELEASE_MESSAGE,
  };
  state.connectionRoutes = connectionRoutes(state);
  const routes = poolRoutes(state);
  setRoutes(pool, routes);
  // A pool whose own object carries a method (someone wrapped it in place before): wrapped there.
  for (const name of missed) {
    const own = (pool as unknown as Record<string, unknown>)[name];
    const route = routes[name];
    if (typeof own !== 'function' || route === undefined) continue;
    const inPlace = function (this: unknown, ...args: unknown[]): unknown {
      return route(this, own, inPlace, ...args);
    };
    Object.defineProperty(inPlace, 'name', { value: name });
    (pool as unknown as Record<string, unknown>)[name] = inPlace;
  }
  return state;
}

/** The routes of a guarded pool's methods: what poolguard does around each of mysql2's. */
function poolRoutes(state: State): Record<string, Route> {
  const { core } = state;
  // mysql2 is called from the route's own frame (no closure for runManaged), with the caller's
  // arguments passed on as they came (no rest array for the usual three).
  function managedCall(pool: CorePoolLike, original: Function, above: Function, a?: unknown, b?: unknown, c?: unknown): unknown {
    const capture = core.prepareManagedCapture();
    if (capture !== undefined) Error.captureStackTrace(capture, above);
    core.enterManaged(capture);
    try {
      return arguments.length === 6 ? original.call(pool, a, b, c) : original.apply(pool, Array.prototype.slice.call(arguments, 3));
    } finally {
      core.leaveManaged();
    }
  }
  return {
    getConnection(pool: CorePoolLike, original: Function, above: Function, cb: ConnectionCallback): void {
      // mysql2 re-dispatches a queued caller through getConnection when a connection leaves the
      // pool: that caller already has its lease.
      if (isWaiting(cb)) return original.call(pool, cb);
      if (clusterCalls.current !== undefined) return clusterCheckout(state, pool, cb, above, clusterCalls.current);
      const capture = core.prepareCapture();
      if (capture !== undefined) Error.captureStackTrace(capture, above);
      requestConnection(state, pool, cb, capture);
    },
    // mysql2's query() and execute() call this.getConnection() synchronously: that checkout becomes a `query` lease.
    query: managedCall,
    execute: managedCall,
    releaseConnection(pool: CorePoolLike, _original: Function, above: Function, connection: ConnectionLike): void {
      releaseThrough(state, pool, connection, above);
    },
    end(pool: CorePoolLike, original: Function, above: Function, cb?: (err?: Error | null) => void): void {
      if (pool._closed) return original.call(pool, cb);
      const end = (finished: (err?: Error | null) => void): void => {
        endDeferred(state);
        // mysql2's end closes every connection at once, lent or not: one with nothing running is
        // closed under its holder by the call below. Its lease ends first, read while mysql2's
        // QUIT is not yet the connection's command (which would read as a query in flight).
        for (const record of heldIdle(state)) core.endedWithPool(record, above, DOUBLE_RELEASE_MESSAGE);
        original.call(pool, finished);
      };
      watchEndCallback(core, state.endCall?.() ?? 'pool.end()', end, (err?: Error | null) => {
        // Every connection has closed (a busy one once its command finished): none is left to
        // lend, and a lease still on one ended with the pool. mysql2 calls back as the last QUIT
        // starts, before the last command's result reaches its holder (on the next tick): that
        // holder's release() in its callback, or after its await, comes first.
        setImmediate(() => {
          for (const record of [...core.ledger.connections]) core.endedWithPool(record, above, DOUBLE_RELEASE_MESSAGE);
          if (typeof cb === 'function') cb(err);
          else if (err) throw err;
        });
      });
    },
    // mysql2 builds a new promise pool on each call; each carries the handle.
    promise(pool: CorePoolLike, original: Function, _above: Function, promiseImpl?: PromiseConstructor): unknown {
      const wrapper = original.call(pool, promiseImpl) as object;
      Object.defineProperty(wrapper, 'guard', { value: core.handle, enumerable: false, configurable: true });
      return wrapper;
    },
  };
}

/**
 * The counts of an ended pool: mysql2 leaves its lists as they were at end() (a closed connection
 * never leaves them), so the connections still closing are the ones poolguard has not seen close.
 */
function closedCounts(core: GuardCore, max: number): PoolCounts {
  const total = core.ledger.connections.size;
  return { total, idle: Math.max(0, total - core.ledger.leased), waiting: 0, max, min: 0 };
}

/** The records of connections lent out with nothing running on them. */
function heldIdle(state: State): ConnectionRecord[] {
  const held: ConnectionRecord[] = [];
  for (const record of state.core.ledger.connections) {
    const lease = record.lease;
    if (lease !== undefined && !lease.released && !lease.reclaimed && commandInFlight(record.resource) === false) held.push(record);
  }
  return held;
}

/**
 * A cluster member's checkout, reached from the cluster's namespace: a managed statement's lease
 * for its query()/execute(), and the stack the call carries on a retry (taken here the first time).
 */
function clusterCheckout(state: State, pool: CorePoolLike, cb: ConnectionCallback, above: Function, call: ClusterCall): void {
  const { core } = state;
  let capture = call.managed ? core.prepareManagedCapture() : core.prepareCapture();
  if (capture !== undefined) {
    if (call.capture !== undefined) capture = call.capture;
    else Error.captureStackTrace((call.capture = capture), above);
  }
  const direct = call.cb as ConnectionCallback | undefined;
  if (!call.managed) return requestConnection(state, pool, cb, capture, direct);
  core.runManaged(capture, () => requestConnection(state, pool, cb, undefined, direct));
}

/** `direct`: where a timeout goes instead of `cb` (a cluster namespace's callback, see ClusterCall). */
function requestConnection(state: State, pool: CorePoolLike, cb: ConnectionCallback, capture: CapturedStack | undefined, direct?: ConnectionCallback): void {
  const { core } = state;
  const free = pool._freeConnections;
  const ready = !pool._closed && free !== undefined && free.length > 0;
  const lease = core.checkoutRequested('connect', capture, 'query', ready);
  if (ready && !core.recycles && !core.validates) {
    // mysql2 pops the last free connection synchronously and answers the caller on its next tick,
    // with nothing to check in between: granted now, the caller's own callback goes to mysql2 and
    // the checkout allocates no waiter and no callback of its own (half of what poolguard added
    // to a checkout+release; benchmarks/RESULTS.md, mysql2).
    const record = (free.get(free.length - 1) as ConnectionLike)[kRecord];
    if (record !== undefined) {
      try {
        state.getConnection.call(pool, cb);
      } catch (err) {
        core.checkoutFailed(lease, false);
        throw err;
      }
      keepPrevious(lease, record);
      return core.checkoutGranted(lease, record);
    }
  }
  // A free connection is handed over on mysql2's next tick: only a caller that waits (queued, or
  // for a new connection to open) may come back through getConnection, and needs a timer.
  waitForConnection(state, lease, cb as unknown as Answer, !ready, direct as unknown as Answer | undefined);
}

function register(state: State, connection: ConnectionLike): ConnectionRecord {
  const { core } = state;
  const record = core.connectionOpened(connection);
  if (typeof connection.threadId === 'number') record.pid = connection.threadId;
  if (typeof connection._isMariaDB === 'boolean') state.server.system ??= connection._isMariaDB ? 'mariadb' : 'mysql';
  Object.defineProperty(connection, kRecord, { value: record, configurable: true });
  onCommandDone(connection, () => core.connectionActive(record));
  // release() and destroy() reach poolguard through mysql2's prototype, as the pool's methods do.
  routeConnection(connection);
  setRoutes(connection, state.connectionRoutes);
  return record;
}

/**
 * The lease the connection had before this one, kept in the lease's adapter slot for a double
 * release's log (one lease back: the previous one's slot is emptied, so that no chain is kept).
 */
function keepPrevious(lease: Lease, record: ConnectionRecord): void {
  const previous = record.last;
  if (previous !== undefined) previous.token = undefined;
  lease.token = previous;
}

/** Routes mysql2's PoolConnection methods, and its promise wrapper's release(), once per prototype. */
function routeConnection(connection: ConnectionLike): void {
  routeMethods(connection, CONNECTION_METHODS);
  patchPrototype(PromiseConnectionPrototype, 'release', (wrapper: { connection?: object } | null) => routesOf(wrapper?.connection), 'wrappedRelease');
}

/** `host:port/database` from mysql2's options, its connection URL (a string or `uri`), or the config it kept. */
export function mysqlName(options: unknown): string {
  return defaultName(options, { host: 'localhost', port: 3306, database: '(none)' });
}

import mysql from 'mysql2';
import type { Pool as PromisePool } from 'mysql2/promise';
import { resolveGuardConfig, splitGuardOptions, type GuardOptions, type ResolvedGuardConfig } from '../core/config.js';
import type { GuardCore, PoolGuard } from '../core/guard.js';
import { isMysql2Pool, isMysql2PromisePool, wrongPool } from '../core/pool-kind.js';
import type { ConnectionRecord, Lease } from '../core/ledger.js';
import type { CapturedStack } from '../core/stack.js';
import { defaultName } from './default-name.js';
import { releasedByDisposer } from './disposal.js';
import { attachGuard, guardedAlready } from './kit.js';
import { commandInFlight, connectionFailure, onCommandDone, serverTransaction } from './mysql2-connection.js';
import { inFreeList, reclaimConnection, retireIdleConnection, type RingQueue } from './mysql2-pool-internals.js';
import { errorReason } from '../core/recycle-policy.js';
import { MYSQL_SESSIONS } from './driver-words.js';

// mysql2's own message for a pool that has ended, matched to tell the caller why.
const CLOSED_MESSAGE = 'Pool is closed.';
// mysql2 ignores a second release() in silence; poolguard keeps that and says where it happened.
const DOUBLE_RELEASE_MESSAGE = 'release() was called on a connection that was already released; mysql2 ignored it, and so did poolguard.';

const kRecord = Symbol('poolguard.mysql2.connection');
const kWaiter = Symbol('poolguard.mysql2.waiter');

type ConnectionCallback = (err: Error | null, connection?: mysql.PoolConnection) => void;

/** The structural shape of mysql2's callback pool that `guard()` needs. */
interface CorePoolLike {
  getConnection(cb: ConnectionCallback): void;
  query(...args: unknown[]): unknown;
  execute(...args: unknown[]): unknown;
  releaseConnection(connection: unknown): void;
  end(cb?: (err?: Error | null) => void): void;
  promise?(promiseImpl?: PromiseConstructor): unknown;
  config?: { connectionLimit?: number; connectionConfig?: Record<string, unknown> };
  _allConnections?: RingQueue<unknown>;
  _freeConnections?: RingQueue<unknown>;
  _connectionQueue?: RingQueue<unknown>;
  _closed?: boolean;
}

/** What poolguard reads and wraps on one of mysql2's PoolConnections. */
interface ConnectionLike {
  _pool: CorePoolLike | null;
  _released: boolean;
  threadId?: number | null;
  _isMariaDB?: boolean;
  release(): void;
  destroy(): void;
  query(...args: unknown[]): unknown;
  execute(...args: unknown[]): unknown;
  ping(cb: (err: Error | null) => void): unknown;
  [kRecord]?: ConnectionRecord;
}

/** One getConnection() call: its lease, until the pool answers or the wait times out. */
class Waiter {
  readonly lease: Lease;
  readonly cb: ConnectionCallback;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** mysql2 answered (a connection or an error); it may do so synchronously (`Queue limit reached.`). */
  answered = false;
  timedOut = false;
  discarded = 0;

  constructor(lease: Lease, cb: ConnectionCallback) {
    this.lease = lease;
    this.cb = cb;
  }
}

type WaiterCallback = ConnectionCallback & { [kWaiter]?: Waiter };

interface State {
  readonly core: GuardCore;
  readonly pool: CorePoolLike;
  readonly getConnection: CorePoolLike['getConnection'];
  readonly query: CorePoolLike['query'];
  readonly execute: CorePoolLike['execute'];
  readonly releaseConnection: CorePoolLike['releaseConnection'];
  readonly end: CorePoolLike['end'];
  /** `db.system.name`, from the first connection's handshake. */
  readonly server: { system: 'mysql' | 'mariadb' | undefined };
}

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
 * apply when they differ. The pool's methods are wrapped in place; it gains a `guard` property.
 * Anything but a mysql2 pool is refused with a `TypeError`, untouched.
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

function install(pool: CorePoolLike, config: ResolvedGuardConfig): State {
  const server: { system: 'mysql' | 'mariadb' | undefined } = { system: undefined };
  const closed = (): boolean => pool._closed === true;
  // db.system.name is known once a connection has shaken hands: mysql2 reads it from the server's version string.
  const core = attachGuard(pool, config, {
    inFlight: commandInFlight,
    transaction: serverTransaction,
    reclaim: reclaimConnection,
    counts: () => ({
      total: pool._allConnections?.length ?? 0,
      idle: pool._freeConnections?.length ?? 0,
      waiting: pool._connectionQueue?.length ?? 0,
      // mysql2's connectionLimit 0 means no limit.
      max: pool.config?.connectionLimit || Infinity,
      min: 0,
    }),
    retireIdle: (record) => retireIdleConnection(pool, record),
    recordOf: (resource) => (resource as ConnectionLike | null)?.[kRecord],
    words: { library: 'mysql2', awaitUsing: 'await using conn = await pool.getConnection()', connectCall: 'getConnection()', sessions: MYSQL_SESSIONS },
  }, { dbSystem: () => server.system, ended: closed });
  const state: State = {
    core,
    pool,
    getConnection: pool.getConnection,
    query: pool.query,
    execute: pool.execute,
    releaseConnection: pool.releaseConnection,
    end: pool.end,
    server,
  };
  const target = pool as CorePoolLike & Record<string, unknown>;

  target.getConnection = function getConnection(this: CorePoolLike, cb: WaiterCallback): void {
    // mysql2 re-dispatches a queued caller through getConnection when a connection leaves the
    // pool: that caller already has its lease.
    if (typeof cb === 'function' && cb[kWaiter] !== undefined) return state.getConnection.call(this, cb);
    // Captured in this frame, not in a helper: see GuardCore.prepareCapture.
    const capture = core.prepareCapture();
    if (capture !== undefined) Error.captureStackTrace(capture, getConnection);
    requestConnection(state, this, cb, capture);
  };
  target.query = function query(this: CorePoolLike, ...args: unknown[]): unknown {
    // mysql2's query() calls this.getConnection() synchronously: that checkout becomes a `query` lease.
    const capture = core.prepareManagedCapture();
    if (capture !== undefined) Error.captureStackTrace(capture, query);
    return core.runManaged(capture, () => state.query.apply(this, args));
  };
  target.execute = function execute(this: CorePoolLike, ...args: unknown[]): unknown {
    const capture = core.prepareManagedCapture();
    if (capture !== undefined) Error.captureStackTrace(capture, execute);
    return core.runManaged(capture, () => state.execute.apply(this, args));
  };
  target.releaseConnection = function releaseConnection(this: CorePoolLike, connection: ConnectionLike): void {
    releaseThrough(state, this, connection, releaseConnection);
  };
  target.end = function end(this: CorePoolLike, cb?: (err?: Error | null) => void): void {
    if (this._closed) return state.end.call(this, cb);
    core.endStarted('pool.end()');
    state.end.call(this, (err) => {
      core.endFinished();
      if (typeof cb === 'function') cb(err);
      else if (err) throw err;
    });
  };
  if (typeof pool.promise === 'function') {
    const promise = pool.promise;
    // mysql2 builds a new promise pool on each call; each carries the handle.
    target.promise = function promiseWithGuard(this: CorePoolLike, promiseImpl?: PromiseConstructor): unknown {
      const wrapper = promise.call(this, promiseImpl) as object;
      Object.defineProperty(wrapper, 'guard', { value: core.handle, enumerable: false, configurable: true });
      return wrapper;
    };
  }
  return state;
}

function requestConnection(state: State, pool: CorePoolLike, cb: ConnectionCallback, capture: CapturedStack | undefined): void {
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
      return core.checkoutGranted(lease, record);
    }
  }
  const waiter = new Waiter(lease, cb);
  const answer: WaiterCallback = (err, connection) => answered(state, waiter, answer, err, connection);
  // Only a caller mysql2 may queue can come back through getConnection (see there); a free
  // connection is handed over directly, and the mark would cost every such checkout.
  if (!ready) answer[kWaiter] = waiter;
  try {
    state.getConnection.call(pool, answer);
  } catch (err) {
    // Whatever mysql2 throws goes to the caller unchanged; the lease leaves the ledger.
    if (!waiter.answered) state.core.checkoutFailed(lease, false);
    throw err;
  }
  // A free connection is handed over on mysql2's next tick: only a caller that waits (queued, or
  // for a new connection to open) needs a timer.
  const timeoutMs = core.config.acquireTimeoutMs;
  if (timeoutMs > 0 && !ready && !waiter.answered) {
    waiter.timer = setTimeout(() => timedOut(state, pool, waiter, answer), timeoutMs);
  }
}

/**
 * guard.acquireTimeoutMs passed: the caller is taken out of mysql2's queue (so that no connection
 * is later handed to nobody) and gets the error naming who holds the connections. A connection
 * still opening for it is put back in the pool when it arrives.
 */
function timedOut(state: State, pool: CorePoolLike, waiter: Waiter, answer: WaiterCallback): void {
  waiter.timer = undefined;
  if (waiter.answered) return;
  waiter.timedOut = true;
  const queue = pool._connectionQueue;
  if (queue !== undefined && typeof queue.removeOne === 'function') {
    for (let i = 0; i < queue.length; i++) {
      if (queue.get(i) === answer) {
        queue.removeOne(i);
        break;
      }
    }
  }
  const { acquireTimeoutMs, name } = state.core.config;
  const message = `poolguard[${name}]: no connection became free within guard.acquireTimeoutMs (${acquireTimeoutMs} ms); mysql2 alone would have waited for ever.`;
  waiter.cb(state.core.checkoutTimedOut(waiter.lease, message, undefined));
}

function answered(state: State, waiter: Waiter, answer: WaiterCallback, err: Error | null, connection: mysql.PoolConnection | undefined): void {
  const { core } = state;
  const { lease } = waiter;
  const c = connection as unknown as ConnectionLike | undefined;
  waiter.answered = true;
  if (waiter.timedOut) {
    // The caller has its timeout error; a connection that opened for it goes to the next caller.
    if (!err && c !== undefined) {
      if (c[kRecord] === undefined) register(state, c);
      c.release();
    }
    return;
  }
  if (waiter.timer !== undefined) {
    clearTimeout(waiter.timer);
    waiter.timer = undefined;
  }
  if (err || c === undefined) {
    const refused = err != null && err.message === CLOSED_MESSAGE ? core.checkoutRefusedAtEnd(lease, err, false) : undefined;
    if (refused !== undefined) return waiter.cb(refused);
    core.checkoutFailed(lease, false);
    return waiter.cb(err);
  }
  const record = c[kRecord] ?? register(state, c);
  if (!core.recycles && !core.validates) return handOut(state, waiter, record, c);
  const next = core.admission(lease, record, waiter.discarded);
  if (next === 'retire') {
    // mysql2 then serves this caller again.
    waiter.discarded++;
    c.destroy();
    return askAgain(state, waiter, answer);
  }
  if (next === 'validate') {
    return core.validateConnection(record, c, () => new Promise<void>((resolve, reject) => c.ping((err) => (err ? reject(err) : resolve()))), (validationErr) => {
      if (validationErr === undefined) return handOut(state, waiter, record, c);
      c.destroy();
      if (core.validationDiscarded(lease, record, validationErr, ++waiter.discarded)) return waiter.cb(validationErr);
      askAgain(state, waiter, answer);
    });
  }
  handOut(state, waiter, record, c);
}

/** A discarded connection's caller asks mysql2 again, with the time left of its acquire timeout. */
function askAgain(state: State, waiter: Waiter, answer: WaiterCallback): void {
  waiter.answered = false;
  answer[kWaiter] = waiter;
  state.getConnection.call(state.pool, answer);
  const timeoutMs = state.core.config.acquireTimeoutMs;
  if (timeoutMs > 0 && !waiter.answered) {
    const left = Math.max(0, timeoutMs - (state.core.clock.now() - waiter.lease.requestedAt));
    waiter.timer = setTimeout(() => timedOut(state, state.pool, waiter, answer), left);
  }
}

function handOut(state: State, waiter: Waiter, record: ConnectionRecord, connection: ConnectionLike): void {
  state.core.checkoutGranted(waiter.lease, record);
  waiter.cb(null, connection as unknown as mysql.PoolConnection);
}

/**
 * Every way a connection goes back passes `pool.releaseConnection`: `conn.release()`, the pool's
 * own query()/execute(), and mysql2's removal of a connection that was destroyed, failed or sat
 * idle too long (then `_pool` is already null).
 */
function releaseThrough(state: State, pool: CorePoolLike, connection: ConnectionLike, above: Function): void {
  const { core } = state;
  const record = connection?.[kRecord];
  if (record === undefined) return state.releaseConnection.call(pool, connection);
  const lease = record.lease;
  if (connection._pool == null) {
    // Out of the pool: destroyed by its holder or by poolguard, or dead (the error that ended it
    // says how: the server closing the session is `terminated`).
    const failure = connectionFailure(connection);
    const failed = failure === undefined ? 'error' : errorReason(failure);
    if (lease !== undefined && !lease.released && !lease.reclaimed) {
      core.markRetiring(record, failed);
      core.released(lease, above, DOUBLE_RELEASE_MESSAGE);
    }
    core.connectionRemoved(record, pool._closed ? 'ended' : lease === undefined && failure === undefined ? 'idle' : failed);
    return state.releaseConnection.call(pool, connection);
  }
  if (lease === undefined || lease.released) {
    // pool.releaseConnection(conn) a second time: mysql2 would put the connection in its free
    // list twice and later hand it to two callers at once.
    const last = record.last;
    if (last !== undefined && inFreeList(pool, connection)) return doubleRelease(state, last, above);
    return state.releaseConnection.call(pool, connection);
  }
  // Read before core.released(), which drops the checkout stack that a dirty release reports.
  const dirty = !lease.reclaimed && serverTransaction(connection) !== undefined ? core.dirtyReleased(lease, 'open', above).action : undefined;
  if (!core.released(lease, above, DOUBLE_RELEASE_MESSAGE)) return;
  if (dirty !== undefined) return releaseDirty(state, pool, lease, connection, dirty);
  if (core.recycles && core.dueForRetirement(record) !== undefined) {
    // mysql2 hands the caller in its queue a fresh connection when this one leaves.
    return connection.destroy();
  }
  state.releaseConnection.call(pool, connection);
}

/** Released inside a transaction: closed, or rolled back first, per guard.dirtyRelease. */
function releaseDirty(state: State, pool: CorePoolLike, lease: Lease, connection: ConnectionLike, action: 'destroy' | 'rollback'): void {
  const { core } = state;
  if (action === 'destroy') return connection.destroy();
  connection.query('ROLLBACK', (rollbackErr: Error | null) => {
    // A connection that cannot even roll back, or is still in a transaction, is closed.
    if (rollbackErr || serverTransaction(connection) !== undefined) {
      if (lease.conn) core.markRetiring(lease.conn, 'dirty');
      return connection.destroy();
    }
    state.releaseConnection.call(pool, connection);
  });
}

function doubleRelease(state: State, last: Lease, above: Function): void {
  try {
    state.core.released(last, above, DOUBLE_RELEASE_MESSAGE);
  } catch (err) {
    // mysql2 ignores a second release(), so the error is logged, not thrown: with its stack, which
    // is the second release() (the checkout stack is not kept after the first).
    state.core.log('warn', `double release ${last.id}`, { pool: state.core.config.name, leaseId: last.id, err }, (err as Error).stack ?? (err as Error).message);
  }
}

function register(state: State, connection: ConnectionLike): ConnectionRecord {
  const { core } = state;
  const record = core.connectionOpened(connection);
  if (typeof connection.threadId === 'number') record.pid = connection.threadId;
  if (typeof connection._isMariaDB === 'boolean') state.server.system ??= connection._isMariaDB ? 'mariadb' : 'mysql';
  Object.defineProperty(connection, kRecord, { value: record, configurable: true });
  onCommandDone(connection, () => core.connectionActive(record));
  // mysql2 ignores a second release() of a connection; poolguard says where it happened.
  const release = connection.release;
  connection.release = function releaseOnce(this: ConnectionLike): void {
    // Checked first: a connection being released for the first time reads nothing else.
    if (this._released) {
      const last = this[kRecord]?.last;
      if (this._pool != null && !this._pool._closed && last !== undefined && this[kRecord]?.lease === undefined && !releasedByDisposer(releaseOnce)) doubleRelease(state, last, releaseOnce);
    }
    return release.call(this);
  };
  return record;
}

/** `host:port/database` from mysql2's options, its connection URL (a string or `uri`), or the config it kept. */
function mysqlName(options: unknown): string {
  return defaultName(options, { host: 'localhost', port: 3306, database: '(none)' });
}

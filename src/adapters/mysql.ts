import mysql from 'mysql';
import { resolveGuardConfig, splitGuardOptions, type GuardOptions, type ResolvedGuardConfig } from '../core/config.js';
import type { LeaseReclaimedError } from '../core/errors.js';
import { describeValue } from '../core/pool-kind.js';
import { errorReason } from '../core/recycle-policy.js';
import type { PoolGuard } from '../core/guard.js';
import type { ConnectionRecord, Lease } from '../core/ledger.js';
import { defaultName } from './default-name.js';
import { disposeLease } from './disposal.js';
import { MYSQL_SESSIONS } from './driver-words.js';
import { attachGuard, guardedAlready, logDoubleRelease, removalReason, watchEndCallback } from './kit.js';
import { commandIsThePools, mysqlInFlight, mysqlTransaction, onMysqlCommandDone } from './mysql-connection.js';
import { askFailed, isWaiting, openWait, releaseLease, waitAsked, type QueuedPool } from './queued-checkout.js';

// mysql's own code for a pool that has ended ("Pool is closed."), matched to tell the caller why.
const CLOSED_CODE = 'POOL_CLOSED';
// mysql throws this itself for a connection released twice while it sits in the free list.
const DOUBLE_RELEASE_MESSAGE = 'Connection already released';

const kRecord = Symbol('poolguard.mysql.connection');

type ConnectionCallback = (err: mysql.MysqlError | null, connection?: mysql.PoolConnection) => void;

/** The structural shape of mysql's Pool (`lib/Pool.js` of mysql 2.x) that `guard()` reads and wraps. */
interface CorePoolLike {
  getConnection(cb: ConnectionCallback): void;
  query(...args: unknown[]): unknown;
  releaseConnection(connection: unknown): void;
  end(cb?: (err?: Error | null) => void): void;
  config: { connectionLimit?: number; connectionConfig?: Record<string, unknown> };
  _allConnections: unknown[];
  _freeConnections: unknown[];
  _connectionQueue: unknown[];
  _acquiringConnections: unknown[];
  _closed: boolean;
}

/** A mysql sequence (a command): what the reclaim reads and ends. */
interface SequenceLike {
  constructor: { name?: string };
  _callback?: unknown;
  end(err?: Error | null): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  listenerCount(event: string): number;
}

/** What poolguard reads and wraps on one of mysql's PoolConnections. */
interface ConnectionLike {
  _pool: CorePoolLike | null;
  _protocol: { _queue: SequenceLike[]; _fatalError?: unknown; _handshakeInitializationPacket?: { serverVersion?: unknown } | null };
  threadId: number | null;
  constructor: { super_?: { createQuery?(sql: unknown, values: unknown, cb: unknown): SequenceLike } };
  release(): void;
  destroy(): void;
  query(...args: unknown[]): unknown;
  ping(cb: (err: Error | null) => void): unknown;
  once(event: string, listener: () => void): unknown;
  [kRecord]?: ConnectionRecord;
}

interface State extends QueuedPool<ConnectionLike> {
  readonly pool: CorePoolLike;
  readonly getConnection: CorePoolLike['getConnection'];
  readonly releaseConnection: CorePoolLike['releaseConnection'];
  /** Set once the pool's end has begun: connections then leave as `ended`. */
  ending: boolean;
  /** `db.system.name`, from the first connection's handshake (its server version). */
  system: 'mysql' | 'mariadb' | undefined;
}

/**
 * mysql's pool options with poolguard's under `guard`.
 * @public
 */
export interface GuardedPoolOptions extends mysql.PoolConfig {
  /** poolguard's own options; never passed on to mysql. */
  guard?: GuardOptions;
}

/**
 * mysql's own `Pool`, with poolguard's handle.
 * @public
 */
export type GuardedPool = mysql.Pool & {
  /** poolguard's handle: leak events, `snapshot()`. */
  readonly guard: PoolGuard;
};

/**
 * Drop-in for mysql's `createPool`: the same options (plus `guard`), or a connection URL.
 * Returns mysql's own `Pool`, guarded.
 * @public
 */
export function createPool(options: GuardedPoolOptions | string): GuardedPool {
  const { pool: poolOptions, guard: guardOptions } = splitGuardOptions<mysql.PoolConfig | string>(options);
  // mysql opens nothing before the first checkout: a refused guard option leaves no pool behind.
  const pool = mysql.createPool(poolOptions) as unknown as CorePoolLike;
  install(pool, resolveGuardConfig(guardOptions, poolName(pool)));
  return pool as unknown as GuardedPool;
}

/**
 * Guards a mysql pool someone else built (Knex's `mysql` client builds none: see `poolguard/knex`).
 * Idempotent, even across two copies of poolguard: a second call returns the same handle, and
 * logs the options it did not apply when they differ. Anything but a mysql pool is refused with a
 * `TypeError`, untouched.
 * @public
 */
export function guard(pool: mysql.Pool, options?: GuardOptions): PoolGuard {
  const target = pool as unknown as CorePoolLike | null;
  if (!isMysqlPool(target)) throw new TypeError(`guard(pool) needs a mysql pool (mysql's createPool(…), or createPool from 'poolguard/mysql') for 'poolguard/mysql', got ${describeValue(target)}.`);
  const resolve = (o: GuardOptions | undefined): ResolvedGuardConfig => resolveGuardConfig(o, poolName(target));
  return guardedAlready(target, options, resolve) ?? install(target, resolve(options)).core.handle;
}

/** mysql's Pool, from any copy of mysql: the arrays mysql 2.x keeps and mysql2's pools do not. */
function isMysqlPool(value: unknown): value is CorePoolLike {
  if (value === null || typeof value !== 'object') return false;
  const o = value as Partial<CorePoolLike> & { execute?: unknown };
  return (
    typeof o.getConnection === 'function' &&
    typeof o.releaseConnection === 'function' &&
    typeof o.end === 'function' &&
    o.execute === undefined &&
    Array.isArray(o._allConnections) &&
    Array.isArray(o._freeConnections) &&
    Array.isArray(o._connectionQueue) &&
    Array.isArray(o._acquiringConnections) &&
    typeof o.config?.connectionConfig === 'object'
  );
}

function install(pool: CorePoolLike, config: ResolvedGuardConfig): State {
  let state: State | undefined;
  const core = attachGuard(
    pool,
    config,
    {
      inFlight: mysqlInFlight,
      transaction: mysqlTransaction,
      reclaim: reclaimConnection,
      counts: () => ({
        total: pool._allConnections.length,
        idle: pool._freeConnections.length,
        waiting: pool._connectionQueue.length,
        // mysql's connectionLimit 0 means no limit.
        max: pool.config.connectionLimit || Infinity,
        min: 0,
      }),
      retireIdle: (record) => retireIdleConnection(pool, record),
      recordOf: (resource) => (resource as ConnectionLike | null)?.[kRecord],
      words: {
        library: 'mysql',
        connectCall: 'getConnection()',
        sessions: MYSQL_SESSIONS,
        // mysql pings a free connection before handing it out: a server that stopped answering
        // holds every checkout at that ping, with no lease open.
        noLease: 'mysql could not open a connection in time, nor get an answer to the ping it sends before handing a free one out (is the server reachable, and does it answer?)',
        closedAtEnd: "mysql's end closes every connection, checked out or not, once what runs on it has finished",
        closedError: `mysql's error "Cannot enqueue Query after invoking quit." (code PROTOCOL_ENQUEUE_AFTER_QUIT)`,
      },
    },
    { dbSystem: () => state?.system, ended: () => pool._closed },
  );
  const getConnection = pool.getConnection;
  const releaseConnection = pool.releaseConnection;
  const s: State = {
    core,
    pool,
    getConnection,
    releaseConnection,
    ending: false,
    system: undefined,
    // Bound, not a closure: a bound function adds no frame to the stack mysql captures at the ping.
    ask: getConnection.bind(pool) as QueuedPool<ConnectionLike>['ask'],
    dequeue: (answer) => {
      const at = pool._connectionQueue.indexOf(answer);
      if (at !== -1) pool._connectionQueue.splice(at, 1);
    },
    recordOf: (connection) => connection[kRecord] ?? register(s, connection),
    putBack: (connection) => releaseConnection.call(pool, connection),
    destroy: (connection) => connection.destroy(),
    ping: (connection) => new Promise<void>((resolve, reject) => connection.ping((e) => (e ? reject(e) : resolve()))),
    run: (connection, sql, done) => connection.query(sql, done),
    transaction: mysqlTransaction,
    // Handed out from inside the reply to mysql's ping: that command's end is not the holder's.
    granted: (_lease, record) => commandIsThePools(record.resource),
    refused: (lease, err) => {
      core.checkoutFailed(lease, false);
      // mysql's error stays as it is (class, code, message); why the pool is closed goes in its fields, its stack and the log.
      if (err != null && (err as mysql.MysqlError).code === CLOSED_CODE) core.noteRefusedAtEnd(err);
    },
    timeoutWords: "mysql alone would have waited for ever (its acquireTimeout bounds a connect or ping, not the wait for a free connection).",
    doubleReleaseWords: DOUBLE_RELEASE_MESSAGE,
  };
  state = s;
  const target = pool as CorePoolLike & Record<string, unknown>;
  const query = pool.query;
  const end = pool.end;

  target.getConnection = function getConnection_(this: CorePoolLike, cb: ConnectionCallback): void {
    // mysql serves a queued caller, and one whose free connection failed its ping, by calling
    // getConnection again with the same callback: that caller already has its lease.
    if (isWaiting(cb)) return getConnection.call(this, cb);
    // Captured in this frame, not in a helper: see GuardCore.prepareCapture.
    const capture = core.prepareCapture();
    if (capture !== undefined) Error.captureStackTrace(capture, getConnection_);
    // mysql pings a free connection before handing it out: every checkout waits at least a round
    // trip, and so may queue (and come back through getConnection).
    const lease = core.checkoutRequested('connect', capture, 'query');
    // waitForConnection's steps, with mysql asked from this frame: mysql captures a stack at the
    // ping (its `trace`), and every frame here is one more it walks and summarises.
    const waiter = openWait(s, lease, cb as (err: Error | null, connection?: ConnectionLike) => void, true);
    try {
      getConnection.call(this, waiter.answer as ConnectionCallback);
    } catch (err) {
      askFailed(s, waiter);
      throw err;
    }
    waitAsked(s, waiter);
  };
  target.query = function query_(this: CorePoolLike, sql: unknown, values: unknown, cb: unknown): unknown {
    // mysql's query() calls this.getConnection() synchronously: that checkout becomes a `query` lease.
    const capture = core.prepareManagedCapture();
    if (capture !== undefined) Error.captureStackTrace(capture, query_);
    // mysql captures a stack in query() and in the ping of every checkout (its `trace`, on by
    // default), ten frames deep: the pool is called from this frame, with no closure, no
    // runManaged and no copy of the arguments: poolguard puts one frame, not three, above the
    // caller's, and V8 summarises every optimised frame it walks (benchmarks/RESULTS.md). The
    // three parameters are mysql's own (its query() reads no others): forwarding `arguments` with
    // apply instead measured about 2,300 instructions a query more (mysql-loop-profile; where
    // they went was not established).
    core.enterManaged(capture);
    try {
      return query.call(this, sql, values, cb);
    } finally {
      core.leaveManaged();
    }
  };
  target.releaseConnection = function releaseConnection_(this: CorePoolLike, connection: ConnectionLike): void {
    releaseThrough(s, this, connection, releaseConnection_);
  };
  target.end = function end_(this: CorePoolLike, cb?: (err?: Error | null) => void): void {
    if (this._closed) return end.call(this, cb);
    s.ending = true;
    watchEndCallback(core, 'pool.end()', (finished: (err?: Error | null) => void) => end.call(this, finished), (err?: Error | null) => {
      if (typeof cb === 'function') cb(err);
      else if (err) throw err;
    });
  };
  return s;
}

/**
 * Every way a connection goes back passes `pool.releaseConnection`: `conn.release()`, the pool's
 * own query(), and mysql's removal of a connection that was destroyed, failed, or purged by the
 * pool's end (then `_pool` is already null).
 */
function releaseThrough(state: State, pool: CorePoolLike, connection: ConnectionLike, above: Function): void {
  const record = connection?.[kRecord];
  if (record === undefined) return state.releaseConnection.call(pool, connection);
  const lease = record.lease;
  if (connection._pool == null) return removed(state, pool, connection, record, above);
  if (lease === undefined || lease.released) {
    // mysql throws its own error for this (a connection already in the free list); poolguard
    // counts it and logs both sites, and leaves the throwing to mysql.
    const last = record.last;
    if (last !== undefined && pool._freeConnections.includes(connection)) logDoubleRelease(state.core, last, above, DOUBLE_RELEASE_MESSAGE);
    return state.releaseConnection.call(pool, connection);
  }
  releaseLease(state, connection, lease, above);
}

/**
 * mysql took the connection out of the pool: destroyed, failed, or purged by `pool.end()`. A lease
 * still on it ends here, except at the end for a connection with a command running: mysql's end
 * waits for that command (its QUIT is queued behind it), so the lease stays, for the end report to
 * name and `guard.endTimeoutMs` to cut.
 */
function removed(state: State, pool: CorePoolLike, connection: ConnectionLike, record: ConnectionRecord, above: Function): void {
  const { core } = state;
  const lease = record.lease;
  const open = lease !== undefined && !lease.released && !lease.reclaimed;
  if (open && pool._closed && mysqlInFlight(connection) === true) {
    connection.once('end', () => core.endedWithPool(record, above, DOUBLE_RELEASE_MESSAGE));
    return state.releaseConnection.call(pool, connection);
  }
  // The error that ended the connection says how: the server closing the session is `terminated`.
  const failure = connection._protocol._fatalError;
  const failed = failure == null ? 'error' : errorReason(failure);
  if (open && pool._closed && failure == null) {
    // Purged by the end, under its holder: the lease ends with the pool (the endClosed report).
    core.endedWithPool(record, above, DOUBLE_RELEASE_MESSAGE);
    return state.releaseConnection.call(pool, connection);
  }
  if (open) {
    if (!pool._closed) core.markRetiring(record, failed);
    core.released(lease, above, DOUBLE_RELEASE_MESSAGE);
  }
  const ending = pool._closed || state.ending;
  core.connectionRemoved(record, !ending && failure != null ? failed : removalReason(ending, lease !== undefined));
  state.releaseConnection.call(pool, connection);
}

function register(state: State, connection: ConnectionLike): ConnectionRecord {
  const { core } = state;
  const record = core.connectionOpened(connection);
  if (typeof connection.threadId === 'number') record.pid = connection.threadId;
  const version = connection._protocol._handshakeInitializationPacket?.serverVersion;
  if (state.system === undefined && typeof version === 'string') state.system = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
  Object.defineProperty(connection, kRecord, { value: record, configurable: true });
  onMysqlCommandDone(connection, () => core.connectionActive(record));
  // `await using conn = …` (with getConnection made a promise): the lease held at the declaration
  // is released through mysql's own release(), as by hand; mysql's connections have no disposal.
  disposeLease(connection, record, (c) => {
    const release = c.release;
    return () => release.call(c);
  });
  return record;
}

/** Closes an idle connection the policy retired, through mysql's own removal. */
function retireIdleConnection(pool: CorePoolLike, record: ConnectionRecord): boolean {
  const connection = record.resource as ConnectionLike;
  if (pool._closed || record.lease !== undefined || !pool._freeConnections.includes(connection)) return false;
  connection.destroy();
  return true;
}

/**
 * Destroys a reclaimed lease's connection (mysql opens another for its queue) and makes the
 * holder's next query fail with the reclaim error instead of mysql's "after being destroyed".
 * mysql's destroy() answers none of the connection's commands: a query cut at the end deadline
 * gets the reclaim error, and the QUIT of `pool.end()` queued behind it completes, so the end does.
 */
function reclaimConnection(lease: Lease, makeError: () => LeaseReclaimedError): void {
  const connection = lease.conn?.resource as ConnectionLike | undefined;
  if (connection === undefined) return;
  const createQuery = connection.constructor.super_?.createQuery;
  connection.query = function reclaimedQuery(sql: unknown, values?: unknown, cb?: unknown): unknown {
    const error = makeError();
    const command = createQuery?.(sql, values, cb);
    process.nextTick(() => {
      if (command === undefined) return typeof cb === 'function' ? cb(error) : typeof values === 'function' && values(error);
      // A sequence emits 'error' before calling back: with a callback (or no listener at all, where
      // mysql would log it on the connection) nothing may throw from here.
      if (command.listenerCount('error') === 0) command.on('error', () => {});
      command.end(error);
    });
    return command;
  };
  const commands = connection._protocol._queue.splice(0);
  connection.destroy();
  const cut = makeError();
  for (const command of commands) command.end(command.constructor.name === 'Quit' ? null : cut);
}

/** `host:port/database` from mysql's parsed connection settings, never the user or the password. */
function poolName(pool: CorePoolLike): string {
  return defaultName(pool.config?.connectionConfig, { host: 'localhost', port: 3306, database: '(none)' });
}

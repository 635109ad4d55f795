import type { ConnectionRecord, Lease } from '../core/ledger.js';
import { errorReason } from '../core/recycle-policy.js';
import { commandsPending, connectionFailure, whenCommandsDone } from './mysql2-connection.js';
import { inFreeList, type RingQueue } from './mysql2-pool-internals.js';
import type { Route } from './mysql2-dispatch.js';
import { logDoubleRelease } from './kit.js';
import { releaseLease, type QueuedPool } from './queued-checkout.js';
import { releasedByDisposer } from './disposal.js';
import { hiddenSlot } from './hidden-slot.js';

/**
 * How a mysql2 connection goes back, seen by poolguard: `conn.release()` (and a promise wrapper's),
 * `pool.releaseConnection()`, a removal, and the calls mysql2 swallows (a release during
 * `pool.end()`, a second release). Every path ends the lease exactly once.
 */

/** On a registered connection: its record. */
export const kRecord = Symbol('poolguard.mysql2.connection');
/** On a promise wrapper (`PromisePoolConnection`, one per checkout): the lease it was released under. */
const wrapperLease = hiddenSlot<Lease>();

// mysql2 ignores a second release() in silence; poolguard keeps that and says where it happened.
export const DOUBLE_RELEASE_MESSAGE = 'release() was called on a connection that was already released; mysql2 ignored it, and so did poolguard.';

/** The structural shape of mysql2's callback pool that `guard()` needs. */
export interface CorePoolLike {
  getConnection(cb: (err: Error | null, connection?: any) => void): void;
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

/** A query command mysql2 builds (`Connection.createQuery`). */
export interface QueryCommand {
  onResult?: (err: Error) => void;
  emit(event: string, err: Error): boolean;
}

/** What poolguard reads and wraps on one of mysql2's PoolConnections. */
export interface ConnectionLike {
  _pool: CorePoolLike | null;
  _released: boolean;
  _command?: unknown;
  _commands?: { readonly length: number; shift?(): unknown };
  stream?: { destroy?(): void };
  threadId?: number | null;
  _isMariaDB?: boolean;
  config?: unknown;
  constructor: { createQuery?(sql: unknown, values: unknown, cb: unknown, config: unknown): QueryCommand };
  release(): void;
  destroy(): void;
  query(...args: unknown[]): unknown;
  execute(...args: unknown[]): unknown;
  ping(cb: (err: Error | null) => void): unknown;
  [kRecord]?: ConnectionRecord;
}

/** One guarded pool: its core and mysql2's own methods, as they were before routing. */
export interface State extends QueuedPool<ConnectionLike> {
  readonly pool: CorePoolLike;
  readonly getConnection: CorePoolLike['getConnection'];
  readonly releaseConnection: CorePoolLike['releaseConnection'];
  /** `db.system.name`, from the first connection's handshake. */
  readonly server: { system: 'mysql' | 'mariadb' | undefined };
  /** Connections released with commands still running: back to mysql2 once those are done. */
  readonly deferred: Set<ConnectionLike>;
  /** The routes of every connection of the pool (`connectionRoutes`). */
  connectionRoutes: Record<string, Route>;
  /** What ended the pool, in reports (`pool.end()` unless a cluster says otherwise). */
  endCall?: () => string;
}

/**
 * Every way a connection goes back passes `pool.releaseConnection`: `conn.release()`, the pool's
 * own query()/execute(), and mysql2's removal of a connection that was destroyed, failed or sat
 * idle too long (then `_pool` is already null).
 */
export function releaseThrough(state: State, pool: CorePoolLike, connection: ConnectionLike, above: Function): void {
  const { core } = state;
  const record = connection?.[kRecord];
  if (record === undefined) return state.releaseConnection.call(pool, connection);
  const lease = record.lease;
  if (connection._pool == null) {
    // Out of the pool: destroyed by its holder or by poolguard, or dead (the error that ended it
    // says how: the server closing the session is `terminated`).
    if (state.deferred.size > 0) state.deferred.delete(connection);
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
    if (last !== undefined && inFreeList(pool, connection)) return doubleRelease(state, last, above, connection);
    return state.releaseConnection.call(pool, connection);
  }
  // Released with a command still to run (a BEGIN or a COMMIT not awaited): what the session is
  // in is known once it has run, and the next caller must not get it before.
  if (!lease.reclaimed && commandsPending(connection)) {
    state.deferred.add(connection);
    whenCommandsDone(connection, () => {
      if (!state.deferred.delete(connection) || connection._pool == null || lease.released) return;
      finishRelease(state, pool, connection, lease, above);
    });
    return;
  }
  finishRelease(state, pool, connection, lease, above);
}

function finishRelease(state: State, pool: CorePoolLike, connection: ConnectionLike, lease: Lease, above: Function): void {
  const { core } = state;
  if (pool._closed) {
    core.released(lease, above, DOUBLE_RELEASE_MESSAGE);
    return;
  }
  releaseLease(state, connection, lease, above);
}

/** A lease ended because the pool is ending: mysql2's release() returns without telling the pool then. */
function releasedAtEnd(state: State, connection: ConnectionLike, above: Function): void {
  const lease = connection[kRecord]?.lease;
  if (state.deferred.size > 0) state.deferred.delete(connection);
  if (lease !== undefined && !lease.released && !lease.reclaimed) state.core.released(lease, above, DOUBLE_RELEASE_MESSAGE);
}

/** `pool.end()` began: connections held back for their last commands are their holders' no more. */
export function endDeferred(state: State): void {
  for (const connection of [...state.deferred]) releasedAtEnd(state, connection, endDeferred);
}

/**
 * A second release: mysql2 ignores it, poolguard counts it and logs it (never throws). `connection`
 * tells which lease had the connection before `last`: with the callback API every holder has the
 * same connection object, so poolguard cannot tell whose release() each call was.
 */
function doubleRelease(state: State, last: Lease, above: Function, connection: ConnectionLike | undefined): void {
  const previous = last.token as Lease | undefined;
  const words =
    previous === undefined || connection === undefined
      ? DOUBLE_RELEASE_MESSAGE
      : `${DOUBLE_RELEASE_MESSAGE} mysql2's callback API hands every holder the same connection object, so poolguard cannot tell whose release() each call was: ` +
        `the connection's lease before lease #${last.id} was lease #${previous.id} (${previous.kind}()); if its holder called release() again after its own release, that call ended lease #${last.id} while #${last.id}'s holder was still using the connection. ` +
        `poolguard/mysql2/promise tells the holders apart and refuses such a release.`;
  logDoubleRelease(state.core, last, above, words);
}

/** Routes for a registered PoolConnection (`release`, `destroy`) and its promise wrapper (`wrappedRelease`). */
export function connectionRoutes(state: State): Record<string, Route> {
  const release: Route = (connection: ConnectionLike, original, above) => {
    if (!connection._released) {
      const pool = connection._pool;
      // mysql2 returns without telling the pool once end() has begun: the lease ends here.
      if (pool != null && pool._closed === true) releasedAtEnd(state, connection, above);
      return original.call(connection);
    }
    // Checked first: a connection being released for the first time reads nothing else.
    const record = connection[kRecord];
    const last = record?.last;
    // mysql2's own disposal of a connection its holder released already (the end of an `await
    // using` scope, or `using`) is not a double release: mysql2 ignores it, and so does poolguard.
    if (connection._pool != null && !connection._pool._closed && last !== undefined && record!.lease === undefined && !releasedByDisposer(above)) doubleRelease(state, last, above, connection);
    return original.call(connection);
  };
  const destroy: Route = (connection: ConnectionLike, original, above) => {
    const pool = connection._pool;
    if (pool != null && pool._closed === true) releasedAtEnd(state, connection, above);
    return original.call(connection);
  };
  const wrappedRelease: Route = (wrapper: { connection?: ConnectionLike }, original, above) => {
    const record = wrapper.connection?.[kRecord];
    if (record === undefined) return original.call(wrapper);
    const own = wrapperLease.get(wrapper);
    const current = record.lease;
    if (own === undefined) {
      // A promise pool wraps each checkout in its own object: the lease it holds is the one it releases.
      if (current !== undefined) wrapperLease.set(wrapper, current);
      return original.call(wrapper);
    }
    if (own === current || own.reclaimed) return original.call(wrapper);
    // The end of the `await using` scope of a connection its holder released already: nothing to
    // release, no double release; the connection, if another holder has it now, stays theirs.
    if (releasedByDisposer(above)) return;
    lateRelease(state, own, current, above);
  };
  return { release, destroy, wrappedRelease };
}

/**
 * A promise wrapper's release() after its lease ended: the connection is free, or already another
 * holder's. It is not passed on: mysql2 would put the connection back while that holder uses it,
 * and hand it to a third caller too.
 */
function lateRelease(state: State, own: Lease, current: Lease | undefined, above: Function): void {
  if (current === undefined) return logDoubleRelease(state.core, own, above, DOUBLE_RELEASE_MESSAGE);
  const now = `connection #${current.conn?.id ?? '?'} now belongs to lease #${current.id} (checked out at ${state.core.whereTaken(current).where}): poolguard did not pass it on, so lease #${current.id} keeps its connection (plain mysql2 would put it back in the pool while its holder still uses it)`;
  logDoubleRelease(state.core, own, above, `release() was called again through the connection object of lease #${own.id}, which had already been released; ${now}.`);
}

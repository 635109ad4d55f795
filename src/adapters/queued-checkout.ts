/**
 * The checkout and release of a pool that queues its callers and answers each on a callback,
 * `getConnection(cb)`: mysql2's pool and mysql's, which mysql2 copied. Written once for both; each
 * adapter says how its pool is asked, how a caller leaves its queue, and how its connections are
 * pinged, closed and put back.
 */
import type { GuardCore } from '../core/guard.js';
import type { ConnectionRecord, Lease } from '../core/ledger.js';
import { admit, releaseChecked } from './kit.js';

const kWaiter = Symbol('poolguard.queued.waiter');
const noAnswer = (): void => {};

/** A connection that goes back to its pool by itself (`connection.release()`). */
export interface Releasable {
  release(): void;
}

type Answer<C> = (err: Error | null, connection?: C) => void;

/** What the shared checkout needs of one guarded pool of connections `C`. */
export interface QueuedPool<C extends Releasable> {
  readonly core: GuardCore;
  /** The pool's own getConnection, with poolguard's callback. */
  ask(answer: Answer<C>): void;
  /** Takes a callback out of the pool's queue of callers, if it is there. */
  dequeue(answer: Answer<C>): void;
  /** The connection's record, opened on first sight. */
  recordOf(connection: C): ConnectionRecord;
  /** Puts a connection back in the pool (its own release). */
  putBack(connection: C): void;
  /** Closes a connection; the pool opens another for its queue. */
  destroy(connection: C): void;
  /** The check of a connection idle past `guard.validateAfterIdleMs` (a ping). */
  ping(connection: C): Promise<void>;
  /** Runs a statement on the connection (the ROLLBACK of a dirty release). */
  run(connection: C, sql: string, done: (err: Error | null) => void): void;
  /** The transaction the connection's session is in, read without a round trip. */
  transaction(connection: C): 'open' | undefined;
  /** The connection is about to be handed to `lease` (mysql2 keeps the lease it had before). */
  granted?(lease: Lease, record: ConnectionRecord): void;
  /** The pool answered a caller with an error: poolguard's part before the caller gets it unchanged. */
  refused(lease: Lease, err: Error | null): void;
  /** The sentence of the timeout error: what the driver alone would have done. */
  readonly timeoutWords: string;
  /** Said of a second release, which the driver ignores or refuses itself. */
  readonly doubleReleaseWords: string;
}

/** One getConnection() call: its lease, until the pool answers or the wait times out. */
export class Waiter<C extends Releasable> {
  readonly lease: Lease;
  readonly cb: Answer<C>;
  /** The caller may wait in the pool's queue (see {@link waitForConnection}). */
  readonly queued: boolean;
  /** poolguard's callback, which the pool is given. */
  answer: Answer<C> = noAnswer;
  /** Who gets a timeout instead of `cb`, when set (a pool cluster's own callback). */
  direct: Answer<C> | undefined = undefined;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** The pool answered (a connection or an error); it may do so synchronously. */
  answered = false;
  timedOut = false;
  discarded = 0;

  constructor(lease: Lease, cb: Answer<C>, queued: boolean) {
    this.lease = lease;
    this.cb = cb;
    this.queued = queued;
  }
}

/**
 * Whether `cb` is poolguard's own callback of a caller already waiting: both pools serve a queued
 * caller (or one whose connection failed its check) by calling getConnection again with it.
 */
export function isWaiting(cb: unknown): boolean {
  return typeof cb === 'function' && (cb as { [kWaiter]?: unknown })[kWaiter] !== undefined;
}

/**
 * Asks the pool for a connection for `lease`, answering `cb` once the pool does (with admission:
 * retire, validate, ask again) or once `guard.acquireTimeoutMs` has passed. `queued`: the caller
 * may wait in the pool's queue (no connection is free now), and so may come back through
 * getConnection (see {@link isWaiting}) and needs a timer. Whatever the pool throws goes to the
 * caller unchanged, the lease leaving the ledger. `direct`: who gets the timeout error instead of `cb`.
 */
export function waitForConnection<C extends Releasable>(pool: QueuedPool<C>, lease: Lease, cb: Answer<C>, queued: boolean, direct?: Answer<C>): void {
  const waiter = openWait(pool, lease, cb, queued, direct);
  try {
    pool.ask(waiter.answer);
  } catch (err) {
    askFailed(pool, waiter);
    throw err;
  }
  waitAsked(pool, waiter);
}

/**
 * The first step of {@link waitForConnection}, for an adapter that asks its pool in its own frame
 * (mysql: every frame between the caller and the pool lengthens the stack mysql captures at each
 * checkout): the waiter, whose `answer` the pool is given; then {@link askFailed} if the pool threw,
 * else {@link waitAsked}.
 */
export function openWait<C extends Releasable>(pool: QueuedPool<C>, lease: Lease, cb: Answer<C>, queued: boolean, direct?: Answer<C>): Waiter<C> {
  const waiter = new Waiter(lease, cb, queued);
  waiter.direct = direct;
  const answer: Answer<C> & { [kWaiter]?: Waiter<C> } = (err, connection) => answered(pool, waiter, err, connection);
  // The mark would cost every checkout of a free connection, which never comes back.
  if (queued) answer[kWaiter] = waiter;
  waiter.answer = answer;
  return waiter;
}

/** The pool threw when asked: the lease leaves the ledger (the caller gets the pool's error unchanged). */
export function askFailed<C extends Releasable>(pool: QueuedPool<C>, waiter: Waiter<C>): void {
  if (!waiter.answered) pool.core.checkoutFailed(waiter.lease, false);
}

/** The pool took the request: a caller that may wait in its queue gets its timer. */
export function waitAsked<C extends Releasable>(pool: QueuedPool<C>, waiter: Waiter<C>): void {
  if (waiter.queued) startTimer(pool, waiter, pool.core.config.acquireTimeoutMs);
}

function startTimer<C extends Releasable>(pool: QueuedPool<C>, waiter: Waiter<C>, ms: number): void {
  if (pool.core.config.acquireTimeoutMs > 0 && !waiter.answered) waiter.timer = setTimeout(() => timedOut(pool, waiter), ms);
}

/**
 * guard.acquireTimeoutMs passed: the caller is taken out of the pool's queue (so that no
 * connection is later handed to nobody) and gets the error naming who holds the connections. A
 * connection still opening for it is put back in the pool when it arrives.
 */
function timedOut<C extends Releasable>(pool: QueuedPool<C>, waiter: Waiter<C>): void {
  waiter.timer = undefined;
  if (waiter.answered) return;
  waiter.timedOut = true;
  pool.dequeue(waiter.answer);
  const { acquireTimeoutMs, name } = pool.core.config;
  const message = `poolguard[${name}]: no connection became free within guard.acquireTimeoutMs (${acquireTimeoutMs} ms); ${pool.timeoutWords}`;
  (waiter.direct ?? waiter.cb)(pool.core.checkoutTimedOut(waiter.lease, message, undefined));
}

function answered<C extends Releasable>(pool: QueuedPool<C>, waiter: Waiter<C>, err: Error | null, connection: C | undefined): void {
  const { core } = pool;
  const { lease } = waiter;
  waiter.answered = true;
  if (waiter.timedOut) {
    // The caller has its timeout error; a connection that opened for it goes to the next caller.
    if (!err && connection !== undefined) {
      pool.recordOf(connection);
      connection.release();
    }
    return;
  }
  if (waiter.timer !== undefined) {
    clearTimeout(waiter.timer);
    waiter.timer = undefined;
  }
  if (err || connection === undefined) {
    pool.refused(lease, err);
    return waiter.cb(err);
  }
  const record = pool.recordOf(connection);
  if (!core.recycles && !core.validates) return handOut(pool, waiter, record, connection);
  admit(core, lease, record, connection, waiter.discarded, {
    handOut: () => handOut(pool, waiter, record, connection),
    discard: () => pool.destroy(connection),
    retry: (discarded) => {
      // The pool then serves this caller again, with the time left of its acquire timeout.
      waiter.discarded = discarded;
      waiter.answered = false;
      waiter.answer[kWaiter as never] = waiter as never;
      pool.ask(waiter.answer);
      const left = Math.max(0, core.config.acquireTimeoutMs - (core.clock.now() - lease.requestedAt));
      startTimer(pool, waiter, left);
    },
    check: () => pool.ping(connection),
    fail: (e) => waiter.cb(e),
  });
}

function handOut<C extends Releasable>(pool: QueuedPool<C>, waiter: Waiter<C>, record: ConnectionRecord, connection: C): void {
  pool.granted?.(waiter.lease, record);
  pool.core.checkoutGranted(waiter.lease, record);
  waiter.cb(null, connection);
}

/**
 * The holder gives the lease back: a connection released inside a transaction is closed, or
 * rolled back first (guard.dirtyRelease); one due for retirement is closed (the pool opens
 * another for its queue); any other goes back to the pool. A reclaimed lease's late release
 * leaves the pool alone.
 */
export function releaseLease<C extends Releasable>(pool: QueuedPool<C>, connection: C, lease: Lease, above: Function): void {
  const { core } = pool;
  const result = releaseChecked(core, lease, lease.reclaimed ? undefined : pool.transaction(connection), above, pool.doubleReleaseWords);
  if (result === false) return;
  if (result !== true) return releaseDirty(pool, connection, lease, result.action);
  if (core.recycles && lease.conn !== undefined && core.dueForRetirement(lease.conn) !== undefined) return pool.destroy(connection);
  pool.putBack(connection);
}

function releaseDirty<C extends Releasable>(pool: QueuedPool<C>, connection: C, lease: Lease, action: 'destroy' | 'rollback'): void {
  if (action === 'destroy') return pool.destroy(connection);
  pool.run(connection, 'ROLLBACK', (rollbackErr) => {
    // A connection that cannot even roll back, or is still in a transaction (autocommit off), is closed.
    if (rollbackErr || pool.transaction(connection) !== undefined) {
      if (lease.conn) pool.core.markRetiring(lease.conn, 'dirty');
      return pool.destroy(connection);
    }
    pool.putBack(connection);
  });
}

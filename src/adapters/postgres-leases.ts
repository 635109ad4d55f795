/**
 * The leases of a postgres.js pool: `sql.reserve()` until its `release()`, and `sql.begin()` from
 * the BEGIN postgres.js sends until its promise settles (the callback returned and postgres.js
 * committed or rolled back). Both are wrapped in place on the `sql` object: postgres.js calls its
 * own `sql.unsafe` to send a transaction's BEGIN, and hands that query the connection
 * (`onexecute`), which is how a transaction's connection is known from its first moment.
 */
import type { LeaseReclaimedError } from '../core/errors.js';
import type { ConnectionRecord, Lease } from '../core/ledger.js';
import type { CapturedStack } from '../core/stack.js';
import { errorReason } from '../core/recycle-policy.js';
import type { State } from './postgres-state.js';
import { Slot } from './postgres-connections.js';
import { Session, type BackendLike, type ConnectionLike, type QueryHandler, type QueryLike, type ScopeSql, type SessionHooks } from './postgres-session.js';
import { boundPoolQuery, boundWait, clearWait, queueTimedOut, waitBoundMs, watchQueuedQuery } from './postgres-wait.js';
import { releaseChecked, watchEnd } from './kit.js';
import { disposeOnce } from './disposal.js';

// postgres.js 3.4 says nothing on a second release(): it hands the connection to the pool again,
// possibly while another caller holds it. poolguard says where, and does not pass it on. (4 ignores it.)
const DOUBLE_RELEASE_MESSAGE = 'release() was called on a reserved connection that was already released; postgres.js would have handed it to the pool a second time (possibly while another caller holds it), so poolguard did not pass it on.';
const DOUBLE_RELEASE_MESSAGE_4 = 'release() was called on a reserved connection that was already released; postgres.js ignores it, but the code that calls it may think it still holds the connection.';

function doubleReleaseMessage(state: State): string {
  return state.major === 4 ? DOUBLE_RELEASE_MESSAGE_4 : DOUBLE_RELEASE_MESSAGE;
}

/**
 * The lease's transaction: postgres.js 4's status byte of the connection's last ReadyForQuery once
 * the connection is known, otherwise (and for 3.4) what the lease's own command tags say.
 */
export function transactionOf(session: Session): 'open' | 'failed' | undefined {
  const status = session.connection?.status;
  if (status === undefined) return session.transaction;
  return status === 'T' ? 'open' : status === 'E' ? 'failed' : undefined;
}

/** Closes a connection under its lease: 3.4 reconnects it in place when next used, 4 opens another. */
function closeConnection(connection: ConnectionLike): void {
  if (typeof connection.terminate === 'function') connection.terminate();
  else connection.destroy?.();
}

type Reserved = ScopeSql & { release: () => unknown };

/** A transaction nobody waits for any more (its caller timed out): postgres.js rolls it back. */
const ABANDONED = Symbol('poolguard.postgres.abandoned');

/** What a session's queries tell the adapter (see `SessionHooks`). */
export function sessionHooks(state: () => State): SessionHooks {
  return {
    learned(session, connection, backend) {
      bind(state(), session, connection, backend);
    },
    ranOn(session, backend) {
      const s = state();
      session.backend = backend;
      if (session.record !== undefined && typeof backend.pid === 'number' && (session.record.resource as Slot).connection === session.connection) session.record.pid = backend.pid;
      if (session.connection === undefined) {
        const connection = s.book.connectionOf(backend);
        if (connection !== undefined) bind(s, session, connection, backend);
      }
    },
    active(session) {
      if (session.record !== undefined) state().core.connectionActive(session.record);
    },
    lost(session, err) {
      lose(state(), session, err);
    },
  };
}

/** The lease's connection is known for certain now: it was handed to one of its queries. */
function bind(state: State, session: Session, connection: ConnectionLike, backend: BackendLike | null): void {
  const { book } = state;
  book.meet(connection, backend);
  const held = session.record;
  if (session.connection !== undefined || session.lease.released || held === undefined) {
    book.recordOf(connection, backend);
    return;
  }
  session.connection = connection;
  book.hold(connection, session);
  // A spare record becomes the connection's own, unless the connection has one already.
  if (!book.adopt(held, connection)) book.recordOf(connection, backend);
  if (typeof backend?.pid === 'number') held.pid = backend.pid;
}

/** The record a lease is granted on: its connection's when known, else a spare one. */
function grantRecord(state: State, session: Session, connection: ConnectionLike | undefined): ConnectionRecord {
  const record = connection === undefined ? state.book.unknown() : state.book.recordOf(connection);
  (record.resource as Slot).session = session;
  session.record = record;
  if (connection !== undefined) {
    session.connection = connection;
    state.book.hold(connection, session);
  }
  return record;
}

/** The server or the network closed the connection under the lease. */
function lose(state: State, session: Session, err: Error): void {
  if (session.lost || session.lease.reclaimed) return;
  session.lost = true;
  if (session.record !== undefined) state.core.markRetiring(session.record, errorReason(err));
  if (!session.lease.released) state.lostHeld++;
  // Past this point postgres.js 3.4 would write the holder's next query to a connection it has
  // already given to someone else (or to no socket at all, which throws where nobody can catch
  // it): the holder gets postgres.js's own error for a closed connection instead. 4 refuses them
  // itself, with that error.
  if (state.major === 3) {
    const closed = closedError(state);
    session.refusal = () => closedError(state, closed);
  }
  const { core } = state;
  const where = core.snapshot().leases.find((l) => l.id === session.lease.id)?.where ?? 'an unknown site';
  core.log(
    'warn',
    `lost ${session.lease.id}`,
    { pool: core.config.name, leaseId: session.lease.id, pid: session.record?.pid, err },
    `poolguard[${core.config.name}]: the connection of the ${session.kind}() at ${where}${session.record?.pid === undefined ? '' : ` (pid ${session.record.pid})`} was closed under it (${err.message}). ` +
      (state.major === 3
        ? `Its later queries fail with CONNECTION_CLOSED instead of reaching a connection postgres.js has given to another caller${session.kind === 'reserve' ? ', and its release() is not passed on' : ''}. `
        : 'Its later queries fail with CONNECTION_CLOSED. ') +
      `Find why the server ended the session (its log, pg_stat_activity); ${session.kind === 'reserve' ? 'reserve a new connection' : 'retry the transaction'} if the work must go on.`,
  );
}

/** postgres.js's own error for a connection that has closed (`Errors.connection` in its errors.js). */
function closedError(state: State, like?: Error): Error {
  const { options } = state;
  const address = typeof options.path === 'string' && options.path !== '' ? options.path : String(options.host);
  const error = Object.assign(new Error(like?.message ?? `write CONNECTION_CLOSED ${typeof options.path === 'string' && options.path !== '' ? options.path : `${String(options.host)}:${String(options.port)}`}`), {
    code: 'CONNECTION_CLOSED',
    errno: 'CONNECTION_CLOSED',
    address,
  });
  if (!(typeof options.path === 'string' && options.path !== '')) Object.assign(error, { port: options.port });
  return error;
}

/** Wraps `reserve`, `begin`, `unsafe`, `file` and `end` of the pool's `sql` in place. */
export function wrapMethods(state: State): void {
  const { sql, core } = state;
  sql.reserve = function reserve(this: unknown): Promise<unknown> {
    // Captured in this frame, not in a helper: see GuardCore.prepareCapture.
    const capture = core.prepareCapture();
    if (capture !== undefined) Error.captureStackTrace(capture, reserve);
    return reserveLease(state, this, capture);
  };
  sql.begin = function begin(this: unknown, ...args: unknown[]): Promise<unknown> {
    const capture = core.prepareCapture();
    if (capture !== undefined) Error.captureStackTrace(capture, begin);
    return beginLease(state, this, args, capture);
  };
  for (const key of ['unsafe', 'file'] as const) {
    const original = sql[key];
    if (typeof original !== 'function') continue;
    sql[key] = function (this: unknown, ...args: unknown[]): unknown {
      const beginning = state.beginning;
      if (beginning !== undefined && key === 'unsafe') return beginQuery(state, beginning, original, this, args);
      return watchPoolQuery(state, original.apply(this, args));
    };
  }
  sql.end = function end(this: unknown, options?: { timeout?: number | null }): Promise<unknown> {
    return endPool(state, this, options);
  };
  // postgres.js 4's `await using sql` calls its own end(), not the property: the guarded one instead.
  const dispose = (Symbol as { asyncDispose?: symbol }).asyncDispose;
  if (dispose !== undefined && Object.prototype.hasOwnProperty.call(sql, dispose)) {
    (sql as unknown as Record<symbol, unknown>)[dispose] = () => sql.end();
  }
}

/**
 * One of the pool's own queries (not a lease's): taught the connection it runs on while some are
 * still unknown, and bounded by `guard.acquireTimeoutMs` when it has to wait for one.
 */
export function watchPoolQuery(state: State, value: unknown): unknown {
  const q = value as QueryLike;
  if (!(value instanceof Promise) || typeof q.handler !== 'function') return value;
  // postgres.js 4 names a query's connection on the query: nothing to learn from onexecute.
  const learn = state.major === 3 && state.book.learning;
  // Only a query made while every connection is lent out can have to wait (see boundPoolQuery):
  // any other pays nothing for the bound.
  const bound = waitBoundMs(state) > 0 && saturated(state);
  if (!learn && !bound) return value;
  const original = q.handler;
  const handler: QueryHandler = function pooled(query: QueryLike): unknown {
    if (learn) {
      const given = query.options.onexecute;
      query.options.onexecute = (connection: ConnectionLike) => {
        state.book.taught(connection, query.state);
        return given === undefined ? true : given(connection);
      };
    }
    const sent = original(query);
    if (bound && state.major === 4) {
      if (query.connection === undefined && query.settled !== true) watchQueuedQuery(state, query);
    } else if (bound && query.state === null && saturated(state)) boundPoolQuery(state, query);
    return sent;
  };
  handler.debug = original.debug;
  handler.options = original.options;
  handler.cancel = original.cancel;
  q.handler = handler;
  return value;
}

/** Every connection is lent out to a lease whose connection is still open. */
function saturated(state: State): boolean {
  return state.core.ledger.leased - state.lostHeld >= state.options.max;
}

function reserveLease(state: State, self: unknown, capture: CapturedStack | undefined): Promise<unknown> {
  const { core } = state;
  const lease = core.checkoutRequested('connect', capture);
  const session = new Session(state.hooks, lease, 'reserve');
  lease.token = session;
  const granted = new Promise<unknown>((resolve, reject) => {
    session.waiting = { resolve, reject };
  });
  let reserving: Promise<Reserved>;
  try {
    reserving = ask(state, session, self);
  } catch (err) {
    core.checkoutFailed(lease, false);
    throw err;
  }
  if (state.major === 4) return cancellable(granted, reserving);
  return boundWait(state, session, 'sql.reserve()', granted);
}

/**
 * postgres.js 4's `reserve()` and `begin()` promises can be withdrawn from its queue
 * (`.cancel()`, `.signal(abortSignal)`): the promise handed back keeps both.
 */
function cancellable<T>(promise: Promise<T>, own: Promise<unknown>): Promise<T> {
  const from = own as Promise<unknown> & { cancel?: () => unknown; signal?: (signal: unknown) => unknown };
  if (typeof from.cancel !== 'function' || typeof from.signal !== 'function') return promise;
  const signal = from.signal;
  return Object.assign(promise, {
    cancel: from.cancel,
    signal(this: unknown, abort: unknown) {
      signal.call(from, abort);
      return promise;
    },
  });
}

/**
 * Asks postgres.js for a connection for a waiting `reserve()` lease. The first connection offered
 * is granted; any later one (see `requeueLostReserve`), or one offered after the caller timed out,
 * goes straight back to the pool.
 */
function ask(state: State, session: Session, self: unknown): Promise<Reserved> {
  const reserving = state.reserve.call(self) as Promise<Reserved>;
  reserving.then(
    (reserved) => {
      const waiting = session.waiting;
      if (waiting === undefined || session.abandoned) {
        reserved.release();
        return;
      }
      session.waiting = undefined;
      waiting.resolve(grantReserve(state, session, reserved));
    },
    (err: unknown) => {
      const waiting = session.waiting;
      if (waiting === undefined) return;
      session.waiting = undefined;
      // postgres.js 4's own error for a wait past its queue_timeout, naming who holds the connections.
      if (queueTimedOut(err)) return waiting.reject(state.core.poolTimedOut(session.lease, err));
      state.core.checkoutFailed(session.lease, false);
      waiting.reject(err);
    },
  );
  return reserving;
}

/**
 * postgres.js 3.4.9 loses a `reserve()` waiting in its queue when a connection closes: its
 * `onclose` hands the oldest waiter to the closed connection to reconnect for, and a reconnected
 * connection serves only queries that way, never a `reserve()`, which then waits for ever. When a
 * connection closes while `reserve()` leases wait, the oldest one (the one that may have been
 * handed over) asks again; whichever of its requests is answered first wins.
 */
export function requeueLostReserve(state: State): void {
  for (const lease of state.core.ledger.waiting) {
    const session = lease.token;
    if (!(session instanceof Session) || session.kind !== 'reserve' || session.waiting === undefined) continue;
    try {
      ask(state, session, state.sql);
    } catch {
      // postgres.js refused to queue another request: the first one stands.
    }
    return;
  }
}

function grantReserve(state: State, session: Session, reserved: Reserved): Reserved {
  const { core } = state;
  const record = grantRecord(state, session, state.book.justReserved());
  clearWait(session);
  core.checkoutGranted(session.lease, record);
  const release = reserved.release;
  const rawUnsafe = reserved.unsafe;
  if (typeof rawUnsafe === 'function') session.rawUnsafe = (text, options) => rawUnsafe.call(reserved, text, [], options ?? {}) as QueryLike;
  session.giveBack = () => release.call(reserved);
  reserved.release = function release_(this: unknown): unknown {
    return releaseReserved(state, session, release_);
  };
  // postgres.js hands out a new object at each reserve(): `await using` releases this lease only,
  // and a disposal after the holder's own release() is no second release.
  const guardedRelease = reserved.release;
  disposeOnce(reserved, () => {
    if (!session.lease.released) guardedRelease.call(reserved);
  });
  (reserved as unknown as Record<symbol, Session>)[state.sessionKey] = session;
  return session.watchScope(reserved);
}

function releaseReserved(state: State, session: Session, above: Function): unknown {
  const { core } = state;
  const { lease } = session;
  if (lease.released) {
    try {
      core.released(lease, above, doubleReleaseMessage(state));
    } catch (err) {
      core.log('warn', `double release ${lease.id}`, { pool: core.config.name, leaseId: lease.id, err }, (err as Error).stack ?? (err as Error).message);
    }
    return undefined;
  }
  const outcome = releaseChecked(core, lease, lease.reclaimed || session.lost ? undefined : transactionOf(session), above, doubleReleaseMessage(state));
  if (outcome === false) return undefined;
  endSession(state, session);
  // postgres.js 3.4 freed the slot when the connection closed; its release() would hand the closed
  // connection to the pool, where the next query throws (postgres.js 3.4.9). 4's ends its lease.
  if (session.lost) return state.major === 4 ? session.giveBack?.() : undefined;
  if (outcome !== true) return releaseDirty(state, session, outcome.action);
  const result = session.giveBack?.();
  // postgres.js 3.4's end() waits for a reserved connection even once it is released: it is closed now.
  if (state.ending && state.major === 3) session.connection?.terminate?.();
  return result;
}

/** The lease is over: its record and connection are free for the next one. */
function endSession(state: State, session: Session): void {
  if (session.lost) state.lostHeld--;
  if (session.record !== undefined) state.book.released(session.record);
  if (session.connection !== undefined) state.book.let(session.connection, session);
}

/** Released inside a transaction: closed (the server rolls it back), or rolled back first. */
function releaseDirty(state: State, session: Session, action: 'destroy' | 'rollback'): void {
  if (action === 'destroy') {
    if (state.major === 3) return destroy(state, session, 'dirty');
    // postgres.js 4 closes a connection released outside ReadyForQuery's 'I' itself.
    if (session.record !== undefined) state.core.markRetiring(session.record, 'dirty');
    session.giveBack?.();
    return;
  }
  const rollback = session.rawUnsafe?.('ROLLBACK');
  if (rollback === undefined) return destroy(state, session, 'dirty');
  rollback.then(
    () => {
      // A transaction still open after ROLLBACK (a multi-statement string that began another) is not handed on.
      const status = session.connection?.status;
      if (status !== undefined ? status !== 'I' : session.transaction !== undefined && session.transaction !== 'open') return destroy(state, session, 'dirty');
      session.giveBack?.();
    },
    () => destroy(state, session, 'dirty'),
  );
}

/**
 * Closes a lease's connection with postgres.js's own terminate(), so that postgres.js frees the
 * slot itself (`onclose`) and the reserved sql's own release() is never called; the server rolls
 * back what was open. A connection not known yet (a reserve() that ran no query) is first named by
 * an empty query on it: ending the session from the server instead (`pg_terminate_backend`)
 * leaves postgres.js 3.4.9 holding the server's FATAL error, which it then hands to the next
 * query that reopens the slot.
 */
function destroy(state: State, session: Session, reason: 'dirty' | 'reclaimed'): void {
  if (session.record !== undefined) state.core.markRetiring(session.record, reason);
  // postgres.js 4 names the connection on a query in flight, too.
  const known = session.connection ?? session.placedOn();
  if (known !== undefined) {
    state.core.markRetiring(state.book.met(known, null), reason);
    return closeConnection(known);
  }
  let found: ConnectionLike | undefined;
  const probe = session.rawUnsafe?.('', {
    onexecute: (connection: ConnectionLike) => {
      found = connection;
      return true;
    },
  });
  const close = (): void => {
    found ??= probe?.connection;
    if (found === undefined) return;
    state.core.markRetiring(state.book.met(found, probe?.state ?? null), reason);
    closeConnection(found);
  };
  probe?.then(close, close);
}

/** The core reclaims a lease: its holder's later queries fail with `makeError()`, its connection is closed. */
export function reclaim(state: State, session: Session, makeError: () => LeaseReclaimedError): void {
  session.refusal = makeError;
  if (session.lost) return;
  endSession(state, session);
  destroy(state, session, 'reclaimed');
}

function beginLease(state: State, self: unknown, args: unknown[], capture: CapturedStack | undefined): Promise<unknown> {
  const { core } = state;
  // postgres.js's own forms: begin(fn) and begin(options, fn); anything else gets its own error.
  const fn = (args[1] || args[0]) as ((sql: ScopeSql) => unknown) | undefined;
  if (typeof fn !== 'function') {
    if (capture !== undefined) core.captureTaken(false);
    return state.begin.apply(self, args);
  }
  const lease = core.checkoutRequested('transaction', capture);
  const session = new Session(state.hooks, lease, 'begin');
  lease.token = session;
  const callback = (tsql: ScopeSql): unknown => {
    // The caller timed out waiting: postgres.js rolls back the transaction it began meanwhile.
    if (session.abandoned) throw ABANDONED;
    if (state.major === 4) {
      // postgres.js 4 sends BEGIN on the lease itself, out of sight: the callback is the first sign of the grant.
      if (lease.acquiredAt < 0) grantBegin(state, session, undefined, null);
      const rawUnsafe = tsql.unsafe;
      if (typeof rawUnsafe === 'function') session.rawUnsafe = (text, options) => rawUnsafe.call(tsql, text, [], options ?? {}) as QueryLike;
    }
    (tsql as unknown as Record<symbol, Session>)[state.sessionKey] = session;
    return fn(session.watchScope(tsql));
  };
  let running: Promise<unknown>;
  state.beginning = session;
  try {
    running = state.begin.apply(self, args[1] ? [args[0], callback] : [callback]);
  } catch (err) {
    core.checkoutFailed(lease, false);
    throw err;
  } finally {
    state.beginning = undefined;
  }
  const settled = running.then(
    (value) => {
      finishBegin(state, session, finishBegin);
      return value;
    },
    (err: unknown) => {
      // postgres.js 4's own error for a wait past its queue_timeout, naming who holds the connections.
      if (session.lease.acquiredAt < 0 && queueTimedOut(err)) throw core.poolTimedOut(session.lease, err);
      finishBegin(state, session, finishBegin);
      // Closed by poolguard: the holder is told so, not postgres.js's "connection closed".
      if (session.lease.reclaimed && session.refusal !== undefined) throw session.refusal();
      throw err;
    },
  );
  if (state.major === 4) return cancellable(settled, running);
  if (core.config.acquireTimeoutMs <= 0) return settled;
  // A transaction that timed out waiting still settles (its callback never runs): nobody listens.
  settled.then(undefined, () => {});
  return boundWait(state, session, 'sql.begin()', settled);
}

/**
 * postgres.js's begin() sends its BEGIN through the pool's own `sql.unsafe`, synchronously, with an
 * `onexecute` that reserves the connection it is written to: that moment is the grant.
 */
function beginQuery(state: State, session: Session, unsafe: (...args: unknown[]) => unknown, self: unknown, args: unknown[]): unknown {
  state.beginning = undefined;
  const given = (args[2] as { onexecute?: unknown } | undefined)?.onexecute;
  if (typeof given !== 'function') return watchPoolQuery(state, unsafe.apply(self, args));
  let query: QueryLike | undefined;
  const onexecute = (connection: ConnectionLike): unknown => {
    const reserved = (given as (c: ConnectionLike) => unknown)(connection);
    grantBegin(state, session, connection, query?.state ?? null);
    return reserved;
  };
  query = unsafe.call(self, args[0], args[1], { ...(args[2] as object), onexecute }) as QueryLike;
  return query;
}

function grantBegin(state: State, session: Session, connection: ConnectionLike | undefined, backend: BackendLike | null): void {
  clearWait(session);
  if (connection !== undefined) state.book.met(connection, backend);
  if (session.abandoned) return;
  const record = grantRecord(state, session, connection);
  if (typeof backend?.pid === 'number') record.pid = backend.pid;
  session.backend = backend ?? undefined;
  state.core.checkoutGranted(session.lease, record);
}

/** postgres.js committed or rolled back (or the transaction never began): the lease ends. */
function finishBegin(state: State, session: Session, above: Function): void {
  const { core } = state;
  const { lease } = session;
  clearWait(session);
  if (lease.acquiredAt < 0) return core.checkoutFailed(lease, false);
  if (lease.reclaimed || lease.released) return;
  core.released(lease, above, doubleReleaseMessage(state));
  endSession(state, session);
}

/**
 * postgres.js's end() resolves only once every connection has closed, which a reserved one never
 * does (not even once released): the core reports who holds it up and, at `guard.endTimeoutMs`,
 * reclaims them; postgres.js's own end timeout (seconds), set to the same deadline unless the
 * caller gave one, then closes what is left.
 */
function endPool(state: State, self: unknown, options: { timeout?: number | null } | undefined): Promise<unknown> {
  if (state.ending) return state.end.call(self, options);
  state.ending = true;
  const endTimeoutMs = state.core.config.endTimeoutMs;
  const timeout = options?.timeout ?? (endTimeoutMs > 0 ? endTimeoutMs / 1_000 : null);
  const finished = (): void => {
    state.ended = true;
  };
  return watchEnd(state.core, 'sql.end()', () => state.end.call(self, { ...options, timeout }).finally(finished));
}

/** Follows postgres.js's `onclose(id)` (read at each close, so wrapping it later works). */
export function watchCloses(state: State): void {
  const { options } = state;
  const given = options.onclose;
  options.onclose = function onclose(this: unknown, id: number): unknown {
    const connection = state.book.closed(id, state.ending);
    const holder = connection === undefined ? undefined : state.book.holderOf(connection);
    if (holder !== undefined && holder.refusal === undefined) {
      // postgres.js 4 keeps the error the connection closed with on it.
      const closed = connection?.closed;
      lose(state, holder, closed instanceof Error ? closed : closedError(state));
    }
    // After postgres.js's own onclose has handed the connection its next waiter (it runs on once
    // this returns): asking now would have it connect the same connection twice. (3.4 only.)
    if (!state.ending && state.major === 3) queueMicrotask(() => requeueLostReserve(state));
    return typeof given === 'function' ? given.call(this, id) : undefined;
  };
}

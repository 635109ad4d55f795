/**
 * `guard.acquireTimeoutMs` for postgres.js, whose queue of callers waiting for a connection has
 * no timer (porsager/postgres issue 824): with every connection reserved or in a transaction, a
 * `reserve()`, a `begin()` or a query waits for ever. poolguard bounds each wait and rejects it
 * with `CheckoutTimeoutError`, which names who holds the connections.
 */
import type { Lease } from '../core/ledger.js';
import type { State } from './postgres-state.js';
import type { QueryLike, Session } from './postgres-session.js';

/**
 * How long a caller may wait for a connection, in ms (`0`: for ever): postgres.js 4's own
 * `queue_timeout` (which `guard.acquireTimeoutMs` sets when postgres.js's is not), or poolguard's
 * `guard.acquireTimeoutMs` for 3.4, which has none.
 */
export function waitBoundMs(state: State): number {
  return state.major === 4 ? (state.options.queue_timeout ?? 0) * 1_000 : state.core.config.acquireTimeoutMs;
}

/** postgres.js 4's own error for a wait longer than its `queue_timeout` (`Errors.generic` in its errors.js). */
export function queueTimedOut(err: unknown): err is Error {
  return err instanceof Error && (err as { code?: unknown }).code === 'QUEUE_TIMEOUT';
}

/**
 * postgres.js 4: a query of the pool left waiting in its queue when it was sent. postgres.js bounds
 * the wait itself; its `QUEUE_TIMEOUT` error, the same object, gains who holds the connections
 * (`core.poolTimedOut`). The wait ends when postgres.js writes the query (its `onwrite`, which the
 * pool's own queries do not use) or settles it.
 */
export function watchQueuedQuery(state: State, query: QueryLike): void {
  const wait = followWait(state, query, (err, lease) => {
    if (!queueTimedOut(err)) return false;
    state.core.poolTimedOut(lease, err);
    return true;
  });
  query.onwrite = wait.finish;
}

/**
 * A lease counting the wait of a pool query, ended (`finish()`) when the query settles or sooner;
 * `timedOut` sees a rejection first and says whether it ended the lease itself.
 */
function followWait(state: State, query: QueryLike, timedOut: (err: unknown, lease: Lease) => boolean, cleanup?: () => void): { lease: Lease; finish(): void; readonly done: boolean; end(): void } {
  const { core } = state;
  const lease = core.checkoutRequested('query', undefined);
  const { resolve, reject } = query;
  let done = false;
  const wait = {
    lease,
    get done() {
      return done;
    },
    /** The lease ends with no timeout. */
    finish(): void {
      if (done) return;
      wait.end();
      core.checkoutFailed(lease, false);
    },
    /** The wait is over, whatever ends the lease. */
    end(): void {
      done = true;
      cleanup?.();
    },
  };
  query.resolve = (value: unknown) => {
    wait.finish();
    return resolve.call(query, value);
  };
  query.reject = (err: unknown) => {
    if (!done && timedOut(err, lease)) wait.end();
    else wait.finish();
    return reject.call(query, err);
  };
  return wait;
}

function message(state: State, call: string): string {
  const { acquireTimeoutMs, name } = state.core.config;
  return `poolguard[${name}]: no connection became free within guard.acquireTimeoutMs (${acquireTimeoutMs} ms) for ${call}; postgres.js alone would have waited for ever.`;
}

/**
 * Bounds the wait of a `reserve()` or `begin()` lease until its grant. postgres.js offers no way
 * to take a waiting `reserve()` or transaction out of its queue: one that times out stays there,
 * and the connection it is handed later goes straight back (a `reserve()` is released, a
 * transaction's callback is never run and postgres.js rolls it back).
 */
export function boundWait<T>(state: State, session: Session, call: string, granted: Promise<T>): Promise<T> {
  const { core } = state;
  const timeoutMs = core.config.acquireTimeoutMs;
  if (timeoutMs <= 0) return granted;
  return new Promise<T>((resolve, reject) => {
    session.waitTimer = setTimeout(() => {
      session.waitTimer = undefined;
      if (session.lease.acquiredAt >= 0 || session.abandoned) return;
      session.abandoned = true;
      reject(core.checkoutTimedOut(session.lease, message(state, call), undefined));
    }, timeoutMs);
    granted.then(
      (value) => {
        clearWait(session);
        if (!session.abandoned) resolve(value);
      },
      (err: unknown) => {
        clearWait(session);
        if (!session.abandoned) reject(err);
      },
    );
  });
}

/** The lease was granted (or its wait ended otherwise): its timer has nothing left to bound. */
export function clearWait(session: Session): void {
  if (session.waitTimer === undefined) return;
  clearTimeout(session.waitTimer);
  session.waitTimer = undefined;
}

/**
 * A query of the pool that postgres.js put in its queue. Bounded only when every connection is
 * lent out to a lease (and so none can be opening for it): a query postgres.js handed to a
 * connection that is still connecting cannot be taken back without losing that connection (its
 * cancel() leaves it connected and unused), while one in its queue is withdrawn by its own
 * cancel(), which poolguard makes reject with the timeout error.
 */
export function boundPoolQuery(state: State, query: QueryLike): void {
  const { core, options } = state;
  const { reject } = query;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const wait = followWait(state, query, () => false, () => clearTimeout(timer));
  timer = setTimeout(() => {
    if (wait.done) return;
    // Handed to a connection since, or a connection freed or closed (the query may be opening it).
    if (query.state !== null) return wait.finish();
    if (core.ledger.leased - state.lostHeld < options.max) return;
    wait.end();
    const error = core.checkoutTimedOut(wait.lease, message(state, 'a query'), undefined);
    query.reject = () => reject.call(query, error);
    query.cancel();
  }, core.config.acquireTimeoutMs);
}

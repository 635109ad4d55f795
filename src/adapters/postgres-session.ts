/**
 * What poolguard reads of one postgres.js lease (a `sql.reserve()` connection, or the connection
 * of a `sql.begin()` callback) without a round trip: postgres.js 3.4 keeps no per-connection
 * state a caller can read (its connection objects live in closures), so the lease's own work is
 * followed instead, through the query objects its `sql` creates. Every query passes its `handler`
 * when it is sent, and postgres.js settles it through its own `resolve` and `reject`: a query
 * handed over and not settled is in flight; the command tags of the settled ones (`BEGIN`,
 * `COMMIT`, …) and the server's errors say whether the session is inside a transaction.
 */
import type { ConnectionRecord, Lease } from '../core/ledger.js';

/** postgres.js's per-connection `{ pid, secret }`: one object per connection, for its whole life. */
export interface BackendLike {
  readonly pid: number | null;
}

/** One of postgres.js's connection objects (`src/connection.js`), as far as poolguard reads it. */
export interface ConnectionLike {
  readonly id: number;
  /** 3.4: set while the connection is reserved: `reserve()`'s carries `release: true`, `begin()`'s not. */
  readonly reserved?: (((...args: unknown[]) => unknown) & { release?: unknown }) | null;
  /** 3.4: sends Terminate (or ends the socket); the connection reconnects in place when next used. */
  terminate?(): void;
  /** 4: the transaction status byte of the last ReadyForQuery (`'I'`, `'T'` or `'E'`). */
  readonly status?: string;
  /** 4: the error the connection closed with, once closed. */
  readonly closed?: unknown;
  /** 4: destroys the socket; the pool opens another connection when one is needed. */
  destroy?(): void;
}

/**
 * How a query reaches its connection; `debug` is read back by the query's `origin` getter (3.4),
 * `options` and `cancel` by postgres.js 4's query (building its text, `query.cancel()`).
 */
export type QueryHandler = ((query: QueryLike) => unknown) & { debug?: unknown; options?: unknown; cancel?: unknown };

/** One of postgres.js's `Query` objects (a Promise subclass), as far as poolguard reads and wraps it. */
export interface QueryLike extends Promise<unknown> {
  handler: QueryHandler;
  resolve: (value: unknown) => unknown;
  reject: (err: unknown) => unknown;
  /** postgres.js 4: what `resolve()` and `reject()` settle the promise through, after their own bookkeeping. */
  fulfil?: (value: unknown) => unknown;
  fail?: (err: unknown) => unknown;
  options: { onexecute?: (connection: ConnectionLike) => unknown };
  /** The query the connection is answering now (postgres.js's own flag). */
  active: boolean;
  /** The connection's backend, once the query was written to it. */
  state: BackendLike | null;
  /** postgres.js 4: the connection the query was written to. */
  connection?: ConnectionLike;
  /** postgres.js 4: called once the query is written to a connection. */
  onwrite?: () => void;
  /** postgres.js 4: the query has resolved or rejected. */
  settled?: boolean;
  cancelled: unknown;
  /** Set by `cursor()`. */
  cursorRows?: unknown;
  /** The SQL text, once built. */
  string?: string;
  cancel(): unknown;
}

/** A postgres.js `sql` function object: the pool's, a reserved connection's or a transaction's. */
export type ScopeSql = ((...args: unknown[]) => unknown) & {
  unsafe?: (...args: unknown[]) => unknown;
  file?: (...args: unknown[]) => unknown;
  savepoint?: (...args: unknown[]) => unknown;
};

/** What a session tells the adapter. */
export interface SessionHooks {
  /** A query of the session was written to `connection`, on `backend` (postgres.js's `onexecute`). */
  learned(session: Session, connection: ConnectionLike, backend: BackendLike | null): void;
  /** A query of the session ran on `backend` (known for every query written, unlike the connection). */
  ranOn(session: Session, backend: BackendLike): void;
  /** A query of the session settled. */
  active(session: Session): void;
  /** The session's connection is gone (closed by the server or the network); `err` is what the query got. */
  lost(session: Session, err: Error): void;
}

// ROLLBACK TO SAVEPOINT answers with the same command tag as ROLLBACK: only its text tells them apart.
const SAVEPOINT_ROLLBACK = /\brollback\s+(?:(?:work|transaction)\s+)?to\b/i;

/**
 * The session's transaction after one command: its tag as the server sent it, and the query's text
 * for the one tag that is ambiguous.
 */
export function afterCommand(current: 'open' | 'failed' | undefined, command: string, text: string | undefined): 'open' | 'failed' | undefined {
  switch (command) {
    case 'BEGIN':
    case 'START TRANSACTION':
      return 'open';
    case 'COMMIT':
    case 'PREPARE TRANSACTION':
      return undefined;
    case 'ROLLBACK':
      // Also the tag of a COMMIT in a failed transaction, which ends it as well.
      return text !== undefined && SAVEPOINT_ROLLBACK.test(text) ? 'open' : undefined;
    default:
      return current;
  }
}

/** Whether a query's error means the connection itself is gone (not a statement the server refused). */
export function connectionLost(err: unknown): boolean {
  const e = err as { code?: unknown; syscall?: unknown; name?: unknown } | null;
  if (e === null || typeof e !== 'object' || e.name === 'PostgresError') return false;
  return e.code === 'CONNECTION_CLOSED' || e.code === 'CONNECTION_DESTROYED' || typeof e.syscall === 'string';
}

function isQuery(value: unknown): value is QueryLike {
  return value instanceof Promise && typeof (value as Partial<QueryLike>).handler === 'function' && typeof (value as Partial<QueryLike>).reject === 'function';
}

/** The results a settled query resolved with: one `Result`, or one per statement of a multi-statement string. */
function commandsOf(value: unknown): string[] {
  const single = (value as { command?: unknown } | null)?.command;
  if (typeof single === 'string') return [single];
  if (!Array.isArray(value) || value.length === 0) return [];
  const tags = value.map((r) => (r as { command?: unknown } | null)?.command);
  return tags.every((t): t is string => typeof t === 'string') ? tags : [];
}

/**
 * One lease's view of its connection. `transaction` starts `'open'` for a `begin()` (postgres.js
 * sent BEGIN before the callback runs) and follows the command tags and server errors of the
 * queries run through the lease.
 */
export class Session {
  readonly #hooks: SessionHooks;
  readonly lease: Lease;
  /** `reserve()` or `begin()`: how the holder gives the connection back. */
  readonly kind: 'reserve' | 'begin';
  /** The core's record the lease was granted on (set at the grant). */
  record: ConnectionRecord | undefined = undefined;
  /**
   * Queries handed to the connection and not yet settled, as far as postgres.js's own calls tell,
   * each followed by its own settling pair (postgres.js 4's `fulfil` and `fail`, else `resolve` and
   * `reject`): `[query, resolve, reject, query, …]`. Kept here, not on the query: a property added
   * to each of postgres.js's query objects cost every query map transitions (benchmarks/RESULTS.md,
   * postgres.js HTTP POST). One array, not a Set (emptied by delete(), a Set allocates a new table:
   * one per query) nor three arrays (measured, the allocation grew V8's young generation).
   */
  readonly #pending: Array<QueryLike | ((value: unknown) => unknown)> = [];
  /** What the pending queries settle through instead: one pair per session, made at its first query. */
  #resolved: ((this: QueryLike, value: unknown) => unknown) | undefined = undefined;
  #rejected: ((this: QueryLike, err: unknown) => unknown) | undefined = undefined;
  /** postgres.js 4: a query settles through its own `fulfil` and `fail`, and names its connection. */
  readonly #four: boolean;
  transaction: 'open' | 'failed' | undefined;
  /** The postgres.js connection, once known for certain (see the adapter's `ConnectionBook`). */
  connection: ConnectionLike | undefined = undefined;
  backend: BackendLike | undefined = undefined;
  /** Once set, the lease's queries are refused with this error and never reach the connection. */
  refusal: (() => Error) | undefined = undefined;
  /** The connection was closed under the lease by the server or the network. */
  lost = false;
  /** What a query needs to run on the lease's connection, past the refusal (rollback, terminate). */
  rawUnsafe: ((text: string, options?: { onexecute?: (connection: ConnectionLike) => unknown }) => QueryLike) | undefined = undefined;
  /** postgres.js's own `release()` of a reserved connection. */
  giveBack: (() => unknown) | undefined = undefined;
  /** The caller of a `reserve()` still waiting for its connection. */
  waiting: { resolve(value: unknown): void; reject(err: unknown): void } | undefined = undefined;
  /** The caller stopped waiting (`guard.acquireTimeoutMs`): a late grant goes straight back. */
  abandoned = false;
  /** The acquire timeout's timer, until the grant. */
  waitTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** The handler `watch()` last wrapped, and its wrapper. */
  #wrappedOf: QueryHandler | undefined = undefined;
  #wrapped: QueryHandler | undefined = undefined;

  constructor(hooks: SessionHooks, lease: Lease, kind: 'reserve' | 'begin', major: 3 | 4) {
    this.#hooks = hooks;
    this.#four = major === 4;
    this.lease = lease;
    this.kind = kind;
    this.transaction = kind === 'begin' ? 'open' : undefined;
  }

  /**
   * Whether a query of the lease is in flight now: handed to the connection (running, queued behind
   * another, or waiting for the connection) and not settled. A cursor read through `for await`
   * replaces the query's resolve and reject at each batch, so its end is read from postgres.js's
   * `active` flag instead.
   */
  inFlight(): boolean {
    const pending = this.#pending;
    for (let i = 0; i < pending.length; i += 3) {
      const q = pending[i] as QueryLike;
      if (q.active || q.cursorRows === undefined) return true;
    }
    return false;
  }

  /** postgres.js 4: the connection a query of the lease in flight was written to, if any. */
  placedOn(): ConnectionLike | undefined {
    const pending = this.#pending;
    for (let i = 0; i < pending.length; i += 3) {
      const connection = (pending[i] as QueryLike).connection;
      if (connection !== undefined) return connection;
    }
    return undefined;
  }

  /**
   * Follows a `sql` the lease's holder uses: the function returned calls it and follows the query it
   * makes, and carries its properties (copied), with `unsafe()`, `file()` and a transaction's
   * `savepoint()` wrapped. A function, not a Proxy of `sql`: V8 inlines no call through a Proxy, and
   * the holder's calls through one kept postgres.js 4's Query constructor from being inlined into
   * the holder's code (measured: one more unoptimised Query per POST of the HTTP service, and more
   * of V8's attempts to optimise it; benchmarks/RESULTS.md, postgres.js).
   */
  watchScope<T extends ScopeSql>(sql: T): T {
    const session = this;
    const scope = function (this: unknown, ...args: unknown[]): unknown {
      return session.watch(sql.apply(this, args));
    } as T;
    Object.assign(scope, sql);
    for (const key of ['unsafe', 'file'] as const) {
      const original = sql[key];
      if (typeof original !== 'function') continue;
      scope[key] = function (this: unknown, ...args: unknown[]): unknown {
        return session.watch(original.apply(this, args));
      };
    }
    const savepoint = sql.savepoint;
    if (typeof savepoint === 'function') {
      scope.savepoint = function (this: unknown, ...args: unknown[]): unknown {
        const at = args.findIndex((a) => typeof a === 'function');
        if (at !== -1) {
          const fn = args[at] as (s: ScopeSql) => unknown;
          args[at] = (inner: ScopeSql) => fn(session.watchScope(inner));
        }
        const before = session.transaction;
        const result = savepoint.apply(this, args) as Promise<unknown>;
        // A savepoint whose callback failed is rolled back to by postgres.js before it rejects:
        // the transaction is as it was when the savepoint began.
        return result.then(undefined, (err: unknown) => {
          if (session.transaction === 'failed') session.transaction = before;
          throw err;
        });
      };
    }
    return scope;
  }

  /** Follows one query from when it is sent; anything else passes through. */
  watch<T>(value: T): T {
    if (!isQuery(value)) return value;
    value.handler = this.#handlerFor(value.handler);
    return value;
  }

  /**
   * The handler that follows a query of `original`'s: one per session and handler (a transaction's
   * queries share theirs), not one per query.
   */
  #handlerFor(original: QueryHandler): QueryHandler {
    if (this.#wrapped !== undefined && this.#wrappedOf === original) return this.#wrapped;
    const session = this;
    const handler: QueryHandler = function watched(query: QueryLike): unknown {
      // postgres.js reads back from the query's handler only what the two share (`options`, `debug`,
      // `cancel`): the query keeps its own. Left on the query, the wrapper (and through it the
      // session and the transaction) survived more of V8's scavenges (benchmarks/RESULTS.md,
      // postgres.js HTTP POST).
      query.handler = original;
      return session.#handed(query, original);
    };
    // postgres.js reads its own properties back from the handler (3.4 `debug`; 4 also `options` and
    // `cancel`): set one by one, as Object.assign's enumeration costs every query of a lease more.
    handler.debug = original.debug;
    handler.options = original.options;
    handler.cancel = original.cancel;
    this.#wrappedOf = original;
    this.#wrapped = handler;
    return handler;
  }

  #handed(q: QueryLike, original: QueryHandler): unknown {
    if (this.refusal !== undefined) return q.reject(this.refusal());
    if (this.#resolved === undefined) {
      const session = this;
      this.#resolved = function resolved(this: QueryLike, value: unknown): unknown {
        return session.#settle(this, value, undefined, true);
      };
      this.#rejected = function rejected(this: QueryLike, err: unknown): unknown {
        return session.#settle(this, undefined, err, false);
      };
    }
    // postgres.js 4's resolve() and reject() are methods of its Query class: its fulfil and fail
    // are the query's own fields, replaced without adding a property. A 4 cursor replaces those at
    // each batch (3.4's cursor its resolve and reject, whose end is then read from `active`): its
    // resolve and reject are shadowed instead.
    if (this.#four && q.cursorRows === undefined) {
      this.#pending.push(q, q.fulfil!, q.fail!);
      q.fulfil = this.#resolved;
      q.fail = this.#rejected;
    } else {
      this.#pending.push(q, q.resolve, q.reject);
      q.resolve = this.#resolved;
      q.reject = this.#rejected!;
    }
    // postgres.js 4 names the connection on the query (read when it settles) and has no onexecute.
    if (this.connection === undefined && !this.#four) {
      // postgres.js hands the connection to a query's onexecute once the query is written (and is
      // not a first run with parameters, which is described first): it must answer true, as a
      // query without one would.
      const given = q.options.onexecute;
      q.options.onexecute = (connection: ConnectionLike) => {
        this.#hooks.learned(this, connection, q.state);
        return given === undefined ? true : given(connection);
      };
    }
    const sent = original(q);
    if (q.state !== null && this.backend !== q.state) this.#hooks.ranOn(this, q.state);
    return sent;
  }

  /**
   * A pending query settles: it leaves `#pending`, gets its own pair back (a second call goes
   * straight to postgres.js), and settles through its own function once the session has read it.
   */
  #settle(q: QueryLike, value: unknown, err: unknown, ok: boolean): unknown {
    const pending = this.#pending;
    let at = 0;
    while (at < pending.length && pending[at] !== q) at += 3;
    // Unreachable: the pair is on a query only while the query is in `#pending`.
    if (at >= pending.length) throw new Error('poolguard: a postgres.js query settled through a lease that was not following it');
    const resolve = pending[at + 1] as (value: unknown) => unknown;
    const reject = pending[at + 2] as (err: unknown) => unknown;
    const last = pending.length - 3;
    if (at < last) {
      pending[at] = pending[last]!;
      pending[at + 1] = pending[last + 1]!;
      pending[at + 2] = pending[last + 2]!;
    }
    pending.pop();
    pending.pop();
    pending.pop();
    if (q.fulfil === this.#resolved) {
      q.fulfil = resolve;
      q.fail = reject;
    } else {
      q.resolve = resolve;
      q.reject = reject;
    }
    this.#settled(q, value, ok ? undefined : (err ?? new Error(String(err))));
    return ok ? resolve.call(q, value) : reject.call(q, err);
  }

  #settled(q: QueryLike, value: unknown, err: unknown): void {
    // postgres.js 4 names the connection on the query itself; a closed one has been let go of already.
    const placed = q.connection;
    if (this.connection === undefined && placed !== undefined && !placed.closed) this.#hooks.learned(this, placed, q.state);
    if (q.state !== null && this.backend !== q.state) this.#hooks.ranOn(this, q.state);
    this.#hooks.active(this);
    if (err !== undefined) {
      if (connectionLost(err)) {
        if (!this.lost) this.#hooks.lost(this, err as Error);
      } else if ((err as { name?: unknown }).name === 'PostgresError' && this.transaction === 'open') {
        // A statement the server refused aborts the transaction it ran in.
        this.transaction = 'failed';
      }
      return;
    }
    // Once postgres.js 4's connection is known its status byte answers (transactionOf): the tags
    // are not read (each `command` is a getter of postgres.js 4's result).
    if (this.#four && this.connection !== undefined) return;
    for (const command of commandsOf(value)) this.transaction = afterCommand(this.transaction, command, q.string);
  }
}

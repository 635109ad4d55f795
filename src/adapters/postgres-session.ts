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

/** Where a followed query keeps its session and its own resolve and reject. */
const FOLLOWED: unique symbol = Symbol('poolguard.postgres.followed');

type FollowedQuery = QueryLike & {
  [FOLLOWED]: { session: Session; resolve: (value: unknown) => unknown; reject: (err: unknown) => unknown };
};

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
   * Queries handed to the connection and not yet settled, as far as postgres.js's own calls tell.
   * An array, not a Set: a lease holds one or two at a time, and a Set emptied by its delete()
   * allocates a new table each time (V8 shrinks it), a garbage table per query.
   */
  readonly #pending: QueryLike[] = [];
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

  constructor(hooks: SessionHooks, lease: Lease, kind: 'reserve' | 'begin') {
    this.#hooks = hooks;
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
    for (const q of this.#pending) if (q.active || q.cursorRows === undefined) return true;
    return false;
  }

  /** postgres.js 4: the connection a query of the lease in flight was written to, if any. */
  placedOn(): ConnectionLike | undefined {
    for (const q of this.#pending) if (q.connection !== undefined) return q.connection;
    return undefined;
  }

  /**
   * Follows a `sql` the lease's holder uses: its tagged-template calls (through the returned
   * Proxy, the same function and properties otherwise), its `unsafe()` and `file()` (wrapped in
   * place, as is a transaction's `savepoint()`).
   */
  watchScope<T extends ScopeSql>(sql: T): T {
    const session = this;
    for (const key of ['unsafe', 'file'] as const) {
      const original = sql[key];
      if (typeof original !== 'function') continue;
      sql[key] = function (this: unknown, ...args: unknown[]): unknown {
        return session.watch(original.apply(this, args));
      };
    }
    const savepoint = sql.savepoint;
    if (typeof savepoint === 'function') {
      sql.savepoint = function (this: unknown, ...args: unknown[]): unknown {
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
    return new Proxy(sql, {
      apply(target, thisArg, args) {
        return session.watch(Reflect.apply(target, thisArg, args));
      },
    });
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

  /**
   * The query's own resolve and reject, replaced by two functions shared by every query: closures
   * made per query and stored on it (as these were) were allocated for every query and, measured,
   * left more of each transaction surviving V8's scavenges (benchmarks/RESULTS.md, postgres.js HTTP POST).
   */
  static readonly #resolve = function resolve(this: FollowedQuery, value: unknown): unknown {
    const followed = this[FOLLOWED];
    followed.session.#settled(this, value, undefined);
    return followed.resolve.call(this, value);
  };

  static readonly #reject = function reject(this: FollowedQuery, err: unknown): unknown {
    const followed = this[FOLLOWED];
    followed.session.#settled(this, undefined, err ?? new Error(String(err)));
    return followed.reject.call(this, err);
  };

  #handed(q: QueryLike, original: QueryHandler): unknown {
    if (this.refusal !== undefined) return q.reject(this.refusal());
    this.#pending.push(q);
    // 3.4's are closures, 4's methods of the query.
    const followed = q as FollowedQuery;
    followed[FOLLOWED] = { session: this, resolve: q.resolve, reject: q.reject };
    q.resolve = Session.#resolve;
    q.reject = Session.#reject;
    // postgres.js 4 names the connection on the query (read when it settles) and has no onexecute.
    if (this.connection === undefined && !('onwrite' in q)) {
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

  #settled(q: QueryLike, value: unknown, err: unknown): void {
    const pending = this.#pending;
    const at = pending.indexOf(q);
    if (at !== -1) {
      const last = pending.pop()!;
      if (at < pending.length) pending[at] = last;
    }
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
    for (const command of commandsOf(value)) this.transaction = afterCommand(this.transaction, command, q.string);
  }
}

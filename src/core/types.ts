// The public types of poolguard's core: what reports, events, snapshots and errors carry. Types
// only, and no imports, so that every module can use them without a cycle (the guard's rooms,
// telemetry, the adapters, the entry points).

/**
 * How a lease was taken. `connect`/`acquire` leases are handed to the caller, who must release
 * them: they can be forgotten. `query`/`use` leases are released by the pool itself when the work
 * ends: they can be slow, never forgotten. A data layer's (Knex's, Sequelize's) `transaction` ends
 * only when the application commits or rolls back, so it can be forgotten; its `statement` (one
 * builder query) is released by the data layer when the query ends, like `query`.
 * @public
 */
export type LeaseKind = 'connect' | 'query' | 'acquire' | 'use' | 'transaction' | 'statement';

/**
 * Why a connection left the pool. Every retirement carries one, in the `retire` event and in the
 * snapshot's totals.
 * @public
 */
export type RetireReason = 'lifetime' | 'uses' | 'idle' | 'error' | 'dirty' | 'reclaimed' | 'terminated' | 'ended';

/**
 * The trace a lease was taken in: the ids of the span active at checkout.
 * @public
 */
export interface TraceRef {
  /** The trace id (32 hex digits). */
  readonly traceId: string;
  /** The id of the span active at checkout (16 hex digits). */
  readonly spanId: string;
  /** The W3C trace flags (1: sampled). */
  readonly traceFlags: number;
}

/**
 * Running totals since the guard was attached.
 * @public
 */
export interface GuardTotals {
  /** Leases handed out. */
  checkouts: number;
  /** Connections created (seen by the guard). */
  created: number;
  /** Connections removed from the pool. */
  destroyed: number;
  /** Leases reported as leaks. */
  leaks: number;
  /** Reported leases that were released afterwards. */
  leaksResolved: number;
  /** Leases taken back by reclaim. */
  reclaims: number;
  /** Checkouts that timed out waiting. */
  timeouts: number;
  /** Second `release()` calls on one lease. */
  doubleReleases: number;
  /** Leases released inside an open or failed transaction. */
  dirtyReleases: number;
  /** Connections checked before reuse (`validateAfterIdleMs`) and found dead. */
  validationFailures: number;
  /** Connection errors that nobody listened for, which pg would have thrown. */
  unhandledErrors: number;
  /** Times the pool's checks found that the event loop had been blocked (`stall` events). */
  stalls: number;
  /** Connections retired, by reason. */
  retired: Record<RetireReason, number>;
}

/**
 * Who holds a pool's connections, grouped by the call site that took them.
 * @public
 */
export interface HolderGroup {
  /**
   * Where the leases were taken, as reports say it: `file:line:column` of the application's line,
   * or what is known instead (`an unknown site inside knex`, or
   * `an unknown site (no stack captured for this pool.query())`); leases are grouped by it.
   */
  readonly site: string;
  /** When the site is unknown: why, and what finds the line (as the leak report says it). */
  readonly hint: string | undefined;
  /** Leases open from this site. */
  readonly count: number;
  /** The longest of their hold times, in milliseconds. */
  readonly oldestHeldMs: number;
  /** Leases with nothing in flight when the error was made (see `LeaseState`). */
  readonly idle: number;
  /** Leases with work in flight (a query, a `use()` callback, a recent `touch()`): slow, not forgotten. */
  readonly busy: number;
  /**
   * Leases whose session is inside an open or failed transaction (as of the server's last reply):
   * their locks make other sessions wait.
   */
  readonly inTransaction: number;
  /** The trace active when the oldest of them was taken, if one was. */
  readonly trace: TraceRef | undefined;
}

/**
 * Whether a lease had work in flight when it was looked at, read from the driver: `busy` is a pg
 * query running or queued (or a cursor read), a `pool.query()` or `use()` callback not yet done, or,
 * for a resource whose work poolguard cannot read, a `touch()` within `guard.idleAfterMs`; `idle`
 * is nothing in flight.
 * @public
 */
export type LeaseState = 'idle' | 'busy';

/**
 * A leak report: emitted as `leak` when a lease crosses `guard.leakThresholdMs`, as `leakResolved`
 * when a reported lease is finally released, and as `reclaim` when poolguard takes a lease back.
 * @public
 */
export interface LeakReport {
  /** Which event this report belongs to. */
  readonly type: 'leak' | 'leakResolved' | 'reclaim';
  /** The pool's name (`guard.name`). */
  readonly pool: string;
  /** The lease's id, the same in the `leak`, `leakResolved` and `reclaim` reports and in snapshots. */
  readonly leaseId: number;
  /** How the lease was taken. */
  readonly kind: LeaseKind;
  /**
   * `file:line:column` of the application's code that took the lease, or `undefined` when no stack
   * was captured or none of its frames is the application's (see `where`).
   */
  readonly site: string | undefined;
  /**
   * Where the lease was taken, as reports, holder groups, snapshots and telemetry all say it: the
   * `site`, or `an unknown site inside knex`, or
   * `an unknown site (no stack captured for this pool.query())`. The message adds why and what
   * finds the line.
   */
  readonly where: string;
  /** The stack captured at checkout, one frame per line, or `undefined`. */
  readonly stack: string | undefined;
  /** How long the lease has been (or, for `leakResolved`, was) held, in milliseconds. */
  readonly heldMs: number;
  /** `busy` or `idle` when the report was made (for `leakResolved`: as last reported). */
  readonly state: LeaseState;
  /**
   * How long the lease has had nothing in flight, in milliseconds: since its last query finished
   * (or since checkout, if none did); 0 while a query is in flight. For a resource poolguard cannot
   * read, since its last `touch()` (or checkout).
   */
  readonly idleMs: number;
  /**
   * `open` when the lease's session is inside a transaction (`BEGIN` without `COMMIT`/`ROLLBACK`),
   * `failed` inside a failed one, as of the server's last reply (no round trip); otherwise
   * `undefined`. An open transaction keeps its locks: the message then leads with it.
   */
  readonly transaction: 'open' | 'failed' | undefined;
  /** How long the caller waited for the lease, in milliseconds. */
  readonly waitMs: number;
  /** When the lease was taken (ISO 8601). */
  readonly checkedOutAt: string;
  /** The connection the lease holds, if known. */
  readonly connection: ConnectionSummary | undefined;
  /** The trace and span active when the lease was taken: find the request that leaked. */
  readonly trace: TraceRef | undefined;
  /** A one-paragraph explanation with the next step, as logged. */
  readonly message: string;
}

/**
 * One physical connection, as shown in reports and snapshots.
 * @public
 */
export interface ConnectionSummary {
  /** poolguard's id for the connection, stable for its life. */
  readonly id: number;
  /** The server's backend process id, where the driver tells it. */
  readonly pid: number | undefined;
  /** Time since the connection was created (or first seen), in milliseconds. */
  readonly ageMs: number;
  /** Completed leases on this connection. */
  readonly uses: number;
}

/**
 * One open lease in a snapshot.
 * @public
 */
export interface LeaseSnapshot {
  /** The lease's id, as in leak reports. */
  readonly id: number;
  /** How the lease was taken. */
  readonly kind: LeaseKind;
  /** `file:line:column` of the application's code that took it, if its stack was captured and names it. */
  readonly site: string | undefined;
  /** Where it was taken, said as reports say it (`site`, or `an unknown site inside knex`…). */
  readonly where: string;
  /** `busy` or `idle` now. */
  readonly state: LeaseState;
  /** Time held so far, in milliseconds. */
  readonly heldMs: number;
  /** Time with nothing in flight, in milliseconds, as in `LeakReport.idleMs`. */
  readonly idleMs: number;
  /** `open` or `failed` when its session is inside a transaction, as in `LeakReport.transaction`. */
  readonly transaction: 'open' | 'failed' | undefined;
  /** Time the caller waited for it, in milliseconds. */
  readonly waitMs: number;
  /** When it was taken (ISO 8601). */
  readonly checkedOutAt: string;
  /** The id of the connection it holds. */
  readonly connectionId: number | undefined;
  /** The trace and span active when it was taken. */
  readonly trace: TraceRef | undefined;
  /** Whether a `leak` report was made for it. */
  readonly reported: boolean;
  /**
   * Why it is held on purpose, when it is exempt from leak reports and reclaim
   * (`pool.guard.exempt()`, `guard.exemptSites`); otherwise `undefined`.
   */
  readonly exempt: string | undefined;
}

/**
 * The counters the wrapped pool keeps itself.
 * @public
 */
export interface PoolCounts {
  /** Connections open, idle or in use. */
  readonly total: number;
  /** Connections ready in the pool. */
  readonly idle: number;
  /** Callers waiting for a connection. */
  readonly waiting: number;
  /** The pool's `max`. */
  readonly max: number;
  /** The pool's `min`. */
  readonly min: number;
}

/**
 * A JSON-serialisable picture of a guarded pool. It never contains a password or connection
 * string.
 * @public
 */
export interface GuardSnapshot {
  /** The pool's name (`guard.name`). */
  readonly pool: string;
  /** When the snapshot was taken (ISO 8601). */
  readonly takenAt: string;
  /** The wrapped pool's own counters, plus `leased` as poolguard counts it. */
  readonly counts: PoolCounts & { readonly leased: number };
  /** Running totals since the guard was attached. */
  readonly totals: Readonly<GuardTotals>;
  /** Open leases, oldest first. */
  readonly leases: readonly LeaseSnapshot[];
  /** Live connections, oldest first. */
  readonly connections: ReadonlyArray<ConnectionSummary & { readonly state: 'leased' | 'idle' }>;
  /** The thresholds in force. */
  readonly settings: {
    readonly leakThresholdMs: number;
    readonly idleAfterMs: number;
    readonly reclaimAfterMs: number;
    readonly captureStacks: string;
  };
}

/**
 * A connection released inside an open (`BEGIN` without `COMMIT`) or failed transaction: emitted
 * as `dirtyRelease`. The connection is never handed to the next caller as it is.
 * @public
 */
export interface DirtyReleaseReport {
  /** The pool's name (`guard.name`). */
  readonly pool: string;
  /** The lease's id, as in leak reports and snapshots. */
  readonly leaseId: number;
  /** How the lease was taken. */
  readonly kind: LeaseKind;
  /** `open`: a transaction was still in progress; `failed`: it had failed and was never rolled back. */
  readonly transaction: 'open' | 'failed';
  /** What poolguard did: closed the connection, or rolled the transaction back before reuse. */
  readonly action: 'destroy' | 'rollback';
  /** Where the lease was taken, if its stack was captured. */
  readonly checkoutSite: string | undefined;
  /** Where `release()` was called (captured on this path only, so it costs nothing otherwise). */
  readonly releaseSite: string | undefined;
  /** The stack of the `release()` call. */
  readonly releaseStack: string | undefined;
  /** The connection that was released. */
  readonly connection: ConnectionSummary | undefined;
  /** The readable line that was logged, with the next step. */
  readonly message: string;
}

/**
 * A connection left the pool: emitted as `retire`, with the reason.
 * @public
 */
export interface RetireReport {
  /** The pool's name (`guard.name`). */
  readonly pool: string;
  /** Why it left. */
  readonly reason: RetireReason;
  /** The connection, as it was when it left. */
  readonly connection: ConnectionSummary;
}

/**
 * A connection error that nobody listened for, which plain pg would have thrown (ending the
 * process): emitted as `unhandledError` when `guard.unhandledErrors` is `'report'`.
 * @public
 */
export interface UnhandledErrorReport {
  /** The pool's name (`guard.name`). */
  readonly pool: string;
  /** The error pg raised. */
  readonly error: Error;
  /** Whether the connection was checked out (its holder gets the error on its next query). */
  readonly leased: boolean;
  /** Where the holder took the connection, if it was checked out and its stack captured. */
  readonly site: string | undefined;
  /** The connection, if known. */
  readonly connection: ConnectionSummary | undefined;
  /** The readable line that was logged, with the next step. */
  readonly message: string;
}

/**
 * A lease still held while the pool ends, as an `endBlocked` or `endForced` report lists it.
 * @public
 */
export interface EndLease extends LeaseSnapshot {
  /**
   * Whether the driver says work is running on the connection now (a pg query); `undefined` when
   * the resource does not say, and then only `pool.guard.touch()` calls tell activity (`idleMs`).
   */
  readonly inFlight: boolean | undefined;
}

/**
 * `pool.end()` (pg) or `pool.drain()` (generic-pool) held up by checked-out connections: emitted
 * once as `endBlocked` a short while after the call (a second, or half of `guard.endTimeoutMs` if
 * that is shorter), and as `endForced` when `guard.endTimeoutMs` passed and poolguard reclaimed
 * the leases still held so that the call could finish. `endClosed`: the pool's end itself closed
 * connections still checked out (mysql2's and mysql's end close every connection, lent or not),
 * and their leases ended with the pool.
 * @public
 */
export interface EndReport {
  /** Which event this report belongs to. */
  readonly type: 'endBlocked' | 'endForced' | 'endClosed';
  /** The pool's name (`guard.name`). */
  readonly pool: string;
  /** The call that is waiting: `pool.end()` or `pool.drain()`. */
  readonly call: string;
  /** How long that call had waited when the report was made, in milliseconds. */
  readonly waitedMs: number;
  /** `guard.endTimeoutMs`: when poolguard reclaims what is still held (`0`: never). */
  readonly endTimeoutMs: number;
  /** `endBlocked`: the leases the call waits for; `endForced`: the leases reclaimed; `endClosed`: the leases ended with the pool. Oldest first. */
  readonly leases: readonly EndLease[];
  /** The readable text that was logged, with the next step. */
  readonly message: string;
}

/**
 * The pool's periodic check ran late: the event loop was blocked (synchronous work, a long garbage
 * collection, or a process that was not scheduled). Emitted as `stall`, once per late check.
 * @public
 */
export interface StallReport {
  /** The pool's name (`guard.name`). */
  readonly pool: string;
  /** How late the check ran, in milliseconds: the loop was blocked at least this long. */
  readonly blockedMs: number;
  /** The interval the check was due at, in milliseconds. */
  readonly expectedMs: number;
  /** The time since the previous check, in milliseconds. */
  readonly actualMs: number;
  /** Leases open when the check ran. */
  readonly leased: number;
  /** Callers waiting for a connection when the check ran. */
  readonly waiting: number;
  /** The readable line that was logged, with the next step. */
  readonly message: string;
}

/**
 * The events of `pool.guard`.
 * @public
 */
export interface GuardEvents {
  /**
   * A lease crossed `guard.leakThresholdMs`; reported once per lease, except that a lease slow at
   * the threshold (busy, or in active use: its last query finished within `guard.idleAfterMs`) is
   * reported again, once, if it then sits idle for the threshold.
   */
  leak: [report: LeakReport];
  /** A lease that was reported as a leak has been released. */
  leakResolved: [report: LeakReport];
  /** poolguard took a lease back and destroyed its connection. */
  reclaim: [report: LeakReport];
  /** A connection was released inside an open or failed transaction. */
  dirtyRelease: [report: DirtyReleaseReport];
  /** A connection left the pool, with the reason. */
  retire: [report: RetireReport];
  /** A connection error nobody listened for was caught instead of ending the process. */
  unhandledError: [report: UnhandledErrorReport];
  /** `pool.end()` / `pool.drain()` is waiting for checked-out connections; reported once per end. */
  endBlocked: [report: EndReport];
  /** `guard.endTimeoutMs` passed: poolguard reclaimed the connections still held so that the end finishes. */
  endForced: [report: EndReport];
  /**
   * The pool's end closed connections still checked out (mysql2's and mysql's end close every
   * connection, lent or not): their leases ended with the pool, never given back. Reported once for
   * the connections closed together, with each holder's line.
   */
  endClosed: [report: EndReport];
  /**
   * The pool's check ran late because the event loop was blocked; no leak report or reclaim was
   * decided on the time lost (the next check decides, once holders have run).
   */
  stall: [report: StallReport];
}

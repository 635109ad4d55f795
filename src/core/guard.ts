import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from './clock.js';
import { channels } from './diagnostics.js';
import { settingConflicts, type ResolvedGuardConfig } from './config.js';
import { CheckoutTimeoutError, DirtyReleaseError, DoubleReleaseError, LeaseReclaimedError, describeHolders, type HolderGroup } from './errors.js';
import { formatDuration, plural } from './format.js';
import { ConnectionRecord, Ledger, Lease, type GuardTotals, type LeaseKind } from './ledger.js';
import { RateLimitedLog } from './logger.js';
import { dueReason, errorReason, retireAt, type RetireReason } from './recycle-policy.js';
import { enableAsyncTrail, MAX_TRAIL_DEPTH } from './async-trail.js';
import { type CapturedStack, type CapturePlan, DEFAULT_IGNORED_FRAMES, describeCapture, formattedCapture, makeCapturePlan, makeStackCapturer, type SiteRules, type StackCapturer, type StackDescription } from './stack.js';
import { NO_TELEMETRY, type TelemetrySink, type TraceRef } from './telemetry.js';

/**
 * How many connections one checkout may discard (past their lifetime, or failing validation)
 * before it gives the caller the last error instead: a dead server must not hold callers forever.
 */
const MAX_DISCARDS = 3;

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
 * the leases still held so that the call could finish.
 * @public
 */
export interface EndReport {
  /** Which event this report belongs to. */
  readonly type: 'endBlocked' | 'endForced';
  /** The pool's name (`guard.name`). */
  readonly pool: string;
  /** The call that is waiting: `pool.end()` or `pool.drain()`. */
  readonly call: string;
  /** How long that call had waited when the report was made, in milliseconds. */
  readonly waitedMs: number;
  /** `guard.endTimeoutMs`: when poolguard reclaims what is still held (`0`: never). */
  readonly endTimeoutMs: number;
  /** `endBlocked`: the leases the call waits for; `endForced`: the leases reclaimed. Oldest first. */
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
   * A lease crossed `guard.leakThresholdMs`; reported once per lease, except that a lease busy
   * (slow) at the threshold is reported again, once, if it then sits idle for the threshold.
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
   * The pool's check ran late because the event loop was blocked; no leak report or reclaim was
   * decided on the time lost (the next check decides, once holders have run).
   */
  stall: [report: StallReport];
}

/** What the core needs from the pool it guards; each adapter supplies these. */
export interface AdapterHooks {
  /** The record of a pooled resource, if the adapter knows it (for `touch`). */
  recordOf?(resource: unknown): ConnectionRecord | undefined;
  /** Whether work is in flight on the resource right now; `undefined` when the adapter cannot tell. */
  inFlight(resource: object): boolean | undefined;
  /** The transaction the resource's session is in, read without a round trip; `undefined`: none or unknown. */
  transaction?(resource: object): 'open' | 'failed' | undefined;
  /**
   * Destroys the lease's resource (the pool replaces it) and makes the holder's later use of it
   * fail with an error from `makeError` (called at each use, so the stack is the holder's).
   */
  reclaim(lease: Lease, makeError: () => LeaseReclaimedError): void;
  /** The pool's own counters. */
  counts(): PoolCounts;
  /**
   * Closes an idle connection the policy retired (lifetime, uses) and, where the pool's `min`
   * asks for it, opens a replacement. When the connection is not idle in the pool's own sense
   * right now the adapter does nothing: the core has marked it, and its next release or checkout
   * retires it.
   */
  retireIdle?(record: ConnectionRecord): void;
  /**
   * How a holder gives a lease back, in the pool's own words, for the timeout error's `Next:`
   * (default `release the client`; generic-pool's resources go back through the pool).
   */
  readonly releaseWords?: string;
}

/**
 * `pool.guard`: poolguard's handle on one pool. Listen for `leak`, `leakResolved` and `reclaim`;
 * call `snapshot()` for the pool's state. Listeners that throw are logged, never crash the pool.
 * @public
 */
export class PoolGuard extends EventEmitter {
  readonly #core: GuardCore;

  /** @internal */
  constructor(core: GuardCore) {
    super();
    this.#core = core;
  }

  /** The pool's name in reports, logs and telemetry. */
  get name(): string {
    return this.#core.config.name;
  }

  /** A JSON-serialisable picture of the pool now: counters, open leases, connections, totals. */
  snapshot(): GuardSnapshot {
    return this.#core.snapshot();
  }

  /**
   * Marks a checked-out resource as active now, so that a lease doing work poolguard cannot see
   * (a generic-pool resource that is not a pg client) reads `busy`, not `idle`, for the next
   * `guard.idleAfterMs`. pg clients need no call: what is in flight is read from the client.
   */
  touch(resource: unknown): void {
    this.#core.touch(resource);
  }

  /**
   * Marks the lease of a checked-out client (or generic-pool resource) as held on purpose — a
   * `LISTEN` client, a long report transaction — so that it is never reported as a leak nor
   * reclaimed. The lease still counts as checked out, and snapshots show it with `exempt: reason`.
   * The mark ends with the lease: the next checkout of the same connection is watched as usual.
   * Returns the client, so that it can wrap the checkout:
   * `const listener = pool.guard.exempt(await pool.connect(), 'LISTEN orders')`.
   * Throws a `TypeError` when the client is not checked out from this pool.
   */
  exempt<T extends object>(client: T, reason = 'exempt'): T {
    this.#core.exempt(client, reason);
    return client;
  }

  /** @internal The options in force, defaults included: what `audit(pool)` reads. */
  get resolvedOptions(): Readonly<Record<string, unknown>> {
    return { ...this.#core.config };
  }

  /** Adds a listener for one of {@link GuardEvents}. */
  override on<K extends keyof GuardEvents>(event: K, listener: (...args: GuardEvents[K]) => void): this;
  /** Adds a listener for any event name, as on every EventEmitter. */
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  /** Adds a one-time listener for one of {@link GuardEvents}. */
  override once<K extends keyof GuardEvents>(event: K, listener: (...args: GuardEvents[K]) => void): this;
  /** Adds a one-time listener for any event name, as on every EventEmitter. */
  override once(event: string | symbol, listener: (...args: any[]) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.once(event, listener);
  }

  /** Removes a listener for one of {@link GuardEvents}. */
  override off<K extends keyof GuardEvents>(event: K, listener: (...args: GuardEvents[K]) => void): this;
  /** Removes a listener for any event name, as on every EventEmitter. */
  override off(event: string | symbol, listener: (...args: any[]) => void): this;
  override off(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.off(event, listener);
  }
}

const EMPTY_HOLDERS: readonly HolderGroup[] = Object.freeze([]);

/** The longest `end()` waits before it says who holds it up. */
const END_REPORT_AFTER_MS = 1_000;

/** Leases named in an end report's text; the event carries them all. */
const END_LINES = 10;

/** Reports and reclaims handled per scan at most; the rest wait for the next scan (≤ 1 s later). */
const MAX_REPORTS_PER_SCAN = 100;

/**
 * A lease held this long keeps only its formatted stack, even with leak reports off
 * (`leakThresholdMs: 0`): an unformatted capture keeps every frame's receiver and arguments alive,
 * which for a forgotten lease is its whole request, for as long as it stays forgotten. Formatting
 * costs about 25 µs, once per lease held this long.
 */
const LONG_HELD_MS = 10_000;

/**
 * `captureStacks: 'adaptive'`: the share of explicit checkouts captured while no lease without a
 * stack is held long. One in 64 costs about 0.1 µs per checkout on average (a capture is 3.4–4.3 µs
 * in a checkout loop here) and still names a leak that recurs at its first sampled occurrence.
 */
const ADAPTIVE_SAMPLE_RATE = 1 / 64;

/**
 * `captureStacks: 'adaptive'`: a pool's first explicit checkouts are all captured. A leak in a new
 * deployment, a test suite or a first try is then named from its first report, as with `'connect'`;
 * the capture costs about 3 ms over these 1,000 checkouts, once, and a service at steady state pays
 * the sampled rate.
 */
const ADAPTIVE_START_CHECKOUTS = 1_000;

/**
 * A check this late (and at least half its interval late) means the event loop was blocked. As
 * HikariCP's housekeeper treats a run 1.5 periods after the last as a clock leap, and floored so
 * that a garbage collection or a busy machine's scheduling does not count.
 */
const STALL_MIN_MS = 200;

/**
 * Late checks in a row that make no decision. A loop blocked this often would otherwise hide every
 * leak: after this many, the check decides even though it ran late.
 */
const MAX_DEFERRED_SCANS = 3;

/** What a lease is doing now, read from the driver (or, where it cannot tell, from `touch()`). */
interface Activity {
  readonly state: LeaseState;
  /** As in `LeakReport.idleMs`. */
  readonly idleMs: number;
  /**
   * How the state was read: a `pool.query()` or `use()` lease (released by the pool when its work
   * ends), the driver's own state (`driver`: a pg client), or `touch()` within `idleAfterMs`.
   */
  readonly basis: 'query' | 'use' | 'statement' | 'driver' | 'touch';
  /** Whether anything was seen done during the lease (a query finished, a `touch()`). */
  readonly active: boolean;
  readonly transaction: 'open' | 'failed' | undefined;
}

/** The clause of a report that says what a lease is doing, in the words of what was read. */
function activityWords(act: Activity, idleAfterMs: number): string {
  const idle = formatDuration(act.idleMs);
  const unseen = `(poolguard cannot see this resource's work; pool.guard.touch(resource) marks it)`;
  switch (act.basis) {
    case 'query':
      return 'with its pool.query() still running (pg releases the client when the query ends)';
    case 'use':
      return "with its use() callback still running (generic-pool releases the resource when the callback's promise settles)";
    case 'statement':
      return 'with its query still running (the data layer releases the connection when the query ends)';
    case 'driver':
      if (act.state === 'busy') return 'with a query in flight now (running or queued)';
      return act.active ? `with no query in flight; its last query finished ${idle} ago` : 'with no query in flight and none run since checkout';
    default:
      if (act.state === 'busy') return `and was last touched ${idle} ago (a touch() within guard.idleAfterMs, ${idleAfterMs} ms, counts as busy) ${unseen}`;
      return act.active ? `and was last touched ${idle} ago ${unseen}` : `and has not been touched since checkout ${unseen}`;
  }
}

/** What "busy" meant for the holders of a timeout error, in the words of what was read. */
function busyWords(bases: ReadonlySet<Activity['basis']>): string {
  const words: string[] = [];
  if (bases.has('driver')) words.push('a query in flight');
  if (bases.has('query')) words.push('a pool.query() running');
  if (bases.has('use')) words.push('a use() callback running');
  if (bases.has('statement')) words.push("a data layer's query running");
  if (bases.has('touch')) words.push('a touch() within guard.idleAfterMs');
  return words.join(' or ');
}

/** The sentence a report adds when the lease's session is inside a transaction. */
function transactionWords(transaction: 'open' | 'failed'): string {
  return transaction === 'open'
    ? 'Its session is inside an open transaction (BEGIN without COMMIT or ROLLBACK, as of the server\'s last reply), which keeps every lock it took until it ends: other sessions that need those rows wait behind it.'
    : 'Its session is inside a failed transaction (a statement failed and no ROLLBACK followed), which keeps every lock it took until ROLLBACK: other sessions that need those rows wait behind it.';
}

/**
 * A lease its holder took explicitly (and so can forget) without a captured stack: no report can
 * name its line. Managed leases (`pool.query()`, `use()`, a data layer's query) are released by
 * their pool, so a missing stack there loses nothing.
 */
function unnamedExplicit(lease: Lease): boolean {
  return lease.capture === undefined && !lease.managed;
}

/** Where a lease was taken: the one description reports, holder groups, snapshots and telemetry use. */
export interface LeaseWhereabouts {
  /** `file:line:column` of the application's line, if the capture names one. */
  readonly site: string | undefined;
  /** The site, or a short statement of what is known (`an unknown site inside typeorm`): a group key. */
  readonly where: string;
  /** When the site is unknown: why, and what finds the line. */
  readonly hint: string | undefined;
}

/** One line of an end report: where the lease was taken, how long ago, and what it is doing. */
function describeEndLease(l: EndLease): string {
  const doing =
    l.kind === 'query'
      ? 'taken by pool.query(), which releases it when the query ends'
      : l.kind === 'statement' && l.inFlight !== false
        ? "taken by a data layer's query, which releases it when the query ends"
      : l.kind === 'use'
        ? 'taken by pool.use(), which releases it when the callback settles'
        : l.inFlight === true
          ? 'a query in flight'
          : l.inFlight === false
            ? `nothing in flight for ${formatDuration(l.idleMs)}`
            : `last marked active ${formatDuration(l.idleMs)} ago (pool.guard.touch())`;
  const transaction =
    l.transaction === 'open'
      ? ', inside an open transaction (BEGIN without COMMIT: its locks block other sessions)'
      : l.transaction === 'failed'
        ? ', inside a failed transaction never rolled back'
        : '';
  const exempt = l.exempt === undefined ? '' : `, exempt from leak reports (${l.exempt})`;
  return `  lease ${l.id} (${l.kind}) from ${l.where}: held ${formatDuration(l.heldMs)}, ${doing}${transaction}${exempt}`;
}

/**
 * Says where a lease was taken, or why that is unknown and what will find it. Unknown is stated by
 * what the capture shows (no capture, cut at its depth, ended where V8's async stack stops), never
 * guessed: a wrong line costs its reader more than no line.
 */
export function whereTaken(described: StackDescription | undefined, lease: Pick<Lease, 'kind' | 'managed'>, config: Pick<ResolvedGuardConfig, 'captureStacks' | 'stackDepth' | 'stackSampleRate'>): LeaseWhereabouts {
  if (described === undefined) {
    // A data layer's (Knex's, Sequelize's) lease is named by what the application called.
    const call = lease.kind === 'statement' ? "data layer's query" : lease.kind === 'transaction' ? 'transaction' : lease.managed ? `pool.${lease.kind}()` : `${lease.kind}()`;
    const hint =
      config.captureStacks === 'none'
        ? `guard.captureStacks is 'none'`
        : lease.kind === 'statement' && config.captureStacks !== 'all'
          ? `the data layer releases the connection of each query itself, so queries capture no stack unless guard.captureStacks is 'all'`
        : lease.managed && config.captureStacks !== 'all'
          ? `the pool releases ${call} leases itself, so they capture no stack unless guard.captureStacks is 'all'`
          : config.stackSampleRate < 1
            ? `guard.stackSampleRate is ${config.stackSampleRate} and this checkout was not sampled`
            : config.captureStacks === 'adaptive'
              ? `guard.captureStacks is 'adaptive' and this checkout was not sampled`
            : `see guard.captureStacks`;
    return { site: undefined, where: `an unknown site (no stack captured for this ${call})`, hint };
  }
  if (described.site !== undefined) return { site: described.site, where: described.site, hint: undefined };
  const via = described.via;
  const where = via === undefined ? 'an unknown site' : `an unknown site inside ${via}`;
  let hint: string;
  if (described.cutAt !== undefined) {
    hint =
      `the stack was cut at ${described.cutAt} frames, inside ${via ?? 'ignored frames'}, before it reached your code: ` +
      (config.stackDepth < 200 ? `raise guard.stackDepth (now ${config.stackDepth}, at most 200) and the next report names your line` : `add your own data-access helpers to guard.ignoreFrames sparingly, or take the connection closer to your code`);
  } else if (via === undefined) {
    hint = 'every captured frame was inside poolguard, the driver, Node or guard.ignoreFrames';
  } else if (described.trailSearched === 'cut') {
    hint =
      `guard.asyncCallers followed the call back through ${via}'s promises to a step whose own stack was cut, and stopped there rather than name a line ` +
      `that may not be on the path to the checkout: check that guard.ignoreFrames does not skip your own files; report.trace names the request`;
  } else if (described.trailSearched === 'ended') {
    hint =
      `guard.asyncCallers followed the call back through ${via}'s promises, up to ${MAX_TRAIL_DEPTH} steps, ` +
      `without reaching a frame of the application: check that guard.ignoreFrames does not skip your own files; report.trace names the request`;
  } else {
    hint =
      `the call reached ${via} through a thenable or a promise it started itself, where V8's async stack stops; to get your line, ` +
      `run with guard.asyncCallers: true until the next report (a diagnostic mode with a cost on every promise, see the README's "ORMs and query builders"); ` +
      `report.trace names the request meanwhile`;
  }
  return { site: undefined, where, hint };
}

const siteAndWhere = ({ site, where }: LeaseWhereabouts): { site: string | undefined; where: string } => ({ site, where });

/**
 * The choke point: every checkout, release, reclaim and removal of a guarded pool passes here.
 * It knows nothing of pg or generic-pool; adapters translate their pool's hooks into these calls
 * and carry out the decisions (destroy, replace).
 */
export class GuardCore {
  readonly config: ResolvedGuardConfig;
  readonly ledger = new Ledger();
  readonly handle: PoolGuard;
  readonly clock: Clock;
  readonly #hooks: AdapterHooks;
  readonly #log: RateLimitedLog;
  readonly #sites: SiteRules;
  /** The plan in force for explicit checkouts; `'adaptive'` swaps it between the two below. */
  #explicit: CapturePlan;
  /** `'adaptive'` only: the sampled plan and the every-checkout plan, else both `undefined`. */
  readonly #sampledPlan: CapturePlan | undefined;
  readonly #everyPlan: CapturePlan | undefined;
  /** `'adaptive'`: an explicit lease without a stack held this long switches to every checkout. */
  readonly #adaptAfterMs: number;
  /** `'adaptive'`: every checkout is captured until this clock reading (`-Infinity`: sampling). */
  #everyUntil = -Infinity;
  /** `'adaptive'`: the sampled plan captures 1 explicit checkout in this many. */
  #adaptiveOneIn = 0;
  readonly #managedPlan: CapturePlan;
  readonly #captureRelease: StackCapturer;
  /**
   * Leases past this age are suspects: min of the positive leak and reclaim thresholds and, while
   * stacks are captured, `LONG_HELD_MS` (a suspect's capture is formatted, see `scan`).
   */
  readonly #suspectAfterMs: number;
  readonly #scanEveryMs: number;
  #timer: unknown = undefined;
  /** When the timer last ran (or was started): a check much later than due means a blocked loop. */
  #lastTickAt = 0;
  /** Late checks in a row that deferred their decisions. */
  #deferredScans = 0;
  /** The clock's `epoch` when the timer was made. */
  #timerEpoch: number | undefined = undefined;
  #recordReleases: boolean;
  /** Set by `runManaged` around its synchronous call into the pool's checkout. */
  #managed = false;
  #managedCapture: Lease['capture'] = undefined;
  #telemetry: TelemetrySink = NO_TELEMETRY;
  readonly #random: () => number;
  /** Clock readings of the pool's first `end()` call and of its completion. */
  #endCalledAt: number | undefined = undefined;
  #endFinishedAt: number | undefined = undefined;
  #endCall = 'pool.end()';
  readonly #endTimers: unknown[] = [];
  /**
   * Whether lifetime or use limits are set: adapters test this plain field before asking
   * `dueForRetirement`, so that a pool without them pays one property read per checkout.
   */
  readonly recycles: boolean;
  /** Whether connections are checked before reuse (`validateAfterIdleMs`); read the same way. */
  readonly validates: boolean;

  constructor(config: ResolvedGuardConfig, hooks: AdapterHooks, clock: Clock = systemClock, random: () => number = Math.random) {
    this.config = config;
    this.clock = clock;
    this.#hooks = hooks;
    this.handle = new PoolGuard(this);
    this.#log = new RateLimitedLog(config.logger, () => clock.now());
    this.#sites = { ignore: [...DEFAULT_IGNORED_FRAMES, ...config.ignoreFrames], depth: config.stackDepth };
    const settings = { sampleRate: config.stackSampleRate, depth: config.stackDepth, asyncCallers: config.asyncCallers };
    if (config.asyncCallers) enableAsyncTrail();
    this.#explicit = makeCapturePlan(config.captureStacks !== 'none', settings);
    if (config.captureStacks === 'adaptive') {
      const sampleRate = config.stackSampleRate < 1 ? config.stackSampleRate : ADAPTIVE_SAMPLE_RATE;
      this.#adaptiveOneIn = Math.round(1 / sampleRate);
      const every = (this.#everyPlan = makeCapturePlan(true, { ...settings, sampleRate: 1 }));
      const sampled = (this.#sampledPlan = makeCapturePlan(true, { ...settings, sampleRate }));
      // The start: every checkout, counted, then sampling (unless `#adapt` has moved on to `every`).
      // A stackSampleRate set below 1 asks for sampling from the first checkout: no start.
      let left = config.stackSampleRate < 1 ? 0 : ADAPTIVE_START_CHECKOUTS;
      const start: CapturePlan = {
        prepare: () => every.prepare(),
        finish: () => {
          every.finish();
          if (--left <= 0 && this.#explicit === start) this.#explicit = sampled;
        },
      };
      this.#explicit = left > 0 ? start : sampled;
    }
    this.#managedPlan = makeCapturePlan(config.captureStacks === 'all', settings);
    this.#captureRelease = makeStackCapturer(true, { sampleRate: 1, depth: config.stackDepth });
    this.#recordReleases = config.releaseStacks === 'always';
    const thresholds = [config.leakThresholdMs, config.reclaimAfterMs].filter((t) => t > 0);
    if (config.captureStacks !== 'none') thresholds.push(LONG_HELD_MS);
    this.#suspectAfterMs = thresholds.length ? Math.min(...thresholds) : Infinity;
    this.#adaptAfterMs = this.#suspectAfterMs / 4;
    this.#random = random;
    this.recycles = config.maxLifetimeMs > 0 || config.maxUses > 0;
    this.validates = config.validateAfterIdleMs > 0;
    // Reports come at most a quarter of the threshold late, and never more than a second late;
    // lifetimes are enforced to within a tenth of the lifetime, or a second.
    const due = Math.min(this.#suspectAfterMs / 4, config.maxLifetimeMs > 0 ? config.maxLifetimeMs / 10 : Infinity);
    this.#scanEveryMs = Math.min(1_000, Math.max(10, due));
    for (const conflict of settingConflicts(config)) {
      this.#log.write('warn', `settings ${conflict.message}`, { pool: config.name, ...conflict }, `poolguard[${config.name}]: ${conflict.message}. ${conflict.why} ${conflict.fix}`);
    }
  }

  /** Plugs in the adapter's telemetry (OpenTelemetry's sink); until then, and when off, none. */
  useTelemetry(sink: TelemetrySink): void {
    this.#telemetry = sink;
  }

  /** `now`: the caller's clock reading (a checkout reads the clock once). */
  #ensureTimer(now: number): void {
    if (this.#timer !== undefined) {
      if (this.#timerEpoch === this.clock.epoch) return;
      // Made under another clock (fake timers installed or removed since): it may never fire.
      this.clock.clearInterval(this.#timer);
    }
    this.#timerEpoch = this.clock.epoch;
    this.#lastTickAt = now;
    this.#deferredScans = 0;
    this.#timer = this.clock.setInterval(() => this.#tick(), this.#scanEveryMs);
  }

  /**
   * The timer's run: a check that ran late means the event loop was blocked, and every holder with
   * it. Time gained that way is not the holders' doing, so the late check says so and decides
   * nothing; the next one, after holders have had their turn (their timers and I/O), decides.
   */
  #tick(): void {
    const now = this.clock.now();
    const actualMs = now - this.#lastTickAt;
    const late = actualMs - this.#scanEveryMs;
    this.#lastTickAt = now;
    let decide = true;
    if (late >= Math.max(STALL_MIN_MS, this.#scanEveryMs / 2)) {
      this.#stalled(late, actualMs);
      decide = this.#deferredScans >= MAX_DEFERRED_SCANS;
    }
    this.#deferredScans = decide ? 0 : this.#deferredScans + 1;
    this.#scan(now, decide);
  }

  #stalled(blockedMs: number, actualMs: number): void {
    this.ledger.totals.stalls++;
    const pool = this.config.name;
    const leased = this.ledger.leased;
    const waiting = Math.max(0, this.counts().waiting);
    const deferred = this.#deferredScans < MAX_DEFERRED_SCANS;
    const message =
      `poolguard[${pool}]: the event loop was blocked for at least ${formatDuration(blockedMs)}: the pool's check, due every ${formatDuration(this.#scanEveryMs)}, ran ${formatDuration(actualMs)} after the previous one, ` +
      `with ${plural(leased, 'lease')} out and ${plural(waiting, 'caller')} waiting. No holder could run meanwhile, so ` +
      (deferred ? 'poolguard made no leak report or reclaim on that time (its next check decides). ' : `after ${MAX_DEFERRED_SCANS} late checks in a row poolguard decides anyway. `) +
      `A blocked loop stalls every request and makes checkouts wait: find the synchronous work (a CPU-heavy handler, a sync fs or crypto call, a huge JSON.parse) with node --cpu-prof or perf_hooks.monitorEventLoopDelay().`;
    const report: StallReport = Object.freeze({ pool, blockedMs: Math.round(blockedMs), expectedMs: this.#scanEveryMs, actualMs: Math.round(actualMs), leased, waiting, message });
    this.#log.write('warn', 'stall', report, message);
    this.#emit('stall', report);
  }

  /** Writes one line through the pool's rate-limited logger (for adapters' one-off messages). */
  log(level: 'warn' | 'info', key: string, obj: object, msg: string): void {
    this.#log.write(level, key, obj, msg);
  }

  // ---- connections -------------------------------------------------------------------------

  /** A connection was opened; `createMs`, where the adapter measured it, is how long that took. */
  connectionOpened(resource: object, createMs?: number): ConnectionRecord {
    const now = this.clock.now();
    const record = this.ledger.addConnection(resource, now);
    if (createMs !== undefined) {
      record.createTimed = true;
      this.#telemetry.created(createMs);
    }
    record.retireAt = retireAt(now, this.config, this.#random);
    if (this.config.maxLifetimeMs > 0) this.#ensureTimer(now);
    return record;
  }

  /** Records the first cause that retires a connection; the removal reports it. */
  markRetiring(record: ConnectionRecord, reason: RetireReason): void {
    record.retireReason ??= reason;
  }

  /**
   * Whether the policy retires this connection now (lifetime, uses). Adapters ask at release and
   * at checkout, and carry out the retirement themselves.
   */
  dueForRetirement(record: ConnectionRecord, only?: 'lifetime'): 'lifetime' | 'uses' | undefined {
    if (!this.recycles) return undefined;
    if (only === 'lifetime' && record.retireAt === Infinity) return undefined;
    const reason = dueReason(record, record.retireAt === Infinity ? 0 : this.clock.now(), only === 'lifetime' ? { ...this.config, maxUses: 0 } : this.config);
    if (reason !== undefined) this.markRetiring(record, reason);
    return reason;
  }

  /** Whether a connection about to be handed out has been idle long enough to be checked first. */
  needsValidation(record: ConnectionRecord): boolean {
    return this.validates && this.clock.now() - record.idleSince >= this.config.validateAfterIdleMs;
  }

  /** A connection failed its check before reuse; the adapter destroys it and finds another. */
  validationFailed(record: ConnectionRecord, err: unknown): void {
    this.ledger.totals.validationFailures++;
    this.markRetiring(record, errorReason(err));
  }

  /** A connection checked fine: it counts as freshly active. */
  validationPassed(record: ConnectionRecord): void {
    record.idleSince = this.clock.now();
  }

  /**
   * What to do with a connection the pool just handed to a lease, before its holder sees it:
   * `'retire'` when its lifetime ended while it sat idle (the pool could not close it then; the
   * adapter closes it and asks the pool again), `'validate'` when it sat idle past
   * `validateAfterIdleMs` (the adapter calls `validateConnection`), else `'handOut'`. Every adapter
   * asks here, so the policy and its bound (`MAX_DISCARDS` per checkout: a dead server must not
   * hold callers for ever) live once. `discarded`: how many connections this lease discarded.
   */
  admission(lease: Lease, record: ConnectionRecord, discarded: number): 'handOut' | 'retire' | 'validate' {
    if (this.recycles && discarded < MAX_DISCARDS && this.dueForRetirement(record, 'lifetime') !== undefined) {
      this.checkoutWaits(lease);
      return 'retire';
    }
    if (this.validates && this.needsValidation(record)) {
      this.checkoutWaits(lease);
      return 'validate';
    }
    return 'handOut';
  }

  /**
   * Runs the check before reuse: `guard.validate` when set, else the adapter's `fallback` (pg:
   * `SELECT 1`, mysql2: a ping), bounded by `validationTimeoutMs`. `then` gets `undefined` when it
   * passed; when it failed, the adapter discards the connection and calls `validationDiscarded`.
   */
  validateConnection(record: ConnectionRecord, resource: unknown, fallback: () => unknown, then: (err: Error | undefined) => void): void {
    const { validate: check, validationTimeoutMs, name } = this.config;
    let settled = false;
    const settle = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err === undefined) this.validationPassed(record);
      then(err);
    };
    const timer = setTimeout(() => settle(new Error(`poolguard[${name}]: connection check did not answer within guard.validationTimeoutMs (${validationTimeoutMs} ms)`)), validationTimeoutMs);
    (timer as { unref?: () => void }).unref?.();
    const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
    try {
      Promise.resolve(check ? check(resource) : fallback()).then(
        () => settle(undefined),
        (err: unknown) => settle(asError(err)),
      );
    } catch (err) {
      settle(asError(err));
    }
  }

  /**
   * A connection failed its check and the adapter discarded it. Returns `true` when the lease has
   * discarded enough: it leaves the ledger and the adapter gives the caller `err`; `false`: the
   * adapter asks the pool again.
   */
  validationDiscarded(lease: Lease, record: ConnectionRecord, err: Error, discarded: number): boolean {
    this.validationFailed(record, err);
    if (discarded < MAX_DISCARDS) return false;
    this.checkoutFailed(lease, false);
    return true;
  }

  /**
   * A connection error nobody listened for. Returns `true` when it was reported (the adapter
   * swallows it) and `false` when the user asked for pg's behaviour (the adapter rethrows).
   */
  unhandledError(record: ConnectionRecord | undefined, err: Error): boolean {
    if (record !== undefined) this.markRetiring(record, errorReason(err));
    if (this.config.unhandledErrors === 'throw') return false;
    // A dying connection often errors twice (the server's FATAL, then the closed socket): one report.
    if (record !== undefined) {
      if (record.errorReported) return true;
      record.errorReported = true;
    }
    this.ledger.totals.unhandledErrors++;
    const lease = record?.lease;
    const taken = lease === undefined ? undefined : this.whereTaken(lease);
    const site = taken?.site;
    const pool = this.config.name;
    const what = String(err?.message ?? err);
    const message = lease
      ? `poolguard[${pool}]: a checked-out connection failed (${what}) and its holder, which took it at ${taken?.where}, listens for no 'error' event. ` +
        `pg would have ended the process; poolguard kept it running. The holder's next query fails; release the client as usual.`
      : `poolguard[${pool}]: an idle connection failed (${what}) and the pool has no 'error' listener. pg would have ended the process; poolguard removed the connection and kept running. ` +
        `Add pool.on('error', …) to handle it yourself, or set guard.unhandledErrors: 'throw' for pg's behaviour.`;
    const report: UnhandledErrorReport = Object.freeze({
      pool,
      error: err,
      leased: lease !== undefined,
      site,
      connection: record === undefined ? undefined : this.#summary(record, this.clock.now()),
      message,
    });
    this.#log.write('warn', `unhandled ${lease ? 'leased' : 'idle'} ${site ?? ''}`, { pool, error: what, code: (err as { code?: unknown }).code, leased: report.leased, site }, message);
    this.#emit('unhandledError', report);
    return true;
  }

  connectionActive(record: ConnectionRecord): void {
    record.lastActiveAt = this.clock.now();
  }

  exempt(resource: object, reason: unknown): void {
    if (typeof reason !== 'string' || reason === '') throw new TypeError(`pool.guard.exempt(client, reason): reason must be a non-empty string, got ${typeof reason === 'string' ? '""' : typeof reason}`);
    const lease = (resource == null ? undefined : this.#hooks.recordOf?.(resource))?.lease;
    if (lease === undefined || lease.released || lease.reclaimed) {
      throw new TypeError(
        `pool.guard.exempt(client): poolguard[${this.config.name}] has no open lease for this object. Pass the client exactly as connect()/acquire() returned it, before releasing it.`,
      );
    }
    lease.exempt = reason;
  }

  touch(resource: unknown): void {
    let record: ConnectionRecord | undefined;
    try {
      record = this.#hooks.recordOf?.(resource as object);
    } catch {
      // Not a resource of this pool (null, a primitive pg never lends): nothing to mark.
    }
    if (record !== undefined) this.connectionActive(record);
  }

  /**
   * A `use()` callback threw before returning, or returned something that is not a promise:
   * generic-pool then never releases its resource. Says so; the adapter destroys the resource, as
   * generic-pool does when the callback's promise rejects.
   */
  useCallbackFailed(resource: unknown, what: string): void {
    const lease = this.#hooks.recordOf?.(resource as object)?.lease;
    const taken = lease === undefined ? undefined : this.whereTaken(lease);
    const where = taken?.where ?? 'an unknown site';
    const message =
      `poolguard[${this.config.name}]: a use() callback called at ${where} ${what} instead of returning a promise, so generic-pool would have kept its resource checked out forever. ` +
      `poolguard destroyed the resource, as generic-pool does when the callback's promise rejects (use() still rejects as generic-pool makes it). Make the callback async, or return its promise.`;
    this.#log.write('warn', `use ${where}`, { pool: this.config.name, leaseId: lease?.id, site: taken?.site }, message);
  }

  /** A connection left the pool; `fallback` is the adapter's best guess when no cause was marked. */
  connectionRemoved(record: ConnectionRecord, fallback: RetireReason): void {
    if (!this.ledger.removeConnection(record)) return;
    const reason = record.retireReason ?? fallback;
    this.ledger.totals.retired[reason]++;
    if (!this.handle.listenerCount('retire') && !channels.retire.hasSubscribers) return;
    this.#emit('retire', Object.freeze({ pool: this.config.name, reason, connection: this.#summary(record, this.clock.now()) }));
  }

  // ---- checkout ----------------------------------------------------------------------------

  /**
   * A holder for the caller's stack at an explicit checkout, or `undefined` (capture off, sampled
   * out, or a managed call's own checkout, whose stack `runManaged` took). The adapter's entry point
   * (`connect`, `acquire`) calls `Error.captureStackTrace(holder, itself)` in its own frame and
   * hands the holder to `checkoutRequested`: V8 summarises every optimised frame it walks past.
   * Instructions per checkout+release (`benchmarks/instructions.sh`): 55,952 with the capture inside
   * the core, three frames deeper; 49,677 through one helper frame; 45,067 in the entry point.
   */
  prepareCapture(): CapturedStack | undefined {
    return this.#managed ? undefined : this.#explicit.prepare();
  }

  /**
   * Puts `Error.stackTraceLimit` back after a capture into a holder from `prepareCapture()`
   * (`managed: false`) or `prepareManagedCapture()` (`managed: true`), for an adapter whose
   * checkout comes later, asynchronously (a data layer's transaction or builder).
   */
  captureTaken(managed: boolean): void {
    (managed ? this.#managedPlan : this.#explicit).finish();
  }

  /**
   * A caller asks for a lease, with the stack captured into `prepareCapture()`'s holder. Inside
   * `runManaged`, the request is the managed call's own (`pool.query()` → `connect()`, `use()` →
   * `acquire()`) and becomes a lease of `managedKind`, with the managed call's capture.
   */
  checkoutRequested(kind: LeaseKind, capture: CapturedStack | undefined, managedKind?: LeaseKind, ready = false): Lease {
    if (capture !== undefined) this.#explicit.finish();
    let lease: Lease;
    if (this.#managed && managedKind !== undefined) {
      this.#managed = false;
      const managed = this.#managedCapture;
      this.#managedCapture = undefined;
      lease = this.ledger.newLease(managedKind, managed, this.clock.now());
    } else {
      lease = this.ledger.newLease(kind, capture, this.clock.now());
    }
    lease.ready = ready;
    lease.trace = this.#telemetry.activeTrace();
    // A ready lease waits for nothing but the pool's next tick: it stays off the waiting queue
    // (which the oldest-waiter gauge and the snapshot read) unless `checkoutWaits` puts it there.
    if (!ready) this.ledger.waiting.push(lease);
    return lease;
  }

  /**
   * A ready lease's connection must be checked or replaced before the holder gets it: from now on
   * it waits like any other, and its grant reads the clock.
   */
  checkoutWaits(lease: Lease): void {
    if (!lease.ready || lease.acquiredAt >= 0) return;
    lease.ready = false;
    this.ledger.waiting.push(lease);
  }

  /** A checkout failed (the pool's error goes to the caller); `timedOut` when it waited too long. */
  checkoutFailed(lease: Lease, timedOut: boolean): void {
    if (lease.list === this.ledger.waiting) this.ledger.waiting.remove(lease);
    // A ready lease was never queued; once failed it is no longer ready, so a second call is ignored.
    else if (lease.ready && lease.acquiredAt < 0) lease.ready = false;
    else return;
    this.#telemetry.failed(lease, timedOut);
  }

  /**
   * A holder for the caller's stack at a managed call (`pool.query()`, `use()`), or `undefined`
   * (the default `captureStacks: 'connect'` takes none): captured by the entry point in its own
   * frame, as for `prepareCapture`.
   */
  prepareManagedCapture(): CapturedStack | undefined {
    return this.#managedPlan.prepare();
  }

  /**
   * Runs a pool's own managed call (pg's `query`, generic-pool's `use`), which checks out
   * synchronously through the public entry point: that checkout is marked as managed and takes
   * the managed call's capture.
   */
  runManaged<T>(capture: CapturedStack | undefined, call: () => T): T {
    if (capture !== undefined) this.#managedPlan.finish();
    this.#managedCapture = capture;
    this.#managed = true;
    try {
      return call();
    } finally {
      this.#managed = false;
      this.#managedCapture = undefined;
    }
  }

  /**
   * The pool handed a connection to a lease's holder. A lease still `ready` (see `checkoutWaits`)
   * is timed by its request's clock reading, its wait 0: a clock read costs 70–200 ns on a VM, a
   * tenth of a bare checkout+release, and the wait it would measure is one tick of the pool's.
   */
  checkoutGranted(lease: Lease, conn: ConnectionRecord): void {
    let now: number;
    if (lease.ready) {
      now = lease.requestedAt;
    } else {
      now = this.clock.now();
      this.ledger.waiting.remove(lease);
    }
    lease.acquiredAt = now;
    lease.conn = conn;
    // The fields behind `conn.lease` (a getter): a setter's branch here cost the hot path its
    // inlining budget (benchmarks/RESULTS.md, mysql2).
    conn.last = lease;
    conn.held = true;
    this.ledger.totals.checkouts++;
    this.ledger.open.push(lease);
    if (!conn.createTimed) {
      // The pool opened this connection for this very checkout (pg's connect() does so
      // synchronously): its creation took from the request to the connection's first sight.
      conn.createTimed = true;
      if (conn.uses === 0 && lease.requestedAt <= conn.createdAt) this.#telemetry.created(conn.createdAt - lease.requestedAt);
    }
    this.#telemetry.granted(lease);
    if ((this.#timer === undefined || this.#timerEpoch !== this.clock.epoch) && this.#suspectAfterMs !== Infinity) this.#ensureTimer(now);
    if (channels.checkout.hasSubscribers) this.#publishCheckout(lease, now);
  }

  #publishCheckout(lease: Lease, now: number): void {
    const sites = this.#sites;
    const config = this.config;
    // The capture itself, not the lease's field, which the release empties: a subscriber may read
    // the site later. It stays alive only as long as the subscriber keeps the message.
    const capture = lease.capture;
    channels.checkout.publish({
      pool: this.config.name,
      leaseId: lease.id,
      kind: lease.kind,
      waitMs: Math.round(now - lease.requestedAt),
      connectionId: lease.conn?.id,
      // Formatting a stack costs more than the checkout: only a subscriber that reads it pays.
      get site(): string | undefined {
        return describeCapture(capture, sites)?.site;
      },
      get where(): string {
        return whereTaken(describeCapture(capture, sites), lease, config).where;
      },
    });
  }

  /**
   * A checkout timed out: what the error says (the pool's own message first, then who holds the
   * connections) and the caller's frames from the capture at checkout.
   */
  timeoutDetails(lease: Lease, poolMessage: string): { message: string; holders: readonly HolderGroup[]; waitedMs: number; frames: string | undefined } {
    const now = this.clock.now();
    this.ledger.totals.timeouts++;
    this.checkoutFailed(lease, true);
    const { groups: holders, busyBy } = this.#holders(now);
    const counts = this.counts();
    const waiting = Math.max(0, counts.waiting);
    let message = `${poolMessage}\n${describeHolders(this.config.name, holders, this.ledger.leased, counts.max, waiting, busyWords(busyBy), this.#hooks.releaseWords)}`;
    // Explicit holders without a stack: the error cannot name their line, so it says how to get it.
    let unnamed = 0;
    for (const list of [this.ledger.suspects, this.ledger.open]) for (const l of list) if (unnamedExplicit(l)) unnamed++;
    const hint = unnamed > 0 ? this.#noStackHint(unnamed) : undefined;
    if (hint !== undefined) message += `\n${hint}`;
    if (channels.timeout.hasSubscribers) channels.timeout.publish({ pool: this.config.name, leaseId: lease.id, waitedMs: Math.round(now - lease.requestedAt), holders });
    return { message, holders, waitedMs: now - lease.requestedAt, frames: describeCapture(lease.capture, this.#sites)?.stack };
  }

  /**
   * A checkout timed out in a pool that throws its own error class (generic-pool's TimeoutError,
   * Knex's KnexTimeoutError): the same class, the pool's message first, then who holds the
   * connections, with `fields` (`cause`, `code`) assigned; code matching the class keeps working.
   */
  timeoutErrorLike(lease: Lease, original: Error, fields: Record<string, unknown>): Error {
    const { message, holders, waitedMs, frames } = this.timeoutDetails(lease, original.message);
    const Ctor = original.constructor as new (message: string) => Error;
    let error: Error;
    try {
      error = new Ctor(message);
    } catch {
      error = new Error(message);
      error.name = original.name;
    }
    Object.assign(error, { ...fields, pool: this.config.name, holders, waitedMs });
    if (frames) error.stack = `${error.name}: ${message}\n${frames}`;
    return error;
  }

  /**
   * A checkout timed out with an error whose class cannot be rebuilt from a message (Sequelize's
   * ConnectionAcquireTimeoutError takes its parent error) or that its pool itself hands to the
   * caller (tarn's TimeoutError): that same error, its message followed by who holds the connections.
   */
  timeoutErrorInPlace(lease: Lease, err: Error): Error {
    const { message, holders, waitedMs, frames } = this.timeoutDetails(lease, err.message);
    err.message = message;
    Object.assign(err, { pool: this.config.name, holders, waitedMs });
    if (frames) err.stack = `${err.name}: ${message}\n${frames}`;
    return err;
  }

  /** What a timeout error says to do when some holders have no stack, by capture mode. */
  #noStackHint(unnamed: number): string | undefined {
    const n = unnamed === 1 ? '1 holder has' : `${unnamed} holders have`;
    switch (this.config.captureStacks) {
      case 'none':
        return `${n} no stack because guard.captureStacks is 'none': set it to 'connect' to name the line of every checkout; meanwhile the holders' trace ids (err.holders) name their requests.`;
      case 'adaptive':
        return (
          `${n} no stack: guard.captureStacks 'adaptive' (the default) captures 1 checkout in ${this.#adaptiveOneIn} ${this.config.stackSampleRate < 1 ? '' : `after the pool's first ${ADAPTIVE_START_CHECKOUTS.toLocaleString('en-US')} `}until a lease without one is held ` +
          `${formatDuration(this.#adaptAfterMs)}, then every checkout: the next leak from the same line is reported with its stack (pool.guard.on('leak'), the log). ` +
          `To name every holder at once, set guard.captureStacks: 'connect'.`
        );
      default:
        return this.config.stackSampleRate < 1 ? `${n} no stack because guard.stackSampleRate is ${this.config.stackSampleRate}: raise it to 1 to name every holder's line.` : undefined;
    }
  }

  /** A checkout timed out: the error names who holds the connections. */
  checkoutTimedOut(lease: Lease, poolMessage: string, cause: unknown): CheckoutTimeoutError {
    const { message, holders, waitedMs, frames } = this.timeoutDetails(lease, poolMessage);
    const error = new CheckoutTimeoutError(message, this.config.name, holders, waitedMs, cause);
    // The caller's own frames, from the capture at checkout: the timer that fired knows nothing.
    if (frames) error.stack = `${error.name}: ${message}\n${frames}`;
    return error;
  }

  // ---- release -----------------------------------------------------------------------------

  /**
   * A holder releases a lease. Returns `false` when the lease had been reclaimed (the late release
   * is harmless and the adapter must not touch the pool); throws `DoubleReleaseError` on a second
   * release, whose message starts with `poolMessage`.
   */
  released(lease: Lease, above: Function, poolMessage: string): boolean {
    if (lease.released) throw this.#doubleRelease(lease, poolMessage);
    lease.released = true;
    // Nothing of the capture outlives the release: the adapter keeps the lease (pg's release
    // closure stays on the idle client to catch a second release), and an unformatted capture
    // would keep the caller's frames, and their request objects, alive with it. A suspect's
    // capture is already formatted (strings), and its reports still need it.
    if (lease.list !== this.ledger.suspects) lease.capture = undefined;
    // No clock read here unless something needs it: at ~70 ns, performance.now() is a visible
    // share of a 1.2 µs checkout+release.
    if (this.#recordReleases) {
      lease.releasedAt = this.clock.now();
      const capture = this.#captureRelease(above);
      // Formatted now and kept as a plain string, for the same reason: a second release may never
      // come. (Newer V8s keep `stack` an accessor even once read, so the holder itself is dropped.)
      lease.releaseCapture = capture === undefined ? undefined : { stack: capture.stack };
    }
    if (lease.reclaimed) return false;
    this.#telemetry.released(lease);
    if (channels.release.hasSubscribers) {
      channels.release.publish({ pool: this.config.name, leaseId: lease.id, kind: lease.kind, heldMs: Math.round(this.clock.now() - lease.acquiredAt), connectionId: lease.conn?.id });
    }
    lease.list?.remove(lease);
    const conn = lease.conn;
    if (conn !== undefined) {
      conn.uses++;
      conn.held = false;
      if (this.validates) conn.idleSince = this.clock.now();
    }
    if (lease.reported) this.#resolved(lease, this.clock.now());
    return true;
  }

  /**
   * The adapter found the released connection inside a transaction. Records and reports it with
   * both sites; returns what the adapter must do and, for `destroy`, the error to destroy it with.
   */
  dirtyReleased(lease: Lease, transaction: 'open' | 'failed', above: Function): { action: 'destroy' | 'rollback'; error: DirtyReleaseError } {
    this.ledger.totals.dirtyReleases++;
    const action = this.config.dirtyRelease;
    if (action === 'destroy' && lease.conn !== undefined) this.markRetiring(lease.conn, 'dirty');
    const released = describeCapture(this.#captureRelease(above), this.#sites);
    const taken = this.whereTaken(lease);
    const checkoutSite = taken.site;
    const pool = this.config.name;
    const state = transaction === 'open' ? 'an open transaction (BEGIN without COMMIT or ROLLBACK)' : 'a failed transaction that was never rolled back';
    const done = action === 'destroy' ? 'closed it instead of returning it to the pool' : 'rolled it back before returning it to the pool';
    const message =
      `poolguard[${pool}]: a client was released inside ${state} at ${released?.site ?? 'an unknown site'} ` +
      `(checked out at ${taken.where}); poolguard ${done}, so the next caller does not inherit it. ` +
      `Commit or roll back on every path before release().`;
    const conn = lease.conn;
    const report: DirtyReleaseReport = Object.freeze({
      pool,
      leaseId: lease.id,
      kind: lease.kind,
      transaction,
      action,
      checkoutSite,
      releaseSite: released?.site,
      releaseStack: released?.stack,
      connection: conn === undefined ? undefined : this.#summary(conn, this.clock.now()),
      message,
    });
    this.#log.write('warn', `dirty ${released?.site ?? 'unknown'}`, report, released?.stack ? `${message}\n${released.stack}` : message);
    this.#emit('dirtyRelease', report);
    return { action, error: new DirtyReleaseError(message) };
  }

  #doubleRelease(lease: Lease, poolMessage: string): DoubleReleaseError {
    this.ledger.totals.doubleReleases++;
    const taken = this.whereTaken(lease);
    const checkoutSite = taken.site;
    const first = describeCapture(lease.releaseCapture, this.#sites);
    let detail: string;
    if (first?.site !== undefined) {
      detail = `The first release() was ${formatDuration(this.clock.now() - lease.releasedAt)} ago at ${first.site}.`;
    } else if (this.config.releaseStacks === 'auto') {
      detail = `The first release()'s site was not recorded, but poolguard now records release sites on this pool, so the next double release will name it.`;
    } else {
      detail = `Set guard.releaseStacks: 'always' to record where the first release() happened.`;
    }
    if (this.config.releaseStacks === 'auto') this.#recordReleases = true;
    // A released lease keeps no checkout stack (see released()) unless it was held long enough to be
    // formatted: then this error's own stack, the second release(), is the line to fix.
    const held = `${lease.kind}() lease #${lease.id}${lease.conn === undefined ? '' : ` on connection #${lease.conn.id}`}, checked out ${formatDuration(this.clock.now() - lease.acquiredAt)} ago`;
    const where = lease.capture !== undefined ? ` at ${taken.where}` : ' (its checkout stack is dropped at release; the stack below is the second release())';
    const message = `${poolMessage} poolguard[${this.config.name}]: ${detail} The ${held}${where}. Release each client exactly once, in one finally block.`;
    return new DoubleReleaseError(message, this.config.name, checkoutSite, first?.site, first?.stack);
  }

  // ---- leak detection ----------------------------------------------------------------------

  /** Looks at the leases old enough to matter. Cost: the leases that crossed a threshold, plus one. */
  scan(): void {
    this.#scan(this.clock.now(), true);
  }

  /** `decide`: false on a check that ran late, which reports and reclaims nothing (see `#tick`). */
  #scan(now: number, decide: boolean): void {
    const { open, suspects } = this.ledger;
    const cfg = this.config;
    if (this.#everyPlan !== undefined) this.#adapt(now);
    for (let lease = open.head; lease !== undefined && now - lease.acquiredAt >= this.#suspectAfterMs; lease = open.head) {
      open.remove(lease);
      suspects.push(lease);
      // Formatted once, when the lease first matters: earlier would cost every checkout.
      lease.capture = formattedCapture(lease.capture, this.#sites);
      if (lease.exempt === undefined && cfg.exemptSites.length > 0) lease.exempt = this.#exemptSite(lease);
    }
    // A report formats a stack (about 25 µs): when thousands of leases cross a threshold at once,
    // a bounded number is handled per scan and the rest on the next ones, rather than blocking the
    // event loop for a quarter of a second (benchmarks/RESULTS.md, "Scale").
    let budget = decide ? MAX_REPORTS_PER_SCAN : 0;
    for (let lease = suspects.head; lease !== undefined && budget > 0; ) {
      const next = lease.next;
      if (lease.exempt !== undefined) {
        lease = next;
        continue;
      }
      const heldMs = now - lease.acquiredAt;
      let act: Activity | undefined;
      if (lease.watch < 2 && cfg.leakThresholdMs > 0 && heldMs >= cfg.leakThresholdMs) {
        act = this.#activity(lease, now);
        if (act.state === 'idle') {
          // At the threshold, what is read is reported; a lease that was busy there is reported
          // again only once it has sat idle as long as the threshold (not in a pause between queries).
          if (lease.watch === 0 || act.idleMs >= cfg.leakThresholdMs) {
            this.#report(lease, now, act);
            budget--;
          }
        } else if (lease.watch === 0) {
          if (cfg.reportBusy) {
            this.#report(lease, now, act);
            budget--;
          } else {
            lease.watch = 1;
          }
        }
      }
      if (cfg.reclaimAfterMs > 0 && heldMs >= cfg.reclaimAfterMs && !lease.managed) {
        act ??= this.#activity(lease, now);
        // Nothing in flight for idleAfterMs: a scan that falls between two queries takes nothing.
        if (act.state === 'idle' && act.idleMs >= cfg.idleAfterMs && this.#underPressure()) {
          this.#reclaim(lease, now, act);
          budget--;
        }
      }
      lease = next;
    }
    if (this.recycles) this.#retireIdle(now);
    const keepForLeases = open.size + suspects.size > 0 && this.#suspectAfterMs !== Infinity;
    const keepForConnections = this.config.maxLifetimeMs > 0 && this.ledger.connections.size > 0;
    if (!keepForLeases && !keepForConnections && this.#timer !== undefined) {
      this.clock.clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /**
   * `captureStacks: 'adaptive'`: an explicit lease held past `#adaptAfterMs` without a stack may be
   * a leak that sampling missed, and its site cannot be named; from now on every checkout is
   * captured, so that the next lease from the same line is (a leak recurs). Back to sampling once
   * no such lease has been seen for `#suspectAfterMs`. Walks only the open leases past that age.
   */
  #adapt(now: number): void {
    let found: Lease | undefined;
    for (let lease = this.ledger.open.head; lease !== undefined && now - lease.acquiredAt >= this.#adaptAfterMs; lease = lease.next) {
      if (unnamedExplicit(lease) && lease.exempt === undefined) {
        found = lease;
        break;
      }
    }
    if (found !== undefined) {
      if (this.#explicit !== this.#everyPlan) {
        this.#explicit = this.#everyPlan!;
        const { name } = this.config;
        this.#log.write(
          'info',
          'adaptive capture',
          { pool: name, leaseId: found.id, heldMs: Math.round(now - found.acquiredAt) },
          `poolguard[${name}]: a ${found.kind}() lease without a stack has been held ${formatDuration(now - found.acquiredAt)} (guard.captureStacks: 'adaptive' samples ` +
            `1 checkout in ${this.#adaptiveOneIn}); every checkout's stack is captured from now on, so a leak that recurs is reported with its line.`,
        );
      }
      this.#everyUntil = now + this.#suspectAfterMs;
    } else if (this.#explicit === this.#everyPlan && now >= this.#everyUntil) {
      this.#explicit = this.#sampledPlan!;
    }
  }

  /** The `guard.exemptSites` pattern the lease's site matches, as its exemption reason. */
  #exemptSite(lease: Lease): string | undefined {
    const site = describeCapture(lease.capture, this.#sites)?.site;
    if (site === undefined) return undefined;
    const match = this.config.exemptSites.find((re) => re.test(site));
    return match === undefined ? undefined : `guard.exemptSites ${String(match)}`;
  }

  #retireIdle(now: number): void {
    const retire = this.#hooks.retireIdle;
    if (retire === undefined) return;
    for (const record of [...this.ledger.connections]) {
      if (record.lease !== undefined) continue;
      const reason = dueReason(record, now, this.config);
      if (reason === undefined) continue;
      // Marked first: if the pool cannot close it now, its next release or checkout will.
      this.markRetiring(record, reason);
      try {
        retire(record);
      } catch {
        // The next release or checkout retires it.
      }
    }
  }

  #underPressure(): boolean {
    const percent = this.config.reclaimWhenUsedPercent;
    if (percent <= 0) return true;
    const max = this.counts().max;
    return max > 0 && (this.ledger.leased / max) * 100 >= percent;
  }

  /** Reads an adapter probe; a probe that throws (a resource in a strange state) knows nothing. */
  #probe<T>(probe: ((resource: object) => T) | undefined, resource: object): T | undefined {
    if (probe === undefined) return undefined;
    try {
      return probe(resource);
    } catch {
      return undefined;
    }
  }

  /** What the lease is doing now: read from the driver where it can be, never guessed from time. */
  #activity(lease: Lease, now: number): Activity {
    const conn = lease.conn;
    const transaction = conn === undefined ? undefined : this.#probe(this.#hooks.transaction, conn.resource);
    if (lease.managed) {
      // A data layer's query runs on a driver connection whose state can be read: a query that
      // is no longer in flight (a stream nobody reads) is not called busy.
      const inFlight = lease.kind === 'statement' && conn !== undefined ? this.#probe(this.#hooks.inFlight, conn.resource) : undefined;
      if (inFlight === false) return { state: 'idle', idleMs: now - Math.max(lease.acquiredAt, conn!.lastActiveAt), basis: 'driver', active: conn!.lastActiveAt >= lease.acquiredAt, transaction };
      return { state: 'busy', idleMs: 0, basis: inFlight === true ? 'driver' : lease.kind === 'use' ? 'use' : lease.kind === 'statement' ? 'statement' : 'query', active: true, transaction };
    }
    if (conn === undefined) return { state: 'idle', idleMs: now - lease.acquiredAt, basis: 'touch', active: false, transaction };
    const active = conn.lastActiveAt >= lease.acquiredAt;
    const idleMs = now - (active ? conn.lastActiveAt : lease.acquiredAt);
    const inFlight = this.#probe(this.#hooks.inFlight, conn.resource);
    if (inFlight !== undefined) return { state: inFlight ? 'busy' : 'idle', idleMs: inFlight ? 0 : idleMs, basis: 'driver', active, transaction };
    // Work poolguard cannot see: only a touch() during this lease, recently enough, says busy.
    return { state: active && idleMs < this.config.idleAfterMs ? 'busy' : 'idle', idleMs, basis: 'touch', active, transaction };
  }

  #report(lease: Lease, now: number, act: Activity): void {
    const again = lease.watch === 1;
    // A lease reported slow and then as a possible leak counts once in the leak totals.
    if (!lease.reported) this.ledger.totals.leaks++;
    lease.reported = true;
    lease.watch = act.state === 'idle' ? 2 : 1;
    const report = this.#buildReport('leak', lease, now, now - lease.acquiredAt, act, again);
    this.#log.write('warn', `leak ${report.where}`, report, report.message);
    this.#telemetry.leak(report, lease);
    this.#emit('leak', report);
  }

  #resolved(lease: Lease, now: number): void {
    this.ledger.totals.leaksResolved++;
    const report = this.#buildReport('leakResolved', lease, now, now - lease.acquiredAt, undefined, false);
    this.#log.write('info', `resolved ${report.where}`, report, report.message);
    this.#emit('leakResolved', report);
  }

  #reclaim(lease: Lease, now: number, act: Activity, end?: { readonly call: string; readonly timeoutMs: number }): void {
    const report = end === undefined ? this.#buildReport('reclaim', lease, now, now - lease.acquiredAt, act, false) : this.#endReclaimReport(lease, now, act, end);
    lease.reclaimed = true;
    // The holder may keep it for ever: only the formatted stack stays (see LONG_HELD_MS).
    lease.capture = formattedCapture(lease.capture, this.#sites);
    lease.list?.remove(lease);
    if (lease.conn !== undefined) lease.conn.held = false;
    this.ledger.totals.reclaims++;
    if (lease.conn !== undefined) this.markRetiring(lease.conn, 'reclaimed');
    const { name, reclaimAfterMs } = this.config;
    const makeError = () => new LeaseReclaimedError(name, report.site, report.heldMs, report.idleMs, reclaimAfterMs, end, report.where);
    try {
      this.#hooks.reclaim(lease, makeError);
    } catch {
      // The adapter destroys a connection that may already be broken; nothing to add.
    }
    // At the end deadline one summary (`endForced`) names every lease cut, rather than a line each.
    if (end === undefined) this.#log.write('warn', `reclaim ${report.where}`, report, report.message);
    this.#telemetry.leak(report, lease);
    this.#emit('reclaim', report);
  }

  /**
   * `act`: what the lease was doing (absent for `leakResolved`); `again`: a lease reported slow at
   * the threshold, now reported as a possible leak.
   */
  #buildReport(type: LeakReport['type'], lease: Lease, now: number, heldMs: number, act: Activity | undefined, again: boolean): LeakReport {
    const described = describeCapture(lease.capture, this.#sites);
    const taken = this.whereTaken(lease);
    const site = taken.site;
    const pool = this.config.name;
    const where = taken.hint === undefined ? taken.where : `${taken.where} (${taken.hint})`;
    const noun = lease.kind === 'acquire' || lease.kind === 'use' ? 'a resource' : lease.kind === 'transaction' ? 'a connection for a transaction' : lease.kind === 'statement' ? "a connection for a data layer's query" : 'a client';
    const held = formatDuration(heldMs);
    const transaction = act?.transaction;
    const txLead = transaction === undefined ? '' : ` inside ${transaction === 'open' ? 'an open' : 'a failed'} transaction`;
    const txWords = transaction === undefined ? '' : ` ${transactionWords(transaction)}`;
    let message: string;
    if (act === undefined) {
      message =
        `poolguard[${pool}]: resolved: the lease from ${where} reported ${lease.watch === 2 ? 'as a possible leak' : 'as slow'} earlier was released after ${held}: slow, not lost. ` +
        `If it recurs, shorten the work done while holding the ${noun.slice(2)}, or raise guard.leakThresholdMs.`;
    } else if (type === 'leak') {
      const doing = activityWords(act, this.config.idleAfterMs);
      if (act.state === 'idle') {
        const fix =
          lease.kind === 'transaction'
            ? "The transaction begun at that line has not been committed or rolled back: call commit() or rollback() on every path (try/finally), wherever the transaction object was passed to, or use the callback form, which commits or rolls back when the callback settles."
            : transaction === undefined
              ? 'Release it on every path (try/finally) at that line.'
              : `Add the missing ${transaction === 'open' ? 'COMMIT or ROLLBACK' : 'ROLLBACK'} at that line, and release() in a finally block.`;
        message =
          `poolguard[${pool}]: possible connection leak${txLead}: ${noun} checked out at ${where} has been held ${held} ${doing}.` +
          (again ? ` It was busy when it crossed guard.leakThresholdMs (${this.config.leakThresholdMs} ms) and has sat idle since.` : '') +
          `${txWords} ${fix}`;
      } else {
        message =
          `poolguard[${pool}]: slow lease${txLead}: ${noun} checked out at ${where} has been held ${held} ${doing}: slow, not forgotten.${txWords} ` +
          `If that is expected, raise guard.leakThresholdMs or set guard.reportBusy: false.`;
      }
    } else {
      const quiet = act.basis === 'touch' ? `not touched for ${formatDuration(act.idleMs)}` : `nothing in flight for ${formatDuration(act.idleMs)}`;
      const after = noun === 'a client' ? "the holder's next query fails" : "the holder's late release() is harmless";
      message =
        `poolguard[${pool}]: reclaimed a connection${txLead} checked out at ${where}: held ${held}, ${quiet} ` +
        `(guard.reclaimAfterMs is ${this.config.reclaimAfterMs}).` +
        (transaction === undefined ? '' : ' Closing the connection makes the server roll its transaction back and release its locks.') +
        ` The pool replaces it; ${after}. Fix the missing release() at that line.`;
    }
    // 'adaptive' sampled this checkout out: say what happens next, and how to have every line now.
    if (type !== 'leakResolved' && unnamedExplicit(lease) && this.#everyPlan !== undefined && this.#explicit === this.#everyPlan) {
      message +=
        ` Every checkout's stack has been captured since a lease without one passed ${formatDuration(this.#adaptAfterMs)} held: the next leak from the same line is reported with it. ` +
        `To capture every checkout from the start, set guard.captureStacks: 'connect' (2–4 µs per checkout).`;
    }
    if (type !== 'leakResolved' && described?.stack) message += `\n${described.stack}`;
    const conn = lease.conn;
    return Object.freeze({
      type,
      pool,
      leaseId: lease.id,
      kind: lease.kind,
      site,
      where: taken.where,
      stack: described?.stack,
      heldMs: Math.round(heldMs),
      state: act?.state ?? (lease.watch === 2 ? 'idle' : 'busy'),
      idleMs: Math.round(act?.idleMs ?? 0),
      transaction,
      waitMs: Math.round(lease.acquiredAt - lease.requestedAt),
      checkedOutAt: new Date(this.clock.wallTime(lease.acquiredAt)).toISOString(),
      connection: conn === undefined ? undefined : this.#summary(conn, now),
      trace: lease.trace,
      message,
    });
  }

  #summary(conn: ConnectionRecord, now: number): ConnectionSummary {
    return { id: conn.id, pid: conn.pid, ageMs: Math.round(now - conn.createdAt), uses: conn.uses };
  }

  #emit<K extends keyof GuardEvents>(event: K, ...args: GuardEvents[K]): void {
    const channel = channels[event];
    if (channel.hasSubscribers) channel.publish(args[0]);
    for (const listener of this.handle.rawListeners(event)) {
      try {
        (listener as (...a: unknown[]) => void).apply(this.handle, args);
      } catch (err) {
        this.#log.write('warn', `listener ${event}`, { err }, `poolguard[${this.config.name}]: a '${event}' listener on pool.guard threw (${String((err as Error)?.message ?? err)}); the pool is unaffected. Fix the listener.`);
      }
    }
  }

  /** The wrapped pool's own counters (never throws). */
  counts(): PoolCounts {
    try {
      return this.#hooks.counts();
    } catch {
      return { total: this.ledger.connections.size, idle: 0, waiting: 0, max: 0, min: 0 };
    }
  }

  // ---- end ---------------------------------------------------------------------------------

  /**
   * The pool's `end()` (or `drain()`: `call` names it) was called. A pool cannot finish ending
   * while a connection is checked out, and pg-pool waits for ever: if leases still hold it up a
   * moment later, who holds them is reported once (`endBlocked`), and at `guard.endTimeoutMs`
   * they are reclaimed through the usual reclaim path (`endForced`) so that the end finishes.
   * Only the first call counts.
   */
  endStarted(call: string): void {
    if (this.#endCalledAt !== undefined) return;
    this.#endCalledAt = this.clock.now();
    this.#endCall = call;
    const deadline = this.config.endTimeoutMs;
    const reportAfter = deadline > 0 ? Math.min(END_REPORT_AFTER_MS, deadline / 2) : END_REPORT_AFTER_MS;
    const report = this.clock.setInterval(() => {
      this.clock.clearInterval(report);
      this.#endBlocked();
    }, reportAfter);
    this.#endTimers.push(report);
    // Repeating until the end finishes: generic-pool's drain() still serves its waiters, whose
    // leases, taken after the deadline, must not hold it up either.
    if (deadline > 0) this.#endTimers.push(this.clock.setInterval(() => this.#endForced(), deadline));
    // Timers never hold the process open, except these while the end waits on a lease: with
    // nothing else left to run (a forgotten resource with no socket), the process would exit
    // before saying who held it up, and before the end finished at guard.endTimeoutMs.
    if (this.ledger.leased > 0) this.#holdEndOpen(true);
  }

  #holdEndOpen(hold: boolean): void {
    for (const timer of this.#endTimers) this.clock.holdOpen?.(timer, hold);
  }

  /** The pool finished ending: nothing is left to report or cut. */
  endFinished(): void {
    if (this.#endCalledAt === undefined || this.#endFinishedAt !== undefined) return;
    this.#endFinishedAt = this.clock.now();
    for (const timer of this.#endTimers.splice(0)) this.clock.clearInterval(timer);
  }

  /**
   * What a caller refused because the pool is ending is told after the pool's own message, or
   * `undefined` before `end()`: the caller's error alone ("timeout exceeded", "Cannot use a pool")
   * does not say that the service is shutting down.
   */
  endingNote(): string | undefined {
    const calledAt = this.#endCalledAt;
    if (calledAt === undefined) return undefined;
    const now = this.clock.now();
    const call = this.#endCall;
    const finishedAt = this.#endFinishedAt;
    const state =
      finishedAt === undefined
        ? `the pool is ending (${call} was called ${formatDuration(now - calledAt)} ago)`
        : `the pool has ended (${call} was called ${formatDuration(now - calledAt)} ago and finished ${formatDuration(now - finishedAt)} ago)`;
    return `poolguard[${this.config.name}]: ${state}; this checkout can no longer be served. Stop taking work (close the server, stop consumers and timers) before ending the pool.`;
  }

  /**
   * A checkout refused (`timedOut`: or timed out) while the pool ends: the pool's own error, its
   * message first, followed by `endingNote()`. A timeout stays a `CheckoutTimeoutError`; any other
   * error is the pool's own object, so its class and fields are what the pool gives. `undefined`
   * before `end()`: the adapter's usual path applies.
   */
  checkoutRefusedAtEnd(lease: Lease, err: Error, timedOut: boolean): Error | undefined {
    const note = this.endingNote();
    if (note === undefined) return undefined;
    const message = `${err.message}\n${note}`;
    if (!timedOut) {
      this.checkoutFailed(lease, false);
      const header = `${err.name}: ${err.message}`;
      err.message = message;
      if (typeof err.stack === 'string' && err.stack.startsWith(header)) err.stack = `${err.name}: ${message}${err.stack.slice(header.length)}`;
      return err;
    }
    const { holders, waitedMs, frames } = this.timeoutDetails(lease, err.message);
    const error = new CheckoutTimeoutError(message, this.config.name, holders, waitedMs, err);
    if (frames) error.stack = `${error.name}: ${message}\n${frames}`;
    return error;
  }

  /** The leases still held, oldest first, as the end reports list them. */
  #heldAtEnd(): { leases: Lease[]; listed: EndLease[] } {
    const byId = new Map<number, Lease>();
    for (const list of [this.ledger.suspects, this.ledger.open]) for (const lease of list) byId.set(lease.id, lease);
    if (byId.size === 0) return { leases: [], listed: [] };
    const listed = this.snapshot().leases.map((s) => {
      const resource = byId.get(s.id)?.conn?.resource;
      return Object.freeze({ ...s, inFlight: resource === undefined ? undefined : this.#probe(this.#hooks.inFlight, resource) });
    });
    return { leases: listed.map((s) => byId.get(s.id)!), listed };
  }

  #endBlocked(): void {
    const { listed } = this.#heldAtEnd();
    if (listed.length === 0 || this.#endFinishedAt !== undefined) return;
    const call = this.#endCall;
    const deadline = this.config.endTimeoutMs;
    const waiting = this.counts().waiting;
    const next =
      deadline > 0
        ? `At ${formatDuration(deadline)} after the call (guard.endTimeoutMs) poolguard reclaims the ones still held so that ${call} finishes; their holders' next queries fail.`
        : `guard.endTimeoutMs is 0, so ${call} waits until they are released, for ever if they never are: set guard.endTimeoutMs to end anyway.`;
    const head =
      `${call} has waited ${formatDuration(this.clock.now() - this.#endCalledAt!)} for ${plural(listed.length, 'checked-out connection')}` +
      (waiting > 0 ? ` (and ${plural(waiting, 'caller')} waiting for one)` : '') +
      `, and cannot finish until ${listed.length === 1 ? 'it comes' : 'they come'} back. Held by:`;
    this.#endReport('endBlocked', listed, head, `${next} Release each client in a finally block at the lines above, and stop taking work before ending the pool.`);
  }

  #endForced(): void {
    const { leases, listed } = this.#heldAtEnd();
    // Held while leases remain (a waiter served during drain() takes one); let go once none does.
    this.#holdEndOpen(leases.length > 0 && this.#endFinishedAt === undefined);
    if (leases.length === 0 || this.#endFinishedAt !== undefined) return;
    const now = this.clock.now();
    const end = { call: this.#endCall, timeoutMs: this.config.endTimeoutMs };
    for (const lease of leases) this.#reclaim(lease, now, this.#activity(lease, now), end);
    const head = `${end.call} reached guard.endTimeoutMs (${formatDuration(end.timeoutMs)}) with ${plural(listed.length, 'connection')} still checked out; poolguard reclaimed ${listed.length === 1 ? 'it' : 'them'} so that ${end.call} can finish:`;
    this.#endReport(
      'endForced',
      listed,
      head,
      `Their holders' next queries fail (on a pg pool with LeaseReclaimedError, code POOLGUARD_LEASE_RECLAIMED, reason 'end'); a late release() is harmless. Release each client in a finally block at the lines above.`,
    );
  }

  #endReport(type: EndReport['type'], listed: EndLease[], head: string, next: string): void {
    const lines = listed.slice(0, END_LINES).map(describeEndLease);
    if (listed.length > END_LINES) lines.push(`  … and ${listed.length - END_LINES} more (report.leases, pool.guard.snapshot())`);
    const pool = this.config.name;
    const report: EndReport = Object.freeze({
      type,
      pool,
      call: this.#endCall,
      waitedMs: Math.round(this.clock.now() - this.#endCalledAt!),
      endTimeoutMs: this.config.endTimeoutMs,
      leases: Object.freeze(listed),
      message: `poolguard[${pool}]: ${head}\n${lines.join('\n')}\n${next}`,
    });
    this.#log.write('warn', type, report, report.message, true);
    this.#emit(type, report);
  }

  /** A lease cut at the end deadline: the `reclaim` report, with what happened in its words. */
  #endReclaimReport(lease: Lease, now: number, act: Activity, end: { readonly call: string; readonly timeoutMs: number }): LeakReport {
    const report = this.#buildReport('reclaim', lease, now, now - lease.acquiredAt, act, false);
    const message =
      `poolguard[${report.pool}]: reclaimed a connection checked out at ${report.where}: still held ${formatDuration(report.heldMs)} ` +
      `when ${end.call} reached guard.endTimeoutMs (${formatDuration(end.timeoutMs)}). The holder's next query fails. Fix the missing release() at that line.`;
    return Object.freeze({ ...report, message: report.stack ? `${message}\n${report.stack}` : message });
  }

  // ---- views -------------------------------------------------------------------------------

  /** Where a lease was taken, or why that is unknown: the one description every output uses. */
  whereTaken(lease: Lease): LeaseWhereabouts {
    return whereTaken(describeCapture(lease.capture, this.#sites), lease, this.config);
  }

  /** Open leases grouped by call site, largest group first. */
  holders(now = this.clock.now()): readonly HolderGroup[] {
    return this.#holders(now).groups;
  }

  /** The holder groups, and how their busy leases were read (for the timeout error's words). */
  #holders(now: number): { groups: readonly HolderGroup[]; busyBy: Set<Activity['basis']> } {
    const { open, suspects } = this.ledger;
    const busyBy = new Set<Activity['basis']>();
    if (open.size + suspects.size === 0) return { groups: EMPTY_HOLDERS, busyBy };
    const groups = new Map<string, { site: string; hint: string | undefined; count: number; oldestHeldMs: number; idle: number; busy: number; inTransaction: number; trace: TraceRef | undefined }>();
    for (const list of [suspects, open]) {
      for (const lease of list) {
        const { where: site, hint } = this.whereTaken(lease);
        let g = groups.get(site);
        if (g === undefined) groups.set(site, (g = { site, hint, count: 0, oldestHeldMs: 0, idle: 0, busy: 0, inTransaction: 0, trace: undefined }));
        g.count++;
        const held = Math.round(now - lease.acquiredAt);
        if (held >= g.oldestHeldMs) {
          g.oldestHeldMs = held;
          g.trace = lease.trace ?? g.trace;
        }
        const act = this.#activity(lease, now);
        if (act.state === 'idle') g.idle++;
        else {
          g.busy++;
          busyBy.add(act.basis);
        }
        if (act.transaction !== undefined) g.inTransaction++;
      }
    }
    return { groups: [...groups.values()].sort((a, b) => b.count - a.count || b.oldestHeldMs - a.oldestHeldMs), busyBy };
  }

  snapshot(): GuardSnapshot {
    const now = this.clock.now();
    const { open, suspects, connections, totals } = this.ledger;
    const leases: LeaseSnapshot[] = [];
    for (const list of [suspects, open]) {
      for (const lease of list) {
        const act = this.#activity(lease, now);
        leases.push({
          id: lease.id,
          kind: lease.kind,
          ...siteAndWhere(this.whereTaken(lease)),
          state: act.state,
          heldMs: Math.round(now - lease.acquiredAt),
          idleMs: Math.round(act.idleMs),
          transaction: act.transaction,
          waitMs: Math.round(lease.acquiredAt - lease.requestedAt),
          checkedOutAt: new Date(this.clock.wallTime(lease.acquiredAt)).toISOString(),
          connectionId: lease.conn?.id,
          trace: lease.trace,
          reported: lease.reported,
          exempt: lease.exempt,
        });
      }
    }
    leases.sort((a, b) => b.heldMs - a.heldMs);
    const conns = [...connections].map((c) => ({ ...this.#summary(c, now), state: c.lease ? ('leased' as const) : ('idle' as const) }));
    return {
      pool: this.config.name,
      takenAt: new Date(this.clock.wallTime(now)).toISOString(),
      counts: { ...this.counts(), leased: this.ledger.leased },
      totals: { ...totals, retired: { ...totals.retired } },
      leases,
      connections: conns,
      settings: {
        leakThresholdMs: this.config.leakThresholdMs,
        idleAfterMs: this.config.idleAfterMs,
        reclaimAfterMs: this.config.reclaimAfterMs,
        captureStacks: this.config.captureStacks,
      },
    };
  }
}

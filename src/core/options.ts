// poolguard's options as users write them (`GuardOptions`) and as the core reads them once
// resolved (`ResolvedGuardConfig`). Types only, and no imports: `config.ts` validates them.

/**
 * The logger shape poolguard accepts: pino's and bunyan's `warn(obj, msg)`, which `console` also
 * satisfies. `info` is used for "resolved" reports when present, `warn` otherwise.
 * @public
 */
export interface GuardLogger {
  /** Leak and reclaim reports: `obj` is the structured report, `msg` the readable line. */
  warn(obj: object, msg: string): void;
  /** "Resolved" reports; falls back to `warn` when absent. */
  info?(obj: object, msg: string): void;
}

/**
 * poolguard's own options: the `guard` key of a pool's options, or the second argument of
 * `guard(pool, options)`. Every field is optional; the defaults are listed in the README.
 * @public
 */
export interface GuardOptions {
  /**
   * The pool's name in reports, logs, snapshots and telemetry. Defaults to `host:port/database`
   * for pg (never the user or password).
   */
  name?: string;
  /**
   * A checkout held longer than this is reported once as a leak, with the stack of the code that
   * took it. `0` turns leak reports off. Default `10000`.
   */
  leakThresholdMs?: number;
  /**
   * The quiet time: how long a lease must have had nothing in flight before it is called a possible
   * leak (one whose last query finished more recently is reported as slow, in active use) or
   * reclaimed (`reclaimAfterMs`); and, for resources whose work poolguard cannot read (generic-pool
   * resources that are not pg clients), how recent a `touch()` must be for the lease to count as
   * `busy`. It never makes a pg lease with nothing in flight read as busy. Default `1000`, or half
   * of `leakThresholdMs` or `reclaimAfterMs` when that is shorter.
   */
  idleAfterMs?: number;
  /**
   * Whether leases that are `busy` (or in active use, see `idleAfterMs`) when they cross the
   * threshold are reported (as slow). With `false`, such a lease is watched and reported only if it
   * then sits idle for `leakThresholdMs`. Default `true`.
   */
  reportBusy?: boolean;
  /**
   * Opt-in recovery: an idle lease held longer than this is taken back, its connection destroyed and
   * replaced. The holder's next query fails with `LeaseReclaimedError`; its late `release()` is
   * harmless. `0` (the default) never reclaims.
   */
  reclaimAfterMs?: number;
  /**
   * Reclaim only while at least this percentage of the pool's `max` is checked out (Tomcat's
   * `abandonWhenPercentageFull`). `0` (the default) reclaims whatever the pressure.
   */
  reclaimWhenUsedPercent?: number;
  /**
   * Which checkouts capture the caller's stack. `'adaptive'` (the default): every explicit
   * `connect()`/`acquire()`/`getConnection()` for the pool's first 1,000 of them, then 1 in 64 (or
   * `stackSampleRate` if set below 1) until an explicit lease without a stack is held past a quarter
   * of the leak threshold, then every one, until no such lease has been seen for a whole threshold:
   * a service at steady state pays a sixty-fourth of the capture, and a leak that starts later is
   * named at its next occurrence after that quarter threshold (about a second later than with
   * `'connect'` in the demo's traffic). `'connect'`: every explicit checkout, always (a capture costs
   * 2–4 µs). `'all'`: also `pool.query()`, which the pool releases itself. `'none'`.
   */
  captureStacks?: 'connect' | 'all' | 'adaptive' | 'none';
  /**
   * How long `pool.end()` (pg) or `pool.drain()` (generic-pool) may wait for checked-out
   * connections before poolguard reclaims the ones still held, so that the shutdown finishes:
   * pg-pool's `end()` otherwise never resolves while one client is out, and the process waits for
   * the orchestrator's kill. A pg holder's next query fails with `LeaseReclaimedError`. Who holds
   * them is reported once (`endBlocked`) after a second, or half this deadline if shorter. `0`
   * waits for ever, as pg does. Default `10000`: inside Kubernetes' 30 s grace period, with time
   * left to drain requests before and flush telemetry after (see the README, "Shutdown").
   */
  endTimeoutMs?: number;
  /**
   * How long a checkout may wait for a connection before it fails with `CheckoutTimeoutError`,
   * naming who holds the connections. Read by `poolguard/mysql2`, `poolguard/mysql` and
   * `poolguard/postgres`, whose drivers otherwise let a caller wait for ever behind a forgotten
   * release: mysql2 and postgres.js 3.4 have no acquire timeout, and mysql's `acquireTimeout`
   * bounds a connect or ping, not the wait. On postgres.js 4 it sets the driver's own
   * `queue_timeout`, whose `QUEUE_TIMEOUT` error gains the holders. The MariaDB connector refuses
   * it (its own `acquireTimeout` bounds the wait); pg (`connectionTimeoutMillis`), generic-pool
   * (`acquireTimeoutMillis`) and the data layers' pools keep their own. `0` (the default) waits
   * for ever, as those drivers do.
   */
  acquireTimeoutMs?: number;
  /**
   * Fraction of eligible checkouts that capture a stack, in (0, 1]. Default `1`. With
   * `captureStacks: 'adaptive'`, a value below 1 replaces its 1 in 64 and samples from the pool's
   * first checkout on.
   */
  stackSampleRate?: number;
  /**
   * Frames kept in a captured stack, 1–200, applied around each capture (the process's
   * `Error.stackTraceLimit` is put back). Default `30`: an ORM spends ten frames or more between
   * the application's call and the pool (TypeORM's `find()` ten, after an `await`), which is the
   * whole of V8's default limit. A report that says the stack was cut names this option.
   */
  stackDepth?: number;
  /**
   * Extra frames to skip when looking for the call site, as path substrings or regular expressions
   * (a data-access helper of your own, an ORM bundled into the application). poolguard, the
   * driver, the data layers of `DEFAULT_IGNORED_FRAMES`, Node internals and every installed
   * package (`node_modules`) are always skipped.
   */
  ignoreFrames?: ReadonlyArray<string | RegExp>;
  /**
   * A diagnostic mode for a report that says "an unknown site inside knex" (or drizzle-orm,
   * kysely…): the data layer reached `pool.connect()` through a thenable or a promise it started
   * itself, where V8's async stack trace stops. With `true`, poolguard records where every promise,
   * timer and tick in the process is created (an async hook) and follows that trail back from the
   * checkout to the application's line. It costs every promise in the process a stack capture
   * (see the README's "ORMs and query builders" for the measured cost): turn it on to find the
   * line, then off. Once any pool turns it on, the hook stays on until the process exits.
   * Default `false`.
   */
  asyncCallers?: boolean;
  /**
   * Call sites whose leases are held on purpose (a `LISTEN` client, a long report transaction):
   * path substrings or regular expressions matched against the lease's `site` (`file:line:column`)
   * when it first crosses a threshold. A matching lease is never reported or reclaimed, and shows
   * as `exempt` in snapshots. Needs a captured stack (see `captureStacks`). For one lease instead
   * of a whole site, call `pool.guard.exempt(client, reason)`.
   */
  exemptSites?: ReadonlyArray<string | RegExp>;
  /**
   * When to record where each lease was released, so that a second `release()` can name the first:
   * `'auto'` (the default) starts after the pool's first double release, `'always'`, or `'never'`.
   * Recording costs a stack capture per release.
   */
  releaseStacks?: 'auto' | 'always' | 'never';
  /**
   * Where leak warnings go: a pino-style logger (`warn(obj, msg)`), or `false` for none (events on
   * `pool.guard` still fire). Default: one line per report on stderr, rate-limited per call site.
   */
  logger?: GuardLogger | false;
  /**
   * What happens to a connection released inside an open or failed transaction, which must never
   * be handed to the next caller as it is: `'destroy'` (the default: closed and replaced) or
   * `'rollback'` (rolled back, then returned to the pool; destroyed if the rollback fails).
   */
  dirtyRelease?: 'destroy' | 'rollback';
  /**
   * Retire a connection after this long, minus a random share of up to `lifetimeJitter` of it, so
   * that a pool opened at once does not reconnect at once. Idle connections are closed when due;
   * busy ones when released, never under their holder. `0` (the default) turns it off.
   */
  maxLifetimeMs?: number;
  /** The largest share of `maxLifetimeMs` taken off at random, from 0 to 0.5. Default `0.25`. */
  lifetimeJitter?: number;
  /** Retire a connection after this many leases. `0` (the default) turns it off. */
  maxUses?: number;
  /**
   * Check a connection that has been idle longer than this before handing it out, and replace it
   * if the check fails: the caller never sees the dead one. `0` (the default) never checks.
   */
  validateAfterIdleMs?: number;
  /** How long a check may take before the connection counts as dead. Default `5000`. */
  validationTimeoutMs?: number;
  /**
   * The check itself: resolves when the connection is usable, rejects (or throws) when not.
   * Default: `SELECT 1` for pg.
   */
  validate?: (resource: any) => unknown;
  /**
   * What happens to a connection error nobody listens for (an idle client's error with no pool
   * `'error'` listener, a checked-out client's error with no client listener), which pg throws and
   * which ends the process: `'report'` (the default) reports it on `pool.guard` and in the log and
   * keeps running; `'throw'` keeps pg's behaviour.
   */
  unhandledErrors?: 'report' | 'throw';
  /**
   * Run the configuration audit (`audit()` from `poolguard`) once, in the background, when the pool
   * opens its first connection, and log its findings once through `logger`. Default `false`.
   */
  auditOnStart?: boolean;
  /**
   * OpenTelemetry: `'auto'` (the default) records every pool metric, except `count` and
   * `pending_requests` when pg's OpenTelemetry instrumentation already records them for this pool;
   * `'all'` records them anyway; `'off'` records nothing and adds no trace ids. poolguard's own
   * `poolguard.connection.count` and `poolguard.request.pending` are recorded in both `'auto'` and
   * `'all'`, so that a dashboard filtered on `name` always has them.
   */
  telemetry?: 'auto' | 'all' | 'off';
  /**
   * The OpenTelemetry `MeterProvider` to use instead of the global one. Its `getMeter()` is called
   * at construction: one that throws or returns no Meter is refused with a `TypeError` then, rather
   * than failing inside a checkout later.
   */
  meterProvider?: { getMeter(name: string, version?: string, options?: object): unknown };
  /**
   * The OpenTelemetry `TracerProvider` to use instead of the global one. Its `getTracer()` is
   * called at construction: one that throws or returns no Tracer is refused with a `TypeError`.
   */
  tracerProvider?: { getTracer(name: string, version?: string, options?: object): unknown };
}

/** Options after defaults and validation; frozen. */
export interface ResolvedGuardConfig {
  readonly name: string;
  readonly leakThresholdMs: number;
  readonly idleAfterMs: number;
  readonly reportBusy: boolean;
  readonly reclaimAfterMs: number;
  readonly reclaimWhenUsedPercent: number;
  readonly endTimeoutMs: number;
  readonly acquireTimeoutMs: number;
  readonly captureStacks: 'connect' | 'all' | 'adaptive' | 'none';
  readonly asyncCallers: boolean;
  readonly stackSampleRate: number;
  readonly stackDepth: number;
  readonly ignoreFrames: readonly RegExp[];
  readonly exemptSites: readonly RegExp[];
  readonly releaseStacks: 'auto' | 'always' | 'never';
  readonly logger: GuardLogger | false | undefined;
  readonly dirtyRelease: 'destroy' | 'rollback';
  readonly maxLifetimeMs: number;
  readonly lifetimeJitter: number;
  readonly maxUses: number;
  readonly validateAfterIdleMs: number;
  readonly validationTimeoutMs: number;
  readonly validate: ((resource: any) => unknown) | undefined;
  readonly unhandledErrors: 'report' | 'throw';
  readonly auditOnStart: boolean;
  readonly telemetry: 'auto' | 'all' | 'off';
  readonly meterProvider: GuardOptions['meterProvider'];
  readonly tracerProvider: GuardOptions['tracerProvider'];
}

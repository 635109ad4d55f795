import { closest } from './closest.js';
import type { GuardLogger } from './logger.js';
import { METER_METHODS, notAnObjectWith, TRACER_METHODS } from './telemetry.js';
import { VERSION } from '../version.js';

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
   * How long a lease must have had nothing in flight before poolguard may reclaim it
   * (`reclaimAfterMs`); and, for resources whose work poolguard cannot read (generic-pool resources
   * that are not pg clients), how recent a `touch()` must be for the lease to count as `busy`. It
   * never makes a pg lease with nothing in flight read as busy. Default `1000`, or half of
   * `leakThresholdMs` or `reclaimAfterMs` when that is shorter.
   */
  idleAfterMs?: number;
  /**
   * Whether leases that are `busy` when they cross the threshold are reported (as slow). With
   * `false`, a busy lease is watched and reported only if it then sits idle for `leakThresholdMs`.
   * Default `true`.
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
   * naming who holds the connections. Only `poolguard/mysql2` reads it: mysql2's pool has no
   * acquire timeout of its own, so a forgotten `release()` otherwise makes `getConnection()` wait
   * for ever. pg has `connectionTimeoutMillis` and generic-pool `acquireTimeoutMillis`, which the
   * other adapters keep using. `0` (the default) waits for ever, as mysql2 does.
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

export const GUARD_DEFAULTS = Object.freeze({
  leakThresholdMs: 10_000,
  idleAfterMs: 1_000,
  reportBusy: true,
  reclaimAfterMs: 0,
  reclaimWhenUsedPercent: 0,
  endTimeoutMs: 10_000,
  acquireTimeoutMs: 0,
  captureStacks: 'adaptive',
  asyncCallers: false,
  stackSampleRate: 1,
  stackDepth: 30,
  releaseStacks: 'auto',
  dirtyRelease: 'destroy',
  maxLifetimeMs: 0,
  lifetimeJitter: 0.25,
  maxUses: 0,
  validateAfterIdleMs: 0,
  validationTimeoutMs: 5_000,
  unhandledErrors: 'report',
  auditOnStart: false,
  telemetry: 'auto',
} as const);

const KNOWN_KEYS = [
  'name',
  'leakThresholdMs',
  'idleAfterMs',
  'reportBusy',
  'reclaimAfterMs',
  'reclaimWhenUsedPercent',
  'endTimeoutMs',
  'acquireTimeoutMs',
  'captureStacks',
  'stackSampleRate',
  'stackDepth',
  'ignoreFrames',
  'asyncCallers',
  'exemptSites',
  'releaseStacks',
  'logger',
  'dirtyRelease',
  'maxLifetimeMs',
  'lifetimeJitter',
  'maxUses',
  'validateAfterIdleMs',
  'validationTimeoutMs',
  'validate',
  'unhandledErrors',
  'auditOnStart',
  'telemetry',
  'meterProvider',
  'tracerProvider',
] as const;

// A timer longer than this fires at once in Node (it is clamped to 1 ms), so a "huge" threshold
// would silently mean "report everything".
const MAX_TIMER_MS = 2 ** 31 - 1;

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return `a${typeof value === 'object' ? 'n object' : ` ${typeof value}`}`;
}

function suggest(key: string): string {
  const best = closest(key, KNOWN_KEYS);
  return best === undefined ? '' : ` Did you mean guard.${best}?`;
}

function milliseconds(path: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${path} must be a number of milliseconds, got ${show(value)}`);
  }
  if (value < 0) throw new RangeError(`${path} must be ≥ 0, got ${show(value)}`);
  if (value > MAX_TIMER_MS) {
    throw new RangeError(`${path} must be at most ${MAX_TIMER_MS} (about 24.8 days), got ${show(value)}`);
  }
  return value;
}

function oneOf<T extends string>(path: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new TypeError(`${path} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${show(value)}`);
  }
  return value as T;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A list of path substrings or regular expressions (`ignoreFrames`, `exemptSites`), as RegExps. */
function patterns(path: string, value: unknown): readonly RegExp[] {
  const out: RegExp[] = [];
  if (value === undefined) return Object.freeze(out);
  if (!Array.isArray(value)) throw new TypeError(`${path} must be an array of strings or regular expressions, got ${show(value)}`);
  value.forEach((entry: unknown, i: number) => {
    // A stateful flag (g, y) would make test() alternate between matches: dropped.
    if (typeof entry === 'string' && entry !== '') out.push(new RegExp(escapeRegExp(entry)));
    else if (entry instanceof RegExp) out.push(new RegExp(entry.source, entry.flags.replace(/[gy]/g, '')));
    else throw new TypeError(`${path}[${i}] must be a non-empty string or a regular expression, got ${show(entry)}`);
  });
  return Object.freeze(out);
}

function provider(path: string, value: unknown, method: 'getMeter' | 'getTracer', what: string, used: boolean): unknown {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || typeof (value as Record<string, unknown>)[method] !== 'function') {
    throw new TypeError(`${path} must be an OpenTelemetry ${what} (an object with ${method}()), got ${show(value)}`);
  }
  if (!used) return value;
  // Asked once here, as the pool will ask: a provider whose meter or tracer is not one would
  // otherwise fail later, inside a checkout or the leak timer, far from the option that caused it.
  const product = method === 'getMeter' ? 'Meter' : 'Tracer';
  const fix = `pass the ${what} of an OpenTelemetry SDK, or leave ${path} unset to use the one registered globally`;
  let got: unknown;
  try {
    got = (value as Record<string, (name: string, version: string) => unknown>)[method]!('poolguard', VERSION);
  } catch (err) {
    throw new TypeError(`${path}.${method}() threw (${String((err as Error)?.message ?? err)}), so it is not a working ${what}: ${fix}`);
  }
  const problem = notAnObjectWith(got, method === 'getMeter' ? METER_METHODS : TRACER_METHODS);
  if (problem !== undefined) throw new TypeError(`${path}.${method}() returned ${problem}, not an OpenTelemetry ${product}: ${fix}`);
  return value;
}

/**
 * Validates poolguard's options and fills in defaults. Every error names the option's path and the
 * value it got, and is thrown at construction, before the pool hands out anything.
 */
export function resolveGuardConfig(options: unknown, defaultName: string): ResolvedGuardConfig {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`guard must be an options object, got ${show(options)}`);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!(KNOWN_KEYS as readonly string[]).includes(key)) {
      throw new TypeError(`guard.${key} is not a poolguard option.${suggest(key)} The options are listed in the README.`);
    }
  }

  let name = defaultName;
  if (o.name !== undefined) {
    if (typeof o.name !== 'string' || o.name.trim() === '') {
      throw new TypeError(`guard.name must be a non-empty string, got ${show(o.name)}`);
    }
    if (o.name.length > 200) throw new RangeError(`guard.name must be at most 200 characters, got ${o.name.length}`);
    // Names end up in log lines and metric attributes: control characters would forge lines.
    name = o.name.replace(/[\u0000-\u001f\u007f]/g, '?');
  }

  const leakThresholdMs = milliseconds('guard.leakThresholdMs', o.leakThresholdMs, GUARD_DEFAULTS.leakThresholdMs);
  const reclaimAfterMs = milliseconds('guard.reclaimAfterMs', o.reclaimAfterMs, GUARD_DEFAULTS.reclaimAfterMs);
  // The default never contradicts the thresholds (see settingConflicts): at most half of each.
  const idleAfterDefault = Math.min(GUARD_DEFAULTS.idleAfterMs, ...[leakThresholdMs, reclaimAfterMs].filter((t) => t > 0).map((t) => t / 2));
  const idleAfterMs = milliseconds('guard.idleAfterMs', o.idleAfterMs, idleAfterDefault);
  const endTimeoutMs = milliseconds('guard.endTimeoutMs', o.endTimeoutMs, GUARD_DEFAULTS.endTimeoutMs);
  const acquireTimeoutMs = milliseconds('guard.acquireTimeoutMs', o.acquireTimeoutMs, GUARD_DEFAULTS.acquireTimeoutMs);

  let reportBusy: boolean = GUARD_DEFAULTS.reportBusy;
  if (o.reportBusy !== undefined) {
    if (typeof o.reportBusy !== 'boolean') throw new TypeError(`guard.reportBusy must be true or false, got ${show(o.reportBusy)}`);
    reportBusy = o.reportBusy;
  }

  let asyncCallers: boolean = GUARD_DEFAULTS.asyncCallers;
  if (o.asyncCallers !== undefined) {
    if (typeof o.asyncCallers !== 'boolean') throw new TypeError(`guard.asyncCallers must be true or false, got ${show(o.asyncCallers)}`);
    asyncCallers = o.asyncCallers;
  }

  let auditOnStart: boolean = GUARD_DEFAULTS.auditOnStart;
  if (o.auditOnStart !== undefined) {
    if (typeof o.auditOnStart !== 'boolean') throw new TypeError(`guard.auditOnStart must be true or false, got ${show(o.auditOnStart)}`);
    auditOnStart = o.auditOnStart;
  }

  let reclaimWhenUsedPercent: number = GUARD_DEFAULTS.reclaimWhenUsedPercent;
  if (o.reclaimWhenUsedPercent !== undefined) {
    const v = o.reclaimWhenUsedPercent;
    if (typeof v !== 'number' || Number.isNaN(v)) {
      throw new TypeError(`guard.reclaimWhenUsedPercent must be a number from 0 to 100, got ${show(v)}`);
    }
    if (v < 0 || v > 100) throw new RangeError(`guard.reclaimWhenUsedPercent must be from 0 to 100, got ${show(v)}`);
    reclaimWhenUsedPercent = v;
  }

  const captureStacks = oneOf('guard.captureStacks', o.captureStacks, ['connect', 'all', 'adaptive', 'none'], GUARD_DEFAULTS.captureStacks);
  const dirtyRelease = oneOf('guard.dirtyRelease', o.dirtyRelease, ['destroy', 'rollback'], GUARD_DEFAULTS.dirtyRelease);
  const releaseStacks = oneOf('guard.releaseStacks', o.releaseStacks, ['auto', 'always', 'never'], GUARD_DEFAULTS.releaseStacks);

  let stackSampleRate: number = GUARD_DEFAULTS.stackSampleRate;
  if (o.stackSampleRate !== undefined) {
    const v = o.stackSampleRate;
    if (typeof v !== 'number' || Number.isNaN(v)) {
      throw new TypeError(`guard.stackSampleRate must be a number in (0, 1], got ${show(v)}`);
    }
    if (!(v > 0 && v <= 1)) {
      throw new RangeError(`guard.stackSampleRate must be greater than 0 and at most 1 (use captureStacks: 'none' to turn capture off), got ${show(v)}`);
    }
    stackSampleRate = v;
  }

  let stackDepth: number = GUARD_DEFAULTS.stackDepth;
  if (o.stackDepth !== undefined) {
    const v = o.stackDepth;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`guard.stackDepth must be a whole number from 1 to 200, got ${show(v)}`);
    if (v < 1 || v > 200) throw new RangeError(`guard.stackDepth must be from 1 to 200, got ${show(v)}`);
    stackDepth = v;
  }

  const ignoreFrames = patterns('guard.ignoreFrames', o.ignoreFrames);
  const exemptSites = patterns('guard.exemptSites', o.exemptSites);

  let logger: GuardLogger | false | undefined;
  if (o.logger !== undefined) {
    const l = o.logger as Record<string, unknown> | false;
    if (l !== false && (typeof l !== 'object' || l === null || typeof l.warn !== 'function')) {
      throw new TypeError(`guard.logger must be false or an object with a warn(obj, msg) method (pino, bunyan, console), got ${show(l)}`);
    }
    logger = l as GuardLogger | false;
  }

  const maxLifetimeMs = milliseconds('guard.maxLifetimeMs', o.maxLifetimeMs, GUARD_DEFAULTS.maxLifetimeMs);
  const validateAfterIdleMs = milliseconds('guard.validateAfterIdleMs', o.validateAfterIdleMs, GUARD_DEFAULTS.validateAfterIdleMs);
  const validationTimeoutMs = milliseconds('guard.validationTimeoutMs', o.validationTimeoutMs, GUARD_DEFAULTS.validationTimeoutMs);
  if (o.validationTimeoutMs !== undefined && validationTimeoutMs === 0) {
    throw new RangeError(`guard.validationTimeoutMs must be greater than 0 (a check that may hang forever would hang the caller), got 0`);
  }

  let lifetimeJitter: number = GUARD_DEFAULTS.lifetimeJitter;
  if (o.lifetimeJitter !== undefined) {
    const v = o.lifetimeJitter;
    if (typeof v !== 'number' || Number.isNaN(v)) throw new TypeError(`guard.lifetimeJitter must be a fraction from 0 to 0.5, got ${show(v)}`);
    if (v < 0 || v > 0.5) throw new RangeError(`guard.lifetimeJitter must be from 0 to 0.5 (a share of maxLifetimeMs), got ${show(v)}`);
    lifetimeJitter = v;
  }

  let maxUses: number = GUARD_DEFAULTS.maxUses;
  if (o.maxUses !== undefined) {
    const v = o.maxUses;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`guard.maxUses must be a whole number (0 for no limit), got ${show(v)}`);
    if (v < 0) throw new RangeError(`guard.maxUses must be ≥ 0, got ${show(v)}`);
    maxUses = v;
  }

  let validate: ((resource: any) => unknown) | undefined;
  if (o.validate !== undefined) {
    if (typeof o.validate !== 'function') throw new TypeError(`guard.validate must be a function (client) => Promise, got ${show(o.validate)}`);
    validate = o.validate as (resource: any) => unknown;
  }

  const unhandledErrors = oneOf('guard.unhandledErrors', o.unhandledErrors, ['report', 'throw'], GUARD_DEFAULTS.unhandledErrors);

  const telemetry = oneOf('guard.telemetry', o.telemetry, ['auto', 'all', 'off'], GUARD_DEFAULTS.telemetry);
  const meterProvider = provider('guard.meterProvider', o.meterProvider, 'getMeter', 'MeterProvider', telemetry !== 'off') as GuardOptions['meterProvider'];
  const tracerProvider = provider('guard.tracerProvider', o.tracerProvider, 'getTracer', 'TracerProvider', telemetry !== 'off') as GuardOptions['tracerProvider'];

  return Object.freeze({
    name,
    leakThresholdMs,
    idleAfterMs,
    reportBusy,
    reclaimAfterMs,
    reclaimWhenUsedPercent,
    endTimeoutMs,
    acquireTimeoutMs,
    captureStacks,
    asyncCallers,
    stackSampleRate,
    stackDepth,
    ignoreFrames,
    exemptSites,
    releaseStacks,
    logger,
    dirtyRelease,
    maxLifetimeMs,
    lifetimeJitter,
    maxUses,
    validateAfterIdleMs,
    validationTimeoutMs,
    validate,
    unhandledErrors,
    auditOnStart,
    telemetry,
    meterProvider,
    tracerProvider,
  });
}

/** A combination of options that defeats one of them: warned at construction and by the audit. */
export interface SettingConflict {
  /** The option to change. */
  readonly option: string;
  readonly value: number;
  /** What is set, one line, with the values. */
  readonly message: string;
  /** What goes wrong because of it. */
  readonly why: string;
  /** What to set instead. */
  readonly fix: string;
}

/**
 * Options that each pass validation but contradict one another. Not refused, so that a service
 * that ran with them still starts; the pool logs each once at construction and `audit` flags them
 * (`idle-window-contradicts-thresholds`). The default `idleAfterMs` never contradicts.
 */
export function settingConflicts(config: Pick<ResolvedGuardConfig, 'idleAfterMs' | 'leakThresholdMs' | 'reclaimAfterMs'>): SettingConflict[] {
  const { idleAfterMs, leakThresholdMs, reclaimAfterMs } = config;
  const out: SettingConflict[] = [];
  if (reclaimAfterMs > 0 && idleAfterMs >= reclaimAfterMs) {
    out.push({
      option: 'guard.idleAfterMs',
      value: idleAfterMs,
      message: `guard.idleAfterMs ${idleAfterMs} is not shorter than guard.reclaimAfterMs ${reclaimAfterMs}`,
      why: `A lease is reclaimed only once it has had nothing in flight for guard.idleAfterMs, so nothing is reclaimed after ${reclaimAfterMs} ms as reclaimAfterMs says, only after ${idleAfterMs} ms.`,
      fix: `Set guard.idleAfterMs below ${reclaimAfterMs} (e.g. ${Math.floor(reclaimAfterMs / 2)}), or leave it unset.`,
    });
  }
  if (leakThresholdMs > 0 && idleAfterMs >= leakThresholdMs) {
    out.push({
      option: 'guard.idleAfterMs',
      value: idleAfterMs,
      message: `guard.idleAfterMs ${idleAfterMs} is not shorter than guard.leakThresholdMs ${leakThresholdMs}`,
      why:
        `For a resource whose work poolguard cannot read (a generic-pool resource that is not a pg client), one touch() in the last ${idleAfterMs} ms makes the lease read busy, ` +
        `so a forgotten one touched shortly before the threshold is reported as slow, and as a possible leak only later. pg clients are not affected: their state is read from the driver.`,
      fix: `Set guard.idleAfterMs below ${leakThresholdMs} (e.g. ${Math.floor(leakThresholdMs / 2)}), or leave it unset.`,
    });
  }
  return out;
}

/**
 * Splits a pool library's options from poolguard's `guard` key, which must never reach the
 * library (pg hands the pool's options verbatim to each `pg.Client`; mysql2 warns about keys it
 * does not know). A password stays readable on the copy but is not enumerable, so that logging
 * the options a library keeps does not print it. Anything that is not an object with `guard`
 * passes through unchanged.
 */
export function splitGuardOptions<T>(options: T): { pool: T; guard: unknown } {
  if (options == null || typeof options !== 'object' || !('guard' in options)) return { pool: options, guard: undefined };
  const { guard, ...rest } = options as T & { guard: unknown; password?: unknown };
  if ('password' in options) Object.defineProperty(rest, 'password', { value: (options as { password?: unknown }).password, enumerable: false, writable: true, configurable: true });
  return { pool: rest as T, guard };
}

/**
 * For a pool that recycles and validates connections itself (tarn, sequelize-pool): poolguard's
 * own recycling options would be silently ignored there, so each one set is refused, naming the
 * pool's setting to use instead (`instead`).
 */
export function refusePoolOwnedOptions(config: ResolvedGuardConfig, pool: string, instead: Record<'maxLifetimeMs' | 'maxUses' | 'validateAfterIdleMs', string>): ResolvedGuardConfig {
  const set: Array<[string, unknown, boolean, string]> = [
    ['maxLifetimeMs', config.maxLifetimeMs, config.maxLifetimeMs > 0, instead.maxLifetimeMs],
    ['maxUses', config.maxUses, config.maxUses > 0, instead.maxUses],
    ['validateAfterIdleMs', config.validateAfterIdleMs, config.validateAfterIdleMs > 0, instead.validateAfterIdleMs],
    ['auditOnStart', config.auditOnStart, config.auditOnStart, 'npx poolguard audit with the same connection settings'],
  ];
  for (const [key, value, on, use] of set) {
    if (on) throw new TypeError(`guard.${key} is not available for ${pool}, got ${String(value)}: use ${use}`);
  }
  // The pool takes the connection back before poolguard could roll it back: it is closed instead.
  if (config.dirtyRelease === 'rollback') {
    throw new TypeError(`guard.dirtyRelease 'rollback' is not available for ${pool}, got 'rollback': a connection released inside a transaction is closed ('destroy', the default)`);
  }
  return config;
}

import { closest } from './closest.js';
import type { GuardLogger, GuardOptions, ResolvedGuardConfig } from './options.js';
import { METER_METHODS, notAnObjectWith, TRACER_METHODS } from './telemetry.js';
import { VERSION } from '../version.js';

// The option types live in options.ts; adapters and the audit import them from here too.
export type { GuardOptions, ResolvedGuardConfig } from './options.js';

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
    if (typeof o.validate !== 'function') throw new TypeError(`guard.validate must be a function (connection) => Promise, got ${show(o.validate)}`);
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
        `A lease whose last query finished (or, for a resource poolguard cannot read, whose last touch() was) within the last ${idleAfterMs} ms is taken to be in active use, ` +
        `so a forgotten one used shortly before the threshold is reported as slow, and as a possible leak only once it has been quiet for ${idleAfterMs} ms.`,
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

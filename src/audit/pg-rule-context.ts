import { GUARD_DEFAULTS } from '../core/config.js';
import { formatDuration } from '../core/format.js';
import type { Draft } from './rule-runner.js';
import type { AuditPoolOptions, AuditServerSummary, AuditSeverity } from './types.js';

/** The pool as it will run: pg-pool's and poolguard's defaults applied. */
export interface EffectiveOptions {
  readonly max: number;
  readonly min: number;
  readonly idleTimeoutMillis: number;
  readonly connectionTimeoutMillis: number;
  /** The shortest lifetime in force, in ms, from pg's maxLifetimeSeconds or guard.maxLifetimeMs; 0: none. */
  readonly lifetimeMs: number;
  readonly lifetimeOption: string | undefined;
  readonly allowExitOnIdle: boolean;
  readonly keepAlive: boolean;
  readonly keepAliveInitialDelayMillis: number;
  readonly leakThresholdMs: number;
  readonly reclaimAfterMs: number;
}

export interface RuleContext {
  /** The options as given (for values that have no default: session timeouts, jitter). */
  readonly raw: AuditPoolOptions;
  readonly guard: Readonly<Record<string, unknown>>;
  readonly pool: EffectiveOptions;
  readonly instances: number;
  readonly server: AuditServerSummary | undefined;
  /** Why the live rules could not run, already redacted. */
  readonly serverError: string | undefined;
}

/** One rule of the audit: its id and severity are public and stable; `checks` is the README's sentence. */
export interface AuditRule {
  readonly id: string;
  readonly severity: AuditSeverity;
  /** Whether the rule needs the server. */
  readonly live: boolean;
  readonly checks: string;
  check(ctx: RuleContext): Draft | Draft[] | undefined;
}


export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
export const total = (ctx: RuleContext) => ctx.pool.max * ctx.instances;
export const poolsOf = (ctx: RuleContext) => (ctx.instances === 1 ? `max ${ctx.pool.max}` : `max ${ctx.pool.max} × ${ctx.instances} instances = ${total(ctx)}`);
export const ms = (v: number) => (v === 0 ? '0' : `${v} (${formatDuration(v)})`);

/** The effective pool, tolerant of invalid values (those are the `invalid-option` rule's to report). */
export function effectiveOptions(raw: AuditPoolOptions, guard: Readonly<Record<string, unknown>>): EffectiveOptions {
  const pgLifetime = (num(raw.maxLifetimeSeconds) ?? 0) * 1000;
  const guardLifetime = num(guard.maxLifetimeMs) ?? 0;
  let lifetimeMs = 0;
  let lifetimeOption: string | undefined;
  if (pgLifetime > 0) [lifetimeMs, lifetimeOption] = [pgLifetime, 'maxLifetimeSeconds'];
  if (guardLifetime > 0 && (lifetimeMs === 0 || guardLifetime < lifetimeMs)) [lifetimeMs, lifetimeOption] = [guardLifetime, 'guard.maxLifetimeMs'];
  return {
    // pg-pool's own fallbacks, falsy values included: max 0 means 10 there.
    max: num(raw.max) || num(raw.poolSize) || 10,
    min: num(raw.min) || 0,
    idleTimeoutMillis: raw.idleTimeoutMillis === undefined ? 10_000 : (num(raw.idleTimeoutMillis) ?? 10_000),
    connectionTimeoutMillis: num(raw.connectionTimeoutMillis) || 0,
    lifetimeMs,
    lifetimeOption,
    allowExitOnIdle: raw.allowExitOnIdle === true,
    keepAlive: raw.keepAlive === true,
    keepAliveInitialDelayMillis: num(raw.keepAliveInitialDelayMillis) ?? 0,
    leakThresholdMs: num(guard.leakThresholdMs) ?? GUARD_DEFAULTS.leakThresholdMs,
    reclaimAfterMs: num(guard.reclaimAfterMs) ?? GUARD_DEFAULTS.reclaimAfterMs,
  };
}

/** How long a pooled connection can sit idle before the pool itself closes it (Infinity: never). */
export function longestIdleMs(ctx: RuleContext): { ms: number; because: string } {
  const { idleTimeoutMillis, lifetimeMs, min, lifetimeOption } = ctx.pool;
  // pg-pool never idle-closes the first `min` connections; only a lifetime ends those.
  const idle = idleTimeoutMillis > 0 && min === 0 ? idleTimeoutMillis : Infinity;
  if (lifetimeMs > 0 && lifetimeMs < idle) return { ms: lifetimeMs, because: `${lifetimeOption} ${lifetimeOption === 'maxLifetimeSeconds' ? lifetimeMs / 1000 : lifetimeMs}` };
  if (idle !== Infinity) return { ms: idle, because: `idleTimeoutMillis ${idleTimeoutMillis}` };
  return { ms: Infinity, because: idleTimeoutMillis === 0 ? 'idleTimeoutMillis 0 (never closed)' : `min ${min} (the first ${min} connections are never idle-closed)` };
}

/** The connections this pool can really have: the tightest of the server's, the role's and the database's limits. */
export function hardLimits(s: AuditServerSummary): Array<{ what: string; limit: number; inUse: number }> {
  const limits = [{ what: 'the server', limit: s.roleIsSuperuser ? s.maxConnections : s.maxConnections - s.reservedConnections, inUse: s.connectionsInUse }];
  // PostgreSQL does not apply role and database limits to superusers.
  if (!s.roleIsSuperuser && s.roleConnectionLimit >= 0) limits.push({ what: `role ${s.role}`, limit: s.roleConnectionLimit, inUse: s.roleConnectionsInUse });
  if (!s.roleIsSuperuser && s.databaseConnectionLimit >= 0) limits.push({ what: `database ${s.database}`, limit: s.databaseConnectionLimit, inUse: s.databaseConnectionsInUse });
  return limits;
}

import { GUARD_DEFAULTS, resolveGuardConfig, settingConflicts } from '../core/config.js';
import { formatDuration } from '../core/format.js';
import type { AuditFinding, AuditPoolOptions, AuditServerSummary, AuditSeverity } from './types.js';

/** A finding before the audit stamps it with its rule's id and severity. */
export interface Draft {
  message: string;
  why: string;
  fix: string;
  option?: string;
  value?: unknown;
}

const ORDER = { error: 0, warning: 1, info: 2 } as const;

/**
 * Runs a list of rules (PostgreSQL's or MySQL's) against their context: each draft stamped with
 * its rule's id and severity, errors first, counted. A rule that throws becomes a finding saying
 * so, rather than hiding every other one.
 */
export function runRules<C>(
  rules: ReadonlyArray<{ readonly id: string; readonly severity: AuditSeverity; check(ctx: C): Draft | Draft[] | undefined }>,
  ctx: C,
): { ok: boolean; findings: AuditFinding[]; counts: { error: number; warning: number; info: number } } {
  const findings: AuditFinding[] = [];
  for (const rule of rules) {
    let drafts;
    try {
      drafts = rule.check(ctx);
    } catch (err) {
      drafts = { message: `rule ${rule.id} could not run: ${String((err as Error)?.message ?? err)}`, why: 'This is a bug in poolguard\'s audit.', fix: 'Report it with the options you audited (without the password).' };
    }
    for (const d of drafts === undefined ? [] : Array.isArray(drafts) ? drafts : [drafts]) {
      const finding: AuditFinding = { rule: rule.id, severity: rule.severity, message: d.message, why: d.why, fix: d.fix };
      if (d.option !== undefined) Object.assign(finding, { option: d.option });
      if (d.value !== undefined) Object.assign(finding, { value: d.value });
      findings.push(finding);
    }
  }
  // A stable sort keeps the rules' own order within a severity.
  findings.sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
  const counts = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return { ok: counts.error === 0, findings, counts };
}

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

const PG_NUMBERS = ['max', 'min', 'idleTimeoutMillis', 'connectionTimeoutMillis', 'maxLifetimeSeconds', 'keepAliveInitialDelayMillis', 'query_timeout', 'idle_in_transaction_session_timeout'] as const;
// Options of poolguard versions other than this one: the audit reads them; validation must not reject them.
const LOOSE_GUARD_KEYS = ['maxLifetimeMs', 'lifetimeJitter'];
// The tightest idle cut-off of common network middleboxes (AWS NLB: 350 s; Azure LB: 4 min default).
const MIDDLEBOX_IDLE_MS = 240_000;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const total = (ctx: RuleContext) => ctx.pool.max * ctx.instances;
const poolsOf = (ctx: RuleContext) => (ctx.instances === 1 ? `max ${ctx.pool.max}` : `max ${ctx.pool.max} × ${ctx.instances} instances = ${total(ctx)}`);
const ms = (v: number) => (v === 0 ? '0' : `${v} (${formatDuration(v)})`);

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
function longestIdleMs(ctx: RuleContext): { ms: number; because: string } {
  const { idleTimeoutMillis, lifetimeMs, min, lifetimeOption } = ctx.pool;
  // pg-pool never idle-closes the first `min` connections; only a lifetime ends those.
  const idle = idleTimeoutMillis > 0 && min === 0 ? idleTimeoutMillis : Infinity;
  if (lifetimeMs > 0 && lifetimeMs < idle) return { ms: lifetimeMs, because: `${lifetimeOption} ${lifetimeOption === 'maxLifetimeSeconds' ? lifetimeMs / 1000 : lifetimeMs}` };
  if (idle !== Infinity) return { ms: idle, because: `idleTimeoutMillis ${idleTimeoutMillis}` };
  return { ms: Infinity, because: idleTimeoutMillis === 0 ? 'idleTimeoutMillis 0 (never closed)' : `min ${min} (the first ${min} connections are never idle-closed)` };
}

/** The connections this pool can really have: the tightest of the server's, the role's and the database's limits. */
function hardLimits(s: AuditServerSummary): Array<{ what: string; limit: number; inUse: number }> {
  const limits = [{ what: 'the server', limit: s.roleIsSuperuser ? s.maxConnections : s.maxConnections - s.reservedConnections, inUse: s.connectionsInUse }];
  // PostgreSQL does not apply role and database limits to superusers.
  if (!s.roleIsSuperuser && s.roleConnectionLimit >= 0) limits.push({ what: `role ${s.role}`, limit: s.roleConnectionLimit, inUse: s.roleConnectionsInUse });
  if (!s.roleIsSuperuser && s.databaseConnectionLimit >= 0) limits.push({ what: `database ${s.database}`, limit: s.databaseConnectionLimit, inUse: s.databaseConnectionsInUse });
  return limits;
}

/** The rules, in the order their findings are listed within a severity. */
/**
 * The role's and the database's CONNECTION LIMIT: one rule each, the same check. Behind PgBouncer
 * the server sees PgBouncer's pool for the database and user (`pool_size`), not the clients.
 */
function connectionLimitRule(of: 'role' | 'database'): AuditRule {
  const isRole = of === 'role';
  const column = isRole ? 'rolconnlimit' : 'datconnlimit';
  return {
    id: `${of}-connection-limit`,
    severity: 'error',
    live: true,
    checks: `\`max\` × instances fits in the ${of}'s \`${column}\`${isRole ? ' (CONNECTION LIMIT)' : ''}; behind PgBouncer, its server-side \`pool_size\` does.`,
    check(ctx) {
      const s = ctx.server;
      if (s === undefined || s.roleIsSuperuser) return undefined;
      const limit = isRole ? s.roleConnectionLimit : s.databaseConnectionLimit;
      const name = isRole ? s.role : s.database;
      const alter = isRole ? `ALTER ROLE ${name}` : `ALTER DATABASE ${name}`;
      const refusal = `"too many connections for ${of}"`;
      if (limit < 0) return undefined;
      if (s.pgbouncer !== undefined) {
        if (s.pgbouncer.poolSize <= limit) return undefined;
        return {
          message: `PgBouncer opens up to ${s.pgbouncer.poolSize} server connections (pool_size) ${isRole ? `as role ${name}` : `to database ${name}`}, which has CONNECTION LIMIT ${limit}`,
          why: `PgBouncer fails to open server connections past the ${of}'s limit (${refusal}), and clients wait in PgBouncer until their query times out.`,
          fix: `Lower ${isRole ? "default_pool_size (or the database's pool_size)" : `the pool_size for ${name}`} in pgbouncer.ini to ${limit} or less, or ${alter} CONNECTION LIMIT ${s.pgbouncer.poolSize} (or more).`,
        };
      }
      if (total(ctx) <= limit) return undefined;
      return {
        message: `${poolsOf(ctx)} connections, but ${of} ${name} has CONNECTION LIMIT ${limit}`,
        why: `Connections beyond the limit fail with ${refusal}: the pool cannot grow to max and callers time out${isRole ? ' while the server has room' : ''}.`,
        fix: `Lower max so that max × instances ≤ ${limit}, or ${alter} CONNECTION LIMIT ${total(ctx)} (or more).`,
        option: 'max',
        value: ctx.pool.max,
      };
    },
  };
}

export const RULES: readonly AuditRule[] = Object.freeze([
  {
    id: 'invalid-option',
    severity: 'error',
    live: false,
    checks: 'Every pg option the audit reads is a non-negative number, and the `guard` options pass poolguard\'s own validation.',
    check(ctx) {
      const out: Draft[] = [];
      for (const key of PG_NUMBERS) {
        const v = ctx.raw[key];
        if (v === undefined) continue;
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
          out.push({
            message: `${key} is ${JSON.stringify(v) ?? String(v)}: pg expects a non-negative number`,
            why: 'pg does not validate its options: a string or negative number silently becomes a default or a timer that fires at once.',
            fix: `Set ${key} to a number${key.endsWith('Millis') || key.endsWith('timeout') ? ' of milliseconds' : ''} (≥ 0).`,
            option: key,
            value: v,
          });
        }
      }
      if (ctx.raw.max === 0) {
        out.push({ message: 'max is 0: pg-pool replaces it with its default, 10', why: 'pg-pool treats 0 as "not set"; the pool opens up to 10 connections, not none.', fix: 'Set max to the number of connections you mean (≥ 1).', option: 'max', value: 0 });
      }
      if (ctx.raw.guard !== undefined) {
        const guard = typeof ctx.raw.guard === 'object' && ctx.raw.guard !== null ? Object.fromEntries(Object.entries(ctx.raw.guard).filter(([k]) => !LOOSE_GUARD_KEYS.includes(k))) : ctx.raw.guard;
        try {
          resolveGuardConfig(guard, 'audit');
        } catch (err) {
          const message = String((err as Error).message);
          const option = /^(guard(?:\.\w+)?)/.exec(message)?.[1];
          out.push({ message, why: 'The pool constructor throws this same error: the service would not start.', fix: 'Correct the option as the message says (the options are listed in the README).', option });
        }
      }
      return out;
    },
  },
  {
    id: 'acquire-timeout-infinite',
    severity: 'error',
    live: false,
    checks: '`connectionTimeoutMillis` is set: 0 (pg\'s default) makes a checkout wait forever.',
    check(ctx) {
      if (ctx.pool.connectionTimeoutMillis > 0) return undefined;
      return {
        message: `connectionTimeoutMillis is ${ctx.raw.connectionTimeoutMillis === undefined ? 'not set (pg\'s default: 0)' : String(ctx.raw.connectionTimeoutMillis)}: a checkout waits forever for a free connection`,
        why: 'When connections leak or the server is slow, requests queue silently behind the pool: no error, no log, just latency that grows until the service stops answering.',
        fix: 'Set connectionTimeoutMillis to what a request can afford to wait, e.g. 5000; the timeout error then names who holds the connections.',
        option: 'connectionTimeoutMillis',
        value: ctx.raw.connectionTimeoutMillis ?? 0,
      };
    },
  },
  {
    id: 'max-below-min',
    severity: 'error',
    live: false,
    checks: '`min` is not above `max`.',
    check(ctx) {
      const { max, min } = ctx.pool;
      if (min <= max) return undefined;
      return {
        message: `min is ${min} but max is ${max}`,
        why: 'pg-pool never opens more than max connections, so the min it promises cannot be kept and idle connections are never closed (the pool is always "at or below min").',
        fix: `Lower min to at most ${max}, or raise max to at least ${min}.`,
        option: 'min',
        value: min,
      };
    },
  },
  {
    id: 'leak-detection-off',
    severity: 'warning',
    live: false,
    checks: '`guard.leakThresholdMs` is not 0.',
    check(ctx) {
      if (ctx.pool.leakThresholdMs > 0) return undefined;
      return {
        message: 'guard.leakThresholdMs is 0: leak detection is off',
        why: 'A connection that is never released is then noticed only when the pool runs dry, and nothing says which code took it.',
        fix: `Set guard.leakThresholdMs (default ${GUARD_DEFAULTS.leakThresholdMs}) a little above your slowest legitimate transaction.`,
        option: 'guard.leakThresholdMs',
        value: 0,
      };
    },
  },
  {
    id: 'leak-threshold-above-acquire-timeout',
    severity: 'warning',
    live: false,
    checks: '`guard.leakThresholdMs` is not longer than `connectionTimeoutMillis`.',
    check(ctx) {
      const { leakThresholdMs, connectionTimeoutMillis } = ctx.pool;
      if (leakThresholdMs === 0 || connectionTimeoutMillis === 0 || leakThresholdMs <= connectionTimeoutMillis) return undefined;
      return {
        message: `guard.leakThresholdMs is ${ms(leakThresholdMs)}, longer than connectionTimeoutMillis ${ms(connectionTimeoutMillis)}`,
        why: 'When connections leak, callers start timing out before the first leak report names the code that holds them: the logs fill with timeouts and no culprit.',
        fix: `Lower guard.leakThresholdMs to at most ${connectionTimeoutMillis}, or raise connectionTimeoutMillis.`,
        option: 'guard.leakThresholdMs',
        value: leakThresholdMs,
      };
    },
  },
  {
    id: 'reclaim-before-leak-report',
    severity: 'warning',
    live: false,
    checks: '`guard.reclaimAfterMs`, when on, is not shorter than `guard.leakThresholdMs`.',
    check(ctx) {
      const { reclaimAfterMs, leakThresholdMs } = ctx.pool;
      if (reclaimAfterMs === 0 || (leakThresholdMs > 0 && reclaimAfterMs >= leakThresholdMs)) return undefined;
      return {
        message: `guard.reclaimAfterMs is ${ms(reclaimAfterMs)}, shorter than guard.leakThresholdMs ${leakThresholdMs === 0 ? '0 (off)' : ms(leakThresholdMs)}`,
        why: 'Leases are taken back before they are ever reported as leaks: holders get LeaseReclaimedError with no earlier warning, and a slow-but-legitimate lease that pauses is killed.',
        fix: `Raise guard.reclaimAfterMs above guard.leakThresholdMs (a few times it is typical), or lower the threshold.`,
        option: 'guard.reclaimAfterMs',
        value: reclaimAfterMs,
      };
    },
  },
  {
    id: 'idle-window-contradicts-thresholds',
    severity: 'warning',
    live: false,
    checks: '`guard.idleAfterMs`, when set, is shorter than `guard.leakThresholdMs` and than `guard.reclaimAfterMs` (when on); the pool also warns of it when constructed.',
    check(ctx) {
      // Unset, it defaults to at most half of each threshold: only a value someone chose can conflict.
      const idleAfterMs = num(ctx.guard.idleAfterMs);
      if (idleAfterMs === undefined) return undefined;
      const { leakThresholdMs, reclaimAfterMs } = ctx.pool;
      return settingConflicts({ idleAfterMs, leakThresholdMs, reclaimAfterMs }).map(({ option, value, message, why, fix }) => ({ message, why, fix, option, value }));
    },
  },
  {
    id: 'lifetime-too-short',
    severity: 'warning',
    live: false,
    checks: 'A connection lifetime (`maxLifetimeSeconds`, `guard.maxLifetimeMs`), when set, is at least a minute.',
    check(ctx) {
      const { lifetimeMs, lifetimeOption } = ctx.pool;
      if (lifetimeMs === 0 || lifetimeMs >= 60_000) return undefined;
      const value = lifetimeOption === 'maxLifetimeSeconds' ? lifetimeMs / 1000 : lifetimeMs;
      return {
        message: `${lifetimeOption} is ${value} (${formatDuration(lifetimeMs)}): connections are replaced more than once a minute`,
        why: 'Each replacement costs a TCP and TLS handshake, authentication and a new server process; under load the pool spends its time reconnecting and callers wait for it.',
        fix: 'Use a lifetime of several minutes to an hour (e.g. maxLifetimeSeconds: 1800), below any limit your network or proxy imposes.',
        option: lifetimeOption!,
        value,
      };
    },
  },
  {
    id: 'lifetime-without-jitter',
    severity: 'warning',
    live: false,
    checks: 'With several instances, connection lifetimes are spread out (pg\'s `maxLifetimeSeconds` has no jitter; `guard.lifetimeJitter` is not 0).',
    check(ctx) {
      if (ctx.instances <= 1) return undefined;
      const pgLifetime = num(ctx.raw.maxLifetimeSeconds) ?? 0;
      if (pgLifetime > 0) {
        return {
          message: `maxLifetimeSeconds is ${pgLifetime} with ${ctx.instances} instances: pg expires every connection exactly ${formatDuration(pgLifetime * 1000)} after it opened, with no jitter`,
          why: 'Connections opened together (at start, after a deploy or a failover) all expire together, in every instance at once: a reconnection storm every lifetime, and requests wait through it.',
          fix: 'Use guard.maxLifetimeMs instead of maxLifetimeSeconds: poolguard takes a random share of up to guard.lifetimeJitter (25 % by default) off each connection\'s lifetime.',
          option: 'maxLifetimeSeconds',
          value: pgLifetime,
        };
      }
      const guardLifetime = num(ctx.guard.maxLifetimeMs) ?? 0;
      if (guardLifetime > 0 && ctx.guard.lifetimeJitter === 0) {
        return {
          message: `guard.lifetimeJitter is 0 with guard.maxLifetimeMs ${guardLifetime} and ${ctx.instances} instances: connections expire in lockstep`,
          why: 'Connections opened together expire together, in every instance at once: a reconnection storm every lifetime.',
          fix: 'Leave guard.lifetimeJitter at its default or set it above 0 (a few percent of the lifetime).',
          option: 'guard.lifetimeJitter',
          value: 0,
        };
      }
      return undefined;
    },
  },
  {
    id: 'exit-on-idle',
    severity: 'info',
    live: false,
    checks: '`allowExitOnIdle` against `idleTimeoutMillis`: whether a process with idle connections can exit.',
    check(ctx) {
      const { allowExitOnIdle, idleTimeoutMillis } = ctx.pool;
      if (allowExitOnIdle) {
        return {
          message: 'allowExitOnIdle is true: the process may exit while the pool holds idle connections',
          why: 'pg unreferences idle connections and their timers; right for scripts, CLIs and serverless handlers, but a worker whose only pending work is the pool (a poller on an unref\'d timer) exits quietly.',
          fix: 'Keep it for short-lived processes; in a long-running service make sure something else (a server, a timer) keeps the process alive.',
          option: 'allowExitOnIdle',
          value: true,
        };
      }
      if (idleTimeoutMillis === 0) {
        return {
          message: 'allowExitOnIdle is false and idleTimeoutMillis is 0: a process that does not call pool.end() never exits',
          why: 'Idle connections are never closed and keep the event loop alive: a script, migration or job that forgets pool.end() hangs instead of finishing.',
          fix: 'Call pool.end() when the work is done, or set allowExitOnIdle: true for short-lived processes.',
          option: 'allowExitOnIdle',
          value: false,
        };
      }
      return undefined;
    },
  },
  {
    id: 'server-unreachable',
    severity: 'error',
    live: true,
    checks: 'The server answers, so that the live rules can run.',
    check(ctx) {
      if (ctx.serverError === undefined) return undefined;
      return {
        message: `the audit could not connect to or read the server: ${ctx.serverError}`,
        why: 'The live rules (connection limits, server timeouts) did not run; if the service cannot connect either, it will not start.',
        fix: 'Check the host, port, database, user and network from where the audit runs (the same place as the service), then run the audit again.',
      };
    },
  },
  {
    id: 'max-exceeds-server',
    severity: 'error',
    live: true,
    checks: '`max` × instances fits in `max_connections` minus `superuser_reserved_connections` (and `reserved_connections`); behind PgBouncer the `pgbouncer-*` rules apply instead.',
    check(ctx) {
      const s = ctx.server;
      // Behind PgBouncer the pools' connections end at PgBouncer; its own pool_size meets the server.
      if (s === undefined || s.pgbouncer !== undefined) return undefined;
      const limit = hardLimits(s)[0]!.limit;
      if (total(ctx) <= limit) return undefined;
      return {
        message: `${poolsOf(ctx)} connections, but the server accepts ${limit} (max_connections ${s.maxConnections}${s.roleIsSuperuser ? '' : ` − ${s.reservedConnections} reserved`})`,
        why: 'Under load the pools try to open more connections than the server has: the extra connections fail with "sorry, too many clients already", for this service and every other one on the server.',
        fix: `Lower max so that max × instances ≤ ${limit}, with room for other clients and deploys; or put a pooler (PgBouncer) in front; or raise max_connections on the server.`,
        option: 'max',
        value: ctx.pool.max,
      };
    },
  },
  {
    id: 'proxy-unread',
    severity: 'warning',
    live: true,
    checks: 'A pooler or proxy between the pool and the server (the server listens on another port than the one dialled) whose limits could not be read.',
    check(ctx) {
      const p = ctx.server?.unreadProxy;
      if (p === undefined) return undefined;
      return {
        message: `the pool dials port ${p.dialledPort ?? 'unknown'} but the server listens on ${p.serverPort}: a pooler or proxy is in between, and its limits could not be read (${p.reason})`,
        why: 'Behind PgBouncer or another proxy the limit that matters is the proxy\'s (max_client_conn, default_pool_size), not the server\'s max_connections: the server-side connection rules may pass while the proxy refuses connections.',
        fix: 'If it is PgBouncer, add the audit\'s user to stats_users (or admin_users) in pgbouncer.ini so that poolguard can read SHOW CONFIG and SHOW POOLS; otherwise check the proxy\'s connection limits by hand against max × instances.',
      };
    },
  },
  {
    id: 'pgbouncer-max-client-conn',
    severity: 'error',
    live: true,
    checks: 'Behind PgBouncer: `max` × instances fits in its `max_client_conn` (with the client connections it has now, a warning).',
    check(ctx) {
      const b = ctx.server?.pgbouncer;
      if (b === undefined) return undefined;
      if (total(ctx) <= b.maxClientConn) return undefined;
      return {
        message: `${poolsOf(ctx)} client connections, but PgBouncer accepts ${b.maxClientConn} (max_client_conn)`,
        why: 'PgBouncer refuses client connections past max_client_conn ("no more connections allowed"): pools that grow under load fail to connect, in every instance at once.',
        fix: `Lower max so that max × instances ≤ ${b.maxClientConn} (with room for other clients), or raise max_client_conn in pgbouncer.ini (mind its file-descriptor limit).`,
        option: 'max',
        value: ctx.pool.max,
      };
    },
  },
  {
    id: 'pgbouncer-pool-size',
    severity: 'warning',
    live: true,
    checks: 'Behind PgBouncer: `max` × instances against its server-side `pool_size` (`default_pool_size`): in session mode each client holds a server connection; in transaction mode the excess waits in PgBouncer.',
    check(ctx) {
      const b = ctx.server?.pgbouncer;
      if (b === undefined || total(ctx) <= b.poolSize) return undefined;
      const session = b.poolMode === 'session';
      return {
        message: `${poolsOf(ctx)} client connections share PgBouncer's pool_size ${b.poolSize} server connections (pool_mode ${b.poolMode})`,
        why: session
          ? 'In session mode a client keeps its server connection for its whole life: clients past pool_size wait in PgBouncer (until query_wait_timeout) although the pool believes it is connected.'
          : 'In transaction mode that is the point of PgBouncer, but transactions past pool_size wait in its queue: that wait is not in poolguard\'s wait_time (it happens inside a query), and a leaked lease inside BEGIN pins a server connection for everyone.',
        fix: session
          ? `Use pool_mode = transaction, or make max × instances ≤ ${b.poolSize}, or raise default_pool_size (within the server's max_connections).`
          : `Keep leases short (leak detection on, guard.leakThresholdMs low), watch SHOW POOLS cl_waiting, and size default_pool_size for the concurrent transactions, not for max × instances.`,
        option: 'max',
        value: ctx.pool.max,
      };
    },
  },
  connectionLimitRule('role'),
  connectionLimitRule('database'),
  {
    id: 'connections-in-use',
    severity: 'warning',
    live: true,
    checks: '`max` × instances fits in what the server, role and database have left after the connections already in use (not checked behind PgBouncer).',
    check(ctx) {
      const s = ctx.server;
      if (s === undefined || s.pgbouncer !== undefined) return undefined;
      const limits = hardLimits(s);
      // Over a hard limit is the error rules' finding; this one is about what is left now.
      if (limits.some((l) => total(ctx) > l.limit)) return undefined;
      const tightest = limits.map((l) => ({ ...l, free: l.limit - l.inUse })).sort((a, b) => a.free - b.free)[0]!;
      if (total(ctx) <= tightest.free) return undefined;
      return {
        message: `${poolsOf(ctx)} connections, but ${tightest.what} has ${Math.max(0, tightest.free)} of ${tightest.limit} left (${tightest.inUse} in use now)`,
        why: 'The pools can only fill up if the connections in use now go away; during a rolling deploy old and new instances run side by side and the newcomers fail to connect.',
        fix: 'Lower max, or find out who holds the connections now (`npx poolguard status`) and whether they should.',
        option: 'max',
        value: ctx.pool.max,
      };
    },
  },
  {
    id: 'idle-timeout-off',
    severity: 'warning',
    live: true,
    checks: '`idleTimeoutMillis` is not 0 (idle connections kept forever) when `max` × instances is more than half of the connections available.',
    check(ctx) {
      const s = ctx.server;
      if (s === undefined || ctx.pool.idleTimeoutMillis !== 0) return undefined;
      const limit = Math.min(...hardLimits(s).map((l) => l.limit));
      if (total(ctx) * 2 <= limit) return undefined;
      return {
        message: `idleTimeoutMillis is 0 and ${poolsOf(ctx)} connections is more than half of the ${limit} available`,
        why: 'After one busy minute every instance keeps max connections open forever, idle: the server\'s small limit is used up by connections that do nothing, and other clients cannot connect.',
        fix: 'Set idleTimeoutMillis (pg\'s default is 10000) so that idle connections are given back.',
        option: 'idleTimeoutMillis',
        value: 0,
      };
    },
  },
  {
    id: 'idle-session-timeout',
    severity: 'warning',
    live: true,
    checks: 'Idle connections are closed by the pool (`idleTimeoutMillis`, lifetime, `min`) before the server\'s `idle_session_timeout` closes them.',
    check(ctx) {
      const s = ctx.server;
      if (s === undefined || s.idleSessionTimeoutMs === 0) return undefined;
      const idle = longestIdleMs(ctx);
      if (idle.ms < s.idleSessionTimeoutMs) return undefined;
      return {
        message: `the server's idle_session_timeout is ${ms(s.idleSessionTimeoutMs)} but the pool keeps idle connections ${idle.ms === Infinity ? 'forever' : `up to ${formatDuration(idle.ms)}`} (${idle.because})`,
        why: 'The server closes idle pooled connections first: the pool emits "error" (fatal without a listener) and callers can get a connection that is already dead.',
        fix: `Set idleTimeoutMillis below ${s.idleSessionTimeoutMs}${ctx.pool.min > 0 ? ' and min to 0 (or a lifetime below it)' : ''}, or raise idle_session_timeout for this role.`,
        option: ctx.pool.min > 0 && ctx.pool.idleTimeoutMillis > 0 ? 'min' : 'idleTimeoutMillis',
        value: ctx.pool.min > 0 && ctx.pool.idleTimeoutMillis > 0 ? ctx.pool.min : ctx.pool.idleTimeoutMillis,
      };
    },
  },
  {
    id: 'tcp-keepalive',
    severity: 'info',
    live: true,
    checks: 'Connections idle longer than a network\'s idle cut-off (4 min) have TCP keepalives below it (`keepAlive` or the server\'s `tcp_keepalives_idle`).',
    check(ctx) {
      const s = ctx.server;
      // 0: a Unix socket (no network in between) or the OS default, which the server cannot report.
      if (s === undefined || s.tcpKeepalivesIdleSeconds === 0 || s.tcpKeepalivesIdleSeconds * 1000 <= MIDDLEBOX_IDLE_MS) return undefined;
      const { keepAlive, keepAliveInitialDelayMillis } = ctx.pool;
      if (keepAlive && keepAliveInitialDelayMillis <= MIDDLEBOX_IDLE_MS) return undefined;
      const idle = longestIdleMs(ctx);
      if (idle.ms <= MIDDLEBOX_IDLE_MS) return undefined;
      return {
        message: `connections may sit idle ${idle.ms === Infinity ? 'forever' : formatDuration(idle.ms)} (${idle.because}), but the server's first keepalive comes after tcp_keepalives_idle ${s.tcpKeepalivesIdleSeconds} s and keepAlive is ${keepAlive ? `on after ${keepAliveInitialDelayMillis} ms` : 'off'}`,
        why: 'Firewalls, NAT gateways and load balancers drop TCP flows idle for a few minutes without telling either side; the pool then hands out a dead connection and the query hangs until TCP gives up (often 15 min).',
        fix: 'Set keepAlive: true (keepAliveInitialDelayMillis ≤ 60000), or idleTimeoutMillis below your network\'s idle cut-off.',
        option: 'keepAlive',
        value: keepAlive,
      };
    },
  },
  {
    id: 'idle-in-transaction-timeout-off',
    severity: 'warning',
    live: true,
    checks: '`idle_in_transaction_session_timeout`, as the pool\'s connections get it, is not 0.',
    check(ctx) {
      const s = ctx.server;
      if (s === undefined) return undefined;
      const value = num(ctx.raw.idle_in_transaction_session_timeout) ?? s.idleInTransactionSessionTimeoutMs;
      if (value > 0) return undefined;
      return {
        message: `idle_in_transaction_session_timeout is 0 for role ${s.role} on ${s.database}: a transaction left open is never ended by the server`,
        why: 'A leaked lease inside BEGIN holds its row and table locks forever: other queries queue behind the locks, vacuum cannot clean up, and the outage spreads beyond the pool.',
        fix: `Set idle_in_transaction_session_timeout: 60000 in the pool's options, or ALTER ROLE ${s.role} SET idle_in_transaction_session_timeout = '1min'.`,
        option: 'idle_in_transaction_session_timeout',
        value,
      };
    },
  },
  {
    id: 'statement-timeout-off',
    severity: 'warning',
    live: true,
    checks: '`statement_timeout` (or pg\'s `query_timeout`), as the pool\'s connections get it, is not 0.',
    check(ctx) {
      const s = ctx.server;
      if (s === undefined || (num(ctx.raw.query_timeout) ?? 0) > 0) return undefined;
      const value = num(ctx.raw.statement_timeout) ?? s.statementTimeoutMs;
      if (value > 0) return undefined;
      const leak = ctx.pool.leakThresholdMs;
      return {
        message: `statement_timeout is 0 for role ${s.role} on ${s.database}${leak > 0 ? ` while guard.leakThresholdMs is ${leak}` : ''}: a query can run forever`,
        why: leak > 0
          ? 'A runaway query keeps its connection busy forever: leak detection reports it as busy (slow, not forgotten) and nothing ends it; enough of them and the pool runs dry.'
          : 'A runaway query keeps its connection forever; enough of them and the pool runs dry.',
        fix: `Set statement_timeout: 30000 (or your slowest legitimate query) in the pool's options, or ALTER ROLE ${s.role} SET statement_timeout = '30s'.`,
        option: 'statement_timeout',
        value,
      };
    },
  },
]);

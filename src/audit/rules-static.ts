import { GUARD_DEFAULTS, resolveGuardConfig, settingConflicts } from '../core/config.js';
import { formatDuration } from '../core/format.js';
import { ms, num, type AuditRule } from './pg-rule-context.js';
import type { Draft } from './rule-runner.js';

const PG_NUMBERS = ['max', 'min', 'idleTimeoutMillis', 'connectionTimeoutMillis', 'maxLifetimeSeconds', 'keepAliveInitialDelayMillis', 'query_timeout', 'idle_in_transaction_session_timeout'] as const;
// Options of poolguard versions other than this one: the audit reads them; validation must not reject them.
const LOOSE_GUARD_KEYS = ['maxLifetimeMs', 'lifetimeJitter'];

/** The rules that read the options alone, in the order their findings are listed within a severity. */
export const STATIC_RULES: readonly AuditRule[] = [
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
];

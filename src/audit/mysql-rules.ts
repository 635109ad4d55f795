import { formatDuration } from '../core/format.js';
import type { Draft } from './rule-runner.js';
import type { MysqlDriver, MysqlServerSummary } from './mysql-server.js';
import type { AuditSeverity } from './types.js';

/**
 * A mysql2 pool as it will run, read the way mysql2 reads its options (`lib/pool_config.js` of
 * mysql2 3.x: `isNaN(v) ? default : Number(v)`, so `'5'` is 5 and `null` is 0), with poolguard's
 * `guard` options beside.
 */
export interface MysqlPoolSettings {
  /** The driver whose pool this is: its words in the findings, and how it reads its options. */
  readonly driver: MysqlDriver;
  /** Most connections; `0`: no limit (mysql2 opens a connection for every caller when none is free). Default 10. */
  readonly connectionLimit: number;
  /** Default `connectionLimit`. Only below it does mysql2 close idle connections at all. */
  readonly maxIdle: number;
  /** Whether `maxIdle` was given (for the wording: its default is connectionLimit). */
  readonly maxIdleGiven: boolean;
  /** Default 60000. */
  readonly idleTimeout: number;
  /** Default true; false: `getConnection()` fails at once ("No connections available.") instead of waiting. */
  readonly waitForConnections: boolean;
  /** Default 0: no limit on how many callers wait. It bounds how many wait, never how long. */
  readonly queueLimit: number;
  readonly lifetimeMs: number;
  readonly acquireTimeoutMs: number;
  /** Whether `acquireTimeoutMs` is the driver's own (the MariaDB connector's `acquireTimeout`) rather than poolguard's. */
  readonly acquireTimeoutOwn: boolean;
  readonly validateAfterIdleMs: number;
}

/**
 * How often mysql2 looks for idle connections to close: a fixed 1000 ms timer, started with the
 * pool and only when `maxIdle < connectionLimit` (`_removeIdleTimeoutConnections` in
 * `lib/base/pool.js`). poolguard's own scan, which retires connections past their lifetime, runs at
 * least as often.
 */
export const IDLE_CHECK_MS = 1_000;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);

/** mysql2's own reading of a numeric pool option; a value it would throw on (a Symbol) counts as unset. */
function mysqlNumber(value: unknown, fallback: number): number {
  try {
    return isNaN(value as number) ? fallback : Number(value);
  } catch {
    return fallback;
  }
}

/**
 * The pool's settings as its driver and poolguard will apply them. mysql (mysqljs) never closes an
 * idle connection; the MariaDB connector closes those above `minimumIdle` (default
 * `connectionLimit`) idle past `idleTimeout` seconds (default 1800), and bounds the wait for a
 * connection with its own `acquireTimeout` (default 10000 ms).
 */
export function mysqlPoolSettings(options: Readonly<Record<string, unknown>>, driver: MysqlDriver = 'mysql2'): MysqlPoolSettings {
  const guard = (typeof options.guard === 'object' && options.guard !== null ? options.guard : {}) as Record<string, unknown>;
  const connectionLimit = mysqlNumber(options.connectionLimit, 10);
  const common = {
    driver,
    connectionLimit,
    waitForConnections: options.waitForConnections === undefined ? true : Boolean(options.waitForConnections),
    queueLimit: mysqlNumber(options.queueLimit, 0),
    lifetimeMs: num(guard.maxLifetimeMs) ?? 0,
    validateAfterIdleMs: num(guard.validateAfterIdleMs) ?? 0,
  };
  if (driver === 'mariadb') {
    const minimumIdle = Math.min(mysqlNumber(options.minimumIdle, connectionLimit), connectionLimit);
    return {
      ...common,
      maxIdle: minimumIdle,
      maxIdleGiven: options.minimumIdle !== undefined,
      idleTimeout: mysqlNumber(options.idleTimeout, 1800) * 1000,
      acquireTimeoutMs: mysqlNumber(options.acquireTimeout, 10_000),
      acquireTimeoutOwn: true,
    };
  }
  const maxIdle = driver === 'mysql' ? connectionLimit : mysqlNumber(options.maxIdle, connectionLimit);
  return {
    ...common,
    maxIdle,
    maxIdleGiven: driver !== 'mysql' && !Number.isNaN(mysqlNumber(options.maxIdle, NaN)),
    idleTimeout: mysqlNumber(options.idleTimeout, 60_000),
    acquireTimeoutMs: num(guard.acquireTimeoutMs) ?? 0,
    acquireTimeoutOwn: false,
  };
}

/** The driver's own names for its idle settings, for the findings. */
function idleWords(pool: MysqlPoolSettings): { maxIdle: string; idleTimeout: string } {
  return pool.driver === 'mariadb' ? { maxIdle: 'minimumIdle', idleTimeout: 'idleTimeout (seconds)' } : { maxIdle: 'maxIdle', idleTimeout: 'idleTimeout' };
}

export interface MysqlRuleContext {
  readonly pool: MysqlPoolSettings;
  readonly instances: number;
  readonly server: MysqlServerSummary | undefined;
  readonly serverError: string | undefined;
}

export interface MysqlRule {
  readonly id: string;
  readonly severity: AuditSeverity;
  readonly live: boolean;
  check(ctx: MysqlRuleContext): Draft | undefined;
}

const ms = (v: number) => `${v} (${formatDuration(v)})`;
const noLimit = (pool: MysqlPoolSettings) => pool.connectionLimit === 0;
const poolsOf = (ctx: MysqlRuleContext) => {
  const { connectionLimit } = ctx.pool;
  if (connectionLimit === 0) return `connectionLimit 0 (no limit: ${ctx.pool.driver} opens a connection for every caller when none is free)`;
  return ctx.instances === 1 ? `connectionLimit ${connectionLimit}` : `connectionLimit ${connectionLimit} × ${ctx.instances} instances = ${connectionLimit * ctx.instances}`;
};

/**
 * How long a connection can sit idle in the pool before something closes it or checks it, as
 * mysql2 3.x does it: only when `maxIdle < connectionLimit` does its once-a-second check run, and
 * then it closes every free connection idle longer than `idleTimeout` (down to none, not down to
 * maxIdle) and, at once, any above maxIdle. poolguard's lifetime closes idle connections when due;
 * a validation after idle checks one before handing it out. `Infinity`: nothing does.
 */
function longestIdle(pool: MysqlPoolSettings): { ms: number; by: string; option: string; value: number } | undefined {
  const candidates: Array<{ ms: number; by: string; option: string; value: number }> = [];
  if (pool.driver !== 'mysql' && pool.maxIdle < pool.connectionLimit) {
    const value = pool.driver === 'mariadb' ? pool.idleTimeout / 1000 : pool.idleTimeout;
    candidates.push({ ms: pool.idleTimeout + IDLE_CHECK_MS, by: `idleTimeout ${value}, which ${pool.driver} checks ${pool.driver === 'mariadb' ? 'twice' : 'once'} a second`, option: 'idleTimeout', value });
  }
  if (pool.lifetimeMs > 0) candidates.push({ ms: pool.lifetimeMs + IDLE_CHECK_MS, by: `guard.maxLifetimeMs ${pool.lifetimeMs}`, option: 'guard.maxLifetimeMs', value: pool.lifetimeMs });
  if (pool.validateAfterIdleMs > 0) candidates.push({ ms: pool.validateAfterIdleMs, by: `guard.validateAfterIdleMs ${pool.validateAfterIdleMs}`, option: 'guard.validateAfterIdleMs', value: pool.validateAfterIdleMs });
  return candidates.sort((a, b) => a.ms - b.ms)[0];
}

/** Why the driver keeps idle connections for ever with these settings. */
function keptForever(pool: MysqlPoolSettings): string {
  if (pool.driver === 'mysql') return 'mysql (mysqljs) never closes an idle connection of its pool';
  const { maxIdle: name } = idleWords(pool);
  if (noLimit(pool)) return `with connectionLimit 0 (no limit) ${pool.driver} never closes idle connections: it closes them only when ${name} is below connectionLimit`;
  const maxIdle = pool.maxIdleGiven ? `${name} ${pool.maxIdle}` : `${name} (by default connectionLimit, ${pool.maxIdle})`;
  return `${maxIdle} is not below connectionLimit ${pool.connectionLimit}, and only then does ${pool.driver} close idle connections`;
}

/** An error when connectionLimit × instances can exceed one of the server's limits (`0`: none). */
function limitRule(id: string, limit: (s: MysqlServerSummary) => number, say: (s: MysqlServerSummary, ctx: MysqlRuleContext) => Omit<Draft, 'option' | 'value'>): MysqlRule {
  return {
    id,
    severity: 'error',
    live: true,
    check: (ctx) => {
      const s = ctx.server;
      if (s === undefined || limit(s) <= 0) return undefined;
      if (!noLimit(ctx.pool) && ctx.pool.connectionLimit * ctx.instances <= limit(s)) return undefined;
      return { ...say(s, ctx), option: 'connectionLimit', value: ctx.pool.connectionLimit };
    },
  };
}

/** The MySQL/MariaDB audit's rules, in the order their findings are listed within a severity. */
export const MYSQL_RULE_LIST: readonly MysqlRule[] = [
  {
    id: 'acquire-timeout-infinite',
    severity: 'warning',
    live: false,
    check: ({ pool }) => {
      // Callers never wait when the driver fails them at once, or when there is no limit to wait behind.
      if (pool.acquireTimeoutMs > 0 || !pool.waitForConnections || noLimit(pool)) return undefined;
      if (pool.acquireTimeoutOwn) {
        return {
          message: 'acquireTimeout is 0: getConnection() waits for ever when every connection is checked out',
          why: 'One forgotten release() per connection and every later request hangs silently, with no error to alert on.',
          fix: 'Set the connector\'s acquireTimeout (its default is 10000): callers then fail with its timeout error, to which poolguard adds who holds the connections.',
          option: 'acquireTimeout',
          value: 0,
        };
      }
      return {
        message:
          'guard.acquireTimeoutMs is 0: getConnection() waits for ever when every connection is checked out' +
          (pool.queueLimit > 0 ? ` (queueLimit ${pool.queueLimit} bounds how many callers wait, not how long)` : ''),
        why:
          (pool.driver === 'mysql' ? "mysql's acquireTimeout bounds a connect or a ping, not the wait for a free connection (mysqljs/mysql#2105)" : 'mysql2 has no acquire timeout') +
          ': one forgotten release() per connection and every later request hangs silently, with no error to alert on.',
        fix: 'Set guard.acquireTimeoutMs (e.g. 5000): callers then fail with CheckoutTimeoutError naming who holds the connections.',
        option: 'guard.acquireTimeoutMs',
        value: 0,
      };
    },
  },
  {
    id: 'server-unreachable',
    severity: 'error',
    live: true,
    check: ({ serverError }) =>
      serverError === undefined
        ? undefined
        : {
            message: `could not read the server: ${serverError}`,
            why: 'The live rules (max_connections, max_user_connections, wait_timeout) did not run; the pool will likely fail the same way.',
            fix: 'Check the host, port, user and password the pool uses, and that this machine can reach the server.',
          },
  },
  limitRule('max-exceeds-server', (s) => s.maxConnections, (s, ctx) => ({
    message: `${poolsOf(ctx)} ${noLimit(ctx.pool) ? 'can exceed' : 'exceeds'} the server's max_connections ${s.maxConnections}`,
    why: `Past ${s.maxConnections} sessions the server refuses new ones ("Too many connections"): under load the pools cannot all open what they are allowed to, and other clients are locked out.`,
    fix: `${noLimit(ctx.pool) ? 'Set' : 'Lower'} connectionLimit to at most ${Math.max(1, Math.floor(s.maxConnections / ctx.instances) - 1)} per instance (leave room for administrators), or raise max_connections.`,
  })),
  limitRule('max-exceeds-user-limit', (s) => s.maxUserConnections, (s, ctx) => ({
    message: `${poolsOf(ctx)} ${noLimit(ctx.pool) ? 'can exceed' : 'exceeds'} max_user_connections ${s.maxUserConnections} of ${s.user}`,
    why:
      `The server refuses the account's sessions past ${s.maxUserConnections}: "User '${s.user.split('@')[0]}' has exceeded the 'max_user_connections' resource" (ER_USER_LIMIT_REACHED, the account's own limit) ` +
      `or "already has more than 'max_user_connections' active connections" (ER_TOO_MANY_USER_CONNECTIONS, the server-wide one); the pool's callers get that error, or wait, while the server has room.`,
    fix: `${noLimit(ctx.pool) ? 'Set' : 'Lower'} connectionLimit to at most ${Math.max(1, Math.floor(s.maxUserConnections / ctx.instances))} per instance, or raise the account's MAX_USER_CONNECTIONS.`,
  })),
  {
    id: 'wait-timeout-below-idle',
    severity: 'warning',
    live: true,
    check: (ctx) => {
      const s = ctx.server;
      if (s === undefined || s.waitTimeoutSeconds <= 0) return undefined;
      const waitMs = s.waitTimeoutSeconds * 1000;
      const pool = ctx.pool;
      const idle = longestIdle(pool);
      if (idle !== undefined && idle.ms < waitMs) return undefined;
      // Each way out, with the once-a-second check taken off where it applies.
      const below = waitMs - IDLE_CHECK_MS;
      const ways = `guard.maxLifetimeMs below ${below}, or guard.validateAfterIdleMs below ${waitMs}`;
      const why =
        `The server closes a session idle longer than wait_timeout. ${pool.driver} drops a connection when it sees the server close it, so on a direct connection that costs a reconnection; ` +
        'but a checkout that races the close, or a close that never reaches the client (a proxy, NAT or firewall in between), hands out a dead connection and the query fails (PROTOCOL_CONNECTION_LOST, ECONNRESET).';
      if (idle === undefined) {
        const words = idleWords(pool);
        const belowIdle = pool.driver === 'mariadb' ? `${Math.floor(below / 1000)} s` : below;
        return {
          message: `the server's wait_timeout is ${s.waitTimeoutSeconds} s but the pool keeps idle connections for ever: ${keptForever(pool)}; no guard.maxLifetimeMs is set`,
          why,
          fix:
            pool.driver === 'mysql'
              ? `Set ${ways}: mysql has no idle timeout of its own.`
              : noLimit(pool)
                ? `Set connectionLimit, and ${words.maxIdle} below it, with ${words.idleTimeout} below ${belowIdle}; or ${ways}.`
                : `Set ${words.maxIdle} below connectionLimit ${pool.connectionLimit} with ${words.idleTimeout} below ${belowIdle}: ${pool.driver} then closes the connections idle past it; or ${ways}.`,
          option: pool.driver === 'mysql' ? 'guard.maxLifetimeMs' : words.maxIdle,
          value: pool.driver === 'mysql' ? 0 : pool.maxIdle,
        };
      }
      return {
        message: `the server's wait_timeout is ${s.waitTimeoutSeconds} s but the pool keeps idle connections up to ${ms(idle.ms)} (${idle.by})`,
        why,
        fix: `Lower ${idle.option} below ${idle.option === 'guard.validateAfterIdleMs' ? waitMs : below}${idle.option === 'idleTimeout' ? `, or set ${ways}` : ''}.`,
        option: idle.option,
        value: idle.value,
      };
    },
  },
];

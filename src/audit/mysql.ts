import { formatDuration } from '../core/format.js';
import { passwordsOf, redactText } from './redact.js';
import { runRules, type Draft } from './rules.js';
import type { AuditResult, AuditSeverity } from './types.js';

/**
 * What the live MySQL/MariaDB audit read from the server, as the pool's own user sees it.
 * @public
 */
export interface MysqlServerSummary {
  /** `@@version`, e.g. `10.11.19-MariaDB-0+deb12u1`. */
  readonly version: string;
  /** `mariadb` or `mysql`, from the version string. */
  readonly system: 'mariadb' | 'mysql';
  /** `@@max_connections`. */
  readonly maxConnections: number;
  /** `@@max_user_connections` as the pool's account gets it; `0`: no limit. */
  readonly maxUserConnections: number;
  /** `@@wait_timeout` in seconds, as the pool's sessions get it: an idle session older than this is closed by the server. */
  readonly waitTimeoutSeconds: number;
  /** The account the pool connects as (`CURRENT_USER()`). */
  readonly user: string;
  /** Sessions connected now (`information_schema.processlist`), not counting the audit's own. */
  readonly connectionsInUse: number;
  /** Of those, the ones of the pool's user. */
  readonly userConnectionsInUse: number;
}

/**
 * What `auditMysql()` checks: a mysql2 pool's options (with `guard`), how many processes run it,
 * and the server (a `mysql://` URL, or `false` for the static rules only).
 * @public
 */
export interface MysqlAuditInput {
  /** mysql2's pool options (`connectionLimit`, `maxIdle`, `idleTimeout`, …) with poolguard's under `guard`. */
  readonly options: Readonly<Record<string, unknown>>;
  /** How many processes run this pool against the server. Default `1`. */
  readonly instances?: number;
  /** A `mysql://` (or `mariadb://`) URL; default: the options' `uri`, or their host fields. `false`: static rules only. */
  readonly server?: string | false;
}

/**
 * The MySQL/MariaDB audit's result: the same findings and counts as `audit()`'s, with what the
 * live rules read from a MySQL or MariaDB server.
 * @public
 */
export interface MysqlAuditResult extends Omit<AuditResult, 'server'> {
  /** What the live rules read; absent when only static rules ran. */
  readonly server?: MysqlServerSummary;
}

interface Pool {
  readonly connectionLimit: number;
  readonly maxIdle: number;
  readonly idleTimeoutMs: number;
  readonly lifetimeMs: number;
  readonly acquireTimeoutMs: number;
  readonly validateAfterIdleMs: number;
}

interface Ctx {
  readonly pool: Pool;
  readonly instances: number;
  readonly server: MysqlServerSummary | undefined;
  readonly serverError: string | undefined;
}

interface Rule {
  readonly id: string;
  readonly severity: AuditSeverity;
  readonly live: boolean;
  check(ctx: Ctx): Draft | undefined;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);
const ms = (v: number) => `${v} (${formatDuration(v)})`;
const poolsOf = (ctx: Ctx) => (ctx.instances === 1 ? `connectionLimit ${ctx.pool.connectionLimit}` : `connectionLimit ${ctx.pool.connectionLimit} × ${ctx.instances} instances = ${ctx.pool.connectionLimit * ctx.instances}`);

/** mysql2's own defaults (lib/pool_config.js): connectionLimit 10, maxIdle = connectionLimit, idleTimeout 60 s. */
function effective(options: Readonly<Record<string, unknown>>): Pool {
  const guard = (typeof options.guard === 'object' && options.guard !== null ? options.guard : {}) as Record<string, unknown>;
  const connectionLimit = num(options.connectionLimit) ?? 10;
  return {
    connectionLimit,
    maxIdle: num(options.maxIdle) ?? connectionLimit,
    idleTimeoutMs: num(options.idleTimeout) ?? 60_000,
    lifetimeMs: num(guard.maxLifetimeMs) ?? 0,
    acquireTimeoutMs: num(guard.acquireTimeoutMs) ?? 0,
    validateAfterIdleMs: num(guard.validateAfterIdleMs) ?? 0,
  };
}

/**
 * How long a connection can sit idle in the pool before something closes or checks it: mysql2
 * closes idle connections past `idleTimeout` only above `maxIdle` (by default nothing: maxIdle is
 * connectionLimit); poolguard's lifetime closes idle ones when due; a validation after idle checks
 * it before use. `Infinity`: nothing does.
 */
function longestIdleMs(pool: Pool): { ms: number; by: string } {
  const candidates: Array<{ ms: number; by: string }> = [];
  if (pool.maxIdle === 0) candidates.push({ ms: pool.idleTimeoutMs, by: 'idleTimeout (maxIdle 0)' });
  if (pool.lifetimeMs > 0) candidates.push({ ms: pool.lifetimeMs, by: 'guard.maxLifetimeMs' });
  if (pool.validateAfterIdleMs > 0) candidates.push({ ms: pool.validateAfterIdleMs, by: 'guard.validateAfterIdleMs' });
  return candidates.sort((a, b) => a.ms - b.ms)[0] ?? { ms: Infinity, by: '' };
}

/** An error when connectionLimit × instances exceeds one of the server's limits (`0`: none). */
function limitRule(id: string, limit: (s: MysqlServerSummary) => number, say: (s: MysqlServerSummary, ctx: Ctx) => Omit<Draft, 'option' | 'value'>): Rule {
  return {
    id,
    severity: 'error',
    live: true,
    check: (ctx) => {
      const s = ctx.server;
      if (s === undefined || limit(s) <= 0 || ctx.pool.connectionLimit * ctx.instances <= limit(s)) return undefined;
      return { ...say(s, ctx), option: 'connectionLimit', value: ctx.pool.connectionLimit };
    },
  };
}

const RULES: readonly Rule[] = [
  {
    id: 'acquire-timeout-infinite',
    severity: 'warning',
    live: false,
    check: ({ pool }) =>
      pool.acquireTimeoutMs > 0
        ? undefined
        : {
            message: 'guard.acquireTimeoutMs is 0: getConnection() waits for ever when every connection is checked out',
            why: 'mysql2 has no acquire timeout: one forgotten release() per connection and every later request hangs silently, with no error to alert on.',
            fix: 'Set guard.acquireTimeoutMs (e.g. 5000): callers then fail with CheckoutTimeoutError naming who holds the connections.',
            option: 'guard.acquireTimeoutMs',
            value: 0,
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
    message: `${poolsOf(ctx)} exceeds the server's max_connections ${s.maxConnections}`,
    why: `Past ${s.maxConnections} sessions the server refuses new ones ("Too many connections"): under load the pools cannot all open what they are allowed to, and other clients are locked out.`,
    fix: `Lower connectionLimit to at most ${Math.max(1, Math.floor(s.maxConnections / ctx.instances) - 1)} per instance (leave room for administrators), or raise max_connections.`,
  })),
  limitRule('max-exceeds-user-limit', (s) => s.maxUserConnections, (s, ctx) => ({
    message: `${poolsOf(ctx)} exceeds max_user_connections ${s.maxUserConnections} of ${s.user}`,
    why: `The server refuses the account's session past ${s.maxUserConnections} ("User ${s.user} already has more than 'max_user_connections' active connections").`,
    fix: `Lower connectionLimit to at most ${Math.max(1, Math.floor(s.maxUserConnections / ctx.instances))} per instance, or raise the account's MAX_USER_CONNECTIONS.`,
  })),
  {
    id: 'wait-timeout-below-idle',
    severity: 'warning',
    live: true,
    check: (ctx) => {
      const s = ctx.server;
      if (s === undefined || s.waitTimeoutSeconds <= 0) return undefined;
      const waitMs = s.waitTimeoutSeconds * 1000;
      const idle = longestIdleMs(ctx.pool);
      if (idle.ms < waitMs) return undefined;
      const kept = idle.ms === Infinity ? 'for ever (maxIdle equals connectionLimit, so mysql2 never closes them, and no guard.maxLifetimeMs)' : `up to ${ms(idle.ms)} (${idle.by})`;
      return {
        message: `the server's wait_timeout is ${s.waitTimeoutSeconds} s but the pool keeps idle connections ${kept}`,
        why: 'The server closes a session idle longer than wait_timeout; the pool still holds it, and the next query on it fails (ECONNRESET, "server has gone away", PROTOCOL_CONNECTION_LOST).',
        fix: `Set guard.maxLifetimeMs below ${waitMs} (e.g. ${Math.floor(waitMs * 0.8)}), or guard.validateAfterIdleMs below it, or maxIdle below connectionLimit with idleTimeout below ${waitMs}.`,
        option: idle.by === '' ? 'guard.maxLifetimeMs' : idle.by.split(' ')[0],
        value: s.waitTimeoutSeconds,
      };
    },
  },
];

/** The rule ids, severities and whether each needs the server: for `--help`. */
export const MYSQL_RULES: ReadonlyArray<Pick<Rule, 'id' | 'severity' | 'live'>> = RULES.map(({ id, severity, live }) => ({ id, severity, live }));

/** A promise-API connection's query, as mysql2/promise gives it. */
interface PromiseQueryable {
  query(sql: string): Promise<[unknown, unknown]>;
}

const SERVER_SQL = `SELECT @@version AS version, @@max_connections AS max_connections, @@max_user_connections AS max_user_connections,
  @@wait_timeout AS wait_timeout, CURRENT_USER() AS user,
  (SELECT COUNT(*) FROM information_schema.processlist WHERE ID <> CONNECTION_ID()) AS in_use,
  (SELECT COUNT(*) FROM information_schema.processlist WHERE ID <> CONNECTION_ID() AND USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1)) AS user_in_use`;

/** Reads what the live rules need, in one round trip. */
export async function readMysqlServer(connection: PromiseQueryable): Promise<MysqlServerSummary> {
  const [rows] = await connection.query(SERVER_SQL);
  const row = (rows as Array<Record<string, unknown>>)[0];
  if (row === undefined) throw new Error('the server returned no row for its settings');
  const version = String(row.version);
  return {
    version,
    system: /mariadb/i.test(version) ? 'mariadb' : 'mysql',
    maxConnections: Number(row.max_connections),
    maxUserConnections: Number(row.max_user_connections),
    waitTimeoutSeconds: Number(row.wait_timeout),
    user: String(row.user),
    connectionsInUse: Number(row.in_use),
    userConnectionsInUse: Number(row.user_in_use),
  };
}

/** A short-lived connection with the pool's own settings (or the URL), bounded so that an unreachable server fails in seconds. */
export async function withMysqlConnection<T>(options: Readonly<Record<string, unknown>>, url: string | undefined, fn: (c: PromiseQueryable) => Promise<T>): Promise<T> {
  let mod: { createConnection?: unknown; default?: { createConnection?: unknown } };
  try {
    mod = (await import('mysql2/promise')) as typeof mod;
  } catch (err) {
    throw new Error(`the live MySQL/MariaDB audit needs the mysql2 package to connect (npm install mysql2): ${(err as Error).message}`);
  }
  const create = (mod.createConnection ?? mod.default?.createConnection) as (config: Record<string, unknown>) => Promise<PromiseQueryable & { end(): Promise<void>; destroy(): void }>;
  const { guard: _guard, connectionLimit: _l, maxIdle: _m, idleTimeout: _i, queueLimit: _q, waitForConnections: _w, ...connection } = options;
  const config: Record<string, unknown> = { ...connection, connectTimeout: 5_000 };
  if (url !== undefined) config.uri = url;
  const c = await create(config);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => c.destroy());
  }
}

/**
 * Checks a mysql2 pool's configuration and, with a server, against the server's
 * `max_connections`, `max_user_connections` and `wait_timeout`. Resolves with the findings; it
 * rejects only on bad arguments (an unreachable server is a finding). Never includes a password.
 * @public
 */
export async function auditMysql(input: MysqlAuditInput): Promise<MysqlAuditResult> {
  if (input === null || typeof input !== 'object' || typeof input.options !== 'object' || input.options === null) {
    throw new TypeError('auditMysql() needs { options } (a mysql2 pool\'s options, optionally with instances and server)');
  }
  const instances = input.instances ?? 1;
  if (typeof instances !== 'number' || !Number.isInteger(instances) || instances < 1) {
    throw new RangeError(`auditMysql(): instances must be a whole number ≥ 1 (how many processes run this pool), got ${String(instances)}`);
  }
  const options = input.options;
  const url = typeof input.server === 'string' ? input.server : typeof options.uri === 'string' ? options.uri : undefined;
  const live = input.server !== false && (url !== undefined || typeof options.host === 'string' || typeof options.socketPath === 'string');
  const secrets = [...passwordsOf(url), typeof options.password === 'string' ? options.password : undefined];
  let server: MysqlServerSummary | undefined;
  let serverError: string | undefined;
  if (live) {
    try {
      server = await withMysqlConnection(options, url, readMysqlServer);
    } catch (err) {
      serverError = redactText(String((err as Error)?.message ?? err), secrets) || 'no reason given';
    }
  }
  const ctx: Ctx = { pool: effective(options), instances, server, serverError };
  const { ok, findings, counts } = runRules(RULES, ctx);
  const result: MysqlAuditResult = { ok, findings, counts, instances };
  return server === undefined ? result : { ...result, server };
}

/** One session of `poolguard status` for MySQL/MariaDB. */
export interface MysqlSession {
  readonly id: number;
  readonly user: string;
  readonly host: string;
  readonly database: string | null;
  readonly command: string;
  readonly timeSeconds: number;
  readonly state: string | null;
  /** Seconds since its open transaction started (`information_schema.innodb_trx`), `null`: none. */
  readonly transactionSeconds: number | null;
}

const STATUS_SQL = `SELECT p.ID AS id, p.USER AS user, p.HOST AS host, p.DB AS db, p.COMMAND AS command, p.TIME AS time, p.STATE AS state,
  TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) AS trx_seconds
FROM information_schema.processlist p LEFT JOIN information_schema.innodb_trx t ON t.trx_mysql_thread_id = p.ID
WHERE p.ID <> CONNECTION_ID() AND p.COMMAND <> 'Daemon'
ORDER BY trx_seconds IS NULL, trx_seconds DESC, p.TIME DESC`;

/** The sessions connected now (not the reader's own), longest in a transaction first. */
export async function readMysqlSessions(connection: PromiseQueryable): Promise<MysqlSession[]> {
  const [rows] = await connection.query(STATUS_SQL);
  return (rows as Array<Record<string, unknown>>).map((r) => ({
    id: Number(r.id),
    user: String(r.user ?? ''),
    host: String(r.host ?? ''),
    database: r.db == null ? null : String(r.db),
    command: String(r.command ?? ''),
    timeSeconds: Number(r.time ?? 0),
    state: r.state == null || r.state === '' ? null : String(r.state),
    transactionSeconds: r.trx_seconds == null ? null : Number(r.trx_seconds),
  }));
}

import { ConnectionStringError } from './conninfo.js';
import { checkMysqlUrl } from './mysql-url.js';

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

/** A promise-API connection's query, as mysql2/promise gives it. */
export interface PromiseQueryable {
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
  if (url !== undefined) {
    try {
      checkMysqlUrl(url);
    } catch (err) {
      throw err instanceof ConnectionStringError ? new ConnectionStringError(`the connection string ${err.message}`) : err;
    }
    config.uri = url;
  }
  const c = await create(config);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => c.destroy());
  }
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

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

/**
 * Which driver the pool runs on: mysql2 (the default), mysql (mysqljs) or the MariaDB connector.
 * @public
 */
export type MysqlDriver = 'mysql2' | 'mysql' | 'mariadb';

interface AuditConnection extends PromiseQueryable {
  end(): Promise<unknown>;
  destroy(): void;
}

// The pool-only options of the three drivers: the audit's one connection takes the rest.
const POOL_ONLY = new Set(['guard', 'connectionLimit', 'maxIdle', 'idleTimeout', 'queueLimit', 'waitForConnections', 'acquireTimeout', 'minimumIdle', 'minDelayValidation', 'leakDetectionTimeout', 'noControlAfterUse', 'resetAfterUse', 'pingTimeout', 'initializationTimeout']);

/**
 * Opens the audit's connection with the first driver installed, the pool's own first: a service
 * on mysql or the MariaDB connector need not install mysql2 for the live rules.
 */
async function openWith(driver: MysqlDriver, config: Record<string, unknown>): Promise<AuditConnection> {
  const order: MysqlDriver[] = driver === 'mysql2' ? ['mysql2', 'mariadb', 'mysql'] : [driver, 'mysql2', driver === 'mysql' ? 'mariadb' : 'mysql'];
  const missing: string[] = [];
  for (const name of order) {
    let mod: Record<string, unknown> & { default?: Record<string, unknown> };
    try {
      mod = (await import(name === 'mysql2' ? 'mysql2/promise' : name)) as typeof mod;
    } catch (err) {
      missing.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    const create = (mod.createConnection ?? mod.default?.createConnection) as (config: unknown) => unknown;
    const url = config.uri as string | undefined;
    if (name === 'mysql2') return (await create(config)) as AuditConnection;
    if (name === 'mariadb') {
      const { uri: _uri, ...rest } = config;
      // The connector reads only mariadb:// URLs; the rest of the URL is read as mysql2 reads it.
      const c = (await create(url?.replace(/^mysql:\/\//i, 'mariadb://') ?? rest)) as { query(sql: string): Promise<unknown>; end(): Promise<void>; destroy(): void };
      return { query: async (sql) => [await c.query(sql), undefined], end: () => c.end(), destroy: () => c.destroy() };
    }
    const { uri: _uri, ...rest } = config;
    const c = create(url ?? rest) as { connect(cb: (err: Error | null) => void): void; query(sql: string, cb: (err: Error | null, rows?: unknown) => void): void; end(cb: () => void): void; destroy(): void };
    await new Promise<void>((resolve, reject) => c.connect((err) => (err ? reject(err) : resolve())));
    return {
      query: (sql) => new Promise((resolve, reject) => c.query(sql, (err, rows) => (err ? reject(err) : resolve([rows, undefined])))),
      end: () => new Promise<void>((resolve) => c.end(() => resolve())),
      destroy: () => c.destroy(),
    };
  }
  throw new Error(`the live MySQL/MariaDB audit needs mysql2, mysql or mariadb to connect (npm install ${driver}): ${missing.join('; ')}`);
}

/** A short-lived connection with the pool's own settings (or the URL), bounded so that an unreachable server fails in seconds. */
export async function withMysqlConnection<T>(options: Readonly<Record<string, unknown>>, url: string | undefined, fn: (c: PromiseQueryable) => Promise<T>, driver: MysqlDriver = 'mysql2'): Promise<T> {
  const connection = Object.fromEntries(Object.entries(options).filter(([key]) => !POOL_ONLY.has(key)));
  const config: Record<string, unknown> = { ...connection, connectTimeout: 5_000 };
  if (url !== undefined) {
    try {
      checkMysqlUrl(url);
    } catch (err) {
      throw err instanceof ConnectionStringError ? new ConnectionStringError(`the connection string ${err.message}`) : err;
    }
    config.uri = url;
  }
  const c = await openWith(driver, config);
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

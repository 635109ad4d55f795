import { ConnectionStringError, parseConnectionString } from './conninfo.js';
import type { AuditQueryable, AuditServerSummary, PgBouncerSummary } from './types.js';

const SETTINGS_SQL = `SELECT name, setting FROM pg_settings WHERE name IN ('max_connections', 'superuser_reserved_connections', 'reserved_connections', 'idle_session_timeout', 'idle_in_transaction_session_timeout', 'statement_timeout', 'tcp_keepalives_idle')`;

// Counts only client backends (autovacuum, WAL senders and background workers have their own
// slots) and never the audit's own connection, which goes away when the audit ends.
const LIMITS_SQL = `SELECT current_setting('server_version') AS version, current_user AS role, current_database() AS database,
  r.rolsuper AS superuser, r.rolconnlimit AS role_limit, d.datconnlimit AS database_limit,
  (SELECT count(*) FROM pg_stat_activity a WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid())::int AS in_use,
  (SELECT count(*) FROM pg_stat_activity a WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() AND a.usesysid = r.oid)::int AS role_in_use,
  (SELECT count(*) FROM pg_stat_activity a WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() AND a.datid = d.oid)::int AS database_in_use
FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()`;

/** The name the audit's and status's own connections show in `pg_stat_activity`. */
export const AUDIT_APPLICATION_NAME = 'poolguard audit';

/** Reads what the live rules need, in two round trips, as the pool's own connections see it. */
export async function readServer(client: AuditQueryable): Promise<AuditServerSummary> {
  const settings = new Map<string, number>();
  for (const row of (await client.query(SETTINGS_SQL)).rows) settings.set(String(row.name), Number(row.setting));
  const limits = (await client.query(LIMITS_SQL)).rows[0];
  if (limits === undefined) throw new Error('the server did not describe the current role and database (pg_roles/pg_database returned no row)');
  const n = (v: unknown) => Number(v ?? 0);
  return {
    version: String(limits.version),
    maxConnections: settings.get('max_connections') ?? 100,
    reservedConnections: (settings.get('superuser_reserved_connections') ?? 0) + (settings.get('reserved_connections') ?? 0),
    connectionsInUse: n(limits.in_use),
    role: String(limits.role),
    roleIsSuperuser: limits.superuser === true || limits.superuser === 't',
    roleConnectionLimit: n(limits.role_limit),
    roleConnectionsInUse: n(limits.role_in_use),
    database: String(limits.database),
    databaseConnectionLimit: n(limits.database_limit),
    databaseConnectionsInUse: n(limits.database_in_use),
    idleSessionTimeoutMs: settings.get('idle_session_timeout') ?? 0,
    idleInTransactionSessionTimeoutMs: settings.get('idle_in_transaction_session_timeout') ?? 0,
    statementTimeoutMs: settings.get('statement_timeout') ?? 0,
    tcpKeepalivesIdleSeconds: settings.get('tcp_keepalives_idle') ?? 0,
  };
}

/** The client shape the audit creates and ends itself: pg.Client's. */
export interface OwnedClient extends AuditQueryable {
  connect(): Promise<unknown>;
  end(): Promise<unknown>;
  on?(event: 'error', listener: (err: Error) => void): unknown;
}

export type ClientConstructor = new (config: Record<string, unknown>) => OwnedClient;

// pg's session-level options: the audit's connection takes them so that SHOW answers what the
// pool's connections get, not the server's defaults.
const SESSION_OPTIONS = ['options', 'statement_timeout', 'idle_in_transaction_session_timeout', 'lock_timeout', 'ssl', 'password'] as const;

/**
 * The config for the audit's own short-lived connection: the pool's options (the password copied
 * without making it enumerable, as pg-pool keeps it), bounded timeouts so that an unreachable
 * server fails the audit within seconds, and a name that says what it is.
 */
export function auditClientConfig(poolOptions: Record<string, unknown>, connectionString?: string): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  let password = poolOptions.password;
  if (connectionString !== undefined) {
    for (const key of SESSION_OPTIONS) if (poolOptions[key] !== undefined && key !== 'password') config[key] = poolOptions[key];
    // Throws, without the string, when pg would misread it; libpq's keyword form becomes options.
    let target: ReturnType<typeof parseConnectionString>;
    try {
      target = parseConnectionString(connectionString);
    } catch (err) {
      throw err instanceof ConnectionStringError ? new ConnectionStringError(`the connection string ${err.message}`) : err;
    }
    if (target.kind === 'url') config.connectionString = target.connectionString;
    else {
      Object.assign(config, target.config);
      if ('password' in target.config) password = target.config.password;
    }
  } else {
    Object.assign(config, poolOptions);
  }
  if (password !== undefined) {
    Object.defineProperty(config, 'password', { value: password, enumerable: false, writable: true, configurable: true });
  }
  const timeout = Number(config.connectionTimeoutMillis ?? poolOptions.connectionTimeoutMillis) || 0;
  config.connectionTimeoutMillis = timeout > 0 ? Math.min(timeout, 10_000) : 5_000;
  config.query_timeout = 10_000;
  config.application_name = AUDIT_APPLICATION_NAME;
  delete config.Client;
  return config;
}

/** pg's Client, loaded only when a connection string asks for it, so that `poolguard` never loads pg by itself. */
export async function loadPgClient(): Promise<ClientConstructor> {
  let mod: { default?: { Client?: unknown }; Client?: unknown };
  try {
    mod = (await import('pg')) as typeof mod;
  } catch (err) {
    throw new Error(`the live audit needs the pg package to connect (npm install pg), or pass a connected client as server: ${(err as Error).message}`);
  }
  const Client = mod.default?.Client ?? mod.Client;
  if (typeof Client !== 'function') throw new Error('the pg package has no Client export; pass a connected client as server');
  return Client as ClientConstructor;
}

/** Connects, runs `fn`, and always ends the connection; its late errors are ignored, not thrown at the process. */
export async function withClient<T>(Client: ClientConstructor, config: Record<string, unknown>, fn: (client: AuditQueryable) => Promise<T>): Promise<T> {
  const client = new Client(config);
  client.on?.('error', () => {});
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The address the SQL session sees from the server's side, to tell whether something sits in between. */
export async function serverEndpoint(client: AuditQueryable): Promise<{ port: number | undefined }> {
  const row = (await client.query('SELECT inet_server_port() AS port')).rows[0];
  return { port: row?.port == null ? undefined : Number(row.port) };
}

/** The port the audit's connection was made to, as pg resolves it. */
export function configuredPort(config: Record<string, unknown>): number {
  const cs = config.connectionString;
  if (typeof cs === 'string') {
    try {
      const url = new URL(cs);
      if (url.port) return Number(url.port);
    } catch {
      // not a URL: pg's other forms fall through to the options
    }
  }
  return Number(config.port ?? process.env.PGPORT ?? 5432);
}

/** The same connection config, aimed at PgBouncer's admin console (the virtual database `pgbouncer`). */
export function adminConsoleConfig(config: Record<string, unknown>): Record<string, unknown> {
  const admin: Record<string, unknown> = { ...config, database: 'pgbouncer', application_name: undefined };
  // The console accepts no session options.
  delete admin.options;
  delete admin.statement_timeout;
  delete admin.idle_in_transaction_session_timeout;
  delete admin.lock_timeout;
  delete admin.query_timeout;
  if ('password' in config) Object.defineProperty(admin, 'password', { value: config.password, enumerable: false, writable: true, configurable: true });
  if (typeof config.connectionString === 'string') {
    try {
      const url = new URL(config.connectionString);
      url.pathname = '/pgbouncer';
      admin.connectionString = url.toString();
    } catch {
      // pg parses non-URL forms itself; `database` above applies
    }
  }
  return admin;
}

/**
 * Reads PgBouncer's limits through its admin console. The console speaks only the simple query
 * protocol and answers `SHOW` commands; it rejects everything else, which is how it is told apart.
 */
export async function readPgBouncer(admin: AuditQueryable, database: string | undefined): Promise<PgBouncerSummary> {
  const version = String(Object.values((await admin.query('SHOW VERSION')).rows[0] ?? {})[0] ?? '');
  if (!/pgbouncer/i.test(version)) throw new Error(`not a PgBouncer admin console (SHOW VERSION said ${JSON.stringify(version)})`);
  const config = new Map<string, string>();
  for (const row of (await admin.query('SHOW CONFIG')).rows) config.set(String(row.key), String(row.value));
  const db = (await admin.query('SHOW DATABASES')).rows.find((row) => row.name === database);
  const pools = (await admin.query('SHOW POOLS')).rows;
  const clients = pools
    .filter((row) => row.database !== 'pgbouncer')
    .reduce((sum, row) => sum + Number(row.cl_active ?? 0) + Number(row.cl_waiting ?? 0), 0);
  const number = (v: unknown, fallback: number) => (v === undefined || v === null || v === '' || Number.isNaN(Number(v)) ? fallback : Number(v));
  const defaultPoolSize = number(config.get('default_pool_size'), 20);
  const dbPoolSize = number(db?.pool_size, 0);
  return {
    version,
    poolMode: String(db?.pool_mode || config.get('pool_mode') || 'session'),
    poolSize: dbPoolSize > 0 ? dbPoolSize : defaultPoolSize,
    maxClientConn: number(config.get('max_client_conn'), 100),
    maxDbConnections: number(db?.max_connections, 0) || number(config.get('max_db_connections'), 0),
    clientConnections: clients,
  };
}

import type { GuardOptions } from '../core/config.js';

/**
 * How much a finding matters: `error` fails `poolguard audit` (exit 1), `warning` and `info` do not.
 * @public
 */
export type AuditSeverity = 'error' | 'warning' | 'info';

/**
 * One problem found by `audit()`. JSON-serialisable; never contains a password.
 * @public
 */
export interface AuditFinding {
  /** The rule's stable id, e.g. `acquire-timeout-infinite` (listed in the README). */
  readonly rule: string;
  /** `error`, `warning` or `info`. */
  readonly severity: AuditSeverity;
  /** One line naming the option and its value. */
  readonly message: string;
  /** Why it matters: what happens in production. */
  readonly why: string;
  /** What to change. */
  readonly fix: string;
  /** The option the finding is about, as written in the pool's options (`connectionTimeoutMillis`, `guard.leakThresholdMs`). */
  readonly option?: string;
  /** The option's value (or the server setting's, for live rules). */
  readonly value?: unknown;
}

/**
 * poolguard's options as the audit reads them: {@link GuardOptions}, plus options that newer or
 * older versions of poolguard may have (`maxLifetimeMs`, `lifetimeJitter`), read when present.
 * @public
 */
export interface AuditGuardOptions extends GuardOptions {
  /** Any other key: read by the rules that know it, ignored otherwise. */
  readonly [key: string]: unknown;
}

/**
 * A pool's options as the audit reads them: pg's `PoolConfig` fields (all optional) and the
 * `guard` key. Unknown keys are ignored.
 * @public
 */
export interface AuditPoolOptions {
  /** pg: most connections the pool opens. Default 10. */
  readonly max?: number;
  /** pg: connections kept open even when idle. Default 0. */
  readonly min?: number;
  /** pg: how long an idle connection is kept, in ms; 0 keeps it forever. Default 10000. */
  readonly idleTimeoutMillis?: number;
  /** pg: how long a checkout waits for a connection, in ms; 0 waits forever. Default 0. */
  readonly connectionTimeoutMillis?: number;
  /** pg: a connection's lifetime in seconds; 0 means no limit. Default 0. */
  readonly maxLifetimeSeconds?: number;
  /** pg: whether idle connections let the process exit. Default false. */
  readonly allowExitOnIdle?: boolean;
  /** pg: TCP keepalive on the client's socket. Default false. */
  readonly keepAlive?: boolean;
  /** pg: delay before the first keepalive probe, in ms. */
  readonly keepAliveInitialDelayMillis?: number;
  /** pg: server-side `statement_timeout` for every connection, in ms. */
  readonly statement_timeout?: number | false;
  /** pg: client-side timeout of each query, in ms. */
  readonly query_timeout?: number;
  /** pg: server-side `idle_in_transaction_session_timeout`, in ms. */
  readonly idle_in_transaction_session_timeout?: number;
  /** pg: the `application_name` the pool's connections report to the server. */
  readonly application_name?: string;
  /** poolguard's own options. */
  readonly guard?: AuditGuardOptions;
  /** Any other pg option (connection settings and the rest): ignored by the rules. */
  readonly [key: string]: unknown;
}

/**
 * The shape of a connected client the live audit can use: `pg.Client`, a `pg.Pool`, or anything
 * with a `query(text)` that resolves to `{ rows }`.
 * @public
 */
export interface AuditQueryable {
  /** Runs one SQL statement. */
  query(text: string): Promise<{ rows: ReadonlyArray<Record<string, unknown>> }>;
}

/**
 * What `audit()` checks: a pool's options and, for the live rules, a server.
 * @public
 */
export interface AuditInput {
  /** The pool's options, as given to the pool's constructor. */
  readonly options: AuditPoolOptions;
  /** How many processes run this pool against the same server (replicas × pools per process). Default 1. */
  readonly instances?: number;
  /**
   * The server for the live rules: a connection string (pg is loaded only then) or a connected
   * client. Omitted: static rules only.
   */
  readonly server?: string | AuditQueryable;
}

/**
 * Settings for `audit()` when it is given a guarded pool.
 * @public
 */
export interface AuditPoolSettings {
  /** How many processes run this pool against the same server. Default 1. */
  readonly instances?: number;
  /**
   * The server for the live rules. Default: a short-lived connection made with the pool's own
   * options (so role, database and session settings are the pool's). `false`: static rules only.
   */
  readonly server?: string | AuditQueryable | false;
}

/**
 * What the live audit read from the server. Timeouts are in milliseconds (`0`: off).
 * @public
 */
export interface AuditServerSummary {
  /** `server_version`, e.g. `15.20`. */
  readonly version: string;
  /** `max_connections`. */
  readonly maxConnections: number;
  /** `superuser_reserved_connections` plus, from PostgreSQL 16, `reserved_connections`. */
  readonly reservedConnections: number;
  /** Client backends connected now, not counting the audit's own. */
  readonly connectionsInUse: number;
  /** The role the pool connects as. */
  readonly role: string;
  /** Whether that role is a superuser (connection limits do not apply to it). */
  readonly roleIsSuperuser: boolean;
  /** The role's `rolconnlimit`; `-1`: no limit. */
  readonly roleConnectionLimit: number;
  /** The role's connections now, not counting the audit's own. */
  readonly roleConnectionsInUse: number;
  /** The database the pool connects to. */
  readonly database: string;
  /** The database's `datconnlimit`; `-1`: no limit. */
  readonly databaseConnectionLimit: number;
  /** Connections to the database now, not counting the audit's own. */
  readonly databaseConnectionsInUse: number;
  /** `idle_session_timeout` in ms (PostgreSQL 14+; `0` before). */
  readonly idleSessionTimeoutMs: number;
  /** `idle_in_transaction_session_timeout` in ms, as the pool's connections get it. */
  readonly idleInTransactionSessionTimeoutMs: number;
  /** `statement_timeout` in ms, as the pool's connections get it. */
  readonly statementTimeoutMs: number;
  /** `tcp_keepalives_idle` in seconds (`0`: the operating system's default, or a Unix socket). */
  readonly tcpKeepalivesIdleSeconds: number;
  /**
   * Present when the pool connects through PgBouncer: what its admin console (`SHOW CONFIG`,
   * `SHOW DATABASES`) says. The connection-limit rules then check the pools against PgBouncer's
   * limits instead of the server's `max_connections`.
   */
  readonly pgbouncer?: PgBouncerSummary;
  /**
   * Set when the server listens on another port than the one the pool dials (a pooler or proxy is
   * in between) but no PgBouncer admin console could be read there: why not.
   */
  readonly unreadProxy?: { readonly dialledPort: number | undefined; readonly serverPort: number; readonly reason: string };
}

/**
 * What the audit read from a PgBouncer in front of the server.
 * @public
 */
export interface PgBouncerSummary {
  /** `SHOW VERSION`, e.g. `PgBouncer 1.18.0`. */
  readonly version: string;
  /** `pool_mode`: `session`, `transaction` or `statement` (the database's own, where it sets one). */
  readonly poolMode: string;
  /** Server connections per user and database: the database's `pool_size`, else `default_pool_size`. */
  readonly poolSize: number;
  /** `max_client_conn`: client connections PgBouncer accepts in all. */
  readonly maxClientConn: number;
  /** `max_db_connections` (the database's own where set); `0`: no limit. */
  readonly maxDbConnections: number;
  /** Client connections PgBouncer has now (`SHOW POOLS`: active, waiting), not counting the audit's own. */
  readonly clientConnections: number;
}

/**
 * The result of `audit()`.
 * @public
 */
export interface AuditResult {
  /** `true` when no finding is an `error`. */
  readonly ok: boolean;
  /** Findings, errors first. */
  readonly findings: readonly AuditFinding[];
  /** How many findings of each severity. */
  readonly counts: { readonly error: number; readonly warning: number; readonly info: number };
  /** What the live rules read from the server; absent when only static rules ran. */
  readonly server?: AuditServerSummary;
  /** How many instances of the pool the audit assumed. */
  readonly instances: number;
}

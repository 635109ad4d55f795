/**
 * The audit of a postgres.js pool: its `sql` (guarded or not), read as the pg-named model the rules
 * check, and its server read through the `sql` itself, so that no pg package is needed. Knows
 * postgres.js's option names only; never imports postgres.js.
 *
 * | postgres.js (`sql.options`)            | read as                                                    |
 * | -------------------------------------- | ---------------------------------------------------------- |
 * | `max`                                  | `max`                                                      |
 * | `idle_timeout` (s; unset: never)       | `idleTimeoutMillis` (× 1000; unset: 0, never closed)       |
 * | `max_lifetime` (s; default 30–60 min)  | `maxLifetimeSeconds` (the default: 3600, its longest)      |
 * | `keep_alive` (s; default 60)           | `keepAlive`, `keepAliveInitialDelayMillis`                 |
 * | `queue_timeout` (s; postgres.js 4)     | `connectionTimeoutMillis` (× 1000)                         |
 * | `guard.acquireTimeoutMs` (3.4)         | `connectionTimeoutMillis` (postgres.js 3.4 waits for ever) |
 * | `min` (postgres.js 4; 3.4: none)       | `min`                                                      |
 * | `connect_timeout`                      | not read: it bounds opening a connection, not the wait for one |
 * | `connection.statement_timeout`, `connection.idle_in_transaction_session_timeout` | the same names |
 */
import type { AuditFinding, AuditPoolOptions, AuditQueryable } from './types.js';

/** A postgres.js `sql`: a function with postgres.js's parsed options and its reserve(). */
export interface PostgresJsSqlLike {
  (...args: unknown[]): unknown;
  readonly options: Record<string, unknown> & { readonly max: number };
  reserve(): unknown;
  unsafe(text: string): PromiseLike<ArrayLike<Record<string, unknown>>>;
  readonly guard?: { readonly resolvedOptions?: Readonly<Record<string, unknown>> };
}

export function isPostgresJsSql(value: unknown): value is PostgresJsSqlLike {
  const v = value as Partial<PostgresJsSqlLike> | null;
  return typeof value === 'function' && typeof v!.reserve === 'function' && typeof v!.unsafe === 'function' && typeof v!.options?.max === 'number';
}

const seconds = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);

/** postgres.js's parsed options in the names the audit's rules read (see the table above). */
export function auditOptionsOf(sql: PostgresJsSqlLike): AuditPoolOptions {
  const o = sql.options;
  const connection = (o.connection ?? {}) as Record<string, unknown>;
  const guard = sql.guard?.resolvedOptions ?? {};
  const lifetime = typeof o.max_lifetime === 'function' ? 3_600 : (seconds(o.max_lifetime) ?? 0);
  const keepAlive = seconds(o.keep_alive) ?? 0;
  // postgres.js 4 bounds the wait itself (guard.acquireTimeoutMs sets it there).
  const queueTimeout = seconds(o.queue_timeout) ?? 0;
  const raw: Record<string, unknown> = {
    max: o.max,
    min: seconds(o.min) ?? 0,
    idleTimeoutMillis: (seconds(o.idle_timeout) ?? 0) * 1_000,
    maxLifetimeSeconds: lifetime,
    connectionTimeoutMillis: queueTimeout > 0 ? queueTimeout * 1_000 : typeof guard.acquireTimeoutMs === 'number' ? guard.acquireTimeoutMs : 0,
    keepAlive: keepAlive > 0,
    keepAliveInitialDelayMillis: keepAlive * 1_000,
    allowExitOnIdle: false,
  };
  for (const key of ['statement_timeout', 'idle_in_transaction_session_timeout', 'application_name'] as const) {
    if (connection[key] !== undefined) raw[key] = key === 'application_name' ? connection[key] : seconds(connection[key]);
  }
  return raw as AuditPoolOptions;
}

/** The server, through the pool's own queries. */
export function queryableOf(sql: PostgresJsSqlLike): AuditQueryable {
  return { query: async (text) => ({ rows: Array.from(await sql.unsafe(text)) }) };
}

/** The password postgres.js keeps, for redaction. */
export function passwordOf(sql: PostgresJsSqlLike): string | undefined {
  const pass = sql.options.pass;
  return typeof pass === 'string' && pass !== '' ? pass : undefined;
}

/**
 * The rules name pg's options. postgres.js 3.4 has no bound on the wait for a connection:
 * `guard.acquireTimeoutMs` is the one to set, in the same unit, and the findings say so (on 4 it
 * sets postgres.js's own `queue_timeout`). The other
 * names keep pg's words, read through the table above (their units differ from postgres.js's).
 */
export function inPostgresJsWords(finding: AuditFinding): AuditFinding {
  const words = (text: string) => text.replace(/\bconnectionTimeoutMillis\b/g, 'guard.acquireTimeoutMs').replace(/ \(pg's default: 0\)/g, '');
  return {
    ...finding,
    message: words(finding.message),
    why: words(finding.why),
    fix: words(finding.fix),
    ...(finding.option === undefined ? {} : { option: words(finding.option) }),
  };
}

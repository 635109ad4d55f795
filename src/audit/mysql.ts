import { MYSQL_RULE_LIST, mysqlPoolSettings, type MysqlRule, type MysqlRuleContext } from './mysql-rules.js';
import { readMysqlServer, withMysqlConnection, type MysqlDriver, type MysqlServerSummary } from './mysql-server.js';
import { passwordsOf, redactText } from './redact.js';
import { runRules } from './rule-runner.js';
import type { AuditResult } from './types.js';

export type { MysqlDriver, MysqlServerSummary } from './mysql-server.js';

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
  /**
   * The driver whose pool `options` are: `'mysql2'` (the default), `'mysql'` (mysqljs) or
   * `'mariadb'` (the MariaDB connector). It decides how the options read (the connector's
   * `acquireTimeout`, `minimumIdle`, `idleTimeout` in seconds) and which driver the live rules
   * connect with first.
   */
  readonly driver?: MysqlDriver;
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

/** The rule ids, severities and whether each needs the server: for `--help`. */
export const MYSQL_RULES: ReadonlyArray<Pick<MysqlRule, 'id' | 'severity' | 'live'>> = MYSQL_RULE_LIST.map(({ id, severity, live }) => ({ id, severity, live }));

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
  const driver = input.driver ?? 'mysql2';
  if (driver !== 'mysql2' && driver !== 'mysql' && driver !== 'mariadb') {
    throw new TypeError(`auditMysql(): driver must be 'mysql2', 'mysql' or 'mariadb', got ${typeof driver === 'string' ? JSON.stringify(driver) : typeof driver}`);
  }
  const options = input.options;
  const url = typeof input.server === 'string' ? input.server : typeof options.uri === 'string' ? options.uri : undefined;
  const live = input.server !== false && (url !== undefined || typeof options.host === 'string' || typeof options.socketPath === 'string');
  const secrets = [...passwordsOf(url), typeof options.password === 'string' ? options.password : undefined];
  let server: MysqlServerSummary | undefined;
  let serverError: string | undefined;
  if (live) {
    try {
      server = await withMysqlConnection(options, url, readMysqlServer, driver);
    } catch (err) {
      serverError = redactText(String((err as Error)?.message ?? err), secrets) || 'no reason given';
    }
  }
  const ctx: MysqlRuleContext = { pool: mysqlPoolSettings(options, driver), instances, server, serverError };
  const { ok, findings, counts } = runRules(MYSQL_RULE_LIST, ctx);
  const result: MysqlAuditResult = { ok, findings, counts, instances };
  return server === undefined ? result : { ...result, server };
}

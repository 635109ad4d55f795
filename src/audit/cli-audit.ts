/** `poolguard audit`: its help, the PostgreSQL audit's output, and the hand-off to the MySQL/MariaDB one. */
import { audit } from './audit.js';
import { applyPoolFlags, AUDIT_FLAGS, flag, GUARD_FLAGS, helpRows, MYSQL_POOL_FLAGS, parseFlags, PG_POOL_FLAGS, refuseFlagsFor } from './cli-flags.js';
import { auditExitCode, findingsText, loadConfig, shown, UsageError, type CliIo } from './cli-io.js';
import { chooseTarget, connected, mysqlSource, serverWords, type Target } from './cli-target.js';
import { MYSQL_RULE_IDS } from './mysql-url.js';
import { redactDeep, redactLines, redactText } from './redact.js';
import { RULES } from './rules.js';
import type { AuditPoolOptions, AuditResult } from './types.js';

const WIDTH = 40;

/** `poolguard audit --help`. */
export function auditHelp(): string {
  const rules = RULES.map((r) => `  ${r.id.padEnd(38)}${r.severity.padEnd(8)}${r.live ? 'live  ' : 'static'}`).join('\n');
  return `Usage: poolguard audit [--url URL] [--config FILE] [--instances N] [pool options] [--json]

Checks a pool's configuration against itself and, with a server, against the server's limits and
timeouts, as the pool's own connections see them (its role, database and session settings).

The server: --url, else the config's connectionString (or host), else $DATABASE_URL: a postgres://
URL or libpq's keyword/value pairs (host=db dbname=orders user=app password=…). Without one, only
the static rules run. Passwords are never printed.

MySQL and MariaDB: a mysql:// (or mariadb://) URL (from --url, the config's uri, or $DATABASE_URL)
audits a mysql2 pool (its options from --config or the mysql2 flags below) against max_connections,
max_user_connections and wait_timeout; its rules:
  ${MYSQL_RULE_IDS}.
A flag for the other kind of server is refused (exit 2): the pg flags do not apply to a mysql://
URL, nor the mysql2 flags to PostgreSQL.

Options:
${helpRows(AUDIT_FLAGS.filter((s) => !s.path), WIDTH)}

pg pool options (override the config file; pg's own camelCase names work too, e.g. --connectionTimeoutMillis):
${helpRows(PG_POOL_FLAGS, WIDTH)}

mysql2 pool options (a mysql:// URL; mysql2's own names work too, e.g. --connectionLimit):
${helpRows(MYSQL_POOL_FLAGS, WIDTH)}

Either pool:
${helpRows(GUARD_FLAGS, WIDTH)}

Exit codes: 0 no errors (warnings allowed), 1 errors found (or warnings, with --fail-on warning),
2 bad usage (an unknown flag, a flag for the other kind of server, a bad value, an unreadable
--config, a connection string the driver would misread: percent-encode its password with
node -p 'encodeURIComponent(process.argv[1])' 'the-password').

Rules for PostgreSQL (severity, needs the server or not):
${rules}

Example, as a deploy gate:
  DATABASE_URL=postgres://app@db:5432/orders npx poolguard audit --config pool.json --instances 6
`;
}

function auditText(result: AuditResult, target: Target, live: boolean, failOn: string): string {
  const { instances } = result;
  let text = `poolguard audit: ${live ? target.label : 'static checks only'}, ${instances} instance${instances === 1 ? '' : 's'}\n`;
  const s = result.server;
  if (s) {
    const lim = (n: number) => (n < 0 ? 'no limit' : `limit ${n}`);
    text +=
      `server: PostgreSQL ${s.version.split(' ')[0]}, max_connections ${s.maxConnections} (${s.reservedConnections} reserved), ${s.connectionsInUse} in use; ` +
      `role ${s.role} (${s.roleIsSuperuser ? 'superuser' : lim(s.roleConnectionLimit)}); database ${s.database} (${lim(s.databaseConnectionLimit)})\n`;
  } else if (!live && target.url === undefined && !target.hasHost) {
    // With --static the server was given and skipped on purpose: nothing to suggest.
    text += '(give --url or set DATABASE_URL to check against the server too)\n';
  }
  text += '\n';
  if (result.findings.length === 0) return `${text}No findings: the configuration passes all ${RULES.filter((r) => live || !r.live).length} ${live ? '' : 'static '}rules.\n`;
  return text + findingsText(result.findings, result.counts, failOn);
}

/** `poolguard audit …`; resolves with the exit code. */
export async function runAudit(args: readonly string[], io: CliIo): Promise<number> {
  const flags = parseFlags('audit', args, AUDIT_FLAGS);
  if (flag(flags, 'help')) {
    io.out(auditHelp());
    return 0;
  }
  const instances = flag<number>(flags, 'instances') ?? 1;
  const failOn = flag<string>(flags, 'fail-on') ?? 'error';
  if (failOn !== 'error' && failOn !== 'warning') throw new UsageError(`poolguard audit: --fail-on must be error or warning, got ${shown(failOn)}.`);
  const configFile = flag<string>(flags, 'config');
  const options = configFile === undefined ? {} : await loadConfig(configFile, io, 'audit', 'config');
  applyPoolFlags(flags, options);

  const isStatic = flag<boolean>(flags, 'static') === true;
  // Under --static the connection string is never used, so it is not checked either.
  const mysql = mysqlSource('audit', flags, options, io, !isStatic);
  refuseFlagsFor(mysql === undefined ? 'pg' : 'mysql', serverWords(mysql, flags, options, io), 'audit', flags, AUDIT_FLAGS);
  if (mysql !== undefined) {
    const { runMysqlAudit } = await import('./cli-mysql.js');
    const driver = flag<string>(flags, 'driver') ?? 'mysql2';
    if (driver !== 'mysql2' && driver !== 'mysql' && driver !== 'mariadb') throw new UsageError(`poolguard audit: --driver must be mysql2, mysql or mariadb, got ${shown(driver)}.`);
    return runMysqlAudit({ ...mysql, options, instances, failOn, json: flag(flags, 'json') === true, isStatic, driver }, io);
  }
  const target = chooseTarget('audit', flags, options, io, !isStatic);
  const live = !isStatic && (target.url !== undefined || target.hasHost);
  let result: AuditResult;
  const poolOptions = options as AuditPoolOptions;
  if (!live) result = await audit({ options: poolOptions, instances });
  else if (target.url !== undefined) result = await audit({ options: poolOptions, instances, server: target.url });
  else {
    // Connection fields from the config rather than a URL: the CLI connects, audit() reads.
    result = await connected(target, options, (client) => audit({ options: poolOptions, instances, server: client })).catch((err: unknown) => {
      const reason = redactText(String((err as Error)?.message ?? err), target.secrets);
      return audit({ options: poolOptions, instances, server: { query: () => Promise.reject(new Error(reason)) } });
    });
  }

  if (flag(flags, 'json')) io.out(JSON.stringify(redactDeep({ target: live ? target.label : null, ...result }, target.secrets), null, 2) + '\n');
  else io.out(redactLines(auditText(result, target, live, failOn), target.secrets));
  return auditExitCode(result.counts, failOn);
}

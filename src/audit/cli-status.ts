/** `poolguard status`: its help, its flags read once, and the hand-off to PostgreSQL's or MySQL's view. */
import { flag, helpRows, parseFlags, refuseFlagsFor, STATUS_FLAGS } from './cli-flags.js';
import { loadConfig, loadSnapshotIds, UsageError, type CliIo } from './cli-io.js';
import { runPgStatus } from './cli-status-pg.js';
import { mysqlSource, serverWords } from './cli-target.js';

/** `poolguard status --help`. */
export function statusHelp(): string {
  return `Usage: poolguard status [--url URL] [--config FILE] [--application-name NAME] [--snapshot FILE] [--max N --instances N] [--limit N] [--all-databases] [--json]

Who holds connections on the server now, from pg_stat_activity: per application, how many are
active, idle and idle in transaction (a transaction left open holds its locks), and the connections
that have been in a transaction longest, with when their last query started. Only the backends of
the database the connection names are listed (--all-databases for every database); the count of
connections in use is the whole server's, as max_connections is.

Given the pool's view (--snapshot with pool.guard.snapshot() saved as JSON, or --max and --instances
with --application-name), it says where the server and the pool disagree: backends of the pool's
application_name that the pool no longer counts (pg-pool loses a connection the server accepted
just after a connect timeout), or connections the pool counts that the server has closed.

MySQL and MariaDB: a mysql:// (or mariadb://) URL lists the sessions of information_schema.processlist,
longest in a transaction first; --max (or the config's connectionLimit) is compared with the
sessions of the URL's user, and --snapshot with the thread ids the pool counts. MySQL has no
application_name: --application-name does not apply there (exit 2).

Options:
${helpRows(STATUS_FLAGS, 28)}

Exit codes: 0 read, nothing inconsistent; 1 the server could not be read, or the pool's view and the
server's disagree; 2 bad usage. Query texts are cut to 200 characters and passwords are masked.
`;
}

/** `poolguard status …`; resolves with the exit code. */
export async function runStatus(args: readonly string[], io: CliIo): Promise<number> {
  const flags = parseFlags('status', args, STATUS_FLAGS);
  if (flag(flags, 'help')) {
    io.out(statusHelp());
    return 0;
  }
  const configFile = flag<string>(flags, 'config');
  const options = configFile === undefined ? {} : await loadConfig(configFile, io, 'status', 'config');
  const snapshotFile = flag<string>(flags, 'snapshot');
  const snapshotPids = snapshotFile === undefined ? undefined : await loadSnapshotIds(snapshotFile, io);
  const instances = flag<number>(flags, 'instances') ?? 1;
  const limit = flag<number>(flags, 'limit') ?? 30;
  const mysql = mysqlSource('status', flags, options, io);
  refuseFlagsFor(mysql === undefined ? 'pg' : 'mysql', serverWords(mysql, flags, options, io), 'status', flags, STATUS_FLAGS);
  if (mysql !== undefined) {
    // MySQL has no application_name: --max is compared with the sessions of the URL's user.
    const { runMysqlStatus } = await import('./cli-mysql.js');
    const max = flag<number>(flags, 'max') ?? (typeof options.connectionLimit === 'number' ? options.connectionLimit : undefined);
    return runMysqlStatus({ ...mysql, options, max, instances, limit, json: flag(flags, 'json') === true, allDatabases: flag<boolean>(flags, 'all-databases') === true, snapshotPids }, io);
  }
  const app = flag<string>(flags, 'application-name') ?? (typeof options.application_name === 'string' ? options.application_name : undefined);
  for (const name of ['max', 'instances']) {
    if (app === undefined && flag(flags, name) !== undefined) {
      throw new UsageError(
        `poolguard status: --${name} needs --application-name (or a config with application_name): the server tells a pool's connections ` +
          `from others only by their application_name, so without it there is nothing to compare with --${name}.`,
      );
    }
  }
  const max = flag<number>(flags, 'max') ?? (typeof options.max === 'number' ? options.max : undefined);
  return runPgStatus({ flags, options, app, max, instances, limit, snapshotPids }, io);
}

/**
 * Which server a command reads, from --url, the config or $DATABASE_URL: a PostgreSQL one (pg) or
 * a MySQL/MariaDB one (a mysql:// URL), named without its password. A connection string the driver
 * would misread is refused here (exit 2), naming where it came from, never showing it.
 */
import { flag, type Flags } from './cli-flags.js';
import { UsageError, type CliIo } from './cli-io.js';
import { ConnectionStringError, parseConnectionString } from './conninfo.js';
import { checkMysqlUrl, MYSQL_URL } from './mysql-url.js';
import { passwordsOf, redactConnectionString, redactText } from './redact.js';
import { auditClientConfig, loadPgClient, withClient } from './server.js';
import type { AuditQueryable } from './types.js';

/** A PostgreSQL server to read. */
export interface Target {
  /** For people: redacted. */
  label: string;
  url: string | undefined;
  /** Connection fields from the config when there is no URL. */
  hasHost: boolean;
  /** Every password the target carries, in every form it was given, to scrub from all output. */
  secrets: ReadonlyArray<string | undefined>;
}

/** A MySQL/MariaDB server to read: its URL and where it came from. */
export interface MysqlSource {
  readonly url: string;
  readonly source: string;
}

function refuse(command: string, source: string, err: unknown): never {
  // The message never contains the string (conninfo.ts and mysql-url.ts build it so), and must not
  // be redacted: its example of the URL form would be masked.
  if (err instanceof ConnectionStringError) throw new UsageError(`poolguard ${command}: ${source} ${err.message}`);
  throw err;
}

/** The PostgreSQL server, and how to name it without its password; `check` false leaves the string unread (--static). */
export function chooseTarget(command: string, flags: Flags, options: Record<string, unknown>, io: CliIo, check = true): Target {
  const fromFlag = flag<string>(flags, 'url');
  const fromConfig = typeof options.connectionString === 'string' ? options.connectionString : undefined;
  const fromEnv = io.env.DATABASE_URL || undefined;
  const url = fromFlag ?? fromConfig ?? fromEnv;
  const source = fromFlag !== undefined ? '--url' : fromConfig !== undefined ? 'the config\'s connectionString' : fromEnv !== undefined ? '$DATABASE_URL' : undefined;
  const secrets = [...passwordsOf(url), typeof options.password === 'string' ? options.password : undefined, io.env.PGPASSWORD];
  if (url !== undefined) {
    if (check) {
      try {
        parseConnectionString(url);
      } catch (err) {
        refuse(command, source!, err);
      }
    }
    return { label: `${redactConnectionString(url, secrets)} (from ${source})`, url, hasHost: false, secrets };
  }
  if (typeof options.host === 'string') {
    const label = `${options.host}:${String(options.port ?? 5432)}/${String(options.database ?? options.user ?? 'postgres')} (from the config)`;
    return { label: redactText(label, secrets), url: undefined, hasHost: true, secrets };
  }
  return { label: 'no server', url: undefined, hasHost: false, secrets };
}

/**
 * A `mysql://` or `mariadb://` server, from --url, the config's `uri`, or $DATABASE_URL; else
 * `undefined` (PostgreSQL). `check` false leaves the URL unread (--static).
 */
export function mysqlSource(command: string, flags: Flags, options: Record<string, unknown>, io: CliIo, check = true): MysqlSource | undefined {
  const fromFlag = flag<string>(flags, 'url');
  const fromConfig = typeof options.uri === 'string' ? options.uri : typeof options.connectionString === 'string' ? options.connectionString : undefined;
  const fromEnv = io.env.DATABASE_URL || undefined;
  const url = fromFlag ?? fromConfig ?? fromEnv;
  if (url === undefined || !MYSQL_URL.test(url.trim())) return undefined;
  const source = fromFlag !== undefined ? '--url' : fromConfig !== undefined ? `the config's ${typeof options.uri === 'string' ? 'uri' : 'connectionString'}` : '$DATABASE_URL';
  if (check) {
    try {
      checkMysqlUrl(url);
    } catch (err) {
      refuse(command, source, err);
    }
  }
  return { url, source };
}

/** How the "does not apply" message names the server the flags were checked against. */
export function serverWords(mysql: MysqlSource | undefined, flags: Flags, options: Record<string, unknown>, io: CliIo): string {
  if (mysql !== undefined) return `a MySQL/MariaDB server (the mysql:// URL from ${mysql.source})`;
  const given = flag<string>(flags, 'url') ?? (typeof options.connectionString === 'string' ? options.connectionString : undefined) ?? (io.env.DATABASE_URL || undefined);
  return given !== undefined || typeof options.host === 'string'
    ? 'a PostgreSQL server'
    : "a PostgreSQL pool (no mysql:// URL was given in --url, the config's uri or $DATABASE_URL; with --static it is not dialled)";
}

/** Runs `fn` with a connection to the target, made from the pool's own options. */
export async function connected<T>(target: Target, options: Record<string, unknown>, fn: (client: AuditQueryable) => Promise<T>): Promise<T> {
  const Client = await loadPgClient();
  return withClient(Client, auditClientConfig(options, target.url), fn);
}

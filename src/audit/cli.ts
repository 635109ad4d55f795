import { closest } from '../core/closest.js';
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatDuration } from '../core/format.js';
import { audit } from './audit.js';
import { RULES } from './rules.js';
import { ConnectionStringError, parseConnectionString } from './conninfo.js';
import { passwordsOf, redactConnectionString, redactDeep, redactLines, redactText } from './redact.js';
import { auditClientConfig, loadPgClient, withClient } from './server.js';
import { MYSQL_RULE_IDS, MYSQL_URL } from './mysql-url.js';
import type { AuditPoolOptions, AuditQueryable, AuditResult } from './types.js';

/** Where the CLI writes; the process's streams in production, buffers in tests. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

/** Bad usage: exit 2 with this message and a pointer to --help. */
class UsageError extends Error {}

type FlagType = 'int' | 'ms' | 'bool' | 'string';
interface FlagSpec {
  readonly flag: string;
  readonly type: FlagType;
  /** Where a pool-option flag goes in the options object. */
  readonly path?: readonly string[];
  readonly help: string;
  /** The value's name in --help. */
  readonly meta?: string;
  /** Smallest accepted number (default 0). */
  readonly min?: number;
}

const POOL_FLAGS: readonly FlagSpec[] = [
  { flag: 'max', type: 'int', path: ['max'], help: 'pg: most connections per pool (default 10)' },
  { flag: 'min', type: 'int', path: ['min'], help: 'pg: connections kept open when idle (default 0)' },
  { flag: 'connection-timeout-millis', type: 'ms', path: ['connectionTimeoutMillis'], help: 'pg: how long a checkout waits (default 0: forever)' },
  { flag: 'idle-timeout-millis', type: 'ms', path: ['idleTimeoutMillis'], help: 'pg: how long an idle connection is kept (default 10000)' },
  { flag: 'max-lifetime-seconds', type: 'int', path: ['maxLifetimeSeconds'], help: 'pg: connection lifetime (default 0: none)' },
  { flag: 'allow-exit-on-idle', type: 'bool', path: ['allowExitOnIdle'], help: 'pg: idle connections let the process exit' },
  { flag: 'keep-alive', type: 'bool', path: ['keepAlive'], help: 'pg: TCP keepalive on connections' },
  { flag: 'statement-timeout', type: 'ms', path: ['statement_timeout'], help: 'pg: statement_timeout for each connection' },
  { flag: 'query-timeout', type: 'ms', path: ['query_timeout'], help: 'pg: client-side query timeout' },
  { flag: 'idle-in-transaction-session-timeout', type: 'ms', path: ['idle_in_transaction_session_timeout'], help: 'pg: server ends transactions idle this long' },
  { flag: 'application-name', type: 'string', meta: 'NAME', path: ['application_name'], help: 'pg: application_name of the pool\'s connections' },
  { flag: 'leak-threshold-ms', type: 'ms', path: ['guard', 'leakThresholdMs'], help: `poolguard: guard.leakThresholdMs (default 10000)` },
  { flag: 'reclaim-after-ms', type: 'ms', path: ['guard', 'reclaimAfterMs'], help: 'poolguard: guard.reclaimAfterMs (default 0: off)' },
];

const COMMON_FLAGS: readonly FlagSpec[] = [
  { flag: 'url', type: 'string', meta: 'URL', help: 'the server (default: the config\'s connectionString, then $DATABASE_URL)' },
  { flag: 'config', type: 'string', meta: 'FILE', help: 'a .json, .js, .mjs or .cjs file with the pool\'s options (flags override it)' },
  { flag: 'json', type: 'bool', help: 'print JSON instead of a table' },
  { flag: 'help', type: 'bool', help: 'show this help' },
];

const AUDIT_FLAGS: readonly FlagSpec[] = [
  ...COMMON_FLAGS,
  { flag: 'instances', type: 'int', min: 1, help: 'how many processes run this pool against the server (default 1)' },
  { flag: 'static', type: 'bool', help: 'skip the live checks, even with a URL' },
  { flag: 'fail-on', type: 'string', meta: 'error|warning', help: 'error (default) or warning: which findings make the exit code 1' },
  ...POOL_FLAGS,
];

const STATUS_FLAGS: readonly FlagSpec[] = [
  ...COMMON_FLAGS,
  { flag: 'application-name', type: 'string', meta: 'NAME', help: 'the pool\'s application_name, to compare with the pool\'s own view' },
  { flag: 'snapshot', type: 'string', meta: 'FILE', help: 'a JSON file of pool.guard.snapshot(): backend pids the pool counts' },
  { flag: 'max', type: 'int', min: 1, help: 'the pool\'s max: more backends of the application than max × instances is a leak' },
  { flag: 'instances', type: 'int', min: 1, help: 'how many processes run the pool (default 1)' },
  { flag: 'limit', type: 'int', min: 1, help: 'connections listed (default 30, longest in transaction first)' },
  { flag: 'all-databases', type: 'bool', help: 'list the backends of every database, not only the one the URL names' },
];

function usage(s: FlagSpec): string {
  return s.type === 'bool' ? s.flag : `${s.flag} ${s.meta ?? (s.type === 'string' ? 'VALUE' : 'N')}`;
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}


/** `--flag value`, `--flag=value`, `--bool`, `--bool=false`, `--no-bool`; also pg's own camelCase names. */
function parseFlags(command: string, args: readonly string[], specs: readonly FlagSpec[]): Map<FlagSpec, string | number | boolean> {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.flag, s);
    byName.set(camel(s.flag), s);
    if (s.path) byName.set(s.path[s.path.length - 1]!, s);
  }
  const out = new Map<FlagSpec, string | number | boolean>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`poolguard ${command}: unexpected argument ${shown(arg)}; options are flags (--name value).`);
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) [name, value] = [name.slice(0, eq), name.slice(eq + 1)];
    let spec = byName.get(name);
    if (spec === undefined && name.startsWith('no-') && byName.get(name.slice(3))?.type === 'bool' && value === undefined) {
      spec = byName.get(name.slice(3))!;
      value = 'false';
    }
    if (spec === undefined) {
      const hint = closest(name, [...byName.keys()].filter((k) => k.includes('-') || !/[A-Z_]/.test(k)));
      throw new UsageError(`poolguard ${command}: unknown flag ${/^[\w-]+$/.test(name) ? `--${name}` : shown(`--${name}`)}.${hint ? ` Did you mean --${hint}?` : ''}`);
    }
    if (spec.type === 'bool') {
      if (value === undefined) value = 'true';
      if (value !== 'true' && value !== 'false') throw new UsageError(`poolguard ${command}: --${spec.flag} is true or false, got ${shown(value)}.`);
      out.set(spec, value === 'true');
      continue;
    }
    if (value === undefined) {
      value = args[++i];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`poolguard ${command}: --${spec.flag} needs a value.`);
    }
    if (spec.type === 'string') {
      if (value === '') throw new UsageError(`poolguard ${command}: --${spec.flag} needs a non-empty value.`);
      out.set(spec, value);
    } else {
      const least = spec.min ?? 0;
      if (!/^\d+$/.test(value) || Number(value) < least) {
        const what = spec.type === 'ms' ? `a whole number of milliseconds (≥ ${least})` : `a whole number (≥ ${least})`;
        throw new UsageError(`poolguard ${command}: --${spec.flag} must be ${what}, got ${shown(value)}.`);
      }
      out.set(spec, Number(value));
    }
  }
  return out;
}

/**
 * A value the user typed, fit to repeat in a message. It may be a misplaced connection string: one
 * that looks like a URL or holds a `password=` is not shown at all.
 */
function shown(value: string): string {
  if (/:\/\/|@|password|passwd|pwd/i.test(value)) return '(a value that looks like a connection string, not shown)';
  return JSON.stringify(redactText(value));
}

/** A file name as typed, unless it looks like a misplaced connection string. */
function shownPath(file: string): string {
  return shown(file) === JSON.stringify(file) ? file : '(a path that looks like a connection string, not shown)';
}

function flag<T extends string | number | boolean>(flags: Map<FlagSpec, string | number | boolean>, name: string): T | undefined {
  for (const [spec, value] of flags) if (spec.flag === name) return value as T;
  return undefined;
}

/** Reads a JSON or JavaScript file given as `--<flagName>`; its errors name that flag, with the command's prefix. */
async function loadConfig(file: string, io: CliIo, command: string, flagName: string): Promise<Record<string, unknown>> {
  const path = resolve(io.cwd, file);
  const secretLooking = shownPath(file) !== file;
  const prefix = `poolguard ${command}: --${flagName} ${shownPath(file)}`;
  let value: unknown;
  try {
    if (extname(path) === '.json') value = JSON.parse(await readFile(path, 'utf8'));
    else {
      const mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
      value = mod.default ?? mod;
    }
  } catch (err) {
    throw new UsageError(`${prefix}: could not load it (${secretLooking ? String((err as { code?: unknown })?.code ?? 'error') : redactText(String((err as Error)?.message ?? err))}).`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const what = flagName === 'snapshot' ? 'the JSON of pool.guard.snapshot()' : "the pool's options (what you pass to new Pool())";
    throw new UsageError(`${prefix}: expected ${what} as an object, got ${Array.isArray(value) ? 'an array' : typeof value}.`);
  }
  return { ...(value as Record<string, unknown>) };
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node = node[key] = typeof next === 'object' && next !== null ? { ...(next as Record<string, unknown>) } : {};
  }
  node[path[path.length - 1]!] = value;
}

interface Target {
  /** For people: redacted. */
  label: string;
  url: string | undefined;
  /** Connection fields from the config when there is no URL. */
  hasHost: boolean;
  /** Every password the target carries, in every form it was given, to scrub from all output. */
  secrets: ReadonlyArray<string | undefined>;
}

/**
 * The server to read, and how to name it without its password. A connection string pg would
 * misread is refused here (exit 2), naming where it came from, never showing it.
 */
function chooseTarget(command: string, flags: Map<FlagSpec, string | number | boolean>, options: Record<string, unknown>, io: CliIo, check = true): Target {
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
        // The message never contains the string (conninfo.ts builds it so), and must not be
        // redacted: its example of the URL form would be masked.
        if (err instanceof ConnectionStringError) throw new UsageError(`poolguard ${command}: ${source} ${err.message}`);
        throw err;
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

/** A `mysql://` or `mariadb://` server, from --url, the config's `uri`, or $DATABASE_URL; else `undefined` (PostgreSQL). */
function mysqlUrlOf(flags: Map<FlagSpec, string | number | boolean>, options: Record<string, unknown>, io: CliIo): { url: string; source: string } | undefined {
  const fromFlag = flag<string>(flags, 'url');
  const fromConfig = typeof options.uri === 'string' ? options.uri : typeof options.connectionString === 'string' ? options.connectionString : undefined;
  const fromEnv = io.env.DATABASE_URL || undefined;
  const url = fromFlag ?? fromConfig ?? fromEnv;
  if (url === undefined || !MYSQL_URL.test(url)) return undefined;
  return { url, source: fromFlag !== undefined ? '--url' : fromConfig !== undefined ? 'the config\'s uri' : '$DATABASE_URL' };
}

/** Runs `fn` with a connection to the target, made from the pool's own options. */
async function connected<T>(target: Target, options: Record<string, unknown>, fn: (client: AuditQueryable) => Promise<T>): Promise<T> {
  const Client = await loadPgClient();
  return withClient(Client, auditClientConfig(options, target.url), fn);
}

// ---- audit -------------------------------------------------------------------------------------

function auditHelp(): string {
  const rows = (specs: readonly FlagSpec[]) => specs.map((s) => `  --${usage(s).padEnd(40)}${s.help}`).join('\n');
  const rules = RULES.map((r) => `  ${r.id.padEnd(38)}${r.severity.padEnd(8)}${r.live ? 'live  ' : 'static'}`).join('\n');
  return `Usage: poolguard audit [--url URL] [--config FILE] [--instances N] [pool options] [--json]

Checks a pool's configuration against itself and, with a server, against the server's limits and
timeouts, as the pool's own connections see them (its role, database and session settings).

The server: --url, else the config's connectionString (or host), else $DATABASE_URL: a postgres://
URL or libpq's keyword/value pairs (host=db dbname=orders user=app password=…). Without one, only
the static rules run. Passwords are never printed.

MySQL and MariaDB: a mysql:// (or mariadb://) URL audits a mysql2 pool (its options from --config:
connectionLimit, maxIdle, idleTimeout, guard) against max_connections, max_user_connections and
wait_timeout; rules: ${MYSQL_RULE_IDS}. The pg pool flags do not apply there.

Options:
${rows(AUDIT_FLAGS.filter((s) => !s.path))}

Pool options (override the config file; pg's own camelCase names work too, e.g. --connectionTimeoutMillis):
${rows(POOL_FLAGS)}

Exit codes: 0 no errors (warnings allowed), 1 errors found (or warnings, with --fail-on warning),
2 bad usage (an unknown flag, a bad value, an unreadable --config, a connection string pg would
misread: percent-encode its password with node -p 'encodeURIComponent(process.argv[1])' 'the-password').

Rules (severity, needs the server or not):
${rules}

Example, as a deploy gate:
  DATABASE_URL=postgres://app@db:5432/orders npx poolguard audit --config pool.json --instances 6
`;
}

function printAudit(io: CliIo, result: AuditResult, target: Target, live: boolean, failOn: string): void {
  const { counts, instances } = result;
  io.out(`poolguard audit: ${live ? target.label : 'static checks only'}, ${instances} instance${instances === 1 ? '' : 's'}\n`);
  const s = result.server;
  if (s) {
    const lim = (n: number) => (n < 0 ? 'no limit' : `limit ${n}`);
    io.out(
      `server: PostgreSQL ${s.version.split(' ')[0]}, max_connections ${s.maxConnections} (${s.reservedConnections} reserved), ${s.connectionsInUse} in use; ` +
        `role ${s.role} (${s.roleIsSuperuser ? 'superuser' : lim(s.roleConnectionLimit)}); database ${s.database} (${lim(s.databaseConnectionLimit)})\n`,
    );
  } else if (!live && target.url === undefined && !target.hasHost) {
    // With --static the server was given and skipped on purpose: nothing to suggest.
    io.out('(give --url or set DATABASE_URL to check against the server too)\n');
  }
  io.out('\n');
  if (result.findings.length === 0) {
    io.out(`No findings: the configuration passes all ${RULES.filter((r) => live || !r.live).length} ${live ? '' : 'static '}rules.\n`);
    return;
  }
  const ruleWidth = Math.max(4, ...result.findings.map((f) => f.rule.length));
  io.out(`${'SEVERITY'.padEnd(9)}${'RULE'.padEnd(ruleWidth + 2)}FINDING\n`);
  const indent = ' '.repeat(9 + ruleWidth + 2);
  for (const f of result.findings) {
    io.out(`${f.severity.padEnd(9)}${f.rule.padEnd(ruleWidth + 2)}${f.message}\n${indent}why: ${f.why}\n${indent}fix: ${f.fix}\n`);
  }
  const failing = failOn === 'warning' ? counts.error + counts.warning : counts.error;
  io.out(
    `\n${counts.error} error${counts.error === 1 ? '' : 's'}, ${counts.warning} warning${counts.warning === 1 ? '' : 's'}, ${counts.info} info: ` +
      (failing > 0 ? `exit 1 (fails on ${failOn === 'warning' ? 'errors and warnings' : 'errors'})\n` : 'exit 0\n'),
  );
}

async function runAudit(args: readonly string[], io: CliIo): Promise<number> {
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
  for (const [spec, value] of flags) if (spec.path) setPath(options, spec.path, value);

  const isStatic = flag<boolean>(flags, 'static') === true;
  const mysql = mysqlUrlOf(flags, options, io);
  if (mysql !== undefined) {
    const { runMysqlAudit } = await import('./cli-mysql.js');
    return runMysqlAudit({ ...mysql, options, instances, failOn, json: flag(flags, 'json') === true, isStatic }, io);
  }
  // Under --static the connection string is never used, so it is not checked either.
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

  if (flag(flags, 'json')) {
    io.out(JSON.stringify(redactDeep({ target: live ? target.label : null, ...result }, target.secrets), null, 2) + '\n');
  } else {
    let text = '';
    printAudit({ ...io, out: (t) => (text += t) }, result, target, live, failOn);
    io.out(redactLines(text, target.secrets));
  }
  const failing = failOn === 'warning' ? result.counts.error + result.counts.warning : result.counts.error;
  return failing > 0 ? 1 : 0;
}

// ---- status ------------------------------------------------------------------------------------

const STATUS_SQL = `SELECT pid, usename AS "user", datname AS database, coalesce(application_name, '') AS application, client_addr::text AS client, state,
  wait_event_type AS wait, left(query, 200) AS query,
  query_start, xact_start, backend_start,
  round(extract(epoch FROM now() - xact_start) * 1000) AS xact_ms,
  round(extract(epoch FROM now() - state_change) * 1000) AS state_ms,
  round(extract(epoch FROM now() - query_start) * 1000) AS query_ms
FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
ORDER BY xact_start ASC NULLS LAST, backend_start ASC`;

const LIMIT_SQL = `SELECT current_database() AS database, current_setting('server_version') AS version, current_setting('max_connections')::int AS max_connections,
  current_setting('superuser_reserved_connections')::int + coalesce(current_setting('reserved_connections', true), '0')::int AS reserved`;

interface Backend {
  pid: number;
  user: string | null;
  database: string | null;
  application: string;
  client: string | null;
  state: string | null;
  wait: string | null;
  query: string | null;
  queryStart: string | null;
  xactMs: number | null;
  stateMs: number | null;
}

function statusHelp(): string {
  const rows = STATUS_FLAGS.map((s) => `  --${usage(s).padEnd(28)}${s.help}`).join('\n');
  return `Usage: poolguard status [--url URL] [--application-name NAME] [--snapshot FILE] [--max N --instances N] [--all-databases] [--json]

Who holds connections on the server now, from pg_stat_activity: per application, how many are
active, idle and idle in transaction (a transaction left open holds its locks), and the connections
that have been in a transaction longest, with when their last query started. Only the backends of
the database the connection names are listed (--all-databases for every database); the count of
connections in use is the whole server's, as max_connections is.

Given the pool's view (--snapshot with pool.guard.snapshot() saved as JSON, or --max and --instances
with --application-name), it says where the server and the pool disagree: backends of the pool's
application_name that the pool no longer counts (pg-pool loses a connection the server accepted
just after a connect timeout), or connections the pool counts that the server has closed.

Options:
${rows}

Exit codes: 0 read, nothing inconsistent; 1 the server could not be read, or the pool's view and the
server's disagree; 2 bad usage. Query texts are cut to 200 characters and passwords are masked.
`;
}

function age(msValue: number | null): string {
  return msValue === null ? '' : formatDuration(Math.max(0, msValue));
}

async function runStatus(args: readonly string[], io: CliIo): Promise<number> {
  const flags = parseFlags('status', args, STATUS_FLAGS);
  if (flag(flags, 'help')) {
    io.out(statusHelp());
    return 0;
  }
  const configFile = flag<string>(flags, 'config');
  const options = configFile === undefined ? {} : await loadConfig(configFile, io, 'status', 'config');
  const app = flag<string>(flags, 'application-name') ?? (typeof options.application_name === 'string' ? options.application_name : undefined);
  const mysql = mysqlUrlOf(flags, options, io);
  if (mysql !== undefined) {
    // MySQL has no application_name: --max is compared with the sessions of the URL's user.
    const snapshotFile = flag<string>(flags, 'snapshot');
    let snapshotPids: Set<number> | undefined;
    if (snapshotFile !== undefined) {
      const conns = (await loadConfig(snapshotFile, io, 'status', 'snapshot')).connections;
      if (!Array.isArray(conns)) throw new UsageError(`poolguard status: --snapshot ${shownPath(snapshotFile)}: expected the JSON of pool.guard.snapshot() (with a connections array).`);
      snapshotPids = new Set(conns.map((c: { pid?: unknown }) => Number(c.pid)).filter((p) => Number.isInteger(p)));
    }
    const { runMysqlStatus } = await import('./cli-mysql.js');
    return runMysqlStatus(
      {
        ...mysql,
        options,
        max: flag<number>(flags, 'max') ?? (typeof options.connectionLimit === 'number' ? options.connectionLimit : undefined),
        instances: flag<number>(flags, 'instances') ?? 1,
        limit: flag<number>(flags, 'limit') ?? 30,
        json: flag(flags, 'json') === true,
        allDatabases: flag<boolean>(flags, 'all-databases') === true,
        snapshotPids,
      },
      io,
    );
  }
  for (const name of ['max', 'instances']) {
    if (app === undefined && flag(flags, name) !== undefined) {
      throw new UsageError(
        `poolguard status: --${name} needs --application-name (or a config with application_name): the server tells a pool's connections ` +
          `from others only by their application_name, so without it there is nothing to compare with --${name}.`,
      );
    }
  }
  const max = flag<number>(flags, 'max') ?? (typeof options.max === 'number' ? options.max : undefined);
  const instances = flag<number>(flags, 'instances') ?? 1;
  const limit = flag<number>(flags, 'limit') ?? 30;
  let snapshotPids: Set<number> | undefined;
  const snapshotFile = flag<string>(flags, 'snapshot');
  if (snapshotFile !== undefined) {
    const snap = await loadConfig(snapshotFile, io, 'status', 'snapshot');
    const conns = snap.connections;
    if (!Array.isArray(conns)) throw new UsageError(`poolguard status: --snapshot ${shownPath(snapshotFile)}: expected the JSON of pool.guard.snapshot() (with a connections array).`);
    snapshotPids = new Set(conns.map((c: { pid?: unknown }) => Number(c.pid)).filter((p) => Number.isInteger(p)));
  }
  const target = chooseTarget('status', flags, options, io);
  if (target.url === undefined && !target.hasHost) throw new UsageError('poolguard status: no server: give --url or set DATABASE_URL.');
  const secrets = target.secrets;

  let rows: Array<Record<string, unknown>>;
  let server: Record<string, unknown>;
  try {
    [rows, server] = await connected(target, { connectionTimeoutMillis: 5_000, ...options }, async (client) => {
      const activity = (await client.query(STATUS_SQL)).rows as Array<Record<string, unknown>>;
      const limits = (await client.query(LIMIT_SQL)).rows[0] ?? {};
      return [activity, limits];
    });
  } catch (err) {
    io.err(`poolguard status: could not read ${target.label}: ${redactText(String((err as Error)?.message ?? err), secrets)}. Check the URL, the network and the role's permissions.\n`);
    return 1;
  }
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v == null ? null : String(v));
  const numOrNull = (v: unknown) => (v == null ? null : Number(v));
  const everyBackend: Backend[] = rows.map((r) => ({
    pid: Number(r.pid),
    user: (r.user as string | null) ?? null,
    database: (r.database as string | null) ?? null,
    application: String(r.application ?? ''),
    client: (r.client as string | null) ?? null,
    state: (r.state as string | null) ?? null,
    wait: (r.wait as string | null) ?? null,
    query: r.query == null ? null : redactText(String(r.query).replace(/\s+/g, ' '), secrets),
    queryStart: iso(r.query_start),
    xactMs: numOrNull(r.xact_ms),
    stateMs: numOrNull(r.state_ms),
  }));
  // The database the connection landed in is the one the URL names (or pg's default for the user).
  const database = server.database == null ? null : String(server.database);
  const allDatabases = flag<boolean>(flags, 'all-databases') === true;
  const backends = allDatabases ? everyBackend : everyBackend.filter((b) => b.database === database);

  const groups = new Map<string, { application: string; total: number; active: number; idle: number; idleInTransaction: number; oldestIdleInTransactionMs: number | null }>();
  for (const b of backends) {
    let g = groups.get(b.application);
    if (!g) groups.set(b.application, (g = { application: b.application, total: 0, active: 0, idle: 0, idleInTransaction: 0, oldestIdleInTransactionMs: null }));
    g.total++;
    if (b.state === 'active') g.active++;
    else if (b.state === 'idle') g.idle++;
    else if (b.state?.startsWith('idle in transaction')) {
      g.idleInTransaction++;
      g.oldestIdleInTransactionMs = Math.max(g.oldestIdleInTransactionMs ?? 0, b.xactMs ?? 0);
    }
  }

  // Where the pool's view and the server's disagree.
  const problems: string[] = [];
  const ofApp = app === undefined ? [] : backends.filter((b) => b.application === app);
  let untracked: Backend[] = [];
  let vanished: number[] = [];
  if (snapshotPids !== undefined) {
    if (app !== undefined) {
      untracked = ofApp.filter((b) => !snapshotPids!.has(b.pid));
      if (untracked.length > 0) {
        problems.push(
          `${untracked.length} backend(s) of application_name ${JSON.stringify(app)} are not in the pool's snapshot (pid ${untracked.map((b) => b.pid).join(', ')}): ` +
            `the pool no longer counts them, yet they hold server connections. pg-pool loses a connection the server accepted just after a connect timeout; ` +
            `another process with the same application_name looks the same. If they are idle and old, end them: SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (${untracked.map((b) => b.pid).join(', ')});`,
        );
      }
    }
    const onServer = new Set(everyBackend.map((b) => b.pid));
    vanished = [...snapshotPids].filter((pid) => !onServer.has(pid));
    if (vanished.length > 0) {
      problems.push(
        `${vanished.length} connection(s) the pool counts are gone from the server (pid ${vanished.join(', ')}): closed by the server (idle_session_timeout, a restart, pg_terminate_backend) or the network; ` +
          `the pool will hand them out and fail. Check the server's log for why they ended, and set idleTimeoutMillis below the server's and the network's idle limits.`,
      );
    }
  }
  if (app !== undefined && max !== undefined && ofApp.length > max * instances) {
    problems.push(
      `${ofApp.length} backends have application_name ${JSON.stringify(app)}, but ${instances === 1 ? `the pool's max is ${max}` : `max ${max} × ${instances} instances is ${max * instances}`}: ` +
        `${ofApp.length - max * instances} are not the pool's to count (lost by pg-pool after a connect timeout, or another process using the same name).`,
    );
  }

  const inUse = everyBackend.length;
  const maxConnections = Number(server.max_connections ?? 0);
  const reserved = Number(server.reserved ?? 0);
  if (flag(flags, 'json')) {
    const json = {
      target: target.label,
      database,
      allDatabases,
      server: { version: String(server.version ?? ''), maxConnections, reservedConnections: reserved, connectionsInUse: inUse },
      applications: [...groups.values()].sort((a, b) => b.total - a.total),
      backends,
      pool: app === undefined && snapshotPids === undefined ? undefined : { applicationName: app, max, instances, backendsOfApplication: app === undefined ? undefined : ofApp.length, untrackedPids: untracked.map((b) => b.pid), vanishedPids: vanished },
      problems,
    };
    io.out(JSON.stringify(redactDeep(json, secrets), null, 2) + '\n');
    return problems.length > 0 ? 1 : 0;
  }

  let text = `poolguard status: ${target.label}\n`;
  text += `server: PostgreSQL ${String(server.version ?? '?').split(' ')[0]}, ${inUse} of ${maxConnections - reserved} client connections in use (max_connections ${maxConnections}, ${reserved} reserved)\n`;
  text += allDatabases
    ? `listed: the backends of every database (${backends.length})\n\n`
    : `listed: the ${backends.length} backend(s) of database ${JSON.stringify(database)}, the one the connection names (--all-databases for every database)\n\n`;
  const table = (header: string[], body: string[][]) => {
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
    return [header, ...body].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
  };
  text += 'By application:\n';
  text += table(
    ['APPLICATION', 'TOTAL', 'ACTIVE', 'IDLE', 'IDLE IN TX', 'OLDEST IDLE IN TX'],
    [...groups.values()].sort((a, b) => b.total - a.total).map((g) => [g.application || '(none)', String(g.total), String(g.active), String(g.idle), String(g.idleInTransaction), age(g.oldestIdleInTransactionMs)]),
  );
  text += `\nConnections (longest in a transaction first${backends.length > limit ? `; ${limit} of ${backends.length}, --limit for more` : ''}):\n`;
  text += table(
    ['PID', 'DATABASE', 'USER', 'APPLICATION', 'STATE', 'IN TX FOR', 'IN STATE FOR', 'QUERY START', 'QUERY'],
    backends.slice(0, limit).map((b) => [String(b.pid), b.database ?? '', b.user ?? '', b.application || '(none)', b.state ?? '(hidden)', age(b.xactMs), age(b.stateMs), b.queryStart ?? '', (b.query ?? '').slice(0, 60)]),
  );
  const stuck = backends.filter((b) => b.state?.startsWith('idle in transaction')).sort((a, b) => (b.xactMs ?? 0) - (a.xactMs ?? 0))[0];
  if (stuck !== undefined) {
    text += `\n${backends.filter((b) => b.state?.startsWith('idle in transaction')).length} connection(s) idle in a transaction; the oldest, pid ${stuck.pid} (${stuck.application || 'no application_name'}), for ${age(stuck.xactMs)}. ` +
      `It holds its locks until it ends: look for a leak report from that application, or end it with SELECT pg_terminate_backend(${stuck.pid});\n`;
  }
  if (problems.length > 0) text += `\nThe pool's view and the server's disagree:\n${problems.map((p) => `- ${p}`).join('\n')}\n`;
  else if (app !== undefined || snapshotPids !== undefined) text += `\nThe pool's view and the server's agree${app !== undefined ? ` (${ofApp.length} backend(s) of ${JSON.stringify(app)})` : ''}.\n`;
  io.out(redactLines(text, secrets));
  return problems.length > 0 ? 1 : 0;
}

// ---- entry -------------------------------------------------------------------------------------

function mainHelp(): string {
  return `Usage: poolguard <command> [options]

Commands:
  audit    check a pool's configuration, and against the live server (exit 0 clean, 1 errors, 2 bad usage)
  status   who holds connections on the server now, and whether the pool agrees

Run poolguard <command> --help for a command's options. The server comes from --url or $DATABASE_URL.
`;
}

/** Runs the CLI; resolves with the exit code. Never throws: bad usage is exit 2 with a message. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      (command === undefined ? io.err : io.out)(mainHelp());
      return command === undefined ? 2 : 0;
    }
    if (command === 'audit') return await runAudit(rest, io);
    if (command === 'status') return await runStatus(rest, io);
    const hint = closest(command, ['audit', 'status']);
    throw new UsageError(`poolguard: unknown command ${JSON.stringify(command)}.${hint ? ` Did you mean ${hint}?` : ''} Commands: audit, status.`);
  } catch (err) {
    if (err instanceof UsageError) {
      const cmd = command === 'audit' || command === 'status' ? ` ${command}` : '';
      // Usage messages repeat what was typed only through shown(), which hides connection strings.
      io.err(`${err.message}\nRun poolguard${cmd} --help for usage.\n`);
      return 2;
    }
    io.err(`poolguard: unexpected failure: ${redactText(String((err as Error)?.stack ?? err))}\nThis is a bug in poolguard; please report it.\n`);
    return 1;
  }
}

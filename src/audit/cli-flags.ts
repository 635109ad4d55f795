/**
 * The CLI's flags: one table per command (the parser, --help and the "does not apply" check all
 * read it), the parser, and the "did you mean" for a mistyped flag.
 */
import { closest } from '../core/closest.js';
import { shown, UsageError } from './cli-io.js';

/** The server a flag is meant for: the PostgreSQL audit (pg's options) or the MySQL/MariaDB one (mysql2's). */
export type ServerKind = 'pg' | 'mysql';

type FlagType = 'int' | 'ms' | 'bool' | 'string';

/** One flag of a command. */
export interface FlagSpec {
  readonly flag: string;
  readonly type: FlagType;
  /** Where a pool-option flag goes in the options object. */
  readonly path?: readonly string[];
  readonly help: string;
  /** The value's name in --help. */
  readonly meta?: string;
  /** Smallest accepted number (default 0). */
  readonly min?: number;
  /** The one server kind the flag applies to; absent: both. */
  readonly only?: ServerKind;
  /** The flag that says the same for the other kind of server, suggested when this one does not apply. */
  readonly counterpart?: string;
}

/** A command's parsed flags. */
export type Flags = Map<FlagSpec, string | number | boolean>;

export const PG_POOL_FLAGS: readonly FlagSpec[] = [
  { flag: 'max', type: 'int', path: ['max'], only: 'pg', counterpart: 'connection-limit', help: 'pg: most connections per pool (default 10)' },
  { flag: 'min', type: 'int', path: ['min'], only: 'pg', help: 'pg: connections kept open when idle (default 0)' },
  { flag: 'connection-timeout-millis', type: 'ms', path: ['connectionTimeoutMillis'], only: 'pg', counterpart: 'acquire-timeout-ms', help: 'pg: how long a checkout waits (default 0: forever)' },
  { flag: 'idle-timeout-millis', type: 'ms', path: ['idleTimeoutMillis'], only: 'pg', counterpart: 'idle-timeout', help: 'pg: how long an idle connection is kept (default 10000)' },
  { flag: 'max-lifetime-seconds', type: 'int', path: ['maxLifetimeSeconds'], only: 'pg', counterpart: 'max-lifetime-ms', help: 'pg: connection lifetime (default 0: none)' },
  { flag: 'allow-exit-on-idle', type: 'bool', path: ['allowExitOnIdle'], only: 'pg', help: 'pg: idle connections let the process exit' },
  { flag: 'keep-alive', type: 'bool', path: ['keepAlive'], only: 'pg', help: 'pg: TCP keepalive on connections' },
  { flag: 'statement-timeout', type: 'ms', path: ['statement_timeout'], only: 'pg', help: 'pg: statement_timeout for each connection' },
  { flag: 'query-timeout', type: 'ms', path: ['query_timeout'], only: 'pg', help: 'pg: client-side query timeout' },
  { flag: 'idle-in-transaction-session-timeout', type: 'ms', path: ['idle_in_transaction_session_timeout'], only: 'pg', help: 'pg: server ends transactions idle this long' },
  { flag: 'application-name', type: 'string', meta: 'NAME', path: ['application_name'], only: 'pg', help: 'pg: application_name of the pool\'s connections' },
  { flag: 'leak-threshold-ms', type: 'ms', path: ['guard', 'leakThresholdMs'], only: 'pg', help: 'poolguard: guard.leakThresholdMs (default 10000)' },
  { flag: 'reclaim-after-ms', type: 'ms', path: ['guard', 'reclaimAfterMs'], only: 'pg', help: 'poolguard: guard.reclaimAfterMs (default 0: off)' },
];

export const MYSQL_POOL_FLAGS: readonly FlagSpec[] = [
  { flag: 'connection-limit', type: 'int', path: ['connectionLimit'], only: 'mysql', counterpart: 'max', help: 'mysql2: most connections per pool (default 10; 0: no limit)' },
  { flag: 'max-idle', type: 'int', path: ['maxIdle'], only: 'mysql', help: 'mysql2: below connectionLimit, idle connections past idleTimeout are closed (default connectionLimit: never)' },
  { flag: 'idle-timeout', type: 'ms', path: ['idleTimeout'], only: 'mysql', counterpart: 'idle-timeout-millis', help: 'mysql2: how long a connection may idle, when maxIdle < connectionLimit (default 60000)' },
  { flag: 'wait-for-connections', type: 'bool', path: ['waitForConnections'], only: 'mysql', help: 'mysql2: callers wait for a free connection (default true)' },
  { flag: 'acquire-timeout-ms', type: 'ms', path: ['guard', 'acquireTimeoutMs'], only: 'mysql', counterpart: 'connection-timeout-millis', help: 'poolguard: guard.acquireTimeoutMs (default 0: forever)' },
  { flag: 'validate-after-idle-ms', type: 'ms', path: ['guard', 'validateAfterIdleMs'], only: 'mysql', help: 'poolguard: guard.validateAfterIdleMs (default 0: never)' },
  { flag: 'driver', type: 'string', meta: 'mysql2|mysql|mariadb', only: 'mysql', help: "the driver whose pool the options are (default mysql2): mysql's acquireTimeout is no bound on the wait; the MariaDB connector's acquireTimeout, minimumIdle and idleTimeout (seconds) are its own" },
];

/** poolguard's options that both audits read. */
export const GUARD_FLAGS: readonly FlagSpec[] = [
  { flag: 'max-lifetime-ms', type: 'ms', path: ['guard', 'maxLifetimeMs'], help: 'poolguard: guard.maxLifetimeMs (default 0: none)' },
];

const COMMON_FLAGS: readonly FlagSpec[] = [
  { flag: 'url', type: 'string', meta: 'URL', help: 'the server (default: the config\'s connectionString or uri, then $DATABASE_URL)' },
  { flag: 'config', type: 'string', meta: 'FILE', help: 'a .json, .js, .mjs or .cjs file with the pool\'s options (flags override it)' },
  { flag: 'json', type: 'bool', help: 'print JSON instead of a table' },
  { flag: 'help', type: 'bool', help: 'show this help' },
];

export const AUDIT_FLAGS: readonly FlagSpec[] = [
  ...COMMON_FLAGS,
  { flag: 'instances', type: 'int', min: 1, help: 'how many processes run this pool against the server (default 1)' },
  { flag: 'static', type: 'bool', help: 'skip the live checks, even with a URL' },
  { flag: 'fail-on', type: 'string', meta: 'error|warning', help: 'error (default) or warning: which findings make the exit code 1' },
  ...PG_POOL_FLAGS,
  ...MYSQL_POOL_FLAGS,
  ...GUARD_FLAGS,
];

export const STATUS_FLAGS: readonly FlagSpec[] = [
  ...COMMON_FLAGS,
  { flag: 'application-name', type: 'string', meta: 'NAME', only: 'pg', help: 'PostgreSQL: the pool\'s application_name, to compare with the pool\'s own view' },
  { flag: 'snapshot', type: 'string', meta: 'FILE', help: 'a JSON file of pool.guard.snapshot(): the connections (backend pids, thread ids) the pool counts' },
  { flag: 'max', type: 'int', min: 1, help: 'the pool\'s max (connectionLimit): more connections than max × instances is a leak' },
  { flag: 'instances', type: 'int', min: 1, help: 'how many processes run the pool (default 1)' },
  { flag: 'limit', type: 'int', min: 1, help: 'connections listed (default 30, longest in transaction first)' },
  { flag: 'all-databases', type: 'bool', help: 'list the connections of every database, not only the one the URL names' },
];

/** How a flag is written in --help: `--name` or `--name VALUE`. */
export function usage(s: FlagSpec): string {
  return s.type === 'bool' ? s.flag : `${s.flag} ${s.meta ?? (s.type === 'string' ? 'VALUE' : 'N')}`;
}

/** --help's rows for these flags. */
export function helpRows(specs: readonly FlagSpec[], width: number): string {
  return specs.map((s) => `  --${usage(s).padEnd(width)}${s.help}`).join('\n');
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function kebab(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/_/g, '-')
    .toLowerCase();
}

// A unit at the end of a flag's name, which people leave off or get wrong.
const stem = (name: string) => name.replace(/-(ms|millis|seconds)$/, '');

/**
 * The flag a mistyped name meant: written in another case (camelCase, snake_case), without or with
 * another unit (`--connection-timeout`, `--leak-threshold`), cut short, or a typo away.
 */
export function suggestFlag(typed: string, specs: readonly FlagSpec[]): string | undefined {
  const names = specs.map((s) => s.flag);
  const word = kebab(typed);
  if (names.includes(word)) return word;
  const sameStem = names.filter((n) => stem(n) === stem(word));
  if (sameStem.length > 0) return closest(word, sameStem) ?? sameStem[0];
  const longer = names.filter((n) => n.startsWith(`${word}-`));
  if (longer.length === 1) return longer[0];
  const near = closest(word, names);
  if (near !== undefined) return near;
  const nearStem = closest(stem(word), names.map(stem));
  return nearStem === undefined ? undefined : names.find((n) => stem(n) === nearStem);
}

/** `--flag value`, `--flag=value`, `--bool`, `--bool=false`, `--no-bool`; also the drivers' own camelCase names. */
export function parseFlags(command: string, args: readonly string[], specs: readonly FlagSpec[]): Flags {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.flag, s);
    byName.set(camel(s.flag), s);
    if (s.path) byName.set(s.path[s.path.length - 1]!, s);
  }
  const out: Flags = new Map();
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
      const hint = suggestFlag(name, specs);
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

/** A parsed flag's value by its name. */
export function flag<T extends string | number | boolean>(flags: Flags, name: string): T | undefined {
  for (const [spec, value] of flags) if (spec.flag === name) return value as T;
  return undefined;
}

/** Writes the pool-option flags into the options (a config file's), over what it says. */
export function applyPoolFlags(flags: Flags, options: Record<string, unknown>): void {
  for (const [spec, value] of flags) {
    if (spec.path === undefined) continue;
    let node = options;
    for (const key of spec.path.slice(0, -1)) {
      const next = node[key];
      node = node[key] = typeof next === 'object' && next !== null ? { ...(next as Record<string, unknown>) } : {};
    }
    node[spec.path[spec.path.length - 1]!] = value;
  }
}

/**
 * Refuses a flag meant for the other kind of server (`--max` against a mysql:// URL), naming the
 * flags that do apply, rather than passing the driver an option it ignores.
 * `server` says which server and where it came from, for the message.
 */
export function refuseFlagsFor(kind: ServerKind, server: string, command: string, flags: Flags, specs: readonly FlagSpec[]): void {
  for (const spec of flags.keys()) {
    if (spec.only === undefined || spec.only === kind) continue;
    const applies = specs.filter((s) => s.flag !== 'help' && (s.only === undefined || s.only === kind)).map((s) => `--${s.flag}`);
    const what = spec.only === 'pg' ? 'PostgreSQL' : 'MySQL/MariaDB';
    const counterpart = spec.counterpart !== undefined && specs.some((s) => s.flag === spec.counterpart) ? ` Did you mean --${spec.counterpart}?` : '';
    throw new UsageError(`poolguard ${command}: --${spec.flag} does not apply to ${server}: it is for ${what}. The flags that apply there: ${applies.join(', ')}.${counterpart}`);
  }
}

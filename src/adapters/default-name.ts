/**
 * The default `guard.name` of every adapter: `host:port/database`, read from the pool's connection
 * settings, and never the user or the password, whatever shape the settings take: an object, a
 * URL (`connectionString`, mysql2's `uri`, a Knex connection string), libpq's `key=value` pairs, or
 * an object a library filled from a URL it split at the wrong place.
 *
 * URLs are read as text, as the audit's redaction reads them, not with a URL parser: the URLs that
 * most need it are the ones a parser gets wrong. In `mysql://root:2024/Summer@db:3306/orders` a
 * parser (and mysql2, which uses one) takes `root` for the host, `2024` for the port and
 * `Summer@db:3306/orders` for the database. Here everything up to the last `@` is the user and
 * password, as a person reads it; the name is made of what follows.
 */

/** What the name says when the settings do not. */
export interface NameDefaults {
  /** Written before `host:port/database` (`knex:pg `). */
  readonly prefix?: string;
  /** The host when the settings name none. */
  readonly host: string;
  /** The port when the settings name none; `undefined`: no port in the name. */
  readonly port?: string | number;
  /** The database when the settings name none. */
  readonly database: string;
  /** The whole name when the settings name neither a host nor a database (Knex's SQLite). */
  readonly unnamed?: string;
}

interface Endpoint {
  host?: string;
  port?: string;
  database?: string;
}

/**
 * `host:port/database` (after `defaults.prefix`) from a pool's connection settings: an options
 * object (`host`, `port`, `database`, `socketPath`, and a URL in `connectionString` or `uri` for
 * what they leave out) or a connection string. Control characters become `?`, as in `guard.name`.
 */
export function defaultName(settings: unknown, defaults: NameDefaults): string {
  const found = endpointOf(settings);
  const prefix = defaults.prefix ?? '';
  if (found.host === undefined && found.database === undefined && defaults.unnamed !== undefined) return clean(defaults.unnamed);
  const port = found.port ?? (defaults.port === undefined ? undefined : String(defaults.port));
  return clean(`${prefix}${found.host ?? defaults.host}${port === undefined ? '' : `:${port}`}/${found.database ?? defaults.database}`);
}

function endpointOf(settings: unknown): Endpoint {
  if (typeof settings === 'string') return fromText(settings);
  if (settings === null || typeof settings !== 'object') return {};
  const o = settings as Record<string, unknown>;
  let found: Endpoint = {
    host: typeof o.socketPath === 'string' && o.socketPath !== '' ? 'socket' : text(o.host),
    port: portOf(o.port),
    database: text(o.database),
  };
  // A library that split a URL with a parser (mysql2 for its uri, Knex and Sequelize for a
  // connection string) fills these fields from the wrong pieces when the password holds a '/',
  // '?' or '#', taking the user for the host. An '@' in a field means the host, port and database
  // follow it: they are read again from there. A '?' made the rest a query parameter, whose name
  // holds the '@' (Knex and pg's parser keep the parameters as keys). A ':' left in the database
  // is the one between the user and the password (Node's legacy parser, Sequelize's, cuts the host
  // at the first character a host cannot have): what follows it is lost, nothing is used.
  const split = [found.host, found.database, ...keysOf(o), ...keysOf(o.dialectOptions)].find((f) => f?.includes('@'));
  if (split !== undefined) {
    const rest = split === found.database ? `${found.host ?? ''}${found.port === undefined ? '' : `:${found.port}`}/${split}` : split;
    found = fromAuthority(rest);
  } else if (found.database?.includes(':')) {
    found = {};
  }
  const url = typeof o.connectionString === 'string' ? o.connectionString : typeof o.uri === 'string' ? o.uri : undefined;
  if (url !== undefined) {
    const fromUrl = fromText(url);
    found.host ??= fromUrl.host;
    found.port ??= fromUrl.port;
    found.database ??= fromUrl.database;
  }
  return found;
}

/** A connection string in any of the forms drivers take; `{}` for anything else. */
function fromText(value: string): Endpoint {
  const s = value.trim();
  // pg's Unix socket forms: `socket:/run/postgresql?db=orders` and `/run/postgresql orders`.
  if (/^socket:/i.test(s)) return { host: 'socket', database: s.includes('?') ? paramOf(s.slice(s.indexOf('?') + 1).split('#')[0]!, ['db']) : undefined };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s);
  if (scheme !== null) return fromAuthority(s.slice(scheme[0].length));
  if (s.startsWith('/')) {
    const [host, database] = s.split(/\s+/);
    return { host, database: database || undefined };
  }
  if (/^[A-Za-z_]+\s*=/.test(s)) return fromKeywords(s);
  return {};
}

/**
 * What follows `scheme://`. The user and password end at the last '@', so that no '/', '?', '#'
 * or '@' in a password moves the host into them. A host or database that lands inside a query
 * parameter holding a user or a password (`?password=a@b`: the last '@' was the password's) is
 * left out.
 */
function fromAuthority(rest: string): Endpoint {
  const start = rest.lastIndexOf('@') + 1;
  const fragment = rest.indexOf('#', start);
  const tail = fragment === -1 ? rest.length : fragment;
  const query = rest.indexOf('?', start);
  const end = query === -1 || query > tail ? tail : query;
  const pathAt = rest.indexOf('/', start);
  const authorityEnd = pathAt === -1 || pathAt > end ? end : pathAt;
  const authority = rest.slice(start, authorityEnd);
  // A bracketed IPv6 address keeps its colons: the port follows the ']'.
  const colon = authority.lastIndexOf(':');
  const hasPort = colon > authority.lastIndexOf(']');
  const params = query === -1 || query > tail ? '' : rest.slice(query + 1, tail);
  const found: Endpoint = {
    host: decoded(hasPort ? authority.slice(0, colon) : authority) || paramOf(params, ['host']),
    port: portOf(hasPort ? authority.slice(colon + 1) : undefined) ?? portOf(paramOf(params, ['port'])),
    database: (pathAt === -1 || pathAt > end ? undefined : decoded(rest.slice(pathAt + 1, end))) || paramOf(params, ['db', 'dbname', 'database']),
  };
  if (start > 0 && insideSecret(rest, start)) return {};
  return found;
}

// A query parameter or keyword whose value is a user or a secret.
const SECRET_KEY = /(?:pass|pwd|user|uid|secret|token|auth|cred)/i;

/** Whether `at` falls inside the value of a query parameter that holds a user or a secret. */
function insideSecret(text: string, at: number): boolean {
  for (const m of text.matchAll(/[?&;]\s*([\w.-]+)=([^&#]*)/g)) {
    const valueStart = m.index + m[0].length - m[2]!.length;
    if (SECRET_KEY.test(m[1]!) && at > valueStart && at <= valueStart + m[2]!.length) return true;
  }
  return false;
}

/** libpq's `host=db port=5432 dbname=orders user=app password='…'`. */
function fromKeywords(s: string): Endpoint {
  const found: Endpoint = {};
  for (const [key, value] of keywords(s)) {
    const k = key.toLowerCase();
    if (k === 'host' || (k === 'hostaddr' && found.host === undefined)) found.host = value || undefined;
    else if (k === 'port') found.port = portOf(value);
    else if (k === 'dbname') found.database = value || undefined;
  }
  return found;
}

/** libpq's rules: values bare (backslash escapes) or in single quotes (`\'` and `\\`). */
function* keywords(s: string): Generator<[string, string]> {
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    const key = /^([A-Za-z_]+)\s*=\s*/.exec(s.slice(i));
    if (key === null) return;
    i += key[0].length;
    let value = '';
    const quoted = s[i] === "'";
    if (quoted) i++;
    while (i < s.length && (quoted ? s[i] !== "'" : !/\s/.test(s[i]!))) {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      value += s[i++];
    }
    if (quoted) i++;
    yield [key[1]!, value];
  }
}

function paramOf(params: string, keys: readonly string[]): string | undefined {
  for (const pair of params.split('&')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && keys.includes(pair.slice(0, eq).toLowerCase())) return decoded(pair.slice(eq + 1)) || undefined;
  }
  return undefined;
}

function keysOf(value: unknown): string[] {
  return value !== null && typeof value === 'object' ? Object.keys(value) : [];
}

function portOf(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? String(value) : undefined;
  return typeof value === 'string' && /^\d+$/.test(value) ? value : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function decoded(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function clean(name: string): string {
  // Names end up in log lines and metric attributes: control characters would forge lines.
  return name.replace(/[\u0000-\u001f\u007f]/g, '?');
}

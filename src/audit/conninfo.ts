/**
 * Reads a connection string before pg does, so that a string pg would misread fails with a message
 * that says what is wrong and how to fix it, and never with pg's `getaddrinfo ENOTFOUND base`
 * (pg reads anything that is not a URL as a path relative to `postgres://base`).
 *
 * Two forms are accepted: a URL (`postgres://` or `postgresql://`, read by pg's own rules) and
 * libpq's keyword/value form (`host=db port=5432 dbname=orders user=app password='a b'`), which
 * psql and every libpq tool accept and pg does not, converted here to pg's options.
 * Messages never repeat the string: it may hold a password.
 */

/** A connection string that cannot be used as it is; the message never contains it. */
export class ConnectionStringError extends Error {
  override name = 'ConnectionStringError';
}

export type ConnectionTarget =
  | { readonly kind: 'url'; readonly connectionString: string }
  | { readonly kind: 'keywords'; readonly config: Record<string, unknown> };

/** How to percent-encode a password, in a form that can be pasted into a shell. */
export const ENCODE_HINT =
  "Percent-encode the password (and any '@', ':' or '/' in the user name): " +
  "node -p 'encodeURIComponent(process.argv[1])' 'the-password' prints the form to put between 'user:' and '@'.";

const NOT_SHOWN = 'not shown here, as it may hold a password';

// The keywords pg can honour, and where each goes in pg's options.
const KEYWORDS: Readonly<Record<string, string>> = {
  host: 'host',
  hostaddr: 'host',
  port: 'port',
  dbname: 'database',
  user: 'user',
  password: 'password',
  connect_timeout: 'connectionTimeoutMillis',
  application_name: 'application_name',
  options: 'options',
  sslmode: 'ssl',
};

function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function parseUrl(text: string): ConnectionTarget {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)![1]!.toLowerCase();
  if (scheme !== 'postgres' && scheme !== 'postgresql') {
    throw new ConnectionStringError(`is a ${scheme}:// URL; PostgreSQL's are postgres:// or postgresql://.`);
  }
  // pg's own preparation (pg-connection-string): spaces and stray `%` are encoded first.
  let prepared = text;
  if (/ |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(prepared)) prepared = encodeURI(prepared).replace(/%25(\d\d)/g, '%$1');
  let url: URL;
  try {
    url = new URL(prepared);
  } catch {
    try {
      url = new URL(prepared.replace('@/', '@___DUMMY___/'));
    } catch {
      throw new ConnectionStringError(
        `is not a URL that pg can parse (postgres://user:password@host:port/database; ${NOT_SHOWN}). ` +
          `A password with '/', '?', '#', '@', '%' or ':' in it breaks the URL unless percent-encoded. ${ENCODE_HINT}`,
      );
    }
  }
  // A person, and poolguard's redaction, read the password up to the last '@'; pg stops at the
  // first '/', '?' or '#'. When the two disagree pg would dial the wrong host or database.
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/[^:/]*:/i.exec(prepared);
  const at = prepared.lastIndexOf('@');
  const textual = userinfo !== null && at > userinfo[0].length ? prepared.slice(userinfo[0].length, at) : '';
  if ((decode(textual) ?? textual) !== (decode(url.password) ?? url.password)) {
    throw new ConnectionStringError(
      `is ambiguous: its password, read up to the last '@', is not what pg reads (pg stops at the first '/', '?' or '#'), ` +
        `so pg would connect to another host or database (${NOT_SHOWN}). ${ENCODE_HINT} An '@' elsewhere (in a parameter) is written %40.`,
    );
  }
  return { kind: 'url', connectionString: text };
}

/** libpq's rules: `keyword = value`, values bare (backslash escapes) or in single quotes (\' and \\). */
function parseKeywords(text: string): ConnectionTarget {
  const config: Record<string, unknown> = {};
  let i = 0;
  const space = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  space();
  while (i < text.length) {
    const key = /^[A-Za-z_]+/.exec(text.slice(i))?.[0];
    if (key === undefined) throw new ConnectionStringError(`is not libpq keyword/value pairs: a keyword must be a name (${NOT_SHOWN}).`);
    i += key.length;
    space();
    if (text[i] !== '=') throw new ConnectionStringError(`has keyword ${JSON.stringify(key)} without "=" after it (libpq form: host=db dbname=orders …).`);
    i++;
    space();
    let value = '';
    if (text[i] === "'") {
      i++;
      for (;;) {
        if (i >= text.length) throw new ConnectionStringError(`has an unterminated quoted value for ${JSON.stringify(key)} (${NOT_SHOWN}).`);
        const c = text[i++]!;
        if (c === "'") break;
        value += c === '\\' && i < text.length ? text[i++]! : c;
      }
    } else {
      while (i < text.length && !/\s/.test(text[i]!)) {
        const c = text[i++]!;
        value += c === '\\' && i < text.length ? text[i++]! : c;
      }
    }
    space();
    const lower = key.toLowerCase();
    const option = KEYWORDS[lower];
    if (option === undefined) {
      throw new ConnectionStringError(`has keyword ${JSON.stringify(key)}, which poolguard cannot pass to pg; it takes ${Object.keys(KEYWORDS).join(', ')}.`);
    }
    if (lower === 'password') {
      // Kept out of enumeration, as pg-pool keeps it, so that no log of the options shows it.
      Object.defineProperty(config, 'password', { value, enumerable: false, writable: true, configurable: true });
    } else if ((lower === 'host' || lower === 'hostaddr' || lower === 'port') && value.includes(',')) {
      throw new ConnectionStringError(`lists several hosts or ports in ${key}; pg connects to one. Give one ${key}.`);
    } else if (lower === 'port' || lower === 'connect_timeout') {
      if (!/^\d+$/.test(value)) throw new ConnectionStringError(`has a ${key} that is not a whole number (${NOT_SHOWN}).`);
      config[option] = lower === 'port' ? Number(value) : Number(value) * 1000;
    } else if (lower === 'sslmode') {
      const modes: Record<string, unknown> = { disable: false, allow: false, prefer: false, require: { rejectUnauthorized: false }, 'verify-ca': true, 'verify-full': true };
      if (!Object.hasOwn(modes, value)) throw new ConnectionStringError(`has an sslmode that is none of libpq's: ${Object.keys(modes).join(', ')}.`);
      config.ssl = modes[value];
    } else {
      config[option] = value;
    }
  }
  return { kind: 'keywords', config };
}

/**
 * Reads a connection string as pg will, or refuses it with a {@link ConnectionStringError} whose
 * message starts with a verb ("is not …") to follow the string's name (`--url`, `$DATABASE_URL`).
 */
export function parseConnectionString(text: string): ConnectionTarget {
  const trimmed = text.trim();
  // pg's Unix-socket form: a directory, optionally followed by a database name.
  if (trimmed.startsWith('/')) return { kind: 'url', connectionString: text };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) return parseUrl(trimmed);
  if (/^[A-Za-z_]+\s*=/.test(trimmed)) return parseKeywords(trimmed);
  throw new ConnectionStringError(
    `is neither a postgres:// URL nor libpq keyword/value pairs (host=db port=5432 dbname=orders user=app password=…); ${NOT_SHOWN}.`,
  );
}

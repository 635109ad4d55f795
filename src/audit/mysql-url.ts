import { ConnectionStringError, ENCODE_HINT } from './conninfo.js';

/** `mysql://` and `mariadb://` URLs go to the MySQL/MariaDB audit and status (loaded only then). */
export const MYSQL_URL = /^(mysql|mariadb):\/\//i;

/** The MySQL/MariaDB audit's rule ids, for `--help` without loading the audit. */
export const MYSQL_RULE_IDS = 'acquire-timeout-infinite, server-unreachable, max-exceeds-server, max-exceeds-user-limit, wait-timeout-below-idle';

function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * Refuses a `mysql://` URL that mysql2 would misread, before mysql2 reads it. mysql2 parses with
 * WHATWG `new URL()` and `decodeURIComponent()`: a password with an unencoded `/`, `?` or `#` ends
 * the host part early ("Invalid URL", or another host and database), and a stray `%` throws
 * "URI malformed". The message never repeats the string, which may hold a password.
 */
export function checkMysqlUrl(text: string): void {
  const notParsed = new ConnectionStringError(
    "is not a URL that mysql2 can parse (mysql://user:password@host:port/database; not shown here, as it may hold a password). " +
      `A password with '/', '?', '#', '@', '%' or ':' in it breaks the URL unless percent-encoded. ${ENCODE_HINT}`,
  );
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw notParsed;
  }
  if (decode(url.username) === undefined || decode(url.password) === undefined || decode(url.pathname) === undefined || decode(url.hostname) === undefined) throw notParsed;
  // A person, and poolguard's redaction, read the password up to the last '@'; the URL parser stops
  // at the first '/', '?' or '#'. When the two disagree mysql2 would dial another host or database.
  const trimmed = text.trim();
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/[^:/]*:/i.exec(trimmed);
  const at = trimmed.lastIndexOf('@');
  const textual = userinfo !== null && at > userinfo[0].length ? trimmed.slice(userinfo[0].length, at) : '';
  if ((decode(textual) ?? textual) !== decode(url.password)) {
    throw new ConnectionStringError(
      `is ambiguous: its password, read up to the last '@', is not what mysql2 reads (it stops at the first '/', '?' or '#'), ` +
        `so mysql2 would connect to another host or database (not shown here, as it may hold a password). ${ENCODE_HINT} An '@' elsewhere (in a parameter) is written %40.`,
    );
  }
}

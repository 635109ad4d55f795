/**
 * A connection string fit to print: the password becomes `***`; query parameters that can carry
 * secrets (`password`, `sslkey`, `sslpassword`) too. Not a URL: only the scheme is kept, since a
 * key/value DSN (`host=… password=…`) may hide the password anywhere.
 */
export function redactUrl(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password !== '') url.password = '***';
    for (const key of [...url.searchParams.keys()]) {
      if (/pass|secret|key|token/i.test(key)) url.searchParams.set(key, '***');
    }
    // URL encodes the asterisks in the query; the reader wants to see them.
    return url.toString().replace(/%2A%2A%2A/g, '***');
  } catch {
    return connectionString.replace(/password\s*=\s*\S+/gi, 'password=***').replace(/\/\/([^:@/\s]*):[^@/\s]*@/g, '//$1:***@');
  }
}

/**
 * Removes secrets from free text (an error message from the driver, a query from
 * `pg_stat_activity`): each known secret, `user:password@` in any URL, and `PASSWORD '…'`.
 */
export function redactText(text: string, secrets: ReadonlyArray<string | undefined> = []): string {
  // `password=…` (a DSN) and `PASSWORD '…'` (SQL), but not prose such as pg's "password
  // authentication failed"; values stop at quotes and separators so that JSON stays JSON.
  let out = text
    .replace(/\/\/([^:@/\s]*):[^@/\s]*@/g, '//$1:***@')
    .replace(/(password\s*[=:]\s*)[^\s"',;&]+/gi, '$1***')
    .replace(/(password\s+)'(?:[^']|'')*'/gi, "$1'***'");
  for (const secret of secrets) {
    if (secret === undefined || secret.length < 3) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('***');
  }
  return out;
}

/** The password a connection string carries, decoded, so that it can be scrubbed from text. */
export function passwordOf(connectionString: string | undefined): string | undefined {
  if (connectionString === undefined) return undefined;
  try {
    const url = new URL(connectionString);
    const fromQuery = url.searchParams.get('password') ?? undefined;
    return url.password !== '' ? decodeURIComponent(url.password) : fromQuery;
  } catch {
    return /password\s*=\s*(\S+)/i.exec(connectionString)?.[1];
  }
}

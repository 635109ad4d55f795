/**
 * The one redaction module for everything the audit and the CLI print: text, JSON, errors. It reads
 * text as text and never parses a URL, because the strings that most need masking are the ones a
 * URL parser gets wrong (a password with an unencoded `/`, `@` or `#`).
 */

const MASK = '***';

// `scheme://user:` — the user part may hold `@` (user@server on some hosted services), never `:` or `/`.
// The lookbehind starts a scheme only where a word starts, which keeps long text linear.
const URL_USERINFO = /(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/)([^:/\s'"`<>]*):/gi;
// Where a URL ends in running text.
const TOKEN_END = /[\s'"`<>]/;

/**
 * The password of `scheme://user:password@host` in running text: everything between `user:` and
 * the last `@` of the URL's token, or, when the token holds none (a password with a space or a
 * quote), up to the first `@` further on the line. -1 when there is no `@`: `user:` was a host and
 * port. The scans are remembered across the matches of one text, so that text made of many
 * `scheme://` fragments stays linear.
 */
function passwordFinder(text: string, wholeString: boolean): (start: number) => number {
  if (wholeString) {
    const last = text.lastIndexOf('@');
    return () => last;
  }
  let tokenEnd = -1;
  let lastAt = -1;
  let lastSlash = -1;
  let nextAt = -2;
  return (start) => {
    if (start >= tokenEnd) {
      // A new token: scan it once.
      tokenEnd = start;
      lastAt = lastSlash = -1;
      while (tokenEnd < text.length && !TOKEN_END.test(text[tokenEnd]!)) {
        if (text[tokenEnd] === '@') lastAt = tokenEnd;
        else if (text[tokenEnd] === '/') lastSlash = tokenEnd;
        tokenEnd++;
      }
    }
    if (lastAt >= start) return lastAt;
    // The authority ended (a `/` came first): `host:port/path`, no password.
    if (lastSlash >= start) return -1;
    if (nextAt !== -1 && nextAt < start) nextAt = text.indexOf('@', start);
    if (nextAt < 0) return -1;
    const lineEnd = text.indexOf('\n', start);
    return lineEnd >= 0 && lineEnd < nextAt ? -1 : nextAt;
  };
}

function maskUserinfo(text: string, wholeString: boolean): string {
  const passwordEnd = passwordFinder(text, wholeString);
  let out = '';
  let from = 0;
  URL_USERINFO.lastIndex = 0;
  for (let m = URL_USERINFO.exec(text); m !== null; m = URL_USERINFO.exec(text)) {
    const start = m.index + m[0].length;
    const end = passwordEnd(start);
    if (end < start) continue;
    out += text.slice(from, start) + MASK;
    from = end;
    URL_USERINFO.lastIndex = end;
  }
  return out + text.slice(from);
}

// A name that holds a password: password, passwd, pwd, with any prefix (PGPASSWORD, app.db_password,
// sslpassword), optionally quoted as a JSON key or SQL identifier.
// A key starts where a word does: the lookbehind keeps a long run of letters linear, not quadratic.
const KEY = String.raw`(["'\x60]?)((?<![\w.-])[\w.-]*?(?:password|passwd|pwd))\1`;
// A value in every form SQL, libpq, JSON and shells write one. An unterminated literal (a query
// text cut at 200 characters) is masked to the end.
const LITERAL = [
  String.raw`[Ee]'(?:\\[\s\S]|''|[^'\\])*(?:'|$)`, // E'…' with backslash escapes
  String.raw`[Uu]&'(?:''|[^'])*(?:'|$)`, // U&'…'
  String.raw`'(?:\\[\s\S]|''|[^'\\])*(?:'|$)`, // '…', with '' or \' inside
  String.raw`"(?:\\[\s\S]|""|[^"\\])*(?:"|$)`, // "…" (JSON, shells)
  String.raw`\$(?<tag>[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$[\s\S]*?(?:\$\k<tag>\$|$)`, // $$…$$, $tag$…$tag$
].join('|');
const UNQUOTED = String.raw`(?:\\[\s\S]|[^\s'"\x60&<>])+`;
// key = value, key: value, key := value, key => value, SET key TO value, set_config('key', value.
// A number that ends where JSON's would (so that `{"password": 4711}` keeps its brace).
const NUMBER = String.raw`-?\d+(?:\.\d+)?(?=[\s,}\]]|$)`;
const ASSIGNED = new RegExp(String.raw`${KEY}(\s*(?:=>|:=|=|:|,)\s*|\s+TO\s+)(${LITERAL}|${NUMBER}|${UNQUOTED})`, 'gi');
// SQL's PASSWORD 'literal' (CREATE/ALTER ROLE … [ENCRYPTED] PASSWORD …), with no operator between.
const SQL_PASSWORD = new RegExp(String.raw`\bpassword\s+(${LITERAL})`, 'gi');

function maskValue(value: string): string {
  const quoted = /^([Ee]'|[Uu]&'|'|"|\$[^$]*\$)/.exec(value);
  if (quoted === null) return MASK;
  const open = quoted[1]!;
  const close = open.startsWith('$') ? open : open.slice(-1);
  return `${open}${MASK}${close}`;
}

function maskAssignments(text: string): string {
  return text
    .replace(ASSIGNED, (whole: string, _quote: string, _key: string, sep: string, value: string) => {
      // `set_config('x', …` is the one form where a comma assigns; elsewhere it is a list.
      if (sep.trim() === ',' && !/^['"]/.test(whole)) return whole;
      return whole.slice(0, whole.length - value.length) + maskValue(value);
    })
    .replace(SQL_PASSWORD, (whole: string, value: string) => whole.slice(0, whole.length - value.length) + maskValue(value));
}

// MySQL's and MariaDB's own words, "Access denied for user 'app'@'host' (using password: YES)": they
// say whether a password was sent, not what it was, and must reach the reader whole.
const MYSQL_USING_PASSWORD = /(\(using password: (?:YES|NO)\))/;

/** The forms in which a known secret can appear in printed text. */
function secretForms(secret: string): string[] {
  const forms = new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1), secret.replace(/'/g, "''")]);
  try {
    forms.add(encodeURI(secret));
  } catch {
    // lone surrogates: the other forms stand
  }
  // Longest first, so that a form containing another is replaced whole.
  return [...forms].sort((a, b) => b.length - a.length);
}

/**
 * Removes secrets from free text (an error message from the driver, a query from
 * `pg_stat_activity`, a line of output): each known secret in its raw, percent-encoded,
 * JSON-escaped and SQL-quoted forms; the password of any `scheme://user:password@host`; libpq's
 * `password=…` (quoted or not); `"password": "…"`; and every SQL password literal
 * (`PASSWORD '…'`, `E'…'`, `$$…$$`, `$tag$…$tag$`, `password = '…'`, `SET … password TO …`).
 * Prose such as pg's "password authentication failed" and MySQL's "(using password: YES)" stays readable.
 */
export function redactText(text: string, secrets: ReadonlyArray<string | undefined> = []): string {
  let out = text;
  // Known secrets first: a password with a space or a quote is masked before the patterns split it.
  for (const secret of secrets) {
    if (secret === undefined || secret.length < 3) continue;
    for (const form of secretForms(secret)) out = out.split(form).join(MASK);
  }
  // The split keeps MySQL's phrase at the odd indices, untouched; everything around it is masked.
  return out
    .split(MYSQL_USING_PASSWORD)
    .map((part, i) => (i % 2 === 1 ? part : maskAssignments(maskUserinfo(part, false))))
    .join('');
}

/**
 * A connection string fit to print, whatever its form: a URL (everything between `scheme://user:`
 * and the string's last `@` is the password, whether or not a URL parser would agree), libpq's
 * `key=value` form, or something else; `password` parameters and values are masked too.
 */
export function redactConnectionString(connectionString: string, secrets: ReadonlyArray<string | undefined> = []): string {
  return redactText(maskUserinfo(connectionString, true), secrets);
}

/**
 * A copy of a JSON-serialisable value with every string redacted one by one, so that masking can
 * never break the JSON around it.
 */
export function redactDeep<T>(value: T, secrets: ReadonlyArray<string | undefined> = []): T {
  if (typeof value === 'string') return redactText(value, secrets) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, secrets)) as T;
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, secrets);
    return out as T;
  }
  return value;
}

/** Each line redacted on its own: an unterminated literal in one line cannot mask the next. */
export function redactLines(text: string, secrets: ReadonlyArray<string | undefined> = []): string {
  return text
    .split('\n')
    .map((line) => redactText(line, secrets))
    .join('\n');
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The passwords a connection string carries, read as text (see {@link redactConnectionString}), in
 * the forms it was written and decoded, so that they can be scrubbed from anything printed.
 */
export function passwordsOf(connectionString: string | undefined): string[] {
  if (connectionString === undefined) return [];
  const found: string[] = [];
  const userinfo = /^\s*[a-z][a-z0-9+.-]*:\/\/[^:/]*:/i.exec(connectionString);
  if (userinfo !== null) {
    const at = connectionString.lastIndexOf('@');
    if (at > userinfo[0].length) found.push(connectionString.slice(userinfo[0].length, at));
  }
  // libpq's values: quoted ('…' with \' and \\) or bare (backslash escapes), as written and unescaped.
  for (const m of connectionString.matchAll(/(?:^|[\s?&])password\s*=\s*('(?:\\.|[^'\\])*'?|(?:\\.|[^\s&\\])*)/gi)) {
    const raw = m[1]!;
    found.push(raw, raw.replace(/^'|'$/g, '').replace(/\\(.)/g, '$1'));
  }
  return [...new Set(found.flatMap((p) => [p, decoded(p)]))].filter((p) => p !== '');
}

import { describe, expect, it } from 'vitest';
import { ConnectionStringError, parseConnectionString } from '../../src/audit/conninfo.js';
import { passwordsOf, redactConnectionString, redactDeep, redactLines, redactText } from '../../src/audit/redact.js';

// Every secret below is made of the pieces Kq7, Vx9 and Zw4: none may survive redaction.
const PIECES = /Kq7|Vx9|Zw4/;

describe('redaction of what the audit and the CLI print', () => {
  it.each([
    ['a URL password', 'dial postgres://app:Kq7Vx9@db/x failed', 'dial postgres://app:***@db/x failed'],
    ['a URL password with an unencoded @, : and /', 'dial postgres://app:Kq7@Vx9:Zw4/x@db/x failed', 'dial postgres://app:***@db/x failed'],
    ['a URL password with a space', 'dial postgres://app:Kq7 Vx9@db/x failed', 'dial postgres://app:***@db/x failed'],
    ['a URL password with a quote, in SQL', "SELECT 'postgres://app:Kq7''Vx9@db/x'", "SELECT 'postgres://app:***@db/x'"],
    ['a URL with no user name', 'postgres://:Kq7Vx9@db/x', 'postgres://:***@db/x'],
    ['a user name with an @', 'postgres://app@srv:Kq7Vx9@db/x', 'postgres://app@srv:***@db/x'],
    ['a password query parameter', 'postgres://db/x?sslmode=require&password=Kq7Vx9&x=1', 'postgres://db/x?sslmode=require&password=***&x=1'],
    ['libpq password=, bare', 'host=db password=Kq7Vx9 dbname=x', 'host=db password=*** dbname=x'],
    ['libpq password=, quoted with \\\' inside', "host=db password='Kq7 \\' Vx9' dbname=x", "host=db password='***' dbname=x"],
    ['libpq password = with spaces around', 'host=db password = Kq7Vx9 dbname=x', 'host=db password = *** dbname=x'],
    ['libpq bare value with an escaped space', 'host=db password=Kq7\\ Vx9 dbname=x', 'host=db password=*** dbname=x'],
    ["SQL PASSWORD '…' with ''", "ALTER ROLE app PASSWORD 'Kq7''s Vx9'", "ALTER ROLE app PASSWORD '***'"],
    ["SQL ENCRYPTED PASSWORD '…'", "CREATE ROLE app LOGIN ENCRYPTED PASSWORD 'Kq7Vx9' VALID UNTIL 'infinity'", "CREATE ROLE app LOGIN ENCRYPTED PASSWORD '***' VALID UNTIL 'infinity'"],
    ["SQL PASSWORD E'…' with \\'", "ALTER ROLE app PASSWORD E'Kq7\\'Vx9'", "ALTER ROLE app PASSWORD E'***'"],
    ["SQL PASSWORD U&'…'", "ALTER ROLE app PASSWORD U&'Kq7\\0041Vx9'", "ALTER ROLE app PASSWORD U&'***'"],
    ['SQL PASSWORD $$…$$', 'ALTER ROLE app PASSWORD $$Kq7 Vx9$$ LOGIN', 'ALTER ROLE app PASSWORD $$***$$ LOGIN'],
    ['SQL PASSWORD $tag$…$tag$ holding $$', 'ALTER ROLE app PASSWORD $pw$Kq7$$Vx9$pw$', 'ALTER ROLE app PASSWORD $pw$***$pw$'],
    ['SQL lower-case password with a newline in it', "alter role app password 'Kq7\nVx9'", "alter role app password '***'"],
    ["SQL password = '…'", "UPDATE users SET password = 'Kq7Vx9' WHERE id = 1", "UPDATE users SET password = '***' WHERE id = 1"],
    ['SQL "password" = …', `UPDATE users SET "password"='Kq7Vx9'`, `UPDATE users SET "password"='***'`],
    ['SQL SET … password TO', "SET app.db_password TO 'Kq7Vx9'", "SET app.db_password TO '***'"],
    ['SQL SET … password =', 'SET SESSION app.password = Kq7Vx9', 'SET SESSION app.password = ***'],
    ["SQL set_config('…password', …)", "SELECT set_config('app.password', 'Kq7Vx9', false)", "SELECT set_config('app.password', '***', false)"],
    ['a literal cut at 200 characters', "ALTER ROLE app PASSWORD 'Kq7Vx9", "ALTER ROLE app PASSWORD '***'"],
    ['a dollar literal cut short', 'ALTER ROLE app PASSWORD $q$Kq7Vx9', 'ALTER ROLE app PASSWORD $q$***$q$'],
    ['JSON "password": "…" with an escaped quote', '{"user":"app","password":"Kq7\\"Vx9","db":"x"}', '{"user":"app","password":"***","db":"x"}'],
    ['JSON password as a number', '{"password": 4711}', '{"password": ***}'],
    ['a JS object printed', "{ user: 'app', password: 'Kq7Vx9' }", "{ user: 'app', password: '***' }"],
    ['PGPASSWORD=', 'env PGPASSWORD=Kq7Vx9 psql', 'env PGPASSWORD=*** psql'],
    ['sslpassword in a URL', 'postgres://db/x?sslpassword=Kq7Vx9', 'postgres://db/x?sslpassword=***'],
  ])('%s', (_name, input, expected) => {
    expect(redactText(input)).toBe(expected);
    expect(redactText(input)).not.toMatch(PIECES);
  });

  it.each([
    ['pg\'s "password authentication failed"', 'password authentication failed for user "app"'],
    ['a URL with a port and no password', 'connect postgres://db:5432/x failed'],
    ['password_encryption', "SET password_encryption = 'scram-sha-256'"],
    ['a column named password', 'SELECT 1 AS password, password IS NULL FROM users'],
    ['PASSWORD NULL', 'ALTER ROLE app PASSWORD NULL'],
  ])('leaves prose and non-secrets alone: %s', (_name, input) => {
    expect(redactText(input)).toBe(input);
  });

  it('masks a known secret in every form it can be printed in', () => {
    const secret = "Kq7 ' \"Vx9/@";
    for (const form of [secret, encodeURIComponent(secret), JSON.stringify(secret), secret.replace(/'/g, "''")]) {
      expect(redactText(`got ${form} back`, [secret])).not.toMatch(PIECES);
    }
  });

  it('masks the password of a whole connection string up to its last @, with no URL parsing', () => {
    expect(redactConnectionString('postgres://postgres:Kq7/Vx9@127.0.0.1:5432/postgres')).toBe('postgres://postgres:***@127.0.0.1:5432/postgres');
    expect(redactConnectionString('postgres://postgres:Kq7@ss:w/Vx9@127.0.0.1:5432/postgres')).toBe('postgres://postgres:***@127.0.0.1:5432/postgres');
    expect(redactConnectionString('postgres://u:Kq7 Vx9 @h/db')).toBe('postgres://u:***@h/db');
    expect(redactConnectionString("host=db password='Kq7 Vx9' user=app")).toBe("host=db password='***' user=app");
    expect(redactConnectionString('postgres://db:5432/x')).toBe('postgres://db:5432/x');
  });

  it('keeps JSON valid: strings are redacted one by one', () => {
    const value = { query: "ALTER ROLE app PASSWORD 'Kq7", next: 'kept', list: ['postgres://a:Vx9@h/x'], n: 1, none: null };
    const out = redactDeep(value);
    expect(out).toEqual({ query: "ALTER ROLE app PASSWORD '***'", next: 'kept', list: ['postgres://a:***@h/x'], n: 1, none: null });
    expect(redactLines("PASSWORD 'Kq7\nnext line")).toBe("PASSWORD '***'\nnext line");
  });

  // Quadratic scans took about 13 s on 100 kB of these; linear ones take milliseconds. The bound
  // is the test's timeout, far from both.
  it.each([
    ['scheme fragments', 'a://'.repeat(25_000)],
    ['user fragments', 'a://u:'.repeat(16_000)],
    ['one long word', 'a'.repeat(100_000)],
  ])('stays linear on 100 kB of %s', (_name, text) => {
    expect(redactText(text)).toBe(text);
  }, 5_000);

  it('finds the passwords a connection string carries, as written and decoded', () => {
    expect(passwordsOf('postgres://app:Kq7%40Vx9@db/orders')).toEqual(['Kq7%40Vx9', 'Kq7@Vx9']);
    expect(passwordsOf('postgres://app:Kq7/Vx9@db/orders')).toEqual(['Kq7/Vx9']);
    expect(passwordsOf("host=db password='Kq7 \\'Vx9'")).toEqual(["'Kq7 \\'Vx9'", "Kq7 'Vx9"]);
    expect(passwordsOf('postgres://db/x?password=Kq7')).toEqual(['Kq7']);
    expect(passwordsOf('postgres://db:5432/x')).toEqual([]);
  });
});

describe('connection strings are read as pg reads them, or refused without being repeated', () => {
  it.each([
    ['postgres://app:Kq7%2FVx9@db:5432/orders'],
    ['postgresql://app:Kq7@Vx9@db/orders'],
    ['postgres://app:Kq7 Vx9@db/orders'],
    ['postgres://app:Kq7:Vx9@db/orders'],
    ['postgres://app:50%off@db/orders'],
    ['postgres://app:pw@/orders'],
    ['/var/run/postgresql orders'],
  ])('accepts the URL %s', (text) => {
    expect(parseConnectionString(text)).toEqual({ kind: 'url', connectionString: text });
  });

  it('converts libpq keyword/value pairs to pg options, the password not enumerable', () => {
    const target = parseConnectionString("host=db port=6432 dbname=orders user=app password='Kq7 \\'Vx9' application_name=svc connect_timeout=3 sslmode=require");
    expect(target.kind).toBe('keywords');
    const config = (target as { config: Record<string, unknown> }).config;
    expect(config).toEqual({ host: 'db', port: 6432, database: 'orders', user: 'app', application_name: 'svc', connectionTimeoutMillis: 3000, ssl: { rejectUnauthorized: false } });
    expect(config.password).toBe("Kq7 'Vx9");
    expect(JSON.stringify(config)).not.toMatch(PIECES);
  });

  it.each([
    ['an unencoded / in the password', 'postgres://app:Kq7/Vx9@db/orders', /is not a URL that pg can parse .*encodeURIComponent/],
    ['an unencoded # in the password', 'postgres://app:Kq7#Vx9@db/orders', /is not a URL that pg can parse/],
    ['an unencoded ? in the password', 'postgres://app:Kq7?Vx9@db/orders', /is not a URL that pg can parse/],
    ['a password that pg reads as a port', 'postgres://app:12/Kq7@db/orders', /is ambiguous: .*encodeURIComponent/],
    ['another scheme', 'mysql://app:Kq7@db/orders', /is a mysql:\/\/ URL/],
    ['garbage', 'Kq7:Vx9@db', /is neither a postgres:\/\/ URL nor libpq keyword\/value pairs/],
    ['an unknown keyword', 'host=db password=Kq7 sslkey=Vx9', /has keyword "sslkey", which poolguard cannot pass to pg/],
    ['an unterminated quote', "host=db password='Kq7 Vx9", /has an unterminated quoted value for "password"/],
    ['two hosts', 'host=a,b password=Kq7', /lists several hosts/],
    ['a port that is no number', 'host=a port=Kq7', /has a port that is not a whole number/],
  ])('refuses %s, without repeating it', (_name, text, message) => {
    let error: unknown;
    try {
      parseConnectionString(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConnectionStringError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toMatch(PIECES);
  });
});

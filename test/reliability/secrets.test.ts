import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit } from '../../src/index.js';
import { guard, type CheckoutTimeoutError } from '../../src/pg.js';
import pg from 'pg';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithPromise } from '../fixtures/leaky.mjs';
import { DATABASE_URL, until, urlWithPassword } from '../helpers/db.js';
import { otelHarness } from '../helpers/otel.js';
import { forceEnd, guardedPool, warm } from '../helpers/pools.js';
import { root } from '../helpers/build.js';
import { SOUND } from '../audit/helpers.js';

/**
 * A password given any of the three ways pg accepts one must never appear in anything poolguard
 * produces. Trust authentication accepts any password, so each configuration really connects.
 */
const SECRETS = { url: 'url-S3cr3t-Zq9', option: 'option-S3cr3t-Xw4', env: 'env-S3cr3t-Pk7' };
let otel: ReturnType<typeof otelHarness>;
const captured: string[] = [];
const originalWrite = process.stderr.write.bind(process.stderr);

beforeAll(() => {
  otel = otelHarness();
  process.env.PGPASSWORD = SECRETS.env;
  process.stderr.write = ((chunk: string) => (captured.push(String(chunk)), true)) as typeof process.stderr.write;
});
afterAll(async () => {
  process.stderr.write = originalWrite;
  delete process.env.PGPASSWORD;
  await otel.shutdown();
});

async function exercise(pool: pg.Pool & { guard: any }): Promise<void> {
  const reports: unknown[] = [];
  for (const e of ['leak', 'leakResolved', 'reclaim', 'dirtyRelease', 'retire', 'unhandledError']) pool.guard.on(e, (r: unknown) => reports.push(r));
  // The pool's one connection opened first: 300 ms times the wait behind the leak, not a cold
  // connect; the reclaim (2 s) comes after that wait has timed out, even on a loaded machine.
  await warm(pool, 1);
  const leaked = await otel.tracer.startActiveSpan('request', async (span) => {
    const c = await leakWithPromise(pool);
    span.end();
    return c;
  });
  await until(() => reports.length > 0, 'a leak report');
  const timeout = (await pool.connect().catch((e: unknown) => e)) as CheckoutTimeoutError;
  expect(timeout.message).toMatch(/^timeout exceeded when trying to connect/);
  await until(() => reports.some((r) => (r as { type?: string }).type === 'reclaim'), 'a reclaim');
  const reclaimErr = await leaked.query('SELECT 1').catch((e: Error) => e);
  const dirty = await pool.connect();
  await dirty.query('BEGIN');
  dirty.release();
  let doubleErr: unknown;
  try {
    dirty.release();
  } catch (e) {
    doubleErr = e;
  }
  const result = await audit(pool);
  captured.push(
    JSON.stringify(reports, (_k, v) => (v instanceof Error ? { message: v.message, stack: v.stack } : v)),
    JSON.stringify(pool.guard.snapshot()),
    timeout.message,
    String(timeout.stack),
    JSON.stringify(timeout.holders),
    (reclaimErr as Error).message,
    String((reclaimErr as Error).stack),
    (doubleErr as Error).message,
    JSON.stringify(result),
    pool.guard.name,
  );
}

describe('secrets stay secret', () => {
  it.each([
    ['a password in connectionString', () => ({ connectionString: urlWithPassword(SECRETS.url) })],
    ['the password option', () => ({ connectionString: DATABASE_URL, password: SECRETS.option })],
    ['PGPASSWORD', () => ({ connectionString: DATABASE_URL })],
  ])('%s: absent from reports, snapshots, errors, logs, telemetry and the audit', async (_label, options) => {
    const pool = guardedPool({
      ...options(),
      max: 1,
      connectionTimeoutMillis: 300,
      guard: { name: undefined as never, logger: undefined, leakThresholdMs: 30, idleAfterMs: 10, reclaimAfterMs: 2_000, meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider },
    });
    await exercise(pool as never);
  });

  it('guard() on a pool with a password in its options', async () => {
    const pool = new pg.Pool({ connectionString: urlWithPassword(SECRETS.url), max: 1, connectionTimeoutMillis: 300 });
    try {
      guard(pool, { leakThresholdMs: 30, idleAfterMs: 10, reclaimAfterMs: 2_000, meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider });
      await exercise(pool as never);
    } finally {
      await forceEnd(pool);
    }
  });

  afterAll(async () => {
    const metrics = await otel.metrics();
    const spans = otel.exporter.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, links: s.links }));
    const everything = [...captured, JSON.stringify(metrics), JSON.stringify(spans)].join('\n');
    expect(everything).toContain('possible connection leak');
    expect(everything).toContain('timeout exceeded when trying to connect');
    expect(spans.length).toBeGreaterThan(0);
    for (const secret of Object.values(SECRETS)) {
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain(encodeURIComponent(secret));
    }
  });
});

/**
 * The CLI, run as users run it (the built `poolguard` in a child process, against the real server),
 * given passwords in every hostile form: none of the pieces Kq7, Vx9, Zw4, Hm2 that the secrets are
 * made of may appear in anything it prints, on any path (text, --json, errors, exit 1 and 2).
 */
describe('the CLI never prints a password, in any output', () => {
  const PIECES = /Kq7|Vx9|Zw4|Hm2/;
  const server = new URL(DATABASE_URL);
  const host = server.hostname;
  const port = server.port || '5432';
  const url = (password: string, rest = '/test') => `postgres://postgres:${password}@${host}:${port}${rest}`;
  const kv = (password: string) => `host=${host} port=${port} dbname=test user=postgres password=${password}`;
  const unreachable = (text: string) => text.replace(`:${port}/`, ':1/').replace(`port=${port}`, 'port=1');
  const printed: string[] = [];
  let dir: string;

  interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
  }
  function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [join(root, 'dist/esm/cli.js'), ...args], { cwd: dir, env: { PATH: process.env.PATH, ...env } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        printed.push(stdout, stderr);
        resolve({ code, stdout, stderr });
      });
    });
  }
  const clean = (run: Run) => {
    expect(run.stdout + run.stderr).not.toMatch(PIECES);
    return run;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'poolguard-cli16-'));
    writeFileSync(join(dir, 'sound.json'), JSON.stringify(SOUND));
  });

  /** How the connection string reaches the CLI: --url, $DATABASE_URL, or a config file. */
  type Via = 'flag' | 'env' | 'config';
  function given(connectionString: string, via: Via, name: string): { args: string[]; env: Record<string, string> } {
    if (via === 'flag') return { args: ['--config', 'sound.json', '--url', connectionString], env: {} };
    if (via === 'env') return { args: ['--config', 'sound.json'], env: { DATABASE_URL: connectionString } };
    const file = `${name.replace(/\W+/g, '_')}.json`;
    writeFileSync(join(dir, file), JSON.stringify({ ...SOUND, connectionString }));
    return { args: ['--config', file], env: {} };
  }

  // Accepted connection strings: each really connects (trust authentication takes any password).
  it.each([
    ['a plain password', url('Kq7Vx9Zw4'), 'flag'],
    ['a percent-encoded @', url('Kq7%40Vx9'), 'flag'],
    ['an unencoded @', url('Kq7@Vx9'), 'flag'],
    ['two unencoded @', url('Kq7@Vx9@Zw4'), 'flag'],
    ['a percent-encoded /', url('Kq7%2FVx9'), 'flag'],
    ['percent-encoded # and ?', url('Kq7%23Vx9%3FZw4'), 'flag'],
    ['an unencoded :', url('Kq7:Vx9:Zw4'), 'flag'],
    ['a space', url('Kq7 Vx9'), 'flag'],
    ['a stray %', url('Kq7%Vx9'), 'flag'],
    ['quotes', url(`Kq7'Vx9"Zw4`), 'flag'],
    ['a JSON-breaking ","', url('Kq7","Vx9'), 'flag'],
    ['a backslash', url('Kq7\\Vx9'), 'flag'],
    ['a percent-encoded newline', url('Kq7%0AVx9'), 'flag'],
    ['non-ASCII characters', url('Kq7-密码-Vx9'), 'flag'],
    ['asterisks like the mask', url('***Kq7***'), 'flag'],
    ['300 characters', url(`Kq7${'x'.repeat(300)}Vx9`), 'flag'],
    ['a password query parameter', `postgres://postgres@${host}:${port}/test?password=Kq7Vx9`, 'flag'],
    ['the postgresql:// scheme', url('Kq7@Vx9').replace('postgres://', 'postgresql://'), 'flag'],
    ['$DATABASE_URL with an unencoded @', url('Kq7@Vx9'), 'env'],
    ["the config's connectionString", url('Kq7@Vx9:Zw4'), 'config'],
    ["libpq pairs, quoted with \\' and a space", kv(`'Kq7 \\'Vx9'`), 'flag'],
    ['libpq pairs, bare with an escaped space', kv('Kq7\\ Vx9'), 'flag'],
    ['libpq pairs in $DATABASE_URL', kv(`'Kq7=Vx9'`), 'env'],
  ] as const)('%s: masked in audit and status, text and --json, reachable or not', async (name, connectionString, via) => {
    const { args, env } = given(connectionString, via, name);
    const down = given(unreachable(connectionString), via, `${name} down`);
    const [auditText, auditJson, statusText, statusJson, auditDown, statusDown] = (
      await Promise.all([
        cli(['audit', ...args], env),
        cli(['audit', '--json', ...args], env),
        cli(['status', '--limit', '1000', ...args], env),
        cli(['status', '--json', ...args], env),
        cli(['audit', ...down.args], down.env),
        cli(['status', ...down.args], down.env),
      ])
    ).map(clean);
    // It connected, so the string was read as meant, and still nothing of the password shows.
    expect(auditText!.code, auditText!.stdout + auditText!.stderr).toBe(0);
    expect(auditText!.stdout).toMatch(/^poolguard audit: .*\*\*\*.* \(from (--url|\$DATABASE_URL|the config's connectionString)\), 1 instance\nserver: PostgreSQL \d+/);
    expect(auditJson!.code).toBe(0);
    expect(JSON.parse(auditJson!.stdout)).toMatchObject({ target: expect.stringContaining('***'), server: { database: 'test' } });
    expect(statusText!.code, statusText!.stderr).toBe(0);
    expect(statusText!.stdout).toMatch(/^poolguard status: .*\*\*\*.*\nserver: PostgreSQL \d+/);
    expect(statusJson!.code).toBe(0);
    expect(JSON.parse(statusJson!.stdout)).toMatchObject({ target: expect.stringContaining('***'), database: 'test' });
    expect(auditDown!.code).toBe(1);
    expect(auditDown!.stdout).toMatch(/error\s+server-unreachable\s+the audit could not connect to or read the server: connect ECONNREFUSED/);
    expect(statusDown!.code).toBe(1);
    expect(statusDown!.stderr).toMatch(/^poolguard status: could not read .*\*\*\*.*: connect ECONNREFUSED/);
  });

  // Strings pg would misread: refused with exit 2, saying why and how to encode, never repeated.
  const UNPARSEABLE = /is not a URL that pg can parse \(postgres:\/\/user:password@host:port\/database; not shown here, as it may hold a password\)\..*node -p 'encodeURIComponent\(process\.argv\[1\]\)'/;
  it.each([
    ['an unencoded / (issue 16)', url('Kq7/Vx9'), 'flag', UNPARSEABLE],
    ['@, : and / together', url('Kq7@Vx9:Zw4/Hm2'), 'flag', UNPARSEABLE],
    ['an unencoded #', url('Kq7#Vx9'), 'flag', UNPARSEABLE],
    ['an unencoded ?', url('Kq7?Vx9'), 'flag', UNPARSEABLE],
    ['a password pg reads as a port', url('12/Kq7'), 'flag', /is ambiguous: .*encodeURIComponent/],
    ['$DATABASE_URL with an unencoded /', url('Kq7/Vx9'), 'env', UNPARSEABLE],
    ["the config's connectionString with an unencoded /", url('Kq7/Vx9'), 'config', UNPARSEABLE],
    ['no scheme', 'postgres:Kq7Vx9@localhost/test', 'flag', /is neither a postgres:\/\/ URL nor libpq keyword\/value pairs/],
    ['an unknown libpq keyword after the password', `${kv('Kq7')} sslkey=Vx9`, 'flag', /has keyword "sslkey"/],
    ['an unterminated libpq quote', kv("'Kq7 Vx9"), 'flag', /has an unterminated quoted value for "password"/],
  ] as const)('%s: refused with exit 2 by audit and status, not repeated', async (name, connectionString, via, message) => {
    const { args, env } = given(connectionString, via, name);
    const source = via === 'flag' ? '--url' : via === 'env' ? '$DATABASE_URL' : "the config's connectionString";
    const runs = (await Promise.all([cli(['audit', ...args], env), cli(['audit', '--json', ...args], env), cli(['status', ...args], env), cli(['status', '--json', ...args], env)])).map(clean);
    for (const [i, run] of runs.entries()) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(`poolguard ${i < 2 ? 'audit' : 'status'}: ${source} `);
      expect(run.stderr).toMatch(message);
    }
  });

  // Typed values repeated in usage errors: a connection string in the wrong place is not shown.
  it.each([
    ['a URL given without --url', ['audit', url('Kq7Vx9')], 'poolguard audit: unexpected argument (a value that looks like a connection string, not shown)'],
    ['a URL as --instances', ['status', '--instances', url('Kq7Vx9')], 'poolguard status: --instances must be a whole number (≥ 1), got (a value that looks like a connection string, not shown).'],
    ['a URL as --config', ['audit', '--config', url('Kq7@Vx9')], 'poolguard audit: --config (a path that looks like a connection string, not shown): could not load it ('],
    ['a URL as --snapshot', ['status', '--snapshot', url('Kq7Vx9')], 'poolguard status: --snapshot (a path that looks like a connection string, not shown): could not load it ('],
    ['a URL as a flag name', ['audit', `--${url('Kq7Vx9')}`], 'poolguard audit: unknown flag (a value that looks like a connection string, not shown).'],
    ['password= as --fail-on', ['audit', '--fail-on', 'password=Kq7Vx9'], 'poolguard audit: --fail-on must be error or warning, got (a value that looks like a connection string, not shown).'],
  ])('%s: exit 2 without repeating it', async (_name, args, message) => {
    const run = clean(await cli(args as string[], { DATABASE_URL }));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });

  // Query texts and application names that status reads from pg_stat_activity. Each runs on its own
  // session (many fail on purpose: the text stays in pg_stat_activity all the same).
  const SQL: ReadonlyArray<readonly [string, string]> = [
    ["PASSWORD '…' with ''", "ALTER ROLE cli16_nosuch PASSWORD 'Kq7''Vx9'"],
    ["ENCRYPTED PASSWORD E'…' with \\'", "CREATE ROLE cli16_nosuch LOGIN ENCRYPTED PASSWORD E'Kq7\\'Vx9' IN ROLE cli16_nosuch_either"],
    ["PASSWORD U&'…'", "ALTER ROLE cli16_nosuch PASSWORD U&'Kq7\\0041Vx9'"],
    ['PASSWORD $$…$$', 'ALTER ROLE cli16_nosuch PASSWORD $$Kq7 Vx9$$'],
    ['PASSWORD $tag$…$tag$ holding $$', 'ALTER ROLE cli16_nosuch PASSWORD $pw$Kq7$$Vx9$pw$'],
    ["lower case, over lines: password\\n'…'", "alter role cli16_nosuch\n  password\n  'Kq7\nVx9'"],
    ["password = '…'", "UPDATE cli16_nosuch SET password = 'Kq7Vx9' WHERE id = 1"],
    ['"password"=\'…\'', `SELECT 1 FROM cli16_nosuch WHERE "password"='Kq7Vx9'`],
    ["SET … password TO '…'", "SET cli16.password TO 'Kq7Vx9'"],
    ["set_config('…password', '…')", "SELECT set_config('cli16.db_password', 'Kq7Vx9', false)"],
    ['JSON "password": "…" with an escaped quote', `SELECT '{"user":"app","password":"Kq7\\"Vx9"}'::json`],
    ['a URL with an unencoded @ and /', "SELECT 'postgres://app:Kq7@Vx9/Zw4@db/x' AS dsn"],
    ['libpq pairs in a string', "SELECT 'host=db password=Kq7Vx9 dbname=x' AS dsn"],
    ['a literal cut at 200 characters', `/* ${'-'.repeat(140)} */ ALTER ROLE cli16_nosuch PASSWORD 'Kq7${'y'.repeat(40)}Vx9'`],
  ];
  const sessions: pg.Client[] = [];
  const apps = SQL.map((_, i) => `cli16_sql_${process.pid}_${i}`);
  let text: Run;
  let json: Run;
  let byApp: Map<string, { query: string }>;
  const URL_APP = `cli16 postgres://u:Kq7Vx9@h/db ${process.pid}`;

  beforeAll(async () => {
    for (const [i, [, sql]] of [...SQL, ['an application_name holding a URL', 'SELECT 1'] as const].entries()) {
      const client = new pg.Client({ connectionString: DATABASE_URL, application_name: apps[i] ?? URL_APP });
      await client.connect();
      sessions.push(client);
      await client.query(sql).catch(() => undefined);
    }
    const runs = (await Promise.all([cli(['status', '--limit', '1000'], { DATABASE_URL }), cli(['status', '--json'], { DATABASE_URL })]));
    text = runs[0]!;
    json = runs[1]!;
    byApp = new Map(JSON.parse(json.stdout).backends.map((b: { application: string; query: string }) => [b.application, b]));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(sessions.map((c) => c.end()));
  });

  it.each(SQL.map(([name], i) => [name, i] as const))('status masks %s in query texts, text and --json', (_name, i) => {
    expect(text.code).toBe(0);
    expect(json.code).toBe(0);
    const line = text.stdout.split('\n').find((l) => l.includes(`postgres  ${apps[i]}`));
    expect(line).toContain('idle');
    expect(line).not.toMatch(PIECES);
    const query = byApp.get(apps[i]!)!.query;
    expect(query).toContain('***');
    expect(query).not.toMatch(PIECES);
  });

  it('status masks an application_name that holds a URL', () => {
    expect(text.stdout).toContain('cli16 postgres://u:***@h/db');
    for (const line of text.stdout.split('\n').filter((l) => l.includes('cli16 postgres://'))) expect(line).not.toMatch(PIECES);
    for (const app of byApp.keys()) expect(app).not.toMatch(PIECES);
    expect(byApp.has(`cli16 postgres://u:***@h/db ${process.pid}`)).toBe(true);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    const all = printed.join('\n');
    expect(all.length).toBeGreaterThan(10_000);
    expect(all).not.toMatch(PIECES);
  });
});

describe("audit() (the library) reads connection strings as the CLI does", () => {
  const PIECES = /Kq7|Vx9/;
  it('an unparseable URL is a server-unreachable finding that says how to encode, without the password', async () => {
    const server = urlWithPassword('Kq7').replace('Kq7@', 'Kq7/Vx9@');
    const result = await audit({ options: { max: 2 }, server });
    const finding = result.findings.find((f) => f.rule === 'server-unreachable');
    expect(finding?.message).toMatch(/the connection string is not a URL that pg can parse .*encodeURIComponent/);
    expect(JSON.stringify(result)).not.toMatch(PIECES);
  });

  it('libpq keyword/value pairs connect', async () => {
    const { hostname, port } = new URL(DATABASE_URL);
    const result = await audit({ options: { max: 2 }, server: `host=${hostname} port=${port || 5432} dbname=test user=postgres password='Kq7 Vx9'` });
    expect(result.server).toMatchObject({ database: 'test', role: 'postgres' });
    expect(JSON.stringify(result)).not.toMatch(PIECES);
  });
});

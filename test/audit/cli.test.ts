import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardedPool } from '../helpers/pools.js';
import { uniqueName, SOUND, urlAs } from './helpers.js';
import { DATABASE_URL } from '../helpers/db.js';

const root = join(import.meta.dirname, '../..');
const SECRET = 'cli-Pa55-hunter2-secret';
const URL_WITH_PASSWORD = urlAs(new URL(DATABASE_URL).username || 'postgres', SECRET);
const everything: string[] = [];
let dir: string;

/** Runs the built CLI as users do; every byte it prints is kept for the secrets check. */
function cli(args: string[], env: Record<string, string | undefined> = { DATABASE_URL: URL_WITH_PASSWORD }) {
  const run = spawnSync(process.execPath, [join(root, 'dist/esm/cli.js'), ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
    timeout: 20_000,
  });
  everything.push(run.stdout, run.stderr);
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

// The global setup has built the package: the CLI runs from dist/, as users run it.
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'poolguard-cli-'));
  writeFileSync(join(dir, 'sound.json'), JSON.stringify(SOUND));
  writeFileSync(join(dir, 'sound.mjs'), `export default ${JSON.stringify({ ...SOUND, max: 4 })};\n`);
  writeFileSync(join(dir, 'broken.json'), '{ "max": 10, ');
  writeFileSync(join(dir, 'array.json'), '[1, 2]');
}, 120_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  // Every run of the CLI, whatever it printed, and with the password in DATABASE_URL or --url.
  const text = everything.join('\n');
  expect(text.length).toBeGreaterThan(1000);
  expect(text).not.toContain(SECRET);
  expect(text).not.toContain(encodeURIComponent(SECRET));
});

describe('poolguard audit (CLI)', () => {
  it('exits 1 on errors, with a readable table naming rule, option, why and fix', () => {
    const run = cli(['audit']);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toContain('poolguard audit: postgres://postgres:***@127.0.0.1:5432/test (from $DATABASE_URL), 1 instance');
    expect(run.stdout).toMatch(/server: PostgreSQL \d+/);
    expect(run.stdout).toMatch(/error\s+acquire-timeout-infinite\s+connectionTimeoutMillis is not set/);
    expect(run.stdout).toContain('why: ');
    expect(run.stdout).toContain('fix: Set connectionTimeoutMillis');
    expect(run.stdout).toMatch(/1 error, \d+ warnings?, \d+ info: exit 1/);
  });

  it('exits 0 on a sound configuration from a JSON or JS config file', () => {
    const json = cli(['audit', '--config', 'sound.json', '--instances', '3']);
    expect(json.code, json.stdout + json.stderr).toBe(0);
    expect(json.stdout).toContain('No findings: the configuration passes all');
    const js = cli(['audit', '--config', 'sound.mjs', '--url', URL_WITH_PASSWORD]);
    expect(js.code, js.stdout).toBe(0);
    expect(js.stdout).toContain('(from --url)');
  });

  it('flags override the config file; --fail-on warning fails on warnings', () => {
    const run = cli(['audit', '--config', 'sound.json', '--leak-threshold-ms', '0']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/warning\s+leak-detection-off\s+guard\.leakThresholdMs is 0/);
    expect(cli(['audit', '--config', 'sound.json', '--leakThresholdMs=0', '--fail-on', 'warning']).code).toBe(1);
  });

  it('--json prints the findings, counts and server summary, with the target redacted', () => {
    const run = cli(['audit', '--json', '--max', '4', '--connectionTimeoutMillis', '1000', '--instances', '2']);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(Object.keys(out).sort()).toEqual(['counts', 'findings', 'instances', 'ok', 'server', 'target']);
    expect(out.target).toBe('postgres://postgres:***@127.0.0.1:5432/test (from $DATABASE_URL)');
    expect(out.ok).toBe(true);
    expect(out.instances).toBe(2);
    expect(out.server).toMatchObject({ maxConnections: expect.any(Number), role: 'postgres', database: 'test' });
    for (const f of out.findings) {
      expect(Object.keys(f).sort()).toEqual(expect.arrayContaining(['fix', 'message', 'rule', 'severity', 'why']));
      expect(['error', 'warning', 'info']).toContain(f.severity);
    }
    expect(out.findings.map((f: { rule: string }) => f.rule)).toContain('leak-threshold-above-acquire-timeout');
    expect(out.counts.error).toBe(0);
  });

  it('runs the static rules only without a server, and says so', () => {
    const run = cli(['audit', '--connection-timeout-millis', '20000'], {});
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('static checks only');
    expect(run.stdout).toContain('give --url or set DATABASE_URL');
    expect(JSON.parse(cli(['audit', '--json', '--static', '--config', 'sound.json']).stdout)).toMatchObject({ target: null, ok: true, findings: [] });
  });

  it('an unreachable server is an error finding (exit 1), without the password', () => {
    const run = cli(['audit', '--config', 'sound.json', '--url', URL_WITH_PASSWORD.replace(':5432/', ':1/')]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/error\s+server-unreachable\s+the audit could not connect to or read the server: connect ECONNREFUSED/);
    expect(run.stdout).toContain('postgres://postgres:***@127.0.0.1:1/test');
  });

  it.each([
    [['audit', '--instances', 'abc'], 'poolguard audit: --instances must be a whole number (≥ 1), got "abc".'],
    [['audit', '--instances', '0'], 'poolguard audit: --instances must be a whole number (≥ 1), got "0".'],
    [['audit', '--max', '-3'], 'poolguard audit: --max must be a whole number (≥ 0), got "-3".'],
    [['audit', '--connection-timeout-millis', '5s'], 'poolguard audit: --connection-timeout-millis must be a whole number of milliseconds (≥ 0), got "5s".'],
    [['audit', '--maxx', '3'], 'poolguard audit: unknown flag --maxx. Did you mean --max?'],
    [['audit', '--instances'], 'poolguard audit: --instances needs a value.'],
    [['audit', '--json=maybe'], 'poolguard audit: --json is true or false, got "maybe".'],
    [['audit', '--fail-on', 'info'], 'poolguard audit: --fail-on must be error or warning, got "info".'],
    [['audit', 'extra'], 'poolguard audit: unexpected argument "extra"'],
    [['audit', '--config', 'missing.json'], 'poolguard audit: --config missing.json: could not load it (ENOENT'],
    [['audit', '--config', 'broken.json'], 'poolguard audit: --config broken.json: could not load it ('],
    [['audit', '--config', 'array.json'], "poolguard audit: --config array.json: expected the pool's options (what you pass to new Pool()) as an object, got an array."],
    [['audti'], 'poolguard: unknown command "audti". Did you mean audit?'],
    [[], 'Usage: poolguard <command>'],
    [['status', '--snapshot', 'sound.json'], "poolguard status: --snapshot sound.json: expected the JSON of pool.guard.snapshot() (with a connections array)."],
  ])('refuses %j with exit 2 and a clear message', (args, message) => {
    const run = cli(args);
    expect(run.code, run.stdout).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stdout).toBe('');
  });

  it('--help documents the flags, the exit codes and every rule', () => {
    const run = cli(['audit', '--help']);
    expect(run.code).toBe(0);
    for (const text of ['--url URL', '--config FILE', '--instances N', '--json', '--static', '--fail-on', '--connection-timeout-millis N', '--leak-threshold-ms N', 'DATABASE_URL', 'Exit codes: 0', '1 errors found', '2 bad usage']) {
      expect(run.stdout).toContain(text);
    }
    for (const rule of ['acquire-timeout-infinite', 'max-exceeds-server', 'role-connection-limit', 'idle-in-transaction-timeout-off', 'statement-timeout-off', 'server-unreachable']) {
      expect(run.stdout).toContain(rule);
    }
    expect(cli(['--help']).stdout).toContain('audit');
    expect(cli(['status', '--help']).stdout).toContain('pg_stat_activity');
  });
});

describe('poolguard status (CLI)', () => {
  it('lists who holds connections, and says where the pool and the server disagree', async () => {
    const app = uniqueName('orders');
    const pool = guardedPool({ application_name: app, max: 2, guard: { leakThresholdMs: 0 } });
    const held = await pool.connect();
    await held.query('BEGIN');
    await held.query('SELECT 1');
    // A backend with the pool's name that the pool does not count: what pg-pool leaves behind when
    // a connect times out after the server accepted it.
    const orphan = new pg.Client({ connectionString: DATABASE_URL, application_name: app });
    await orphan.connect();
    try {
      writeFileSync(join(dir, 'snapshot.json'), JSON.stringify(pool.guard.snapshot()));
      const orphanPid = (orphan as unknown as { processID: number }).processID;

      const table = cli(['status', '--application-name', app, '--snapshot', 'snapshot.json']);
      expect(table.code, table.stderr).toBe(1);
      expect(table.stdout).toMatch(new RegExp(`${app}\\s+2\\s+0\\s+1\\s+1\\s+\\d`));
      expect(table.stdout).toMatch(/idle in transaction/);
      expect(table.stdout).toContain("The pool's view and the server's disagree:");
      expect(table.stdout).toContain(`1 backend(s) of application_name "${app}" are not in the pool's snapshot (pid ${orphanPid})`);
      expect(table.stdout).toContain(`pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (${orphanPid})`);

      const byMax = cli(['status', '--json', '--application-name', app, '--max', '1']);
      expect(byMax.code).toBe(1);
      const json = JSON.parse(byMax.stdout);
      expect(json.server).toMatchObject({ maxConnections: expect.any(Number) });
      expect(json.applications.find((a: { application: string }) => a.application === app)).toMatchObject({ total: 2, idleInTransaction: 1 });
      expect(json.backends.find((b: { pid: number }) => b.pid === orphanPid)).toMatchObject({ application: app, state: 'idle' });
      expect(json.problems[0]).toContain(`2 backends have application_name "${app}", but the pool's max is 1`);

      expect(cli(['status', '--application-name', app, '--max', '2']).code).toBe(0);
    } finally {
      await orphan.end();
      await held.query('ROLLBACK');
      held.release();
    }
    const agree = cli(['status', '--application-name', app, '--snapshot', 'snapshot.json']);
    expect(agree.code).toBe(0);
    expect(agree.stdout).toContain(`The pool's view and the server's agree (1 backend(s) of "${app}")`);
  });

  it('masks passwords in query texts and fails with exit 1 when the server is unreachable', async () => {
    const client = new pg.Client({ connectionString: DATABASE_URL, application_name: uniqueName('secretive') });
    await client.connect();
    try {
      await client.query(`SELECT 'postgres://u:${SECRET}@h/db' AS dsn, 1 AS password`);
      const run = cli(['status', '--limit', '100']);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('secretive');
      const down = cli(['status', '--url', URL_WITH_PASSWORD.replace(':5432/', ':1/')]);
      expect(down.code).toBe(1);
      expect(down.stderr).toContain('poolguard status: could not read postgres://postgres:***@127.0.0.1:1/test (from --url): connect ECONNREFUSED');
    } finally {
      await client.end();
    }
  });
});

describe('the CLI names the right thing (messages and exit codes)', () => {
  const { hostname, port } = new URL(DATABASE_URL);
  const keywords = `host=${hostname} port=${port || 5432} dbname=test user=postgres password='${SECRET} \\'q'`;

  it.each([
    ['a missing --snapshot blames --snapshot', ['status', '--snapshot', '/nonexistent.json'], 2, 'stderr', "poolguard status: --snapshot /nonexistent.json: could not load it (ENOENT: no such file or directory, open '/nonexistent.json')."],
    ['a missing --config of status says status', ['status', '--config', 'missing.json'], 2, 'stderr', 'poolguard status: --config missing.json: could not load it (ENOENT'],
    ['--config errors carry the command prefix', ['audit', '--config', 'broken.json'], 2, 'stderr', 'poolguard audit: --config broken.json: could not load it ('],
    ['--max without --application-name is refused', ['status', '--max', '5'], 2, 'stderr', "poolguard status: --max needs --application-name (or a config with application_name): the server tells a pool's connections from others only by their application_name"],
    ['--instances without --application-name is refused', ['status', '--instances', '2'], 2, 'stderr', 'poolguard status: --instances needs --application-name'],
    ['garbage as --url (status)', ['status', '--url', 'garbage'], 2, 'stderr', 'poolguard status: --url is neither a postgres:// URL nor libpq keyword/value pairs (host=db port=5432 dbname=orders user=app password=…); not shown here'],
    ['garbage as --url (audit)', ['audit', '--url', 'garbage'], 2, 'stderr', 'poolguard audit: --url is neither a postgres:// URL nor libpq keyword/value pairs'],
    ['garbage in $DATABASE_URL names $DATABASE_URL', ['status'], 2, 'stderr', 'poolguard status: $DATABASE_URL is neither a postgres:// URL', { DATABASE_URL: 'garbage' }],
    ['an unknown libpq keyword', ['status', '--url', 'host=127.0.0.1 sslkey=/k'], 2, 'stderr', 'poolguard status: --url has keyword "sslkey", which poolguard cannot pass to pg; it takes host, hostaddr, port, dbname, user, password'],
    ['libpq keyword/value pairs work (status)', ['status', '--url', keywords], 0, 'stdout', `poolguard status: host=${hostname} port=${port || 5432} dbname=test user=postgres password=*** (from --url)`],
    ['libpq keyword/value pairs work (audit)', ['audit', '--config', 'sound.json', '--url', keywords], 0, 'stdout', 'No findings: the configuration passes all'],
    ['--static does not ask for a server it was given', ['audit', '--static', '--config', 'sound.json', '--url', URL_WITH_PASSWORD], 0, 'stdout', 'poolguard audit: static checks only, 1 instance\n\nNo findings'],
    ['no server at all still says how to give one', ['audit', '--config', 'sound.json'], 0, 'stdout', 'poolguard audit: static checks only, 1 instance\n(give --url or set DATABASE_URL to check against the server too)', {}],
  ] as const)('%s', (_name, args, code, stream, message, env?: Record<string, string>) => {
    const run = cli([...args], env);
    expect(run.code, run.stdout + run.stderr).toBe(code);
    expect(run[stream]).toContain(message);
    if (code === 2) expect(run.stdout).toBe('');
  });

  it('status lists the backends of the URL\'s database, with a database column; --all-databases lists every one', async () => {
    const here = uniqueName('cli17_here');
    const elsewhere = uniqueName('cli17_elsewhere');
    const a = new pg.Client({ connectionString: DATABASE_URL, application_name: here });
    const b = new pg.Client({ connectionString: urlAs('postgres', undefined, 'postgres'), application_name: elsewhere });
    await Promise.all([a.connect(), b.connect()]);
    try {
      const own = cli(['status', '--limit', '1000']);
      expect(own.code, own.stderr).toBe(0);
      expect(own.stdout).toContain('listed: the ');
      expect(own.stdout).toContain('backend(s) of database "test", the one the connection names (--all-databases for every database)');
      expect(own.stdout).toMatch(/PID\s+DATABASE\s+USER\s+APPLICATION/);
      expect(own.stdout).toMatch(new RegExp(`\\d+\\s+test\\s+postgres\\s+${here}`));
      expect(own.stdout).not.toContain(elsewhere);

      const all = cli(['status', '--all-databases', '--limit', '1000']);
      expect(all.code).toBe(0);
      expect(all.stdout).toMatch(new RegExp(`\\d+\\s+postgres\\s+postgres\\s+${elsewhere}`));
      expect(all.stdout).toMatch(new RegExp(`\\d+\\s+test\\s+postgres\\s+${here}`));

      const json = JSON.parse(cli(['status', '--json']).stdout);
      expect(json).toMatchObject({ database: 'test', allDatabases: false });
      expect(json.backends.length).toBeGreaterThan(0);
      expect(new Set(json.backends.map((x: { database: string }) => x.database))).toEqual(new Set(['test']));
      expect(json.server.connectionsInUse).toBeGreaterThan(json.backends.length - 1);
      const jsonAll = JSON.parse(cli(['status', '--json', '--all-databases']).stdout);
      expect(jsonAll.backends.find((x: { application: string }) => x.application === elsewhere)).toMatchObject({ database: 'postgres' });
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });
});

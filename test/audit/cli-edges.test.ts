import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_FLAGS, STATUS_FLAGS, usage, type FlagSpec } from '../../src/audit/cli-flags.js';
import { main } from '../../src/audit/cli.js';
import { ENCODE_HINT } from '../../src/audit/conninfo.js';
import { auditMysql } from '../../src/mysql2.js';
import { DATABASE_URL } from '../helpers/db.js';
import { MYSQL_URL } from '../helpers/mysql.js';
import { root } from '../helpers/build.js';

// The CLI run in process (main() is what dist/esm/cli.js calls), against the real PostgreSQL and
// MariaDB: the edges a user meets away from the PostgreSQL path.

const USER = `pgd_cli_${process.pid}_${randomBytes(3).toString('hex')}`;
// A password with a '/', as generated passwords often have: the pieces Kq7 and Vx9 must never print.
const SECRET = `Kq7/Vx9-${randomBytes(4).toString('hex')}`;
const WRONG = `Kq7-wrong-${randomBytes(4).toString('hex')}`;
const everything: string[] = [];
let dir: string;
let admin: ReturnType<mysql.Pool['promise']>;

function mysqlUrl(password: string, user = USER): string {
  const { host } = new URL(MYSQL_URL);
  // Written by hand, as a user would paste it: the password as it is, unless the test encodes it.
  return `mysql://${user}:${password}@${host}/test`;
}

async function run(args: string[], env: Record<string, string | undefined> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { out: (t) => (stdout += t), err: (t) => (stderr += t), env, cwd: dir });
  everything.push(stdout, stderr);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'poolguard-cli-edges-'));
  writeFileSync(join(dir, 'uri.json'), JSON.stringify({ uri: mysqlUrl(SECRET), connectionLimit: 4 }));
  admin = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1 }).promise();
  await admin.query(`CREATE USER '${USER}'@'%' IDENTIFIED BY ?`, [SECRET]);
  await admin.query(`GRANT ALL ON test.* TO '${USER}'@'%'`);
  await admin.query(`GRANT PROCESS ON *.* TO '${USER}'@'%'`);
});

afterAll(async () => {
  await admin.query(`DROP USER IF EXISTS '${USER}'@'%'`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
  const text = everything.join('\n');
  expect(text.length).toBeGreaterThan(1000);
  expect(text).not.toMatch(/Kq7|Vx9/);
});

describe("a mysql:// URL whose password mysql2 would misread is bad usage, with the PostgreSQL form's advice", () => {
  type Given = (url: string) => [string[], Record<string, string>];
  const byFlag: Given = (url) => [['--url', url], {}];
  const byEnv: Given = (url) => [[], { DATABASE_URL: url }];
  it.each([
    ['audit', '--url', byFlag],
    ['audit', '$DATABASE_URL', byEnv],
    ['status', '--url', byFlag],
    ['status', '$DATABASE_URL', byEnv],
  ] as const)('%s, from %s', async (command, source, given) => {
    const [args, env] = given(mysqlUrl(SECRET));
    const slash = await run([command, ...args], env);
    expect(slash.code).toBe(2);
    expect(slash.stdout).toBe('');
    expect(slash.stderr).toContain(`poolguard ${command}: ${source} is not a URL that mysql2 can parse (mysql://user:password@host:port/database; not shown here, as it may hold a password).`);
    expect(slash.stderr).toContain(ENCODE_HINT);
    // A password that starts with '/' parses, as another host: refused as ambiguous.
    const [args2, env2] = given(mysqlUrl(`/${SECRET}`));
    const leading = await run([command, ...args2], env2);
    expect(leading.code).toBe(2);
    expect(leading.stderr).toContain(`poolguard ${command}: ${source} is ambiguous: its password, read up to the last '@', is not what mysql2 reads`);
    expect(leading.stderr).toContain(ENCODE_HINT);
  });

  it("from the config's uri, and the same advice as PostgreSQL's; encoded as advised, the same password connects", async () => {
    const fromConfig = await run(['audit', '--config', 'uri.json']);
    expect(fromConfig.code).toBe(2);
    expect(fromConfig.stderr).toContain("poolguard audit: the config's uri is not a URL that mysql2 can parse");
    const pg = new URL(DATABASE_URL);
    const pgForm = await run(['audit', '--url', `postgres://${pg.username || 'postgres'}:${SECRET}@${pg.host}/test`]);
    expect(pgForm.code).toBe(2);
    expect(pgForm.stderr).toContain(ENCODE_HINT);

    const encoded = await run(['audit', '--url', mysqlUrl(encodeURIComponent(SECRET)), '--acquire-timeout-ms', '1000', '--max-lifetime-ms', '600000']);
    expect(encoded.stdout).toMatch(/server: MariaDB 10\.11\.\d+/);
    expect(encoded.stdout).toContain('No findings');
    expect(encoded.code).toBe(0);
    // The library says the same, as a finding, when handed such a URL.
    const lib = await auditMysql({ options: {}, server: mysqlUrl(SECRET) });
    expect(lib.findings[0]).toMatchObject({ rule: 'server-unreachable' });
    expect(lib.findings[0]!.message).toContain('could not read the server: the connection string is not a URL that mysql2 can parse');
    everything.push(JSON.stringify(lib));
  });
});

describe('a flag for the other kind of server is bad usage that says what applies', () => {
  const root = MYSQL_URL;

  it('audit --url mysql://… --max 5', async () => {
    const out = await run(['audit', '--url', root, '--max', '5']);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain(
      'poolguard audit: --max does not apply to a MySQL/MariaDB server (the mysql:// URL from --url): it is for PostgreSQL. ' +
        'The flags that apply there: --url, --config, --json, --instances, --static, --fail-on, --connection-limit, --max-idle, --idle-timeout, --wait-for-connections, --acquire-timeout-ms, --validate-after-idle-ms, --driver, --max-lifetime-ms. ' +
        'Did you mean --connection-limit?',
    );
  });

  it.each([
    [['audit', '--static', '--connectionTimeoutMillis', '5000'], { DATABASE_URL: MYSQL_URL }, '--connection-timeout-millis does not apply to a MySQL/MariaDB server (the mysql:// URL from $DATABASE_URL): it is for PostgreSQL.', 'Did you mean --acquire-timeout-ms?'],
    [['audit', '--connection-limit', '5'], { DATABASE_URL }, '--connection-limit does not apply to a PostgreSQL server: it is for MySQL/MariaDB.', 'Did you mean --max?'],
    [['audit', '--max-idle', '1'], {}, "--max-idle does not apply to a PostgreSQL pool (no mysql:// URL was given in --url, the config's uri or $DATABASE_URL; with --static it is not dialled): it is for MySQL/MariaDB.", '--leak-threshold-ms'],
    [['status', '--url', MYSQL_URL, '--application-name', 'orders'], {}, 'poolguard status: --application-name does not apply to a MySQL/MariaDB server (the mysql:// URL from --url): it is for PostgreSQL. The flags that apply there: --url, --config, --json, --snapshot, --max, --instances, --limit, --all-databases.', ''],
  ] as const)('%j', async (args, env, message, more) => {
    const out = await run([...args], env);
    expect(out.code, out.stdout + out.stderr).toBe(2);
    expect(out.stderr).toContain(message);
    expect(out.stderr).toContain(more);
    expect(out.stdout).toBe('');
  });

  it("mysql2's flags reach the audit: maxIdle below connectionLimit with a short idleTimeout passes wait-timeout-below-idle", async () => {
    const closes = await run(['audit', '--url', root, '--connection-limit', '4', '--max-idle', '1', '--idle-timeout', '60000', '--acquireTimeoutMs', '1000', '--fail-on', 'warning']);
    expect(closes.stdout).toContain('No findings');
    expect(closes.code).toBe(0);
    const keeps = await run(['audit', '--url', root, '--connection-limit', '4', '--idle-timeout', '60000', '--acquire-timeout-ms', '1000', '--fail-on', 'warning']);
    expect(keeps.stdout).toMatch(/warning\s+wait-timeout-below-idle\s+the server's wait_timeout is \d+ s but the pool keeps idle connections for ever: maxIdle \(by default connectionLimit, 4\)/);
    expect(keeps.code).toBe(1);
  });
});

describe("masking keeps MySQL's own words", () => {
  it('(using password: YES) stays whole in audit and status, while the password is masked', async () => {
    const audit = await run(['audit', '--url', mysqlUrl(WRONG)]);
    expect(audit.code).toBe(1);
    expect(audit.stdout).toContain(`poolguard audit: mysql://${USER}:***@`);
    expect(audit.stdout).toMatch(new RegExp(`could not read the server: Access denied for user '${USER}'@'[^']+' \\(using password: YES\\)\\n`));
    const status = await run(['status'], { DATABASE_URL: mysqlUrl(WRONG) });
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/Access denied for user '[^']+'@'[^']+' \(using password: YES\)\. Check the URL/);
    const none = await run(['audit', '--url', mysqlUrl('').replace(':@', '@'), '--json']);
    expect(JSON.parse(none.stdout).findings[0].message).toMatch(/\(using password: NO\)$/);
  });
});

/** A mistyped flag as people type one: a letter dropped, two swapped, the unit left off, in camelCase. */
function mistypings(flag: string): string[] {
  const mid = Math.floor(flag.length / 2);
  const out = [flag.slice(0, mid) + flag.slice(mid + 1)];
  if (flag[mid - 1] !== flag[mid]) out.push(flag.slice(0, mid - 1) + flag[mid] + flag[mid - 1] + flag.slice(mid + 1));
  const stem = flag.replace(/-(ms|millis|seconds)$/, '');
  if (stem !== flag) out.push(stem, stem.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()));
  return out.filter((t) => t !== flag);
}

describe('"Did you mean" for every flag', () => {
  const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const stem = (name: string) => name.replace(/-(ms|millis|seconds)$/, '');
  const cases = ([['audit', AUDIT_FLAGS], ['status', STATUS_FLAGS]] as const).flatMap(([command, specs]) => {
    // What the parser takes as it is (a flag, its camelCase, the driver's option name) is no typo.
    const taken = new Set((specs as readonly FlagSpec[]).flatMap((s) => [s.flag, camel(s.flag), ...(s.path ? [s.path[s.path.length - 1]!] : [])]));
    return (specs as readonly FlagSpec[]).flatMap((s) =>
      mistypings(s.flag)
        .filter((typed) => !taken.has(typed))
        // A unit left off where two flags share the rest (--max-lifetime: -seconds or -ms) means either.
        .map((typed) => {
          const unitless = typed === stem(s.flag) || typed === camel(stem(s.flag));
          return [command, typed, unitless ? specs.filter((o) => stem(o.flag) === stem(s.flag)).map((o) => o.flag).join(' or ') : s.flag] as const;
        }),
    );
  });

  it.each(cases)('%s --%s → --%s', async (command, typed, meant) => {
    const out = await run([command, `--${typed}`, '1']);
    expect(out.code).toBe(2);
    const hint = new RegExp(`^poolguard ${command}: unknown flag --${typed}\\. Did you mean --(${meant.replace(/ or /g, '|')})\\?$`, 'm');
    expect(out.stderr).toMatch(hint);
  });

  it.each([
    ['connection-timeout', 'connection-timeout-millis'],
    ['leak-threshold', 'leak-threshold-ms'],
    ['connectionTimeout', 'connection-timeout-millis'],
    ['idle-timeout-ms', 'idle-timeout'],
    ['connectionlimit', 'connection-limit'],
  ])('audit --%s → --%s', async (typed, meant) => {
    expect((await run(['audit', `--${typed}`, '1'])).stderr).toContain(`unknown flag --${typed}. Did you mean --${meant}?`);
  });
});

describe('--help lists exactly the flags each command takes', () => {
  it.each([
    ['audit', AUDIT_FLAGS],
    ['status', STATUS_FLAGS],
  ] as const)('%s --help', async (command, specs) => {
    const help = await run([command, '--help']);
    expect(help.code).toBe(0);
    for (const s of specs) expect(help.stdout, `--${s.flag}`).toContain(`--${usage(s)}`);
    // Every flag the help mentions is one the command accepts (never "unknown flag").
    const mentioned = [...new Set(help.stdout.match(/--[A-Za-z][\w-]*/g))];
    expect(mentioned.length).toBeGreaterThan(specs.length - 1);
    for (const token of mentioned) {
      const out = await run([command, `${token}=`]);
      expect(out.stderr, token).not.toContain('unknown flag');
    }
  });

  it.each([
    ['audit', AUDIT_FLAGS],
    ['status', STATUS_FLAGS],
  ] as const)('docs/audit.md has a row for every flag of %s, and names no flag the command refuses', async (command, specs) => {
    const page = readFileSync(join(root, 'docs/audit.md'), 'utf8');
    const start = page.indexOf(`| \`${command}\` flag |`);
    expect(start, `docs/audit.md has a table headed "${command} flag"`).toBeGreaterThan(0);
    const listed = page.slice(start, page.indexOf('\n\n', start)).replaceAll('\\|', '|');
    for (const s of specs) if (s.flag !== 'help') expect(listed, `--${s.flag} in docs/audit.md's ${command} table`).toContain(`\`--${usage(s)}\``);
    for (const token of new Set(listed.match(/--[a-z][\w-]*/g))) {
      expect(specs.some((s) => `--${s.flag}` === token), `${token} in docs/audit.md's ${command} table`).toBe(true);
    }
  });

  it('the top-level help names the commands and where the server comes from', async () => {
    const help = await run(['--help']);
    for (const token of help.stdout.match(/--[A-Za-z][\w-]*/g) ?? []) {
      if (token === '--help') continue;
      expect(AUDIT_FLAGS.some((s) => `--${s.flag}` === token) && STATUS_FLAGS.some((s) => `--${s.flag}` === token), token).toBe(true);
    }
    expect(help.stdout).toContain('audit');
    expect(help.stdout).toContain('status');
  });
});

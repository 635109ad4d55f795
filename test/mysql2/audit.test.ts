import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MYSQL_RULE_IDS } from '../../src/audit/mysql-url.js';
import { MYSQL_RULES } from '../../src/audit/mysql.js';
import { auditMysql } from '../../src/mysql2.js';
import { freePort } from '../helpers/net.js';
import { bareMysqlPool, MYSQL_URL } from '../helpers/mysql-pools.js';

const root = join(import.meta.dirname, '../..');
const USER = 'mysql2guard_app';
const SECRET = 'Kq7-mysql2guard-secret';
const urlAs = (password: string) => {
  const url = new URL(MYSQL_URL);
  url.username = USER;
  url.password = password;
  return url.toString();
};
const everything: string[] = [];
let dir: string;

function cli(args: string[], env: Record<string, string | undefined> = {}) {
  const run = spawnSync(process.execPath, [join(root, 'dist/esm/cli.js'), ...args], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 20_000 });
  everything.push(run.stdout, run.stderr);
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'poolguard-mysql2-cli-'));
  writeFileSync(join(dir, 'sound.json'), JSON.stringify({ connectionLimit: 4, guard: { acquireTimeoutMs: 5_000, maxLifetimeMs: 600_000 } }));
  writeFileSync(join(dir, 'default.json'), JSON.stringify({ connectionLimit: 4 }));
  const admin = bareMysqlPool({ connectionLimit: 1 }).promise();
  await admin.query(`DROP USER IF EXISTS '${USER}'@'%'`);
  await admin.query(`CREATE USER '${USER}'@'%' IDENTIFIED BY '${SECRET}' WITH MAX_USER_CONNECTIONS 5`);
  await admin.query(`GRANT ALL ON test.* TO '${USER}'@'%'`);
  await admin.query(`GRANT PROCESS ON *.* TO '${USER}'@'%'`);
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  const admin = bareMysqlPool({ connectionLimit: 1 }).promise();
  await admin.query(`DROP USER IF EXISTS '${USER}'@'%'`);
  await admin.end();
  // Nothing poolguard printed, in any test here, contains the password.
  expect(everything.join('\n')).not.toContain(SECRET);
});

describe('the configuration audit for MySQL/MariaDB', () => {
  it('the CLI help lists the same rules as the audit', () => {
    expect(MYSQL_RULE_IDS).toBe(MYSQL_RULES.map((r) => r.id).join(', '));
  });

  it('static: mysql2 has no acquire timeout, so guard.acquireTimeoutMs 0 is a warning', async () => {
    const result = await auditMysql({ options: { connectionLimit: 10 }, server: false });
    expect(result.findings.map((f) => f.rule)).toEqual(['acquire-timeout-infinite']);
    expect(result.ok).toBe(true);
    expect((await auditMysql({ options: { guard: { acquireTimeoutMs: 1_000 } }, server: false })).findings).toEqual([]);
  });

  it("live: max_connections and max_user_connections against connectionLimit × instances, wait_timeout against how long idle connections are kept", async () => {
    const result = await auditMysql({ options: { connectionLimit: 100, guard: { acquireTimeoutMs: 1_000 } }, instances: 2, server: urlAs(SECRET) });
    expect(result.server).toMatchObject({ system: 'mariadb', maxConnections: 151, maxUserConnections: 5, waitTimeoutSeconds: 28_800, user: `${USER}@%` });
    const byRule = Object.fromEntries(result.findings.map((f) => [f.rule, f]));
    expect(Object.keys(byRule).sort()).toEqual(['max-exceeds-server', 'max-exceeds-user-limit', 'wait-timeout-below-idle']);
    expect(byRule['max-exceeds-server']!.message).toBe("connectionLimit 100 × 2 instances = 200 exceeds the server's max_connections 151");
    expect(byRule['max-exceeds-user-limit']!.message).toBe(`connectionLimit 100 × 2 instances = 200 exceeds max_user_connections 5 of ${USER}@%`);
    expect(byRule['wait-timeout-below-idle']!.message).toContain('wait_timeout is 28800 s but the pool keeps idle connections for ever');
    expect(result.ok).toBe(false);

    // A lifetime below wait_timeout and limits within the server's: clean.
    const sound = await auditMysql({ options: { connectionLimit: 2, guard: { acquireTimeoutMs: 1_000, maxLifetimeMs: 600_000 } }, instances: 2, server: urlAs(SECRET) });
    expect(sound.findings).toEqual([]);
  });

  it('an unreachable server or a wrong password is a finding that never shows the password', async () => {
    const port = await freePort();
    const down = await auditMysql({ options: { guard: { acquireTimeoutMs: 1 } }, server: `mysql://${USER}:${SECRET}@127.0.0.1:${port}/test` });
    expect(down.findings.map((f) => f.rule)).toEqual(['server-unreachable']);
    const denied = await auditMysql({ options: { guard: { acquireTimeoutMs: 1 } }, server: urlAs('wrong-' + SECRET) });
    expect(denied.findings[0]!.message).toContain('Access denied');
    everything.push(JSON.stringify(down), JSON.stringify(denied));
    expect(JSON.stringify(denied)).not.toContain('wrong-');
  });

  it('CLI: poolguard audit --url mysql://… with a mysql2 config, exit codes as for PostgreSQL, the password masked', () => {
    const bad = cli(['audit', '--url', urlAs(SECRET), '--config', 'default.json']);
    expect(bad.code).toBe(0);
    expect(bad.stdout).toContain(`poolguard audit: mysql://${USER}:`);
    expect(bad.stdout).toMatch(/server: MariaDB 10\.11\.\d+, max_connections 151/);
    expect(bad.stdout).toContain('wait-timeout-below-idle');
    expect(bad.stdout).toContain('acquire-timeout-infinite');
    const over = cli(['audit', '--config', 'default.json', '--instances', '2', '--json'], { DATABASE_URL: urlAs(SECRET) });
    expect(over.code).toBe(1);
    expect(JSON.parse(over.stdout).findings.map((f: { rule: string }) => f.rule)).toContain('max-exceeds-user-limit');
    const sound = cli(['audit', '--url', urlAs(SECRET), '--config', 'sound.json']);
    expect(sound.stdout).toContain('No findings');
    expect(sound.code).toBe(0);
    expect(cli(['audit', '--url', urlAs(SECRET), '--config', 'default.json', '--fail-on', 'warning']).code).toBe(1);
  });

  it('CLI: poolguard status --url mysql://… lists the sessions from information_schema.processlist, longest in a transaction first', async () => {
    const pool = bareMysqlPool({ uri: urlAs(SECRET), connectionLimit: 3 }).promise();
    const held = await pool.getConnection();
    await held.query('CREATE TABLE IF NOT EXISTS mysql2guard_status (id INT PRIMARY KEY) ENGINE=InnoDB');
    await held.query('BEGIN');
    await held.query('INSERT INTO mysql2guard_status VALUES (1)');
    const other = await pool.getConnection();
    const out = cli(['status', '--url', urlAs(SECRET)]);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/server: MariaDB 10\.11\.\d+, \d+ of max_connections 151 in use; wait_timeout 28800 s/);
    // Other test files' sessions on the same database may be listed too (some inside older
    // transactions, when the suite runs them at once): the order is checked among this test's two.
    const lines = out.stdout.split('\n');
    const row = (id: number) => lines.findIndex((l) => l.startsWith(`${id} `));
    expect(row(held.connection.threadId)).toBeGreaterThan(lines.findIndex((l) => l.startsWith('ID')));
    expect(row(held.connection.threadId)).toBeLessThan(row(other.connection.threadId));
    expect(lines[row(held.connection.threadId)]).toMatch(/ Sleep +\d+ s +\d+ s( |$)/);
    expect(out.stdout).toMatch(/session\(s\) idle \(Sleep\) inside an open transaction; the oldest, id \d+/);
    const over = cli(['status', '--url', urlAs(SECRET), '--max', '1', '--json']);
    expect(over.code).toBe(1);
    expect(JSON.parse(over.stdout).problems[0]).toContain(`2 sessions of user ${USER}`);
    await held.query('ROLLBACK');
    await held.query('DROP TABLE mysql2guard_status');
    held.release();
    other.release();
  });
});

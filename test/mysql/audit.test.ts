import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers/build.js';
import { auditMysql as auditFromMariadb } from '../../src/mariadb.js';
import { auditMysql } from '../../src/mysql.js';
import { MYSQL } from '../helpers/mysql.js';

const rules = (r: { findings: ReadonlyArray<{ rule: string }> }) => r.findings.map((f) => f.rule);

describe('auditMysql for the mysql and MariaDB connector pools', () => {
  it("mysql's option names, live: its acquireTimeout does not count as a bound on the wait, idle connections are never closed by mysql", async () => {
    const warnings: unknown[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => void warnings.push(args);
    try {
      const result = await auditMysql({ driver: 'mysql', options: { ...MYSQL, connectionLimit: 5, acquireTimeout: 10_000, queueLimit: 0, waitForConnections: true } });
      expect(result.server?.system).toBe('mariadb');
      expect(rules(result)).toEqual(['acquire-timeout-infinite', 'wait-timeout-below-idle']);
      const timeout = result.findings[0]!;
      expect(timeout.why).toContain("mysql's acquireTimeout bounds a connect or a ping, not the wait for a free connection");
      const idle = result.findings[1]!;
      expect(idle.message).toContain('mysql (mysqljs) never closes an idle connection of its pool');
      expect(idle.fix).toMatch(/^Set guard\.maxLifetimeMs below \d+, or guard\.validateAfterIdleMs below \d+: mysql has no idle timeout of its own\.$/);
      // mysql's pool-only options are not handed to the audit's own connection.
      expect(warnings).toEqual([]);
    } finally {
      console.warn = warn;
    }
    const fine = await auditMysql({ driver: 'mysql', options: { ...MYSQL, connectionLimit: 5, guard: { acquireTimeoutMs: 5_000, maxLifetimeMs: 600_000 } } });
    expect(rules(fine)).toEqual([]);
  });

  it("the connector's options: its own acquireTimeout bounds the wait; minimumIdle below connectionLimit with idleTimeout in seconds closes idle connections", async () => {
    const defaults = await auditFromMariadb({ driver: 'mariadb', options: { ...MYSQL, connectionLimit: 5 } });
    expect(rules(defaults)).toEqual(['wait-timeout-below-idle']);
    expect(defaults.findings[0]!.message).toContain('minimumIdle (by default connectionLimit, 5) is not below connectionLimit 5, and only then does mariadb close idle connections');
    expect(defaults.findings[0]!.fix).toMatch(/^Set minimumIdle below connectionLimit 5 with idleTimeout \(seconds\) below \d+ s: mariadb then closes/);
    const reaped = await auditFromMariadb({ driver: 'mariadb', options: { ...MYSQL, connectionLimit: 5, minimumIdle: 1, idleTimeout: 600 } });
    expect(rules(reaped)).toEqual([]);
    const forever = await auditFromMariadb({ driver: 'mariadb', server: false, options: { connectionLimit: 5, acquireTimeout: 0, minimumIdle: 1 } });
    expect(rules(forever)).toEqual(['acquire-timeout-infinite']);
    expect(forever.findings[0]).toMatchObject({ option: 'acquireTimeout', value: 0 });
  });

  it('refuses a driver it does not know, naming the value', async () => {
    await expect(auditMysql({ driver: 'pg' as never, options: {} })).rejects.toThrow("auditMysql(): driver must be 'mysql2', 'mysql' or 'mariadb', got \"pg\"");
  });

  it('CLI: poolguard audit --driver mysql|mariadb reads the options as that driver does, against the live server; an unknown driver is bad usage', () => {
    const dir = mkdtempSync(join(tmpdir(), 'poolguard-mysql-cli-'));
    try {
      // The same options: mysql's acquireTimeout bounds no wait, the connector's bounds it.
      writeFileSync(join(dir, 'pool.json'), JSON.stringify({ connectionLimit: 5, acquireTimeout: 10_000, guard: { maxLifetimeMs: 600_000 } }));
      const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'dist/esm/cli.js'), 'audit', '--url', 'mysql://root@127.0.0.1:3306/test', '--config', 'pool.json', ...args], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 20_000 });
      const mysql = cli('--driver', 'mysql', '--json');
      expect(JSON.parse(mysql.stdout).server.system).toBe('mariadb');
      expect(rules(JSON.parse(mysql.stdout))).toContain('acquire-timeout-infinite');
      const mariadb = cli('--driver', 'mariadb', '--json');
      expect(JSON.parse(mariadb.stdout).server.system).toBe('mariadb');
      expect(rules(JSON.parse(mariadb.stdout))).not.toContain('acquire-timeout-infinite');
      const bad = cli('--driver', 'pg');
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('--driver must be mysql2, mysql or mariadb, got "pg"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

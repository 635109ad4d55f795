import { describe, expect, it } from 'vitest';
import { audit } from '../../src/postgres.js';
import { urlWithPassword } from '../helpers/db.js';
import { guardedSql, plainSql } from '../helpers/postgres.js';
import postgres from '../../src/postgres.js';

describe('audit() of a postgres.js pool', () => {
  it("reads postgres.js's own option names, and the server through the sql itself", async () => {
    const sql = guardedSql({ max: 4, idle_timeout: 20, max_lifetime: 600, connection: { statement_timeout: 30_000 } });
    const result = await audit(sql);
    expect(result.server?.maxConnections).toBeGreaterThan(0);
    const rules = result.findings.map((f) => f.rule);
    // idle_timeout 20 s is read as idleTimeoutMillis 20000, so no "kept forever" finding; statement_timeout comes from connection.
    expect(rules).not.toContain('exit-on-idle');
    expect(rules).not.toContain('statement-timeout-off');
    const timeout = result.findings.find((f) => f.rule === 'acquire-timeout-infinite')!;
    expect(timeout.option).toBe('guard.acquireTimeoutMs');
    expect(timeout.message).toBe('guard.acquireTimeoutMs is 0: a checkout waits forever for a free connection');
    expect(timeout.fix).toContain('Set guard.acquireTimeoutMs');
    expect(JSON.stringify(result)).not.toContain('connectionTimeoutMillis');
  });

  it("postgres.js's defaults: idle connections kept for ever, a 30–60 minute lifetime (read as its longest, 3600 s)", async () => {
    const sql = guardedSql({ guard: { acquireTimeoutMs: 5_000 } });
    const result = await audit(sql, { server: false });
    const rules = result.findings.map((f) => f.rule);
    expect(rules).not.toContain('acquire-timeout-infinite');
    expect(rules).toContain('exit-on-idle');
  });

  it('a plain postgres.js sql is audited too, and the password never appears', async () => {
    const secret = 'audit-s3cret-pw';
    const sql = plainSql({ max: 3 });
    const withPassword = postgres(urlWithPassword(secret), { max: 1, guard: { logger: false } });
    const results = [await audit(sql), await audit(withPassword, { server: 'postgres://nobody:' + secret + '@127.0.0.1:1/none' })];
    expect(results[0]!.findings.length).toBeGreaterThan(0);
    expect(JSON.stringify(results)).not.toContain(secret);
    await withPassword.end();
  });
});

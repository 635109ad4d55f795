import { freePort } from './helpers/net.js';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './helpers/build.js';
import { DATABASE_URL } from './helpers/db.js';

function run(example: string, env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [`examples/${example}`], { cwd: root, encoding: 'utf8', env: { ...process.env, DATABASE_URL, ...env }, timeout: 20_000 });
}


describe('examples run', () => {
  it('examples/leak-report.mjs names the leaking line and the holders', () => {
    const r = run('leak-report.mjs');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('possible connection leak: a client checked out at examples/leak-report.mjs:13:29');
    expect(r.stdout).toContain('leak event: site=examples/leak-report.mjs:13:29 state=idle');
    expect(r.stdout).toMatch(/timeout exceeded when trying to connect\npoolguard\[orders-db\]: 2 of 2 connections checked out/);
    expect(r.stdout).toContain('2 × examples/leak-report.mjs:13:29');
  });

  it('examples/pino-logger.mjs writes leak reports as pino JSON lines with the report fields', () => {
    const r = run('pino-logger.mjs');
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const leak = lines.find((l) => l.type === 'leak')!;
    expect(leak).toMatchObject({ level: 40, component: 'poolguard', pool: 'orders-db', site: 'examples/pino-logger.mjs:18:29', state: 'idle' });
    expect(leak.msg).toContain('possible connection leak');
    expect(lines.find((l) => l.type === 'leakResolved')).toMatchObject({ level: 30, leaseId: leak.leaseId });
  });

  it('examples/graceful-shutdown.mjs: pool.end() resolves at guard.endTimeoutMs despite a leaked client, names it, and the final snapshot is taken after end()', () => {
    const r = run('graceful-shutdown.mjs', { END_TIMEOUT_MS: '1500' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SIGTERM: no new work; \d+ request\(s\) in flight/);
    expect(r.stderr).toMatch(
      /poolguard\[orders-db\]: pool\.end\(\) has waited 7[5-9]\d ms for 1 checked-out connection, and cannot finish until it comes back\. Held by:\n  lease \d+ \(connect\) from examples\/graceful-shutdown\.mjs:29:29: held [\d.]+ m?s, nothing in flight for [\d.]+ m?s, inside an open transaction/,
    );
    expect(r.stderr).toContain('pool.end() reached guard.endTimeoutMs (1.5 s) with 1 connection still checked out');
    expect(r.stdout).toMatch(/cut at shutdown: examples\/graceful-shutdown\.mjs:29:29 \(held \d+ ms, open transaction\)/);
    const took = Number(/pool\.end\(\) resolved after (\d+) ms/.exec(r.stdout)![1]);
    expect(took).toBeGreaterThanOrEqual(1_450);
    expect(took).toBeLessThan(5_000);
    const final = JSON.parse(/final snapshot: (.*)/.exec(r.stdout)![1]!);
    expect(final.counts).toMatchObject({ total: 0, leased: 0, waiting: 0 });
    expect(final.leases).toEqual([]);
    expect(final.totals.checkouts).toBeGreaterThan(5);
    expect(final.totals.reclaims).toBe(1);
    expect(final.totals.retired.reclaimed).toBe(1);
  });

  it('examples/long-holds.mjs: a LISTEN client and a report transaction held past the threshold, none reported', () => {
    const r = run('long-holds.mjs');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('"exempt":"LISTEN order_events"');
    expect(r.stdout).toContain('"site":"examples/long-holds.mjs:29:29","exempt":"guard.exemptSites');
    expect(r.stdout).toContain('notification: order 42 shipped');
    expect(r.stdout).toContain('leaks reported: 0');
    expect(r.stderr).not.toContain('possible connection leak');
  });

  it('examples/otel-service.mjs serves the pool metrics and the leak counter on /metrics', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['examples/otel-service.mjs'], { cwd: root, env: { ...process.env, DATABASE_URL, METRICS_PORT: String(port), EXIT_AFTER_MS: '15000' } });
    try {
      let out = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          out += d;
          if (out.includes('metrics on http://')) resolve();
        });
        child.stderr.on('data', (d) => (out += d));
        child.once('exit', (code) => reject(new Error(`the example exited (${code}) before serving metrics:\n${out}`)));
      });
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toMatch(/^db_client_connection_count\{db_client_connection_pool_name="orders-db",db_client_connection_state="used",[^}]*\} 1$/m);
      expect(text).toMatch(/^poolguard_lease_leaks_total\{db_client_connection_pool_name="orders-db"[^}]*\} 1$/m);
      expect(text).toMatch(/^db_client_connection_wait_time_bucket\{/m);
      expect(text).toMatch(/^poolguard_lease_oldest_age\{/m);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('examples/grafana-dashboard.json is a dashboard whose queries use the exported metric names', () => {
    const dashboard = JSON.parse(readFileSync(join(root, 'examples/grafana-dashboard.json'), 'utf8'));
    const exprs: string[] = dashboard.panels.flatMap((p: { targets: Array<{ expr: string }> }) => p.targets.map((t) => t.expr));
    for (const name of ['poolguard_connection_count', 'poolguard_request_pending', 'db_client_connection_limit', 'db_client_connection_wait_time_bucket', 'poolguard_lease_leaks_total', 'poolguard_lease_oldest_age']) {
      expect(exprs.some((e) => e.includes(name)), name).toBe(true);
    }
    expect(exprs.join('\n')).toContain('histogram_quantile(0.99');
  });
});

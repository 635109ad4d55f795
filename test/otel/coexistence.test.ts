import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers/build.js';
import { DATABASE_URL } from '../helpers/db.js';
import { freePort } from '../helpers/net.js';

interface Out {
  metrics: Array<{ scope: string; name: string; type: string; points: Array<{ attributes: Record<string, unknown>; value: number }> }>;
  spans: Array<{ name: string; traceId: string; spanId: string; parentSpanId?: string }>;
  counts: Array<{ total: number; idle: number }>;
}

function run(mode: string): Out {
  const r = spawnSync(process.execPath, ['test/fixtures/otel-coexist.cjs', mode], { cwd: root, encoding: 'utf8', env: { ...process.env, DATABASE_URL }, timeout: 30_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Out;
}

const INSTRUMENTATION = '@opentelemetry/instrumentation-pg';
const sumOf = (out: Out, scope: string, name: string, state: string) =>
  out.metrics.filter((m) => m.scope === scope && m.name === name).flatMap((m) => m.points).filter((p) => p.attributes['db.client.connection.state'] === state).reduce((n, p) => n + p.value, 0);

describe('poolguard beside @opentelemetry/instrumentation-pg', () => {
  it('auto mode leaves count and pending_requests to instrumentation-pg, so nothing is counted twice; the rest comes from poolguard', () => {
    const out = run('guarded');
    const names = (scope: string) => new Set(out.metrics.filter((m) => m.scope === scope).map((m) => m.name));
    expect(names(INSTRUMENTATION).has('db.client.connection.count')).toBe(true);
    expect(names('poolguard').has('db.client.connection.count')).toBe(false);
    expect(names('poolguard').has('db.client.connection.pending_requests')).toBe(false);
    for (const n of ['db.client.connection.wait_time', 'db.client.connection.use_time', 'db.client.connection.timeouts', 'db.client.connection.limit', 'poolguard.lease.leaks']) {
      expect(names('poolguard').has(n), n).toBe(true);
    }
    // Summed over every scope, as a backend would, used connections are counted once.
    const used = sumOf(out, INSTRUMENTATION, 'db.client.connection.count', 'used') + sumOf(out, 'poolguard', 'db.client.connection.count', 'used');
    expect(used).toBe(out.counts[0]!.total - out.counts[0]!.idle);
  });

  it("spans nest sensibly: pg-pool's connect span and the queries under the request, poolguard adds none for warm checkouts", () => {
    const out = run('guarded');
    const request = out.spans.find((s) => s.name === 'GET /orders')!;
    const children = out.spans.filter((s) => s.parentSpanId === request.spanId).map((s) => s.name);
    expect(children).toContain('pg-pool.connect');
    expect(children.filter((n) => n.startsWith('pg.query')).length).toBeGreaterThanOrEqual(1);
    expect(out.spans.every((s) => s.traceId === request.traceId)).toBe(true);
    // poolguard's wait spans, where present, are children of the request too
    for (const w of out.spans.filter((s) => s.name === 'poolguard.checkout.wait')) expect(w.parentSpanId).toBe(request.spanId);
  });

  it("'all' mode records poolguard's counts as well, under its own scope and pool name", () => {
    const out = run('all');
    expect(out.metrics.some((m) => m.scope === 'poolguard' && m.name === 'db.client.connection.count')).toBe(true);
    expect(sumOf(out, 'poolguard', 'db.client.connection.count', 'used')).toBe(1);
  });

  it('instrumentation-pg alone mixes two pools in one counter (why poolguard keeps state per pool)', () => {
    const out = run('bare-two-pools');
    const used = sumOf(out, INSTRUMENTATION, 'db.client.connection.count', 'used');
    const reallyUsed = out.counts.reduce((n, c) => n + c.total - c.idle, 0);
    // Both pools report under one pool name and one shared running counter: the per-pool split is lost.
    const poolNames = new Set(out.metrics.filter((m) => m.scope === INSTRUMENTATION && m.name === 'db.client.connection.count').flatMap((m) => m.points.map((p) => p.attributes['db.client.connection.pool.name'])));
    expect(poolNames.size).toBe(1);
    expect(reallyUsed).toBe(3);
    // Its one running counter ends at whichever pool changed last (the second, with 2 in use).
    expect(used).toBe(2);
  });

  it("the shipped Grafana dashboard has series for the guarded pool's name in every panel, with instrumentation-pg on and default settings (scraped from a real Prometheus exporter)", async () => {
    const port = await freePort();
    const r = spawnSync(process.execPath, ['test/fixtures/otel-coexist.cjs', 'prometheus'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, DATABASE_URL, PROMETHEUS_PORT: String(port) },
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const { pool, scrape } = JSON.parse(r.stdout) as { pool: string; scrape: string };
    const POOL = 'db_client_connection_pool_name';
    const series = scrape
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => ({ name: line.slice(0, line.search(/[{ ]/)), labels: Object.fromEntries([...line.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]])) }));
    // The setting the issue describes: instrumentation-pg records the counts under a name the
    // dashboard's $pool never matches.
    expect(series.some((s) => s.name === 'db_client_connection_count' && s.labels[POOL] === 'unknown_host:unknown_port/unknown_database')).toBe(true);

    const dashboard = JSON.parse(readFileSync(join(root, 'examples/grafana-dashboard.json'), 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
      templating: { list: Array<{ name: string; query: string }> };
    };
    const queries = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })));
    const variable = dashboard.templating.list.find((v) => v.name === 'pool')!;
    queries.push({ where: 'variable $pool', expr: variable.query.replace(/^label_values\((\w+), (\w+)\)$/, '$1{$2=~"$pool"}') });
    expect(dashboard.panels).toHaveLength(6);
    let checked = 0;
    for (const { where, expr } of queries) {
      const selectors = [...expr.matchAll(/([a-zA-Z_:][\w:]*)\{([^}]*)\}/g)];
      expect(selectors.length, `${where}: ${expr}`).toBeGreaterThan(0);
      const grouped = [...expr.matchAll(/by \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim()));
      for (const [, name, matchers] of selectors) {
        const labels = [...grouped, ...[...matchers!.matchAll(/(\w+)\s*=/g)].map((m) => m[1]!)];
        const ofPool = series.filter((s) => s.name === name && s.labels[POOL] === pool);
        expect(ofPool.length, `${where}: no series of ${name} for pool ${pool}`).toBeGreaterThan(0);
        for (const label of labels) expect(ofPool.some((s) => label in s.labels), `${where}: ${name} has no label ${label}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(12);
  });
});

import { freePort } from './helpers/net.js';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './helpers/build.js';
import { DATABASE_URL, sleep, until } from './helpers/db.js';

/** Runs an example to its end; `ms` is how long it took. */
function run(example: string, env: Record<string, string> = {}) {
  const started = performance.now();
  const r = spawnSync(process.execPath, [`examples/${example}`], { cwd: root, encoding: 'utf8', env: { ...process.env, DATABASE_URL, ...env }, timeout: 20_000 });
  return { ...r, ms: performance.now() - started };
}

/** Resolves once something accepts connections on 127.0.0.1:`port`. */
async function listening(port: number, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  const tryOnce = () =>
    new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(true)).once('error', () => resolve(false));
      socket.once('connect', () => socket.destroy());
    });
  while (!(await tryOnce())) {
    if (Date.now() - start > timeoutMs) throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Each example that ends by itself does so with code 0, in seconds. */
const PROMPT_MS = 10_000;

/**
 * A long-running example: its output so far, a wait for a line of it, and a stop by signal that
 * resolves with the exit code and how long the exit took after the signal.
 */
function startExample(example: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [`examples/${example}`], { cwd: root, env: { ...process.env, DATABASE_URL, ...env } });
  const startedAt = performance.now();
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    output: () => out + err,
    stderr: () => err,
    sinceStartMs: () => performance.now() - startedAt,
    async waitFor(text: string): Promise<void> {
      await Promise.race([
        until(() => out.includes(text), `"${text}" from ${example}`, 15_000),
        exited.then(({ code }) => Promise.reject(new Error(`${example} exited (${code}) before printing "${text}":\n${out}${err}`))),
      ]);
    },
    async stop(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; exitMs: number }> {
      const sentAt = performance.now();
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const result = await exited;
      clearTimeout(timer);
      return { ...result, exitMs: performance.now() - sentAt };
    },
    /** Stops it with `signal` and asserts what every example owes its operator: code 0, at once. */
    async expectCleanStop(signal: NodeJS.Signals, withinMs: number): Promise<void> {
      const stopped = await this.stop(signal);
      expect(stopped, out + err).toMatchObject({ code: 0, signal: null });
      expect(stopped.exitMs).toBeLessThan(withinMs);
    },
    kill: () => child.kill('SIGKILL'),
  };
}

describe('examples run', () => {
  it('examples/leak-report.mjs names the leaking line and the holders', () => {
    const r = run('leak-report.mjs');
    expect(r.status, r.stderr).toBe(0);
    expect(r.ms).toBeLessThan(PROMPT_MS);
    expect(r.stderr).toContain('possible connection leak: a client checked out at examples/leak-report.mjs:13:29');
    expect(r.stdout).toContain('leak event: site=examples/leak-report.mjs:13:29 state=idle');
    expect(r.stdout).toMatch(/timeout exceeded when trying to connect\npoolguard\[orders-db\]: 2 of 2 connections checked out/);
    expect(r.stdout).toContain('2 × examples/leak-report.mjs:13:29');
  });

  it('examples/pino-logger.mjs writes leak reports as pino JSON lines with the report fields', () => {
    const r = run('pino-logger.mjs');
    expect(r.status, r.stderr).toBe(0);
    expect(r.ms).toBeLessThan(PROMPT_MS);
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
      /poolguard\[orders-db\]: pool\.end\(\) has waited [\d.]+ m?s for 1 checked-out connection, and cannot finish until it comes back\. Held by:\n  lease \d+ \(connect\) from examples\/graceful-shutdown\.mjs:29:29: held [\d.]+ m?s, nothing in flight for [\d.]+ m?s, inside an open transaction/,
    );
    // Reported half-way to the deadline (750 ms), or later on a busy machine whose timers run late.
    const [, waited, unit] = /pool\.end\(\) has waited ([\d.]+) (m?s)/.exec(r.stderr)!;
    expect(Number(waited) * (unit === 's' ? 1_000 : 1)).toBeGreaterThanOrEqual(740);
    expect(r.stderr).toContain('pool.end() reached guard.endTimeoutMs (1.5 s) with 1 connection still checked out');
    expect(r.stdout).toMatch(/cut at shutdown: examples\/graceful-shutdown\.mjs:29:29 \(held \d+ ms, open transaction\)/);
    const took = Number(/pool\.end\(\) resolved after (\d+) ms/.exec(r.stdout)![1]);
    expect(took).toBeGreaterThanOrEqual(1_450);
    // Not for ever (pg's own end() would wait until the spawn's timeout kills the example).
    expect(took).toBeLessThan(10_000);
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
    expect(r.ms).toBeLessThan(PROMPT_MS);
    expect(r.stdout).toContain('"exempt":"LISTEN order_events"');
    expect(r.stdout).toContain('"site":"examples/long-holds.mjs:29:29","exempt":"guard.exemptSites');
    expect(r.stdout).toContain('notification: order 42 shipped');
    expect(r.stdout).toContain('leaks reported: 0');
    expect(r.stderr).not.toContain('possible connection leak');
  });

  it('examples/otel-service.mjs serves the pool metrics and the leak counter on /metrics, and exits 0 at once on SIGTERM after 6 s', async () => {
    const port = await freePort();
    const example = startExample('otel-service.mjs', { METRICS_PORT: String(port) });
    try {
      await example.waitFor('metrics on http://');
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toMatch(/^db_client_connection_count\{db_client_connection_pool_name="orders-db",db_client_connection_state="used",[^}]*\} 1$/m);
      expect(text).toMatch(/^poolguard_lease_leaks_total\{db_client_connection_pool_name="orders-db"[^}]*\} 1$/m);
      expect(text).toMatch(/^db_client_connection_wait_time_bucket\{/m);
      expect(text).toMatch(/^poolguard_lease_oldest_age\{/m);
      // Past the SDK's 5 s span batch: its default OTLP exporter used to hold the exit about 8 s here.
      await sleep(Math.max(0, 6_000 - example.sinceStartMs()));
      await example.expectCleanStop('SIGTERM', 3_000);
      expect(example.stderr()).toBe('');
    } finally {
      example.kill();
    }
  }, 30_000);

  it('examples/otel-service.mjs exits 0 at once when stopped while it starts', async () => {
    const port = await freePort();
    const example = startExample('otel-service.mjs', { METRICS_PORT: String(port) });
    try {
      // The SDK is up (its Prometheus endpoint answers) and the pool is being filled.
      await listening(port);
      await example.expectCleanStop('SIGTERM', 3_000);
      expect(example.stderr()).toBe('');
    } finally {
      example.kill();
    }
  }, 30_000);

  it('examples/otel-service.mjs with an OTLP endpoint that does not answer: exits 0 on SIGINT within the 2 s it gives the last export, and says so', async () => {
    const port = await freePort();
    const example = startExample('otel-service.mjs', { METRICS_PORT: String(port), OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' });
    try {
      await example.waitFor('metrics on http://');
      await example.expectCleanStop('SIGINT', 4_000);
      expect(example.stderr()).toMatch(/^SIGINT: the last telemetry export (did not finish within 2 s|failed \(.+\)); stopped anyway\n$/);
    } finally {
      example.kill();
    }
  }, 30_000);

  it('examples/grafana-dashboard.json is a dashboard whose queries use the exported metric names', () => {
    const dashboard = JSON.parse(readFileSync(join(root, 'examples/grafana-dashboard.json'), 'utf8'));
    const exprs: string[] = dashboard.panels.flatMap((p: { targets: Array<{ expr: string }> }) => p.targets.map((t) => t.expr));
    for (const name of ['poolguard_connection_count', 'poolguard_request_pending', 'db_client_connection_limit', 'db_client_connection_wait_time_bucket', 'poolguard_lease_leaks_total', 'poolguard_lease_oldest_age']) {
      expect(exprs.some((e) => e.includes(name)), name).toBe(true);
    }
    expect(exprs.join('\n')).toContain('histogram_quantile(0.99');
  });
});

import { spawnSync } from 'node:child_process';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { Pool } from '../../src/pg.js';
import { root } from '../helpers/build.js';
import { DATABASE_URL } from '../helpers/db.js';

interface Out {
  callers: { started: number; settled: number; results: Record<string, string> };
  leaks: number;
  lines: string[];
}

function run(scenario: string, variant = ''): Out {
  const r = spawnSync(process.execPath, ['test/fixtures/otel-broken.mjs', scenario, variant], { cwd: root, encoding: 'utf8', env: { ...process.env, DATABASE_URL }, timeout: 30_000 });
  // A telemetry failure thrown into the leak timer ends the child with an uncaught exception; a
  // lost caller leaves its top-level await unsettled (exit code 13).
  expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
  return JSON.parse(r.stdout) as Out;
}

const telemetryLines = (out: Out) => out.lines.filter((l) => l.includes('OpenTelemetry'));

describe('broken OpenTelemetry never crashes the process nor loses a caller', () => {
  const cases: Array<[scenario: string, part: string, detail: RegExp]> = [
    ['getTracer throws', 'the tracer', /getTracer exploded/],
    ['null tracer', 'the tracer', /getTracer\(\) returned null, not a Tracer/],
    ['startSpan throws', 'the tracer', /startSpan exploded/],
    ['onStart throws', 'the tracer', /onStart exploded/],
    ['histogram record throws', 'the meter', /histogram\.record exploded/],
    ['observable callback throws', 'the metrics callback', /observe exploded/],
  ];
  for (const [scenario, part, detail] of cases) {
    it(`${scenario}: no crash, every caller settled, the timeout still rejects, one log line naming the part`, () => {
      const out = run(scenario);
      expect(out.callers).toEqual({
        started: 3,
        settled: 3,
        results: { 'first connect': 'ok', 'second connect (times out)': 'timeout exceeded when trying to connect', 'managed query': 'ok' },
      });
      expect(out.leaks).toBe(1);
      const lines = telemetryLines(out);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`poolguard[broken-otel]: OpenTelemetry failed in ${part}`);
      expect(lines[0]).toMatch(detail);
      expect(lines[0]).toContain('The pool and its callers are unaffected');
      // The leak report itself still reached the logger.
      expect(out.lines.some((l) => l.includes('possible connection leak'))).toBe(true);
    });
  }

  it("an exporter that throws behind the SDK's SimpleSpanProcessor: the SDK catches it itself, so nothing reaches poolguard and nothing is logged", () => {
    const out = run('exporter throws');
    expect(out.callers.settled).toBe(3);
    expect(out.callers.results['second connect (times out)']).toBe('timeout exceeded when trying to connect');
    expect(out.leaks).toBe(1);
    expect(telemetryLines(out)).toEqual([]);
  });

  it("startSpan throws on the checkout-timeout path alone: the waiting caller's connect() still rejects with the timeout error", () => {
    const out = run('startSpan throws', 'timeout only');
    expect(out.leaks).toBe(0);
    expect(out.callers.results['second connect (times out)']).toBe('timeout exceeded when trying to connect');
    expect(out.callers.settled).toBe(out.callers.started);
    expect(telemetryLines(out)).toHaveLength(1);
  });
});

describe('a provider that is not one is refused at construction', () => {
  const opts = (guard: object) => ({ connectionString: DATABASE_URL, guard: { logger: false as const, ...guard } });

  it('guard.tracerProvider whose getTracer() returns null or {}: TypeError naming the option and what it returned', () => {
    expect(() => new Pool(opts({ tracerProvider: { getTracer: () => null } }))).toThrow(
      new TypeError(
        'guard.tracerProvider.getTracer() returned null, not an OpenTelemetry Tracer: pass the TracerProvider of an OpenTelemetry SDK, or leave guard.tracerProvider unset to use the one registered globally',
      ),
    );
    expect(() => new Pool(opts({ tracerProvider: { getTracer: () => ({}) } }))).toThrow(/^guard\.tracerProvider\.getTracer\(\) returned an object without startSpan\(\), not an OpenTelemetry Tracer/);
  });

  it('guard.meterProvider whose getMeter() returns {} (was: "meter.createHistogram is not a function")', () => {
    expect(() => new Pool(opts({ meterProvider: { getMeter: () => ({}) } }))).toThrow(
      /^guard\.meterProvider\.getMeter\(\) returned an object without createHistogram\(\), not an OpenTelemetry Meter: pass the MeterProvider of an OpenTelemetry SDK/,
    );
    expect(() => new Pool(opts({ meterProvider: { getMeter: () => { throw new Error('no meters today'); } } }))).toThrow(
      /^guard\.meterProvider\.getMeter\(\) threw \(no meters today\), so it is not a working MeterProvider/,
    );
  });

  it('a real SDK provider is accepted, and telemetry off does not call the provider at all', async () => {
    const pool = new Pool(opts({ meterProvider: new MeterProvider() }));
    await pool.end();
    let called = 0;
    const off = new Pool(opts({ telemetry: 'off', tracerProvider: { getTracer: () => (called++, null) } }));
    expect(called).toBe(0);
    await off.end();
  });
});

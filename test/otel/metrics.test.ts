import { once } from 'node:events';
import { trace } from '@opentelemetry/api';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckoutTimeoutError, LeakReport } from '../../src/pg.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithPromise } from '../fixtures/leaky.mjs';
import { until, urlWithPassword } from '../helpers/db.js';
import { otelHarness, pointOf, type FlatMetric } from '../helpers/otel.js';
import { guardedPool } from '../helpers/pools.js';

const SECRET = 'otel-S3cret-pw';
let otel: ReturnType<typeof otelHarness>;
beforeAll(() => {
  otel = otelHarness();
});
afterAll(async () => {
  await otel.shutdown();
});

const POOL = 'orders-db';
const at = { 'db.client.connection.pool.name': POOL };

describe('OpenTelemetry metrics and spans after a scripted workload (real SDK, real server)', () => {
  let metrics: FlatMetric[];
  let leak: LeakReport;
  let timeout: CheckoutTimeoutError;
  let leakTraceId: string;
  let timeoutTraceId: string;
  let pool: ReturnType<typeof guardedPool>;
  let countsAtCollection: { idle: number; total: number };

  beforeAll(async () => {
    pool = guardedPool({
      connectionString: urlWithPassword(SECRET),
      max: 2,
      connectionTimeoutMillis: 400,
      // reportBusy: false: the two leases this workload means to report hold no query (idle); a
      // pool.query() or the dirty BEGIN slowed past 60 ms by a loaded machine would be a third.
      guard: { name: POOL, leakThresholdMs: 60, idleAfterMs: 20, reportBusy: false, meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider },
    });
    // 4 explicit checkouts and 3 pool.query() calls, all released
    for (let i = 0; i < 4; i++) (await pool.connect()).release();
    for (let i = 0; i < 3; i++) await pool.query('SELECT 1');
    // one dirty release
    const dirty = await pool.connect();
    await dirty.query('BEGIN');
    dirty.release();
    // one leak, taken inside a request span
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    await otel.tracer.startActiveSpan('GET /orders/:id', async (span) => {
      leakTraceId = span.spanContext().traceId;
      await leakWithPromise(pool);
      span.end();
    });
    await until(() => leaks.length === 1, 'the leak report');
    leak = leaks[0]!;
    // one timeout, inside another request: the second connection is held, the leak holds the first
    const held = await pool.connect();
    await otel.tracer.startActiveSpan('GET /report', async (span) => {
      timeoutTraceId = span.spanContext().traceId;
      timeout = (await pool.connect().catch((e: unknown) => e)) as CheckoutTimeoutError;
      span.end();
    });
    held.release();
    countsAtCollection = { idle: pool.idleCount, total: pool.totalCount };
    metrics = await otel.metrics();
  });

  it('records every db.client.connection metric with its kind, unit and the pool name', () => {
    const expected: Array<[string, string, boolean | undefined, string]> = [
      ['db.client.connection.count', 'SUM', false, '{connection}'],
      ['db.client.connection.idle.max', 'SUM', false, '{connection}'],
      ['db.client.connection.idle.min', 'SUM', false, '{connection}'],
      ['db.client.connection.limit', 'SUM', false, '{connection}'],
      ['db.client.connection.pending_requests', 'SUM', false, '{request}'],
      ['db.client.connection.timeouts', 'SUM', true, '{timeout}'],
      ['db.client.connection.create_time', 'HISTOGRAM', undefined, 's'],
      ['db.client.connection.wait_time', 'HISTOGRAM', undefined, 's'],
      ['db.client.connection.use_time', 'HISTOGRAM', undefined, 's'],
      ['poolguard.connection.count', 'SUM', false, '{connection}'],
      ['poolguard.request.pending', 'SUM', false, '{request}'],
    ];
    for (const [name, pointType, monotonic, unit] of expected) {
      const m = metrics.find((x) => x.name === name);
      expect(m, name).toBeDefined();
      expect([m!.pointType, m!.monotonic, m!.unit, m!.scope], name).toEqual([pointType, monotonic, unit, 'poolguard']);
      expect(m!.points.length, name).toBeGreaterThan(0);
      for (const p of m!.points) expect(p.attributes['db.client.connection.pool.name'], name).toBe(POOL);
    }
    expect(metrics.some((m) => m.name === 'db.client.connection.max')).toBe(false);
  });

  it('has the real values of the workload', () => {
    const totals = pool.guard.snapshot().totals;
    expect(pointOf(metrics, 'db.client.connection.count', { ...at, 'db.client.connection.state': 'used' })).toBe(1); // the leak
    expect(pointOf(metrics, 'db.client.connection.count', { ...at, 'db.client.connection.state': 'idle' })).toBe(countsAtCollection.idle);
    expect(pointOf(metrics, 'db.client.connection.pending_requests', at)).toBe(0);
    // poolguard's own names carry the same numbers (the dashboard reads these)
    expect(pointOf(metrics, 'poolguard.connection.count', { ...at, 'db.client.connection.state': 'used' })).toBe(1);
    expect(pointOf(metrics, 'poolguard.connection.count', { ...at, 'db.client.connection.state': 'idle' })).toBe(countsAtCollection.idle);
    expect(pointOf(metrics, 'poolguard.request.pending', at)).toBe(0);
    expect(pointOf(metrics, 'db.client.connection.limit', at)).toBe(2);
    expect(pointOf(metrics, 'db.client.connection.idle.max', at)).toBe(2);
    expect(pointOf(metrics, 'db.client.connection.idle.min', at)).toBe(0);
    expect(pointOf(metrics, 'db.client.connection.timeouts', at)).toBe(1);
    const wait = pointOf(metrics, 'db.client.connection.wait_time', at) as Histogram;
    const use = pointOf(metrics, 'db.client.connection.use_time', at) as Histogram;
    const create = pointOf(metrics, 'db.client.connection.create_time', at) as Histogram;
    // 4 + 3 + dirty + leak + held = 10 checkouts granted; all but the leak released
    expect(totals.checkouts).toBe(10);
    expect(wait.count).toBe(10);
    expect(use.count).toBe(9);
    expect(create.count).toBeGreaterThanOrEqual(2);
    expect(create.count).toBeLessThanOrEqual(totals.created);
    expect(create.min!).toBeGreaterThan(0);
    expect(create.max!).toBeLessThan(5);
    expect(wait.max!).toBeLessThan(1);
  });

  it("records poolguard's own signals under poolguard.*", () => {
    // the leak, and the connection held (idle) through the timeout, which was released afterwards
    expect(pointOf(metrics, 'poolguard.lease.leaks', at)).toBe(2);
    expect(pointOf(metrics, 'poolguard.lease.leaks_resolved', at)).toBe(1);
    expect(pointOf(metrics, 'poolguard.lease.reclaims', at)).toBe(0);
    expect(pointOf(metrics, 'poolguard.lease.dirty_releases', at)).toBe(1);
    expect(pointOf(metrics, 'poolguard.connection.retirements', { ...at, 'poolguard.retire.reason': 'dirty' })).toBe(1);
    expect(pointOf(metrics, 'poolguard.connection.retirements', { ...at, 'poolguard.retire.reason': 'lifetime' })).toBe(0);
    expect(pointOf(metrics, 'poolguard.lease.oldest_age', at)).toBeGreaterThanOrEqual(0.06);
    expect(pointOf(metrics, 'poolguard.request.oldest_wait', at)).toBe(0);
    const oldest = metrics.find((m) => m.name === 'poolguard.lease.oldest_age')!;
    expect([oldest.pointType, oldest.unit]).toEqual(['GAUGE', 's']);
  });

  it('the leak report, the snapshot and the timeout error carry the trace of the request that leaked', () => {
    expect(leak.trace?.traceId).toBe(leakTraceId);
    const lease = pool.guard.snapshot().leases.find((l) => l.id === leak.leaseId)!;
    expect(lease.trace?.traceId).toBe(leakTraceId);
    expect(timeout.holders.find((h) => h.site === 'test/fixtures/leaky.mjs:5:29')?.trace?.traceId).toBe(leakTraceId);
    expect(timeout.stack).toContain(`oldest from trace ${leakTraceId}`);
    expect(JSON.parse(JSON.stringify(leak)).trace).toEqual(leak.trace);
  });

  it('records the leak on its trace, linked to the checkout, and a wait span only where it tells something', () => {
    const spans = otel.exporter.getFinishedSpans();
    const leakSpan = spans.find((s) => s.name === 'poolguard.lease.leak')!;
    expect(leakSpan.spanContext().traceId).toBe(leakTraceId);
    expect(leakSpan.links[0]!.context.traceId).toBe(leakTraceId);
    expect(leakSpan.attributes).toMatchObject({ 'poolguard.lease.site': 'test/fixtures/leaky.mjs:5:29', 'poolguard.lease.state': 'idle', 'db.client.connection.pool.name': POOL, 'db.system.name': 'postgresql' });
    expect(leakSpan.attributes['poolguard.lease.held_ms']).toBeGreaterThanOrEqual(60);
    const waits = spans.filter((s) => s.name === 'poolguard.checkout.wait');
    // the timed-out checkout, inside GET /report, with an error; warm checkouts outside a request made none
    const timedOut = waits.find((s) => s.spanContext().traceId === timeoutTraceId)!;
    expect(timedOut.status.code).toBe(2);
    expect(timedOut.attributes['error.type']).toBe('timeout');
    const request = spans.find((s) => s.name === 'GET /report')!;
    expect(timedOut.parentSpanContext?.spanId ?? (timedOut as unknown as { parentSpanId?: string }).parentSpanId).toBe(request.spanContext().spanId);
    expect(timedOut.endTime[0] * 1e3 + timedOut.endTime[1] / 1e6 - (timedOut.startTime[0] * 1e3 + timedOut.startTime[1] / 1e6)).toBeGreaterThanOrEqual(390);
    expect(waits.every((s) => s.spanContext().traceId === timeoutTraceId || s.spanContext().traceId === leakTraceId)).toBe(true);
  });

  it('puts no password or connection string in any attribute', () => {
    const everything = JSON.stringify(metrics) + JSON.stringify(otel.exporter.getFinishedSpans().map((s) => [s.name, s.attributes, s.events]));
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain('postgres://');
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});

describe('state per pool', () => {
  it('two pools in one process never mix their counts', async () => {
    const a = guardedPool({ max: 3, guard: { name: 'pool-a', meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider } });
    const b = guardedPool({ max: 5, guard: { name: 'pool-b', meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider } });
    const heldA = [await a.connect()];
    const heldB = [await b.connect(), await b.connect()];
    for (let i = 0; i < 3; i++) await a.query('SELECT 1');
    const m = await otel.metrics();
    const used = (pool: string) => pointOf(m, 'db.client.connection.count', { 'db.client.connection.pool.name': pool, 'db.client.connection.state': 'used' });
    expect([used('pool-a'), used('pool-b')]).toEqual([1, 2]);
    expect(pointOf(m, 'db.client.connection.limit', { 'db.client.connection.pool.name': 'pool-a' })).toBe(3);
    expect(pointOf(m, 'db.client.connection.limit', { 'db.client.connection.pool.name': 'pool-b' })).toBe(5);
    expect((pointOf(m, 'db.client.connection.wait_time', { 'db.client.connection.pool.name': 'pool-a' }) as Histogram).count).toBe(4);
    expect((pointOf(m, 'db.client.connection.wait_time', { 'db.client.connection.pool.name': 'pool-b' }) as Histogram).count).toBe(2);
    [...heldA, ...heldB].forEach((c) => c.release());
  });

  it('an ended pool reports its final state once, then stops', async () => {
    const c = guardedPool({ max: 1, guard: { name: 'pool-ended', meterProvider: otel.meterProvider } });
    const client = await c.connect();
    client.release();
    const at = { 'db.client.connection.pool.name': 'pool-ended' };
    expect(pointOf(await otel.metrics(), 'db.client.connection.count', { ...at, 'db.client.connection.state': 'idle' })).toBe(1);
    // pg's end() resolves once the pool has let go of its clients, before their sockets close;
    // poolguard counts the retirement at the client's 'end' event. Its listener was added at
    // checkout, before this one, so when this one runs the count is final (a fixed sleep here
    // lost the race on a loaded machine).
    const closed = once(client, 'end');
    await c.end();
    await closed;
    const final = await otel.metrics();
    expect(pointOf(final, 'db.client.connection.count', { ...at, 'db.client.connection.state': 'idle' })).toBe(0);
    expect(pointOf(final, 'poolguard.connection.retirements', { ...at, 'poolguard.retire.reason': 'ended' })).toBe(1);
  });
});

describe('generic-pool pools record the same metrics', () => {
  it('db.client.connection.* with the pool name, from the same core', async () => {
    const { createPool } = await import('../../src/generic-pool.js');
    const pool = createPool({ create: async () => ({}), destroy: async () => {} }, { max: 4, guard: { name: 'cache', logger: false, meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider } });
    const a = await pool.acquire();
    const b = await pool.acquire();
    await pool.release(b);
    const m = await otel.metrics();
    const at = { 'db.client.connection.pool.name': 'cache' };
    expect(pointOf(m, 'db.client.connection.count', { ...at, 'db.client.connection.state': 'used' })).toBe(1);
    expect(pointOf(m, 'db.client.connection.count', { ...at, 'db.client.connection.state': 'idle' })).toBe(1);
    expect(pointOf(m, 'db.client.connection.limit', at)).toBe(4);
    expect((pointOf(m, 'db.client.connection.wait_time', at) as Histogram).count).toBe(2);
    expect((pointOf(m, 'db.client.connection.use_time', at) as Histogram).count).toBe(1);
    expect((pointOf(m, 'db.client.connection.create_time', at) as Histogram).count).toBe(2);
    await pool.release(a);
    await pool.drain();
    await pool.clear();
  });
});

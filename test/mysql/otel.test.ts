import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/db.js';
import { guardedMariadbPool } from '../helpers/mariadb-pools.js';
import { connectionOf, guardedMysqljsPool } from '../helpers/mysqljs-pools.js';
import { otelHarness, pointOf } from '../helpers/otel.js';

let harness: ReturnType<typeof otelHarness> | undefined;
afterEach(async () => {
  await harness?.shutdown();
  harness = undefined;
});

describe('OpenTelemetry for the mysql and MariaDB connector pools', () => {
  it("mysql: the same metrics and spans, db.system.name from the server's handshake (MariaDB here)", async () => {
    harness = otelHarness();
    const name = 'mysqljs-otel';
    const pool = guardedMysqljsPool({ connectionLimit: 1, guard: { name, leakThresholdMs: 60, acquireTimeoutMs: 100, meterProvider: harness.meterProvider, tracerProvider: harness.tracerProvider } });
    const held = await connectionOf(pool);
    await until(() => harness!.exporter.getFinishedSpans().some((s) => s.name === 'poolguard.lease.leak'), 'a leak span');
    await connectionOf(pool).catch(() => {});
    const spans = harness.exporter.getFinishedSpans();
    expect(spans.find((s) => s.name === 'poolguard.lease.leak')!.attributes).toMatchObject({ 'db.client.connection.pool.name': name, 'db.system.name': 'mariadb' });
    expect(spans.find((s) => s.name === 'poolguard.checkout.wait' && s.attributes['error.type'] === 'timeout')).toBeDefined();
    const metrics = await harness.metrics();
    expect(pointOf(metrics, 'db.client.connection.count', { 'db.client.connection.pool.name': name, 'db.client.connection.state': 'used' })).toBe(1);
    expect(pointOf(metrics, 'db.client.connection.limit', { 'db.client.connection.pool.name': name })).toBe(1);
    expect(pointOf(metrics, 'db.client.connection.timeouts', { 'db.client.connection.pool.name': name })).toBe(1);
    held.release();
  });

  it("the MariaDB connector: the same metrics and spans; its own timeout is counted as one", async () => {
    harness = otelHarness();
    const name = 'mariadb-otel';
    const pool = guardedMariadbPool({ connectionLimit: 1, acquireTimeout: 100, guard: { name, leakThresholdMs: 60, meterProvider: harness.meterProvider, tracerProvider: harness.tracerProvider } });
    const held = await pool.getConnection();
    await until(() => harness!.exporter.getFinishedSpans().some((s) => s.name === 'poolguard.lease.leak'), 'a leak span');
    await pool.getConnection().catch(() => {});
    const spans = harness.exporter.getFinishedSpans();
    expect(spans.find((s) => s.name === 'poolguard.lease.leak')!.attributes).toMatchObject({ 'db.client.connection.pool.name': name, 'db.system.name': 'mariadb' });
    const metrics = await harness.metrics();
    expect(pointOf(metrics, 'db.client.connection.count', { 'db.client.connection.pool.name': name, 'db.client.connection.state': 'used' })).toBe(1);
    expect(pointOf(metrics, 'db.client.connection.limit', { 'db.client.connection.pool.name': name })).toBe(1);
    expect(pointOf(metrics, 'db.client.connection.timeouts', { 'db.client.connection.pool.name': name })).toBe(1);
    await held.release();
  });
});

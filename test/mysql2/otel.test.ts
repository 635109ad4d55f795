import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithPromise } from '../fixtures/mysql-leaky.mjs';
import { until } from '../helpers/db.js';
import { guardedPromisePool } from '../helpers/mysql-pools.js';
import { otelHarness, pointOf } from '../helpers/otel.js';

let harness: ReturnType<typeof otelHarness> | undefined;
afterEach(async () => {
  await harness?.shutdown();
  harness = undefined;
});

describe('mysql2 OpenTelemetry and snapshot()', () => {
  it("the same metrics, spans named with the server's db.system.name (MariaDB here: mariadb), and a snapshot", async () => {
    harness = otelHarness();
    const name = 'mysql2-otel';
    // The first checkouts open connections: a timeout far above that keeps a loaded machine from failing them.
    const pool = guardedPromisePool({
      connectionLimit: 2,
      guard: { name, leakThresholdMs: 60, acquireTimeoutMs: 2_000, meterProvider: harness.meterProvider, tracerProvider: harness.tracerProvider },
    });
    const held = [await leakWithPromise(pool), await leakWithPromise(pool)];
    await until(() => harness!.exporter.getFinishedSpans().some((s) => s.name === 'poolguard.lease.leak'), 'a leak span');
    await pool.getConnection().catch(() => {});
    const spans = harness.exporter.getFinishedSpans();
    const leak = spans.find((s) => s.name === 'poolguard.lease.leak')!;
    expect(leak.attributes).toMatchObject({ 'poolguard.lease.site': 'test/fixtures/mysql-leaky.mjs:5:33', 'db.client.connection.pool.name': name, 'db.system.name': 'mariadb' });
    const wait = spans.find((s) => s.name === 'poolguard.checkout.wait')!;
    expect(wait.attributes).toMatchObject({ 'error.type': 'timeout', 'db.system.name': 'mariadb' });
    const metrics = await harness.metrics();
    expect(pointOf(metrics, 'db.client.connection.count', { 'db.client.connection.pool.name': name, 'db.client.connection.state': 'used' })).toBe(2);
    expect(pointOf(metrics, 'db.client.connection.limit', { 'db.client.connection.pool.name': name })).toBe(2);
    expect(pointOf(metrics, 'db.client.connection.timeouts', { 'db.client.connection.pool.name': name })).toBe(1);

    const snap = pool.guard.snapshot();
    expect(JSON.parse(JSON.stringify(snap))).toMatchObject({
      pool: name,
      counts: { total: 2, idle: 0, waiting: 0, max: 2, leased: 2 },
      totals: { checkouts: 2, timeouts: 1, leaks: 2 },
      leases: [{ kind: 'connect', site: 'test/fixtures/mysql-leaky.mjs:5:33', state: 'idle' }, { kind: 'connect', state: 'idle' }],
    });
    expect(snap.connections.map((c) => c.pid)).toEqual(held.map((c) => c.connection.threadId));
    held.forEach((c) => c.release());
  });
});

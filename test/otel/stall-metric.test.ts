import { afterAll, describe, expect, it } from 'vitest';
import type { StallReport } from '../../src/pg.js';
import { sleep } from '../helpers/db.js';
import { otelHarness, pointOf } from '../helpers/otel.js';
import { guardedPool } from '../helpers/pools.js';

const otel = otelHarness();
afterAll(async () => {
  await otel.shutdown();
});

describe('a blocked event loop is counted under poolguard.* (real SDK, real server)', () => {
  it('poolguard.event_loop.stalls counts the stall, with the pool name', async () => {
    const pool = guardedPool({ guard: { name: 'truth-stalls', leakThresholdMs: 200, meterProvider: otel.meterProvider } });
    const stalls: StallReport[] = [];
    pool.guard.on('stall', (r) => stalls.push(r));
    const client = await pool.connect();
    await sleep(60);
    const end = performance.now() + 500;
    while (performance.now() < end) {
      // a synchronous busy-wait
    }
    await sleep(20);
    expect(stalls).toHaveLength(1);
    const metrics = await otel.metrics();
    const metric = metrics.find((m) => m.name === 'poolguard.event_loop.stalls')!;
    expect([metric.pointType, metric.monotonic, metric.unit]).toEqual(['SUM', true, '{stall}']);
    expect(pointOf(metrics, 'poolguard.event_loop.stalls', { 'db.client.connection.pool.name': 'truth-stalls' })).toBe(1);
    client.release();
  });
});

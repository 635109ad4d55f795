// generic-pool 3.9's clear() destroys each available resource (`_destroy`: invalidated, dropped
// from `size`) but leaves it on the available list, so `pool.available` still counts it. poolguard
// counts what is true: those resources are gone, none is idle.
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool } from '../../src/generic-pool.js';
import { DATABASE_URL } from '../helpers/db.js';
import { otelHarness, pointOf } from '../helpers/otel.js';

const clients: pg.Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => {})));
});

function clientPool(guard: NonNullable<Parameters<typeof createPool>[1]>['guard'] = {}) {
  return createPool<pg.Client>(
    {
      create: async () => {
        const c = new pg.Client({ connectionString: DATABASE_URL, application_name: 'gp_counts_after_clear' });
        clients.push(c);
        await c.connect();
        return c;
      },
      destroy: (c) => c.end(),
    },
    { max: 2, guard: { logger: false, ...guard } },
  );
}

/** Two real clients created, used and given back: both idle. */
async function twoIdle(pool: ReturnType<typeof clientPool>): Promise<void> {
  const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
  await a!.query('select 1');
  await Promise.all([pool.release(a!), pool.release(b!)]);
  expect(pool.guard.snapshot().counts).toMatchObject({ total: 2, idle: 2, leased: 0 });
}

describe('generic-pool counts after clear()', () => {
  it('drain() then clear(): no resource is left, none idle, though generic-pool still says available 2', async () => {
    const pool = clientPool();
    await twoIdle(pool);
    await pool.drain();
    await pool.clear();
    // generic-pool's own counters stay as they are (drop-in): size is right, available is not.
    expect(pool.size).toBe(0);
    expect(pool.available).toBe(2);
    const snap = pool.guard.snapshot();
    expect(snap.counts).toMatchObject({ total: 0, idle: 0, leased: 0, waiting: 0 });
    expect(snap.connections).toEqual([]);
    expect(clients.every((c) => (c as unknown as { _ending: boolean })._ending)).toBe(true);
  });

  it('clear() while the pool still serves: the snapshot and db.client.connection.count say no idle resource', async () => {
    const harness = otelHarness();
    try {
      const pool = clientPool({ name: 'gp-cleared', meterProvider: harness.meterProvider });
      await twoIdle(pool);
      await pool.clear();
      expect(pool.available).toBe(2);
      expect(pool.guard.snapshot().counts).toMatchObject({ total: 0, idle: 0 });
      const metrics = await harness.metrics();
      expect(pointOf(metrics, 'db.client.connection.count', { 'db.client.connection.pool.name': 'gp-cleared', 'db.client.connection.state': 'idle' })).toBe(0);
      await pool.drain();
    } finally {
      await harness.shutdown();
    }
  });
});

import * as genericPool from 'generic-pool';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../src/generic-pool.js';
import { Pool } from '../../src/pg.js';
import { DATABASE_URL } from '../helpers/db.js';
import { otelHarness, pointOf } from '../helpers/otel.js';
import { guardedPool } from '../helpers/pools.js';

/**
 * Issue 16.3: every path that ends a checkout — a synchronous throw, an asynchronous error, a
 * timeout, the callback and the promise form, generic-pool's rejection — removes its lease, so
 * that the oldest-waiter gauge and the ledger never count a caller that is no longer waiting.
 */
let otel: ReturnType<typeof otelHarness>;
beforeAll(() => {
  otel = otelHarness();
});
afterAll(async () => {
  await otel.shutdown();
});

const OLDEST_WAIT = 'poolguard.request.oldest_wait';
const PENDING = 'db.client.connection.pending_requests';
const at = (name: string) => ({ 'db.client.connection.pool.name': name });

async function gauges(name: string): Promise<{ oldestWait: number; pending: number | undefined }> {
  const metrics = await otel.metrics();
  return { oldestWait: pointOf(metrics, OLDEST_WAIT, at(name)) as number, pending: pointOf(metrics, PENDING, at(name)) as number | undefined };
}

/** What calling `fn` did: its synchronous throw, or what its promise settled with. */
async function outcome(fn: () => unknown): Promise<string> {
  try {
    const r = fn();
    if (r instanceof Promise) await r;
    return 'ok';
  } catch (e) {
    return `threw ${(e as Error).constructor.name}: ${(e as Error).message}`;
  }
}

// pg cannot parse this port: pg-pool's connect() throws synchronously when it builds the client.
const UNPARSEABLE = 'postgres://postgres@127.0.0.1:notaport/test';

describe('every checkout that ends leaves the ledger', () => {
  it('pg: 200 checkouts that pg fails synchronously (unparseable connection string) leave no lease and no waiter, in every form', async () => {
    const name = 'contain-sync-throw';
    const pool = new Pool({ connectionString: UNPARSEABLE, guard: { name, logger: false, meterProvider: otel.meterProvider } });
    const bare = new pg.Pool({ connectionString: UNPARSEABLE });
    const forms: Array<[string, (p: pg.Pool) => unknown]> = [
      ['connect()', (p) => p.connect()],
      ['connect(cb)', (p) => p.connect(() => {})],
      ['query()', (p) => p.query('SELECT 1')],
      ['query(cb)', (p) => p.query('SELECT 1', () => {})],
    ];
    for (const [label, call] of forms) {
      const expected = await outcome(() => call(bare));
      // The guard changes nothing the caller sees: the same synchronous throw as pg's.
      expect(expected).toMatch(/^threw TypeError: /);
      for (let i = 0; i < 50; i++) expect(await outcome(() => call(pool)), label).toBe(expected);
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(await gauges(name)).toEqual({ oldestWait: 0, pending: 0 });
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    expect(pool.guard.snapshot().totals.checkouts).toBe(0);
  });

  it('pg: asynchronous errors, timeouts and a closed pool, in the callback and the promise form, leave no waiter', async () => {
    const name = 'contain-async';
    // pg's connectionTimeoutMillis bounds opening a connection too: the one held must open however
    // busy the machine is (a real connect can take longer than 50 ms under load); only then do the
    // waiters behind it get the short timeout. pg-pool reads its options at each connect().
    const pool = guardedPool({ max: 1, connectionTimeoutMillis: 0, guard: { name, meterProvider: otel.meterProvider } });
    const held = await pool.connect();
    (pool.options as { connectionTimeoutMillis?: number }).connectionTimeoutMillis = 50;
    // Timeouts, promise and callback form.
    await expect(pool.connect()).rejects.toThrow(/timeout exceeded when trying to connect/);
    await new Promise<void>((resolve) => pool.connect((err) => (expect(err?.message).toMatch(/timeout exceeded/), resolve())));
    await expect(pool.query('SELECT 1')).rejects.toThrow(/timeout exceeded/);
    expect(await gauges(name)).toEqual({ oldestWait: 0, pending: 0 });
    held.release();
    // An asynchronous connection error: a server that refuses the database.
    const refused = guardedPool({ connectionString: DATABASE_URL.replace(/\/[^/]*$/, '/contain_no_such_db'), guard: { name: `${name}-refused`, meterProvider: otel.meterProvider } });
    await expect(refused.connect()).rejects.toThrow(/contain_no_such_db/);
    await new Promise<void>((resolve) => refused.connect((err) => (expect(err?.message).toMatch(/contain_no_such_db/), resolve())));
    expect(await gauges(`${name}-refused`)).toEqual({ oldestWait: 0, pending: 0 });
    // A closed pool: pg-pool answers the callback synchronously.
    await pool.end();
    await expect(pool.connect()).rejects.toThrow(/Cannot use a pool after calling end/);
    expect(await gauges(name)).toEqual({ oldestWait: 0, pending: 0 });
    expect(pool.guard.snapshot().counts.leased).toBe(0);
  });

  it('generic-pool: a synchronous throw, a rejection and a timeout of acquire() leave no waiter', async () => {
    const name = 'contain-generic';
    const factory = { create: async () => ({}), destroy: async () => {} };
    // generic-pool's acquire() throws synchronously on a priority it cannot convert to a number
    // (with no acquireTimeoutMillis: with one, generic-pool's own abandoned request rejects later).
    const untimed = createPool(factory, { max: 1, guard: { name: `${name}-sync`, logger: false, meterProvider: otel.meterProvider } });
    const bare = genericPool.createPool(factory, { max: 1 });
    const expected = await outcome(() => bare.acquire(Symbol('p') as never));
    expect(expected).toMatch(/^threw TypeError/);
    for (let i = 0; i < 200; i++) expect(await outcome(() => untimed.acquire(Symbol('p') as never))).toBe(expected);
    expect(await gauges(`${name}-sync`)).toEqual({ oldestWait: 0, pending: 0 });
    expect(untimed.guard.snapshot().counts.leased).toBe(0);

    const pool = createPool(factory, { max: 1, acquireTimeoutMillis: 30, guard: { name, logger: false, meterProvider: otel.meterProvider } });
    const held = await pool.acquire();
    await expect(pool.acquire()).rejects.toThrow(/ResourceRequest timed out/);
    await expect(pool.use(async () => 1)).rejects.toThrow(/ResourceRequest timed out/);
    expect(await gauges(name)).toEqual({ oldestWait: 0, pending: 0 });
    await pool.release(held);
    const drained = pool.drain();
    await expect(pool.acquire()).rejects.toThrow(/pool is draining/);
    await drained;
    await pool.clear();
    for (const p of [bare, untimed]) await p.drain().then(() => p.clear());
    expect(await gauges(name)).toEqual({ oldestWait: 0, pending: 0 });
    expect(pool.guard.snapshot().counts.leased).toBe(0);
  });
});

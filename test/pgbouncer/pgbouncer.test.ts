import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit, type LeakReport, type RetireReport } from '../../src/pg.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithPromise } from '../fixtures/leaky.mjs';
import { DATABASE_URL, sleep, until } from '../helpers/db.js';
import { startPgBouncer, type PgBouncer } from '../helpers/pgbouncer.js';
import { guardedPool } from '../helpers/pools.js';

let bouncer: PgBouncer;
beforeAll(async () => {
  bouncer = await startPgBouncer({ defaultPoolSize: 4, maxClientConn: 40 });
});
afterAll(async () => {
  await bouncer?.stop();
});

describe('through a real PgBouncer in transaction pooling mode', () => {
  it('a leak is reported idle with the line that took the client', async () => {
    const pool = guardedPool({ connectionString: bouncer.url, guard: { leakThresholdMs: 60, idleAfterMs: 30 } });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    const client = await leakWithPromise(pool);
    await client.query('SELECT 1');
    await until(() => leaks.length > 0, 'a leak report');
    expect(leaks[0]!.site).toBe('test/fixtures/leaky.mjs:5:29');
    expect(leaks[0]!.state).toBe('idle');
    client.release();
  });

  it('a client released inside a transaction is destroyed, not handed on (it would pin a server connection)', async () => {
    const pool = guardedPool({ connectionString: bouncer.url, max: 1 });
    const retired: RetireReport[] = [];
    pool.guard.on('retire', (r) => retired.push(r));
    const client = await pool.connect();
    await client.query('BEGIN');
    client.release();
    expect(pool.guard.snapshot().totals.dirtyReleases).toBe(1);
    await until(() => retired.length > 0, 'the retirement');
    expect(retired[0]!.reason).toBe('dirty');
    const { rows } = await pool.query(`SELECT now() = statement_timestamp() AS fresh`);
    expect(rows[0].fresh).toBe(true); // not inside the abandoned transaction
  });

  it('connections past their lifetime are retired and replaced', async () => {
    const pool = guardedPool({ connectionString: bouncer.url, max: 2, guard: { maxLifetimeMs: 150, lifetimeJitter: 0 } });
    const retired: RetireReport[] = [];
    pool.guard.on('retire', (r) => retired.push(r));
    await pool.query('SELECT 1');
    await sleep(400);
    await until(() => retired.some((r) => r.reason === 'lifetime'), 'a lifetime retirement');
    await pool.query('SELECT 1');
    expect(pool.guard.snapshot().totals.created).toBe(2);
  });

  it('the audit recognises PgBouncer and checks max × instances against max_client_conn and pool_size', async () => {
    const result = await audit({ options: { connectionString: bouncer.url, max: 10, connectionTimeoutMillis: 5_000 }, instances: 6, server: bouncer.url });
    expect(result.server!.pgbouncer).toMatchObject({ poolMode: 'transaction', poolSize: 4, maxClientConn: 40 });
    expect(result.server!.pgbouncer!.version).toMatch(/^PgBouncer /);
    const rules = result.findings.map((f) => f.rule);
    expect(rules).toContain('pgbouncer-max-client-conn');
    expect(rules).toContain('pgbouncer-pool-size');
    expect(rules).not.toContain('max-exceeds-server');
    const clientConn = result.findings.find((f) => f.rule === 'pgbouncer-max-client-conn')!;
    expect(clientConn.message).toBe('max 10 × 6 instances = 60 client connections, but PgBouncer accepts 40 (max_client_conn)');
    const fits = await audit({ options: { max: 5, connectionTimeoutMillis: 5_000 }, instances: 4, server: bouncer.url });
    expect(fits.findings.map((f) => f.rule)).not.toContain('pgbouncer-max-client-conn');
  });

  it('the audit of a direct connection does not look for PgBouncer', async () => {
    const result = await audit({ options: { max: 5, connectionTimeoutMillis: 5_000 }, server: DATABASE_URL });
    expect(result.server!.pgbouncer).toBeUndefined();
  });
});

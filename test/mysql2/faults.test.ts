import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckoutTimeoutError, type RetireReport } from '../../src/mysql2.js';
import { until } from '../helpers/db.js';
import { guardedPromisePool } from '../helpers/mysql-pools.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

let proxy: TcpProxy;
beforeEach(async () => {
  proxy = new TcpProxy({ host: '127.0.0.1', port: 3306 });
  await proxy.start();
});
afterEach(async () => {
  await proxy.stop();
});

const through = () => `mysql://root@127.0.0.1:${proxy.port}/test`;

describe('mysql2 through a TCP proxy: the server goes away and comes back, a connect is blackholed', () => {
  it('connections cut while idle leave the pool (counted, reported); once the server is back the next query works', async () => {
    const pool = guardedPromisePool({ uri: through(), connectionLimit: 2 });
    const retired: RetireReport[] = [];
    pool.guard.on('retire', (r) => retired.push(r));
    const [a, b] = [await pool.getConnection(), await pool.getConnection()];
    a.release();
    b.release();
    // The proxy stops listening once its connections are gone: the server is away.
    const away = proxy.setMode('refuse');
    proxy.cutAll();
    await away;
    await until(() => retired.length === 2, 'both idle connections removed');
    expect(pool.guard.snapshot().counts).toMatchObject({ total: 0, idle: 0, leased: 0 });
    await expect(pool.query('SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    await proxy.setMode('forward');
    const [rows] = await pool.query('SELECT 2 AS two');
    expect(rows).toEqual([{ two: 2 }]);
  });

  it('a held connection cut mid-query: the holder gets mysql2’s error, the lease ends, the pool serves the next caller', async () => {
    const pool = guardedPromisePool({ uri: through(), connectionLimit: 1 });
    const held = await pool.getConnection();
    const running = held.query('SELECT SLEEP(2)').catch((e: Error & { code?: string }) => e);
    await until(() => proxy.openConnections === 1, 'the connection through the proxy');
    proxy.cutAll();
    const err = (await running) as Error & { code?: string };
    expect(err.code).toMatch(/^(ECONNRESET|PROTOCOL_CONNECTION_LOST)$/);
    await until(() => pool.guard.snapshot().counts.leased === 0, 'the lease ended with its connection');
    expect(() => held.release()).not.toThrow();
    const [rows] = await pool.query('SELECT 3 AS three');
    expect(rows).toEqual([{ three: 3 }]);
  });

  it('a blackholed connect: the caller fails at guard.acquireTimeoutMs, and mysql2’s connectTimeout later frees the slot', async () => {
    await proxy.setMode('hang');
    const pool = guardedPromisePool({ uri: through(), connectionLimit: 1, connectTimeout: 400, guard: { acquireTimeoutMs: 150 } });
    const started = Date.now();
    const err = (await pool.getConnection().catch((e: unknown) => e)) as CheckoutTimeoutError;
    expect(err).toBeInstanceOf(CheckoutTimeoutError);
    expect(Date.now() - started).toBeLessThan(400);
    expect(err.message).toContain('0 of 1 connections checked out');
    await until(() => pool.guard.snapshot().counts.total === 0, 'the failed connect leaves the pool', 3_000);
    await proxy.setMode('forward');
    const [rows] = await pool.query('SELECT 4 AS four');
    expect(rows).toEqual([{ four: 4 }]);
    expect(pool.guard.snapshot().counts).toMatchObject({ total: 1, idle: 1, leased: 0 });
  });
});

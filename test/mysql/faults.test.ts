import type mysql from 'mysql';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RetireReport } from '../../src/mysql.js';
import { until } from '../helpers/db.js';
import { MYSQL } from '../helpers/mysql.js';
import { connectionOf, guardedMysqljsPool, queryOn } from '../helpers/mysqljs-pools.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

let proxy: TcpProxy;
beforeEach(async () => {
  proxy = new TcpProxy({ host: MYSQL.host, port: MYSQL.port });
  await proxy.start();
});
afterEach(async () => {
  await proxy.stop();
});

describe('mysql through a TCP proxy: the server goes away and comes back', () => {
  it('connections cut while idle leave the pool (retired, counted); while away a caller gets mysql’s own error; once back the next query works', async () => {
    const pool = guardedMysqljsPool({ port: proxy.port, connectionLimit: 2 });
    const retired: RetireReport[] = [];
    pool.guard.on('retire', (r) => retired.push(r));
    const [a, b] = [await connectionOf(pool), await connectionOf(pool)];
    a.release();
    b.release();
    const away = proxy.setMode('refuse');
    proxy.cutAll();
    await away;
    await until(() => retired.length === 2, 'both idle connections removed');
    expect(retired.map((r) => r.reason)).toEqual(['terminated', 'terminated']);
    expect(pool.guard.snapshot().counts).toMatchObject({ total: 0, idle: 0, leased: 0 });
    const err = (await queryOn(pool, 'SELECT 1').catch((e: unknown) => e)) as mysql.MysqlError;
    expect(err.code).toBe('ECONNREFUSED');
    expect(err.constructor).toBe(Error);
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    await proxy.setMode('forward');
    expect(await queryOn(pool, 'SELECT 2 AS two')).toEqual([{ two: 2 }]);
  });

  it('a held connection cut mid-query: the holder gets mysql’s error, the lease ends as terminated, the pool serves the next caller', async () => {
    const pool = guardedMysqljsPool({ port: proxy.port, connectionLimit: 1 });
    const held = await connectionOf(pool);
    const running = queryOn(held, 'SELECT SLEEP(2)').catch((e: unknown) => e);
    await until(() => pool.guard.snapshot().leases[0]?.state === 'busy', 'the query in flight');
    proxy.cutAll();
    const err = (await running) as mysql.MysqlError;
    expect(err.code).toMatch(/^(ECONNRESET|PROTOCOL_CONNECTION_LOST)$/);
    await until(() => pool.guard.snapshot().counts.leased === 0, 'the lease ended with its connection');
    expect(pool.guard.snapshot().totals.retired.terminated).toBe(1);
    expect(() => held.release()).not.toThrow();
    expect(await queryOn(pool, 'SELECT 3 AS three')).toEqual([{ three: 3 }]);
  });
});

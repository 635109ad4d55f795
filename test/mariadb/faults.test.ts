import * as mariadb from 'mariadb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RetireReport } from '../../src/mariadb.js';
import { until } from '../helpers/db.js';
import { MYSQL } from '../helpers/mysql.js';
import { bareMariadbPool, guardedMariadbPool } from '../helpers/mariadb-pools.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

let proxy: TcpProxy;
beforeEach(async () => {
  proxy = new TcpProxy({ host: MYSQL.host, port: MYSQL.port });
  await proxy.start();
});
afterEach(async () => {
  await proxy.stop();
});

describe('the MariaDB connector through a TCP proxy: the server goes away and comes back', () => {
  it('connections cut while idle leave the pool (retired as terminated); once the server is back the next query works', async () => {
    const pool = guardedMariadbPool({ port: proxy.port, connectionLimit: 2, acquireTimeout: 1_500 });
    const retired: RetireReport[] = [];
    pool.guard.on('retire', (r) => retired.push(r));
    const [a, b] = [await pool.getConnection(), await pool.getConnection()];
    await a.release();
    await b.release();
    const away = proxy.setMode('refuse');
    proxy.cutAll();
    await away;
    await until(() => retired.length === 2, 'both idle connections removed');
    expect(retired.map((r) => r.reason)).toEqual(['terminated', 'terminated']);
    // While away: the connector's own timeout error, unchanged, and no lease left behind.
    const err = (await pool.query('SELECT 1').catch((e: unknown) => e)) as mariadb.SqlError;
    expect(err).toBeInstanceOf(mariadb.SqlError);
    expect(err.code).toBe('ER_GET_CONNECTION_TIMEOUT');
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    await proxy.setMode('forward');
    expect(await pool.query('SELECT 2 AS two')).toEqual([{ two: 2 }]);
  });

  it('a held connection cut mid-query: the holder gets the connector’s error as a bare pool gives it, the lease ends as terminated, the pool serves the next caller', async () => {
    const cutMidQuery = async (pool: mariadb.Pool, busy: () => boolean) => {
      const held = await pool.getConnection();
      const running = held.query('SELECT SLEEP(2)').catch((e: unknown) => e);
      await until(busy, 'the query in flight');
      proxy.cutAll();
      return { held, err: (await running) as Error & { code?: string; errno?: number } };
    };
    const bare = bareMariadbPool({ port: proxy.port, connectionLimit: 1 });
    const plain = await cutMidQuery(bare, () => proxy.openConnections === 1);
    const pool = guardedMariadbPool({ port: proxy.port, connectionLimit: 1 });
    const { held, err } = await cutMidQuery(pool, () => pool.guard.snapshot().leases[0]?.state === 'busy');
    expect(err.constructor).toBe(plain.err.constructor);
    expect([err.code, err.errno, err.message]).toEqual([plain.err.code, plain.err.errno, plain.err.message]);
    await until(() => pool.guard.snapshot().counts.leased === 0, 'the lease ended with its connection');
    expect(pool.guard.snapshot().totals.retired.terminated).toBe(1);
    await held.release();
    await plain.held.release();
    expect(await pool.query('SELECT 3 AS three')).toEqual([{ three: 3 }]);
  });
});

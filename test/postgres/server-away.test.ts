import { describe, expect, it } from 'vitest';
import type { RetireReport } from '../../src/postgres.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { beginAndHang, reserveAndForget } from '../fixtures/postgres-leaky.mjs';
import { sleep, until } from '../helpers/db.js';
import { guardedSql, uncaught } from '../helpers/postgres.js';
import { proxyPerTest } from '../helpers/tcp-proxy.js';

const current = proxyPerTest({ host: '127.0.0.1', port: 5432 });

describe('postgres.js through a TCP proxy: the server goes away and comes back', () => {
  it('a held reserve() and a transaction lose their connections with postgres.js\'s own errors; queries fail while it is away and work once it is back', async () => {
    const proxy = current();
    const sql = guardedSql({ max: 3 }, `postgres://postgres@127.0.0.1:${proxy.port}/test`);
    const retired: RetireReport[] = [];
    sql.guard.on('retire', (r) => retired.push(r));
    const thrown = await uncaught(async () => {
      await Promise.all([sql`select 1`, sql`select 2`, sql`select 3`]);
      const reserved = await reserveAndForget(sql);
      await reserved`select 1`;
      const { entered, settled } = beginAndHang(sql);
      await entered;
      expect(sql.guard.snapshot().counts.leased).toBe(2);
      // The proxy stops listening once its connections are gone: the server is away.
      const away = proxy.setMode('refuse');
      proxy.cutAll();
      await away;
      await expect(settled).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
      await until(() => sql.guard.snapshot().counts.leased === 1, 'the transaction lease ended with its connection');
      await expect(reserved`select 1`).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
      reserved.release();
      expect(sql.guard.snapshot().counts.leased).toBe(0);
      await until(() => retired.length >= 2, 'the connections that were open leave the ledger');
      await expect(sql`select 1`).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await proxy.setMode('forward');
      // postgres.js 4 fails fast while it backs off after failed connects (pool.js, failingFast):
      // until its next attempt is due, a query is refused with a copy of the last connect error, so
      // queries right after the proxy listens again can still get the driver's own ECONNREFUSED.
      // The backoff grows by 3^retries / 100 s; a few seconds always reach the next attempt.
      const two = await servedOnceBack(() => sql`select 2 as two`);
      expect(two[0]!.two).toBe(2);
      const again = await sql.reserve();
      expect((await again`select 3 as three`)[0]!.three).toBe(3);
      again.release();
      expect(await sql.begin((tx) => tx`select 4 as four`)).toEqual([{ four: 4 }]);
    });
    expect(thrown).toEqual([]);
    expect(sql.guard.snapshot().counts.leased).toBe(0);
    expect(retired.every((r) => r.reason === 'error' || r.reason === 'idle')).toBe(true);
  });
});

/** Runs `query` until it is served, allowing only the driver's own ECONNREFUSED in between (for at most 10 s). */
async function servedOnceBack<T>(query: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await query();
    } catch (err) {
      expect(err).toMatchObject({ code: 'ECONNREFUSED' });
      if (Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

import mysql from 'mysql2';
import mysqlPromise from 'mysql2/promise';
import { describe, expect, it, vi } from 'vitest';
import { createPool, guard } from '../../src/mysql2.js';
import { createPool as createPromisePool, guard as guardPromise } from '../../src/mysql2-promise.js';
import { bareMysqlPool, guardedMysqlPool, guardedPromisePool, MYSQL_URL } from '../helpers/mysql-pools.js';

// mysql2 exports these classes at run time; its type declarations do not name them.
const MysqlPool = (mysql as unknown as { Pool: Function }).Pool;
const PromisePool = (mysqlPromise as unknown as { PromisePool: Function }).PromisePool;

const q = (pool: { query: Function }, sql: string, values?: unknown[]) =>
  new Promise<any>((resolve, reject) => pool.query(sql, values ?? [], (err: Error | null, rows: unknown) => (err ? reject(err) : resolve(rows))));

describe('poolguard/mysql2 is mysql2', () => {
  it('a checkout served from a free connection is recorded on the connection mysql2 hands over', async () => {
    // Granted at the request (the fast path): the lease must name the connection mysql2 pops.
    const pool = guardedMysqlPool({ connectionLimit: 3 });
    const get = () => new Promise<mysql.PoolConnection>((res, rej) => pool.getConnection((e, c) => (e ? rej(e) : res(c))));
    const first = [await get(), await get(), await get()];
    for (const c of first) c.release();
    const held: mysql.PoolConnection[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await get();
      held.push(c);
      const snap = pool.guard.snapshot();
      const lease = snap.leases.find((l) => snap.connections.find((k) => k.id === l.connectionId)?.pid === c.threadId);
      expect(lease, `lease on thread ${c.threadId}`).toBeDefined();
      expect(snap.leases).toHaveLength(i + 1);
      expect(snap.connections.filter((k) => k.state === 'leased').map((k) => k.pid).sort()).toEqual(held.map((h) => h.threadId).sort());
    }
    expect(new Set(held.map((c) => c.threadId)).size).toBe(3);
    for (const c of held) c.release();
    expect(pool.guard.snapshot().counts).toMatchObject({ leased: 0, idle: 3 });
    await new Promise<void>((r) => pool.end(() => r()));
  });

  it("callback API: mysql2's own Pool, same methods, events and counters, and a guard handle", async () => {
    const pool = guardedMysqlPool({ connectionLimit: 1 });
    expect(pool).toBeInstanceOf(MysqlPool);
    expect(typeof pool.guard.snapshot).toBe('function');
    const events: string[] = [];
    for (const e of ['acquire', 'connection', 'enqueue', 'release']) pool.on(e as 'acquire', () => events.push(e));
    expect(await q(pool, 'SELECT ? + 1 AS n', [1])).toEqual([{ n: 2 }]);
    const executed = await new Promise<any>((res, rej) => pool.execute('SELECT ? AS s', ['x'], (e, r) => (e ? rej(e) : res(r))));
    expect(executed).toEqual([{ s: 'x' }]);
    const conn = await new Promise<mysql.PoolConnection>((res, rej) => pool.getConnection((e, c) => (e ? rej(e) : res(c))));
    expect(conn).toBeInstanceOf(mysql.PoolConnection);
    const queued = q(pool, 'SELECT 3 AS n');
    expect(events).toContain('enqueue');
    conn.release();
    expect(await queued).toEqual([{ n: 3 }]);
    expect(events.filter((e) => e === 'connection')).toHaveLength(1);
    expect(events.filter((e) => e === 'acquire').length).toBeGreaterThanOrEqual(3);
    expect(events).toContain('release');
    expect(pool.escape("a'b")).toBe("'a\\'b'");
    expect(pool.guard.snapshot().counts).toMatchObject({ total: 1, idle: 1, waiting: 0, max: 1, leased: 0 });
    expect(pool.guard.snapshot().totals.checkouts).toBe(4);
    await new Promise<void>((r) => pool.end(() => r()));
    const err = await new Promise<Error>((r) => pool.getConnection((e) => r(e!)));
    expect(err.message).toMatch(/^Pool is closed\./);
  });

  it("promise API: poolguard/mysql2/promise's createPool is mysql2/promise's PromisePool over a guarded pool", async () => {
    const pool = guardedPromisePool();
    expect(pool).toBeInstanceOf(PromisePool);
    expect(pool.guard).toBe((pool.pool as unknown as { guard: unknown }).guard);
    const [rows] = await pool.query('SELECT ? AS a', [7]);
    expect(rows).toEqual([{ a: 7 }]);
    const [executed] = await pool.execute('SELECT ? AS b', [8]);
    expect(executed).toEqual([{ b: 8 }]);
    const conn = await pool.getConnection();
    expect(conn).toBeInstanceOf(mysqlPromise.PoolConnection);
    expect(pool.guard.snapshot().counts.leased).toBe(1);
    pool.releaseConnection(conn);
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    await pool.end();
    await expect(pool.getConnection()).rejects.toThrow(/^Pool is closed\./);
  });

  it("the callback pool's promise() carries the guard handle too", async () => {
    const pool = guardedMysqlPool();
    const p = pool.promise() as unknown as { guard: unknown; query(sql: string): Promise<[unknown]> };
    expect(p).toBeInstanceOf(PromisePool);
    expect(p.guard).toBe(pool.guard);
    expect((await p.query('SELECT 1 AS one'))[0]).toEqual([{ one: 1 }]);
  });

  it('the guard key never reaches mysql2 (which warns about options it does not know), a URL string works', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const pool = guardedMysqlPool({ guard: { leakThresholdMs: 1_000 } });
      expect(await q(pool, 'SELECT 1 AS x')).toEqual([{ x: 1 }]);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
    const fromUrl = createPool(MYSQL_URL);
    try {
      expect(fromUrl.guard.snapshot().pool).toBe('127.0.0.1:3306/test');
      expect(await q(fromUrl, 'SELECT 1 AS x')).toEqual([{ x: 1 }]);
    } finally {
      await new Promise((r) => fromUrl.end(r));
    }
  });

  it('the password never appears in the name, the snapshot or a report; mysql2 still gets it', async () => {
    const secret = 'Kq7-drop-in-secret';
    const lines: string[] = [];
    const pool = createPool({ host: '127.0.0.1', user: 'root', password: secret, database: 'test', connectionLimit: 1, guard: { leakThresholdMs: 30, logger: { warn: (o, m) => lines.push(JSON.stringify(o), m) } } });
    const fromUrl = createPool({ uri: `mysql://root:${secret}@127.0.0.1:3306/test`, guard: { logger: false } });
    try {
      expect((pool as unknown as { config: { connectionConfig: { password: string } } }).config.connectionConfig.password).toBe(secret);
      // root has no password here: the server refuses this one, and the error is mysql2's own.
      const err = await new Promise<Error | null>((resolve) => pool.getConnection((e) => resolve(e)));
      expect(err?.message).toContain('Access denied');
      const seen = JSON.stringify([pool.guard.snapshot(), fromUrl.guard.snapshot(), lines]);
      expect(pool.guard.snapshot().pool).toBe('127.0.0.1:3306/test');
      expect(fromUrl.guard.snapshot().pool).toBe('127.0.0.1:3306/test');
      expect(seen).not.toContain(secret);
    } finally {
      await new Promise((r) => pool.end(r));
      await new Promise((r) => fromUrl.end(r));
    }
  });

  it('bad guard options are refused before mysql2 builds the pool', () => {
    expect(() => createPool({ uri: MYSQL_URL, guard: { leakThresholdMs: -5 } })).toThrow(new RangeError('guard.leakThresholdMs must be ≥ 0, got -5'));
    expect(() => createPromisePool({ uri: MYSQL_URL, guard: { acquireTimeoutMs: 'x' as unknown as number } })).toThrow(TypeError);
    expect(() => createPool({ uri: MYSQL_URL, guard: { acquireTimeoutMs: -1 } })).toThrow('guard.acquireTimeoutMs must be ≥ 0, got -1');
  });

  it('guard(existing) instruments a bare callback pool or a promise pool, idempotently', async () => {
    const bare = bareMysqlPool();
    const handle = guard(bare, { name: 'legacy', logger: false });
    expect(guard(bare)).toBe(handle);
    expect((bare as unknown as { guard: unknown }).guard).toBe(handle);
    expect(await q(bare, 'SELECT 1 AS x')).toEqual([{ x: 1 }]);
    expect(handle.snapshot()).toMatchObject({ pool: 'legacy', totals: { checkouts: 1 } });

    const promisePool = bareMysqlPool().promise();
    const h2 = guardPromise(promisePool, { logger: false });
    expect((promisePool as unknown as { guard: unknown }).guard).toBe(h2);
    expect(guard(promisePool.pool)).toBe(h2);
    const conn = await promisePool.getConnection();
    expect(h2.snapshot().counts.leased).toBe(1);
    conn.release();
    expect(() => guard(null as never)).toThrow(/guard\(pool\) needs a mysql2 pool/);
    expect(() => guard({} as never)).toThrow(TypeError);
  });
});

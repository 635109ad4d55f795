import type mysql from 'mysql2';
import { describe, expect, it } from 'vitest';
import { bareMysqlPool, guardedMysqlPool, guardedPromisePool } from '../helpers/mysql-pools.js';

const threadOf = async (conn: { query(sql: string): Promise<unknown> }) => ((await conn.query('SELECT CONNECTION_ID() AS id')) as [Array<{ id: number }>])[0][0]!.id;

describe('a late second release() by a holder whose connection has gone to someone else', () => {
  it('bare mysql2 (the baseline): the late release takes the connection from its new holder, and a third caller shares it', async () => {
    const pool = bareMysqlPool({ connectionLimit: 1 }).promise();
    const a = await pool.getConnection();
    a.release();
    const b = await pool.getConnection();
    a.release();
    const c = await pool.getConnection();
    expect(c.connection).toBe(b.connection);
    b.release();
    c.release();
  });

  it('promise API: refused, counted, logged against the late holder; the new holder keeps its connection', async () => {
    const lines: string[] = [];
    const pool = guardedPromisePool({ connectionLimit: 1, guard: { acquireTimeoutMs: 200, logger: { warn: (_o, msg) => lines.push(msg) } } });
    const a = await pool.getConnection();
    const aLease = pool.guard.snapshot().leases[0]!.id;
    a.release();
    const b = await pool.getConnection();
    const bLease = pool.guard.snapshot().leases[0]!.id;
    a.release();
    // b still holds its connection: the next caller waits (and times out) instead of sharing it.
    expect(pool.guard.snapshot().leases.map((l) => l.id)).toEqual([bLease]);
    const c = await pool.getConnection().catch((e: Error) => e);
    expect(c).toBeInstanceOf(Error);
    expect((c as Error).message).toContain('guard.acquireTimeoutMs');
    expect(await threadOf(b)).toBe(b.connection.threadId);
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(1);
    // One line for the late release (the timeout that followed has its own).
    expect(lines.filter((l) => !l.includes('a checkout timed out'))).toHaveLength(1);
    expect(lines[0]).toContain(`lease #${aLease}`);
    expect(lines[0]).toContain(`lease #${bLease}`);
    expect(lines[0]).toMatch(/late-release\.test\.ts:\d+/);
    expect(lines[0]).toMatch(/poolguard did not pass it on/);
    b.release();
    expect(pool.guard.snapshot().counts).toMatchObject({ leased: 0, idle: 1 });
  });

  it('callback API (one connection object for every holder): counted when it shows, and the log says what poolguard cannot tell', async () => {
    const lines: string[] = [];
    const pool = guardedMysqlPool({ connectionLimit: 1, guard: { logger: { warn: (_o, msg) => lines.push(msg) } } });
    const get = () => new Promise<mysql.PoolConnection>((res, rej) => pool.getConnection((e, c) => (e ? rej(e) : res(c))));
    const a = await get();
    const aLease = pool.guard.snapshot().leases[0]!.id;
    a.release();
    const b = await get();
    const bLease = pool.guard.snapshot().leases[0]!.id;
    a.release(); // a's late release: the same object as b's, so it reads as b's release
    b.release(); // b's own release finds the connection free
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`lease #${bLease}`);
    expect(lines[0]).toContain(`lease #${aLease}`);
    expect(lines[0]).toMatch(/cannot tell/);
    expect(pool.guard.snapshot().counts).toMatchObject({ leased: 0, idle: 1 });
  });
});

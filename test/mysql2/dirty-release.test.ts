import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DirtyReleaseReport } from '../../src/mysql2.js';
import { bareMysqlPool, guardedPromisePool } from '../helpers/mysql-pools.js';

const TABLE = 'mysql2_guard_dirty';

async function admin(sql: string): Promise<void> {
  const pool = bareMysqlPool({ connectionLimit: 1 }).promise();
  await pool.query(sql);
}

beforeAll(async () => {
  const pool = guardedPromisePool({ connectionLimit: 1 });
  await pool.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id INT PRIMARY KEY, note TEXT) ENGINE=InnoDB`);
  await pool.query(`DELETE FROM ${TABLE}`);
  await pool.end();
});
afterAll(async () => {
  const pool = guardedPromisePool({ connectionLimit: 1 });
  await pool.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await pool.end();
});

describe('a connection released inside a transaction is never handed to the next caller as it is', () => {
  it("bare mysql2 (the baseline): the next caller inherits the open transaction", async () => {
    const pool = bareMysqlPool({ connectionLimit: 1 }).promise();
    const conn = await pool.getConnection();
    await conn.query('BEGIN');
    conn.release();
    const [rows] = await pool.query('SELECT @@in_transaction AS t');
    expect(rows).toEqual([{ t: 1 }]);
    await pool.query('ROLLBACK');
  });

  it("dirtyRelease 'destroy' (default): closed, the next caller gets a fresh session, the write is gone", async () => {
    const pool = guardedPromisePool({ connectionLimit: 1 });
    const reports: DirtyReleaseReport[] = [];
    pool.guard.on('dirtyRelease', (r) => reports.push(r));
    const conn = await pool.getConnection();
    const thread = conn.connection.threadId;
    await conn.query('BEGIN');
    await conn.query(`INSERT INTO ${TABLE} VALUES (1, 'dirty')`);
    conn.release();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ transaction: 'open', action: 'destroy', kind: 'connect' });
    expect(reports[0]!.releaseSite).toMatch(/^test\/mysql2\/dirty-release\.test\.ts:\d+:\d+$/);
    expect(reports[0]!.message).toContain('closed it instead of returning it to the pool');
    const [rows] = (await pool.query(`SELECT CONNECTION_ID() AS id, @@in_transaction AS t, (SELECT COUNT(*) FROM ${TABLE}) AS n`)) as unknown as [Array<{ id: number; t: number; n: number }>];
    expect(rows[0]!.id).not.toBe(thread);
    expect(rows[0]!.t).toBe(0);
    expect(rows[0]!.n).toBe(0);
    const snap = pool.guard.snapshot();
    expect(snap.totals).toMatchObject({ dirtyReleases: 1 });
    expect(snap.totals.retired.dirty).toBe(1);
    expect(snap.counts.total).toBe(1);
  });

  it("dirtyRelease 'rollback': rolled back and reused, the same session with no transaction", async () => {
    const pool = guardedPromisePool({ connectionLimit: 1, guard: { dirtyRelease: 'rollback' } });
    const conn = await pool.getConnection();
    const thread = conn.connection.threadId;
    await conn.query('START TRANSACTION');
    await conn.query(`INSERT INTO ${TABLE} VALUES (2, 'dirty')`);
    conn.release();
    const [rows] = (await pool.query(`SELECT CONNECTION_ID() AS id, @@in_transaction AS t, (SELECT COUNT(*) FROM ${TABLE}) AS n`)) as unknown as [Array<{ id: number; t: number; n: number }>];
    expect(rows[0]).toEqual({ id: thread, t: 0, n: 0 });
    expect(pool.guard.snapshot().totals.dirtyReleases).toBe(1);
  });

  it('read from the status flags: COMMIT and ROLLBACK clear it, an error inside the transaction keeps it, pool.query(BEGIN) is caught too', async () => {
    const pool = guardedPromisePool({ connectionLimit: 1 });
    const reports: DirtyReleaseReport[] = [];
    pool.guard.on('dirtyRelease', (r) => reports.push(r));
    const a = await pool.getConnection();
    await a.query('BEGIN');
    await a.query('COMMIT');
    a.release();
    const b = await pool.getConnection();
    await b.beginTransaction();
    await b.query('SELECT 1');
    await b.rollback();
    b.release();
    expect(reports).toHaveLength(0);

    const c = await pool.getConnection();
    await c.query('BEGIN');
    await c.query('SELECT * FROM no_such_table_mysql2_guard').catch(() => {});
    const [inside] = await c.query('SELECT @@in_transaction AS t');
    expect(inside).toEqual([{ t: 1 }]);
    c.release();
    expect(reports).toHaveLength(1);

    await pool.query('BEGIN');
    expect(reports).toHaveLength(2);
    expect(reports[1]!.kind).toBe('query');
    const [after] = await pool.query('SELECT @@in_transaction AS t');
    expect(after).toEqual([{ t: 0 }]);
  });

  it('a prepared statement (execute) inside a transaction is read right too', async () => {
    const pool = guardedPromisePool({ connectionLimit: 1 });
    const conn = await pool.getConnection();
    await conn.execute('SELECT ? AS a', [1]);
    conn.release();
    expect(pool.guard.snapshot().totals.dirtyReleases).toBe(0);
    const tx = await pool.getConnection();
    await tx.query('BEGIN');
    await tx.execute(`INSERT INTO ${TABLE} VALUES (?, ?)`, [3, 'x']);
    tx.release();
    expect(pool.guard.snapshot().totals.dirtyReleases).toBe(1);
    void admin;
  });
});

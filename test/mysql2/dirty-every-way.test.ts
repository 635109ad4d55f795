import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DirtyReleaseReport, GuardedPool } from '../../src/mysql2.js';
import { sleep } from '../helpers/db.js';
import { bareMysqlPool, guardedPromisePool } from '../helpers/mysql-pools.js';

const TABLE = 'mysql2_guard_dirty_ways';
const PROC = 'mysql2_guard_dirty_proc';

type Row = { id: number; t: number; ac: number };
/** The session the next caller gets: its thread, whether it is in a transaction, its autocommit. */
async function nextSession(pool: ReturnType<typeof guardedPromisePool>): Promise<Row> {
  const [rows] = (await pool.query('SELECT CONNECTION_ID() AS id, @@in_transaction AS t, @@autocommit AS ac')) as unknown as [Row[]];
  return rows[0]!;
}

function dirtyPool(options: Parameters<typeof guardedPromisePool>[0] = {}) {
  const pool = guardedPromisePool({ connectionLimit: 1, ...options });
  const reports: DirtyReleaseReport[] = [];
  pool.guard.on('dirtyRelease', (r) => reports.push(r));
  return { pool, reports };
}

beforeAll(async () => {
  const pool = bareMysqlPool({ connectionLimit: 1, multipleStatements: true }).promise();
  await pool.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id INT PRIMARY KEY) ENGINE=InnoDB`);
  await pool.query(`DROP PROCEDURE IF EXISTS ${PROC}`);
  await pool.query(`CREATE PROCEDURE ${PROC}() BEGIN START TRANSACTION; SELECT 1 AS one; END`);
});
afterAll(async () => {
  const pool = bareMysqlPool({ connectionLimit: 1 }).promise();
  await pool.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await pool.query(`DROP PROCEDURE IF EXISTS ${PROC}`);
});

describe('dirty-release protection holds for every way a transaction is left open', () => {
  it('bare mysql2 (the baseline): a failed multi-statement transaction is handed on inside the transaction', async () => {
    const pool = bareMysqlPool({ connectionLimit: 1, multipleStatements: true }).promise();
    const conn = await pool.getConnection();
    await conn.query(`DELETE FROM ${TABLE}`);
    const err = await conn.query(`START TRANSACTION; INSERT INTO ${TABLE} VALUES (1); INSERT INTO ${TABLE} VALUES (1)`).catch((e: Error) => e);
    expect((err as { code?: string }).code).toBe('ER_DUP_ENTRY');
    conn.release();
    const [rows] = (await pool.query('SELECT @@in_transaction AS t')) as unknown as [Array<{ t: number }>];
    expect(rows[0]!.t).toBe(1);
    await pool.query('ROLLBACK');
  });

  it('a multi-statement transaction that fails on a duplicate key: reported, closed, the next caller outside any transaction', async () => {
    const { pool, reports } = dirtyPool({ multipleStatements: true });
    const conn = await pool.getConnection();
    const thread = conn.connection.threadId;
    const err = await conn.query(`START TRANSACTION; INSERT INTO ${TABLE} VALUES (10); INSERT INTO ${TABLE} VALUES (10)`).catch((e: Error) => e);
    expect((err as { code?: string }).code).toBe('ER_DUP_ENTRY');
    conn.release();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ transaction: 'open', action: 'destroy' });
    const next = await nextSession(pool);
    expect(next.id).not.toBe(thread);
    expect(next.t).toBe(0);
    // The first caller's row went with its transaction: nobody holds its lock.
    const [count] = (await pool.query(`SELECT COUNT(*) AS n FROM ${TABLE} WHERE id = 10`)) as unknown as [Array<{ n: number }>];
    expect(count[0]!.n).toBe(0);
  });

  it("the same with dirtyRelease 'rollback': rolled back and reused", async () => {
    const { pool, reports } = dirtyPool({ multipleStatements: true, guard: { dirtyRelease: 'rollback' } });
    const conn = await pool.getConnection();
    const thread = conn.connection.threadId;
    await conn.query(`START TRANSACTION; INSERT INTO ${TABLE} VALUES (11); INSERT INTO ${TABLE} VALUES (11)`).catch(() => undefined);
    conn.release();
    expect(reports).toHaveLength(1);
    expect(await nextSession(pool)).toEqual({ id: thread, t: 0, ac: 1 });
  });

  it('a multi-statement that opens a transaction and ends on a result set, or on a row whose first column is empty', async () => {
    const { pool, reports } = dirtyPool({ multipleStatements: true });
    const conn = await pool.getConnection();
    await conn.query(`START TRANSACTION; SELECT '' AS a, 1 AS b`);
    conn.release();
    expect(reports).toHaveLength(1);
    expect((await nextSession(pool)).t).toBe(0);
  });

  it('a stored procedure that opens a transaction (CALL)', async () => {
    const { pool, reports } = dirtyPool();
    const conn = await pool.getConnection();
    await conn.query(`CALL ${PROC}()`);
    conn.release();
    expect(reports).toHaveLength(1);
    expect((await nextSession(pool)).t).toBe(0);
  });

  it('a BEGIN still in flight at release(): decided once it has run, never handed on inside it', async () => {
    const { pool, reports } = dirtyPool();
    const conn = await pool.getConnection();
    const begun = conn.query('BEGIN');
    conn.release();
    await begun;
    await sleep(10);
    expect(reports).toHaveLength(1);
    expect((await nextSession(pool)).t).toBe(0);
  });

  it('a COMMIT still in flight at release() is not a dirty release: the connection is reused once it has run', async () => {
    const { pool, reports } = dirtyPool();
    const conn = await pool.getConnection();
    const thread = conn.connection.threadId;
    await conn.query('BEGIN');
    await conn.query(`INSERT INTO ${TABLE} VALUES (12)`);
    const committed = conn.query('COMMIT');
    conn.release();
    await committed;
    expect(reports).toEqual([]);
    expect(await nextSession(pool)).toEqual({ id: thread, t: 0, ac: 1 });
    const [count] = (await pool.query(`SELECT COUNT(*) AS n FROM ${TABLE} WHERE id = 12`)) as unknown as [Array<{ n: number }>];
    expect(count[0]!.n).toBe(1);
  });

  it('callback API: released inside the callback that hands over a new connection (mysql2 answers from inside its handshake): back at once; a BEGIN queued there is waited for', async () => {
    const { pool, reports } = dirtyPool();
    const core = pool.pool as unknown as GuardedPool;
    const plain = await new Promise<number>((res, rej) =>
      core.getConnection((e, c) => {
        if (e) return rej(e);
        c.release();
        res(core.guard.snapshot().counts.idle);
      }),
    );
    expect(plain).toBe(1);
    core.getConnection((e, c) => {
      if (e) throw e;
      c.destroy();
    });
    await sleep(20);
    await new Promise<void>((res, rej) =>
      core.getConnection((e, c) => {
        if (e) return rej(e);
        c.query('BEGIN');
        c.release();
        res();
      }),
    );
    expect((await nextSession(pool)).t).toBe(0);
    expect(reports).toHaveLength(1);
  });

  it('SET autocommit = 0 (MySQL: "the session always has a transaction open"): the next caller never inherits it', async () => {
    const { pool, reports } = dirtyPool();
    const conn = await pool.getConnection();
    await conn.query('SET autocommit = 0');
    conn.release();
    expect(reports).toHaveLength(1);
    const next = await nextSession(pool);
    expect(next.ac).toBe(1);
    expect(next.t).toBe(0);
  });

  it('no false alarm: rows whose first column is empty or binary (execute), a ping, an error outside a transaction', async () => {
    const { pool, reports } = dirtyPool({ connectionLimit: 1 });
    const conn = await pool.getConnection();
    await conn.query(`SELECT '' AS a UNION ALL SELECT ''`);
    await conn.execute('SELECT ? AS a, 0 AS b', ['']);
    await conn.ping();
    await conn.query('SELECT * FROM no_such_table_here').catch(() => undefined);
    conn.release();
    expect(reports).toEqual([]);
  });
});

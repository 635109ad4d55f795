import knexFactory, { type Knex } from 'knex';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { Sequelize } from 'sequelize';
import { afterEach, describe, expect, it } from 'vitest';
import type { PoolGuard, RetireReport } from '../../src/index.js';
import { guardKnex } from '../../src/knex.js';
import { guardSequelize } from '../../src/sequelize.js';
import { DATABASE_URL, until } from '../helpers/db.js';
import { MYSQL, MYSQL_URL } from '../helpers/mysql.js';
import { guardedPromisePool } from '../helpers/mysql-pools.js';
import { guardedPool } from '../helpers/pools.js';

/**
 * A server that ends the session of a checked-out connection (pg_terminate_backend, MySQL's KILL:
 * an administrator, a failover) retires it with reason `terminated`, on every adapter: that is
 * what the reason says, and what tells it apart from a connection that failed otherwise (`error`).
 */

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await Promise.race([fn().catch(() => {}), new Promise((r) => setTimeout(r, 1_000))]);
});

async function killPg(pid: number): Promise<void> {
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  try {
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await admin.end();
  }
}

async function killMysql(threadId: number): Promise<void> {
  const admin = await mysql.createConnection(MYSQL_URL);
  try {
    await admin.query(`KILL ${Number(threadId)}`);
  } finally {
    await admin.end();
  }
}

function retirements(handle: PoolGuard): RetireReport[] {
  const seen: RetireReport[] = [];
  handle.on('retire', (r) => seen.push(r));
  return seen;
}

describe('a checked-out connection whose session the server ends is retired as terminated', () => {
  it('poolguard/pg', async () => {
    const pool = guardedPool({ max: 1 });
    pool.on('error', () => {});
    const retired = retirements(pool.guard);
    const client = await pool.connect();
    await killPg((client as unknown as { processID: number }).processID);
    await expect(client.query('SELECT 1')).rejects.toThrow();
    client.release();
    await until(() => retired.length === 1, 'the retirement');
    expect(retired.map((r) => r.reason)).toEqual(['terminated']);
    expect(pool.guard.snapshot().totals.retired.terminated).toBe(1);
  });

  it('poolguard/pg, with a query in flight (the server’s message goes to that query)', async () => {
    const pool = guardedPool({ max: 1 });
    pool.on('error', () => {});
    const retired = retirements(pool.guard);
    const client = await pool.connect();
    const running = client.query('SELECT pg_sleep(5)').catch((e: Error) => e);
    await killPg((client as unknown as { processID: number }).processID);
    const err = (await running) as Error;
    expect(err.message).toBe('terminating connection due to administrator command');
    client.release();
    await until(() => retired.length === 1, 'the retirement');
    expect(retired.map((r) => r.reason)).toEqual(['terminated']);
  });

  it('poolguard/mysql2, with a query in flight', async () => {
    const pool = guardedPromisePool({ connectionLimit: 1 });
    const retired = retirements(pool.guard);
    const conn = await pool.getConnection();
    const running = conn.query('SELECT SLEEP(5)').catch((e: Error) => e);
    await killMysql(conn.threadId);
    expect(await running).toBeInstanceOf(Error);
    conn.release();
    await until(() => retired.length === 1, 'the retirement');
    expect(retired.map((r) => r.reason)).toEqual(['terminated']);
  });

  it('poolguard/mysql2', async () => {
    const pool = guardedPromisePool({ connectionLimit: 1 });
    const retired = retirements(pool.guard);
    const conn = await pool.getConnection();
    await killMysql(conn.threadId);
    await expect(conn.query('SELECT 1')).rejects.toThrow();
    conn.release();
    await until(() => retired.length === 1, 'the retirement');
    expect(retired.map((r) => r.reason)).toEqual(['terminated']);
    const [rows] = await pool.query('SELECT 1 AS one');
    expect(rows).toEqual([{ one: 1 }]);
  });

  const knexConfigs = {
    pg: (): Knex.Config => ({ client: 'pg', connection: DATABASE_URL, pool: { min: 0, max: 1 }, log: { warn() {} } }),
    mysql2: (): Knex.Config => ({ client: 'mysql2', connection: { ...MYSQL }, pool: { min: 0, max: 1 }, log: { warn() {} } }),
  } as const;

  it.each(['pg', 'mysql2'] as const)('Knex (%s), under an unfinished transaction', async (dialect) => {
    const knex = knexFactory(knexConfigs[dialect]());
    cleanups.push(() => knex.destroy());
    const handle = guardKnex(knex, { logger: false });
    const retired = retirements(handle);
    const trx = await knex.transaction();
    await trx.raw('SELECT 1');
    const id = handle.snapshot().connections[0]!.pid!;
    if (dialect === 'pg') await killPg(id);
    else await killMysql(id);
    // The transaction fails (its commit, or the statement before it, meets the closed session).
    const settled = trx.executionPromise.then(
      () => 'committed',
      (e: unknown) => e,
    );
    await trx.commit().catch(() => {});
    expect(await settled).toBeInstanceOf(Error);
    // Knex marks the connection disposed; tarn closes it at the next acquire, which gets a new one.
    expect(Number((await knex.raw('SELECT 1 AS one').then((r: any) => (dialect === 'pg' ? r.rows : r[0])))[0].one)).toBe(1);
    await until(() => retired.length === 1, 'the retirement');
    expect(retired.map((r) => r.reason)).toEqual(['terminated']);
  });

  const sequelizes = {
    postgres: () => new Sequelize(DATABASE_URL, { logging: false, pool: { max: 1, min: 0 } }),
    mysql: () =>
      new Sequelize(MYSQL.database, MYSQL.user, MYSQL.password, { dialect: 'mysql', host: MYSQL.host, port: MYSQL.port, logging: false, pool: { max: 1, min: 0 } }),
  } as const;

  it.each(['postgres', 'mysql'] as const)('Sequelize (%s), under an unfinished transaction', async (dialect) => {
    const sequelize = sequelizes[dialect]();
    cleanups.push(() => sequelize.close());
    const handle = guardSequelize(sequelize, { logger: false });
    const retired = retirements(handle);
    const t = await sequelize.transaction();
    await sequelize.query('SELECT 1', { transaction: t });
    const id = handle.snapshot().connections[0]!.pid!;
    if (dialect === 'postgres') await killPg(id);
    else await killMysql(id);
    await expect(t.commit()).rejects.toThrow();
    const [rows] = await sequelize.query('SELECT 1 AS one');
    expect(Number((rows as Array<{ one: unknown }>)[0]!.one)).toBe(1);
    await until(() => retired.length === 1, 'the retirement');
    expect(retired.map((r) => r.reason)).toEqual(['terminated']);
  });
});

// A checkout timeout sends its reader to the snapshot: `Details: err.holders, <handle>.snapshot().`
// The handle must be code the user can write with what they hold (a Knex instance, a Sequelize
// instance, postgres.js's sql, a PoolCluster), not a `pool` they never had. Each test times a
// checkout out against the real server, reads the handle from the words, and evaluates it on the
// user's own objects: it must be that pool's guard.
import knexFactory, { type Knex } from 'knex';
import { Sequelize } from 'sequelize';
import { afterEach, describe, expect, it } from 'vitest';
import type { PoolGuard } from '../../src/index.js';
import { createPool as createGenericPool } from '../../src/generic-pool.js';
import { guardKnex } from '../../src/knex.js';
import { createPoolCluster } from '../../src/mysql2.js';
import { createPoolCluster as createPromisePoolCluster } from '../../src/mysql2-promise.js';
import { guardSequelize } from '../../src/sequelize.js';
import { DATABASE_URL, sleep } from '../helpers/db.js';
import { guardedMariadbPool } from '../helpers/mariadb-pools.js';
import { MYSQL, MYSQL_URL } from '../helpers/mysql.js';
import { guardedMysqljsPool, connectionOf } from '../helpers/mysqljs-pools.js';
import { guardedMysqlPool } from '../helpers/mysql-pools.js';
import { guardedSql } from '../helpers/postgres.js';
import { pgClientFactory } from '../helpers/factories.js';

// Long enough for a first connection to open on a loaded machine: the timeout must come from the holder.
const TIMEOUT = 1_000;

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((end) => Promise.race([end().catch(() => undefined), sleep(1_000)])));
});

/** What poolguard added to a timeout error: its own error's message, or a pool's error's `poolguard` field. */
function addedText(err: unknown): string {
  const e = err as Error & { poolguard?: string };
  expect(e, 'the checkout timed out').toBeInstanceOf(Error);
  return e.poolguard ?? e.message;
}

/** The handle the words name for the snapshot, evaluated on the user's own objects. */
function handleNamed(text: string, scope: Record<string, unknown>): { code: string; value: unknown } {
  const code = /Details: err\.holders, (.+)\.snapshot\(\)\.$/m.exec(text)?.[1];
  expect(code, `no "Details: err.holders, <handle>.snapshot()." in:\n${text}`).toBeDefined();
  const names = Object.keys(scope);
  // The words are code for the user to type; reading them as code is the check.
  const value = new Function(...names, `return ${code};`)(...names.map((n) => scope[n])) as unknown;
  return { code: code!, value };
}

describe('timeout errors name the snapshot through a handle the user really has', () => {
  it('mysql2 PoolCluster (callback): cluster.guard.member(id), for idle holders and, in the busy words, for SHOW PROCESSLIST', async () => {
    const cluster = createPoolCluster({ guard: { name: 'shop', logger: false, acquireTimeoutMs: TIMEOUT } });
    cluster.add('replica', { uri: MYSQL_URL, connectionLimit: 1 });
    cleanup.push(() => new Promise<void>((r) => cluster.end(() => r())));
    const get = () => new Promise<unknown>((res) => cluster.getConnection('replica', (e, c) => res(e ?? c)));
    const held = (await get()) as import('mysql2').PoolConnection;
    const idle = addedText(await get());
    const { code, value } = handleNamed(idle, { cluster });
    expect(code).toBe("cluster.guard.member('replica')");
    expect(value).toBe(cluster.guard.member('replica'));
    expect(idle).not.toContain('pool.guard');
    // A busy holder: the words send the reader to the server's session list, through the same handle.
    const running = new Promise((res) => held.query('SELECT SLEEP(2)', res));
    const busy = addedText(await get());
    expect(busy).toContain("SHOW PROCESSLIST or information_schema.PROCESSLIST, whose Id is the pid in cluster.guard.member('replica').snapshot()");
    expect(busy).not.toContain('pool.guard');
    await running;
    held.release();
  });

  it('mysql2 PoolCluster (promise), a member added without an id: its id as mysql2 made it', async () => {
    const cluster = createPromisePoolCluster({ guard: { logger: false, acquireTimeoutMs: TIMEOUT } });
    cluster.add({ uri: MYSQL_URL, connectionLimit: 1 } as never);
    cleanup.push(() => cluster.end());
    const held = await cluster.getConnection();
    const text = addedText(await cluster.getConnection().catch((e: unknown) => e));
    const { code, value } = handleNamed(text, { cluster });
    expect(code).toBe("cluster.guard.member('CLUSTER::1')");
    expect(value).toBe(cluster.guard.member('CLUSTER::1'));
    held.release();
  });

  it('mysql2 pool, mysql, MariaDB connector: pool.guard', async () => {
    const mysql2Pool = guardedMysqlPool({ connectionLimit: 1, guard: { acquireTimeoutMs: TIMEOUT } });
    const promisePool = mysql2Pool.promise();
    const a = await promisePool.getConnection();
    const fromMysql2 = addedText(await promisePool.getConnection().catch((e: unknown) => e));
    expect(handleNamed(fromMysql2, { pool: promisePool }).value).toBe(mysql2Pool.guard);
    a.release();

    const mysqlPool = guardedMysqljsPool({ connectionLimit: 1, guard: { acquireTimeoutMs: TIMEOUT } });
    const b = await connectionOf(mysqlPool);
    const fromMysql = addedText(await connectionOf(mysqlPool).catch((e: unknown) => e));
    expect(handleNamed(fromMysql, { pool: mysqlPool }).value).toBe(mysqlPool.guard);
    b.release();

    const mariadbPool = guardedMariadbPool({ connectionLimit: 1, acquireTimeout: TIMEOUT });
    const c = await mariadbPool.getConnection();
    const fromMariadb = addedText(await mariadbPool.getConnection().catch((e: unknown) => e));
    expect(handleNamed(fromMariadb, { pool: mariadbPool }).value).toBe(mariadbPool.guard);
    await c.release();
  });

  it('postgres.js: sql.guard, in the busy words too', async () => {
    const sql = guardedSql({ max: 1, guard: { acquireTimeoutMs: TIMEOUT } });
    const reserved = await sql.reserve();
    const text = addedText(await sql.reserve().catch((e: unknown) => e));
    const { code, value } = handleNamed(text, { sql });
    expect(code).toBe('sql.guard');
    expect(value).toBe(sql.guard);
    const running = reserved`select pg_sleep(2)`.execute();
    const busy = addedText(await sql.reserve().catch((e: unknown) => e));
    expect(busy).toContain('pg_stat_activity for the pids in sql.guard.snapshot()');
    await running;
    reserved.release();
  });

  it('generic-pool: pool.guard', async () => {
    const pool = createGenericPool(pgClientFactory(), { max: 1, acquireTimeoutMillis: TIMEOUT, guard: { logger: false } });
    cleanup.push(async () => {
      await pool.drain();
      await pool.clear();
    });
    const held = await pool.acquire();
    const text = addedText(await pool.acquire().catch((e: unknown) => e));
    expect(handleNamed(text, { pool }).value).toBe(pool.guard);
    await pool.release(held);
  });

  it('Knex (guardKnex): knex.client.pool.guard', async () => {
    const knex: Knex = knexFactory({ client: 'pg', connection: DATABASE_URL, pool: { min: 0, max: 1 }, acquireConnectionTimeout: TIMEOUT });
    cleanup.push(() => knex.destroy());
    const handle: PoolGuard = guardKnex(knex, { logger: false });
    const trx = await knex.transaction();
    await trx.raw('select 1');
    const text = addedText(await knex.raw('select 1').catch((e: unknown) => e));
    const { code, value } = handleNamed(text, { knex });
    expect(code).toBe('knex.client.pool.guard');
    expect(value).toBe(handle);
    await trx.rollback();
  });

  it('Sequelize: sequelize.connectionManager.pool.guard, and with replication the write and read pools', async () => {
    const sequelize = new Sequelize(DATABASE_URL, { logging: false, pool: { max: 1, min: 0, acquire: TIMEOUT } });
    cleanup.push(() => sequelize.close());
    const handle = guardSequelize(sequelize, { logger: false });
    const trx = await sequelize.transaction();
    const text = addedText(await sequelize.query('select 1').catch((e: unknown) => e));
    const { code, value } = handleNamed(text, { sequelize });
    expect(code).toBe('sequelize.connectionManager.pool.guard');
    expect(value).toBe(handle);
    await trx.rollback();

    const replicated = new Sequelize({
      dialect: 'mysql',
      logging: false,
      replication: { write: { ...MYSQL, username: MYSQL.user }, read: [{ ...MYSQL, username: MYSQL.user }] },
      database: MYSQL.database,
      pool: { max: 1, min: 0, acquire: TIMEOUT },
    });
    cleanup.push(() => replicated.close());
    const write = guardSequelize(replicated, { logger: false });
    const writeTrx = await replicated.transaction();
    const fromWrite = addedText(await replicated.transaction().catch((e: unknown) => e));
    const onWrite = handleNamed(fromWrite, { sequelize: replicated });
    expect(onWrite.code).toBe('sequelize.connectionManager.pool.write.guard');
    expect(onWrite.value).toBe(write);
    await writeTrx.rollback();
  });
});

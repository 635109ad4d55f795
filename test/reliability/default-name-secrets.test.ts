import knexFactory from 'knex';
import mysql from 'mysql2';
import pg from 'pg';
import { Sequelize } from 'sequelize';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool as createGenericPool } from '../../src/generic-pool.js';
import { guardKnex } from '../../src/knex.js';
import { createPool as createMysqlPool, guard as guardMysql, type GuardOptions, type PoolGuard } from '../../src/mysql2.js';
import { createPool as createMysqlPromisePool } from '../../src/mysql2-promise.js';
import { Pool } from '../../src/pg.js';
import { guardSequelize } from '../../src/sequelize.js';
import { DATABASE_URL, until } from '../helpers/db.js';
import { MYSQL } from '../helpers/mysql.js';

/**
 * Each adapter's default name, on a pool that really connects with a password in its settings: the
 * name in the pool's snapshot and in its log lines (a leak report here) holds no piece of it.
 * PostgreSQL trusts any password; MariaDB's root has none, so mysql2 is given its password in a
 * `uri` whose host, user and database the explicit options replace (as mysql2 lets them).
 */
const PIECES = /Kq7|Vx9|Zw4/;
const server = new URL(DATABASE_URL);
const PG_URL = `postgres://${server.username || 'postgres'}:Kq7@Vx9:Zw4@${server.hostname}:${server.port || 5432}${server.pathname}`;
const PG_NAME = `${server.hostname}:${server.port || 5432}${server.pathname}`;
const MYSQL_NAME = `${MYSQL.host}:${MYSQL.port}/${MYSQL.database}`;

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const end of cleanup.splice(0).reverse()) await end().catch(() => undefined);
});

/** Guard options that write every log line into `lines` and report a lease held 40 ms. */
function watched(lines: string[]): GuardOptions {
  const log = (obj: object, msg: string) => lines.push(JSON.stringify(obj), msg);
  return { leakThresholdMs: 40, logger: { warn: log, info: log } };
}

/** Holds one lease past the threshold, then checks the name where it shows. */
async function expectCleanName(guard: PoolGuard, lines: string[], expected: string, hold: () => Promise<() => unknown>): Promise<void> {
  const release = await hold();
  await until(() => lines.some((l) => /possible (connection|resource) leak|slow lease/.test(l)), 'a leak report');
  const snapshot = guard.snapshot();
  await release();
  expect(guard.name).toBe(expected);
  expect(snapshot.pool).toBe(expected);
  expect(lines.join('\n')).toContain(`poolguard[${expected}]`);
  expect([guard.name, JSON.stringify(snapshot), ...lines].join('\n')).not.toMatch(PIECES);
}

describe('a default name holds no password, on a real pool', () => {
  it('pg: a connection string whose password holds an unencoded @ and :', async () => {
    const lines: string[] = [];
    const pool = new Pool({ connectionString: PG_URL, max: 1, guard: watched(lines) });
    cleanup.push(() => pool.end());
    await expectCleanName(pool.guard, lines, PG_NAME, async () => {
      const client = await pool.connect();
      return () => client.release();
    });
  });

  it('generic-pool: pg clients made from that connection string', async () => {
    const lines: string[] = [];
    const pool = createGenericPool(
      {
        create: async () => {
          const client = new pg.Client({ connectionString: PG_URL });
          await client.connect();
          return client;
        },
        destroy: (client) => client.end(),
      },
      { max: 1, guard: watched(lines) },
    );
    cleanup.push(async () => {
      await pool.drain();
      await pool.clear();
    });
    await expectCleanName(pool.guard, lines, 'generic-pool', async () => {
      const client = await pool.acquire();
      return () => pool.release(client);
    });
  });

  it.each([
    ["the issue's uri (a '/' in the password), with the host, user and database given", { uri: `mysql://root:2024/Kq7Vx9@${MYSQL.host}:${MYSQL.port}/test`, host: MYSQL.host, port: MYSQL.port, user: 'root', database: MYSQL.database }],
    ['a uri whose host and port are read from it', { uri: `mysql://${MYSQL.host}:${MYSQL.port}/Kq7@${MYSQL.host}:${MYSQL.port}/test`, user: 'root', database: MYSQL.database }],
  ])('mysql2: createPool, the promise pool and guard(), %s', async (_label, options) => {
    const lines: string[] = [];
    const callback = createMysqlPool({ ...options, connectionLimit: 1, guard: watched(lines) });
    cleanup.push(() => new Promise((resolve) => callback.end(resolve)));
    await expectCleanName(callback.guard, lines, MYSQL_NAME, async () => {
      const connection = await new Promise<mysql.PoolConnection>((resolve, reject) => callback.getConnection((err, c) => (err ? reject(err) : resolve(c!))));
      return () => connection.release();
    });

    const promiseLines: string[] = [];
    const promisePool = createMysqlPromisePool({ ...options, connectionLimit: 1, guard: watched(promiseLines) });
    cleanup.push(() => promisePool.end());
    await expectCleanName(promisePool.guard, promiseLines, MYSQL_NAME, async () => {
      const connection = await promisePool.getConnection();
      return () => connection.release();
    });

    const guardedLines: string[] = [];
    const plain = mysql.createPool({ ...options, connectionLimit: 1 });
    cleanup.push(() => new Promise((resolve) => plain.end(resolve)));
    const handle = guardMysql(plain, watched(guardedLines));
    await expectCleanName(handle, guardedLines, MYSQL_NAME, async () => {
      const connection = await new Promise<mysql.PoolConnection>((resolve, reject) => plain.getConnection((err, c) => (err ? reject(err) : resolve(c!))));
      return () => connection.release();
    });
  });

  it('Knex: the same connection string, parsed by Knex', async () => {
    const lines: string[] = [];
    const knex = knexFactory({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 1 } });
    cleanup.push(() => knex.destroy());
    const handle = guardKnex(knex, watched(lines));
    await expectCleanName(handle, lines, `knex:postgresql ${PG_NAME}`, async () => {
      const trx = await knex.transaction();
      return () => trx.commit();
    });
  });

  it('Sequelize: the same connection string, parsed by Sequelize', async () => {
    const lines: string[] = [];
    const sequelize = new Sequelize(PG_URL, { logging: false, pool: { max: 1, min: 0 } });
    cleanup.push(() => sequelize.close());
    const handle = guardSequelize(sequelize, watched(lines));
    await expectCleanName(handle, lines, `sequelize:postgres ${PG_NAME}`, async () => {
      const t = await sequelize.transaction();
      return () => t.commit();
    });
  });
});

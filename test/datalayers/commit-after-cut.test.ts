import knexFactory, { type Knex } from 'knex';
import { Sequelize, type Options } from 'sequelize';
import { afterEach, describe, expect, it } from 'vitest';
import type { PoolGuard } from '../../src/index.js';
import { guardKnex } from '../../src/knex.js';
import { guardSequelize } from '../../src/sequelize.js';
import { DATABASE_URL, until } from '../helpers/db.js';
import { MYSQL } from '../helpers/mysql.js';

/**
 * When poolguard cuts a transaction's connection (guard.reclaimAfterMs, or guard.endTimeoutMs while
 * the pool ends), the server rolls the transaction back. The holder's later commit must fail: a
 * commit that resolves would tell it that rows the server discarded were saved.
 */

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await Promise.race([fn().catch(() => {}), new Promise((r) => setTimeout(r, 1_000))]);
});

let tables = 0;
function tableName(): string {
  return `poolguard_cut_${process.pid}_${++tables}`;
}

const knexConfigs = {
  pg: (): Knex.Config => ({ client: 'pg', connection: `${DATABASE_URL}?application_name=poolguard_cut`, pool: { min: 0, max: 2 }, log: { warn() {} } }),
  mysql2: (): Knex.Config => ({ client: 'mysql2', connection: { ...MYSQL }, pool: { min: 0, max: 2 }, log: { warn() {} } }),
} as const;

function makeKnex(dialect: keyof typeof knexConfigs): Knex {
  const knex = knexFactory(knexConfigs[dialect]());
  cleanups.push(() => knex.destroy());
  return knex;
}

/** A table made (and later dropped) through its own Knex, which poolguard does not guard. */
async function knexTable(dialect: keyof typeof knexConfigs): Promise<{ name: string; count: () => Promise<number> }> {
  const admin = makeKnex(dialect);
  const name = tableName();
  await admin.schema.createTable(name, (t) => t.integer('id'));
  cleanups.push(() => admin.schema.dropTableIfExists(name));
  return { name, count: async () => Number((await admin(name).count({ n: '*' }))[0]!.n) };
}

function reclaims(handle: PoolGuard): { count: number } {
  const seen = { count: 0 };
  handle.on('reclaim', () => seen.count++);
  return seen;
}

describe.each(['pg', 'mysql2'] as const)('Knex (%s): the holder of a transaction poolguard cut is not told its commit succeeded', (dialect) => {
  it('guard.reclaimAfterMs: trx.commit() rejects with the error Knex settles the transaction with; the row is not there', async () => {
    const table = await knexTable(dialect);
    const knex = makeKnex(dialect);
    const handle = guardKnex(knex, { logger: false, leakThresholdMs: 0, reclaimAfterMs: 200, idleAfterMs: 50 });
    const seen = reclaims(handle);
    const trx = await knex.transaction();
    await trx(table.name).insert({ id: 1 });
    await until(() => seen.count === 1, 'the reclaim', 5_000);
    const settled = trx.executionPromise.then(
      () => 'committed',
      (e: unknown) => e,
    );
    const commit = await trx.commit().then(
      () => 'committed',
      (e: unknown) => e,
    );
    expect(commit).toBeInstanceOf(Error);
    expect(commit).toBe(await settled);
    expect(await table.count()).toBe(0);
    // The pool serves on, and a commit on a connection poolguard never cut still succeeds.
    const next = await knex.transaction();
    await next(table.name).insert({ id: 2 });
    await expect(next.commit()).resolves.not.toBeInstanceOf(Error);
    expect(await table.count()).toBe(1);
  });

  it('guard.endTimeoutMs: a transaction cut so that knex.destroy() finishes cannot commit afterwards', async () => {
    const table = await knexTable(dialect);
    const knex = knexFactory(knexConfigs[dialect]());
    const handle = guardKnex(knex, { logger: false, endTimeoutMs: 200 });
    let forced = 0;
    handle.on('endForced', () => forced++);
    const trx = await knex.transaction();
    await trx(table.name).insert({ id: 1 });
    await knex.destroy();
    expect(forced).toBe(1);
    await expect(trx.commit()).rejects.toThrow();
    expect(await table.count()).toBe(0);
  });

  it('with a savepoint (nested transaction) inside: the outer commit, the one that saves, rejects', async () => {
    const table = await knexTable(dialect);
    const knex = makeKnex(dialect);
    const handle = guardKnex(knex, { logger: false, leakThresholdMs: 0, reclaimAfterMs: 200, idleAfterMs: 50 });
    const seen = reclaims(handle);
    const trx = await knex.transaction();
    const nested = await trx.transaction();
    await nested(table.name).insert({ id: 1 });
    await until(() => seen.count === 1, 'the reclaim', 5_000);
    // Releasing a savepoint saves nothing; Knex's own behaviour stays (its error settles the savepoint).
    await nested.commit().catch(() => {});
    await expect(trx.commit()).rejects.toThrow();
    expect(await table.count()).toBe(0);
  });
});

const sequelizeConfigs = {
  postgres: (): [string, Options] => [DATABASE_URL, { logging: false, pool: { max: 2, min: 0 } }],
  mysql: (): [string, Options] => [
    MYSQL.database,
    { dialect: 'mysql', host: MYSQL.host, port: MYSQL.port, username: MYSQL.user, password: MYSQL.password, logging: false, pool: { max: 2, min: 0 } },
  ],
} as const;

function newSequelize(dialect: keyof typeof sequelizeConfigs): Sequelize {
  const [first, options] = sequelizeConfigs[dialect]();
  return dialect === 'postgres' ? new Sequelize(first, options) : new Sequelize(first, MYSQL.user, MYSQL.password, options);
}

async function sequelizeTable(dialect: keyof typeof sequelizeConfigs): Promise<{ name: string; count: () => Promise<number> }> {
  const admin = newSequelize(dialect);
  cleanups.push(() => admin.close());
  const name = tableName();
  await admin.query(`CREATE TABLE ${name} (id integer)`);
  cleanups.push(() => admin.query(`DROP TABLE IF EXISTS ${name}`));
  return {
    name,
    count: async () => Number(((await admin.query(`SELECT count(*) AS n FROM ${name}`)) as [Array<{ n: unknown }>, unknown])[0][0]!.n),
  };
}

describe.each(['postgres', 'mysql'] as const)('Sequelize (%s): the holder of a transaction poolguard cut is not told its commit succeeded', (dialect) => {
  it('guard.reclaimAfterMs: t.commit() rejects; the row is not there', async () => {
    const table = await sequelizeTable(dialect);
    const sequelize = newSequelize(dialect);
    cleanups.push(() => sequelize.close());
    const handle = guardSequelize(sequelize, { logger: false, leakThresholdMs: 0, reclaimAfterMs: 200, idleAfterMs: 50 });
    const seen = reclaims(handle);
    const t = await sequelize.transaction();
    await sequelize.query(`INSERT INTO ${table.name} (id) VALUES (1)`, { transaction: t });
    await until(() => seen.count === 1, 'the reclaim', 5_000);
    await expect(t.commit()).rejects.toThrow();
    expect(await table.count()).toBe(0);
    const next = await sequelize.transaction();
    await sequelize.query(`INSERT INTO ${table.name} (id) VALUES (2)`, { transaction: next });
    await next.commit();
    expect(await table.count()).toBe(1);
  });

  it('guard.endTimeoutMs: a transaction cut so that sequelize.close() finishes cannot commit afterwards', async () => {
    const table = await sequelizeTable(dialect);
    const sequelize = newSequelize(dialect);
    const handle = guardSequelize(sequelize, { logger: false, endTimeoutMs: 200 });
    let forced = 0;
    handle.on('endForced', () => forced++);
    const t = await sequelize.transaction();
    await sequelize.query(`INSERT INTO ${table.name} (id) VALUES (1)`, { transaction: t });
    await sequelize.close();
    expect(forced).toBe(1);
    await expect(t.commit()).rejects.toThrow();
    expect(await table.count()).toBe(0);
  });
});

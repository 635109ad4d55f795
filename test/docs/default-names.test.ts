// The README's `name` row states each pool's default name; each is checked here on a pool that
// really checks out a connection (or a resource), so that the row cannot drift from the code.
import { readFileSync } from 'node:fs';
import knexFactory from 'knex';
import { Sequelize } from 'sequelize';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool as createGenericPool } from '../../src/generic-pool.js';
import { guardKnex } from '../../src/knex.js';
import { createPoolCluster } from '../../src/mysql2-promise.js';
import { createPool as createMysqlPool } from '../../src/mysql2-promise.js';
import { Pool } from '../../src/pg.js';
import { guardSequelize } from '../../src/sequelize.js';
import { DATABASE_URL } from '../helpers/db.js';
import { MYSQL, MYSQL_URL } from '../helpers/mysql.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const row = readme.split('\n').find((line) => line.startsWith('| `name` |'))!;
const defaults = row.split(' | ')[1]!;
const pg = new URL(DATABASE_URL);
const PG = `${pg.hostname}:${pg.port || 5432}${pg.pathname}`;
const MY = `${MYSQL.host}:${MYSQL.port}/${MYSQL.database}`;

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const end of cleanup.splice(0).reverse()) await end().catch(() => undefined);
});

describe("the README's default names", () => {
  it('pg and mysql2 pools: host:port/database', async () => {
    expect(defaults).toContain('`host:port/database`');
    const pool = new Pool({ connectionString: DATABASE_URL, max: 1 });
    cleanup.push(() => pool.end());
    (await pool.connect()).release();
    expect(pool.guard.name).toBe(PG);
    const mysql = createMysqlPool({ uri: MYSQL_URL, connectionLimit: 1 });
    cleanup.push(() => mysql.end());
    (await mysql.getConnection()).release();
    expect(mysql.guard.name).toBe(MY);
  });

  it("Knex and Sequelize: the data layer's dialect before host:port/database", async () => {
    expect(defaults).toContain('`knex:<dialect> host:port/database`');
    expect(defaults).toContain('`sequelize:<dialect> host:port/database`');
    const knex = knexFactory({ client: 'pg', connection: DATABASE_URL, pool: { min: 0, max: 1 } });
    cleanup.push(() => knex.destroy());
    const knexGuard = guardKnex(knex);
    await knex.raw('SELECT 1');
    expect(knexGuard.name).toBe(`knex:postgresql ${PG}`);
    const sequelize = new Sequelize(MYSQL_URL, { logging: false, pool: { max: 1 } });
    cleanup.push(() => sequelize.close());
    const sequelizeGuard = guardSequelize(sequelize);
    await sequelize.query('SELECT 1');
    expect(sequelizeGuard.name).toBe(`sequelize:mysql ${MY}`);
  });

  it("a mysql2 cluster's member: cluster/<id>", async () => {
    expect(defaults).toContain('`cluster/<id>`');
    const cluster = createPoolCluster();
    cleanup.push(() => cluster.end());
    cluster.add('replica1', { uri: MYSQL_URL, connectionLimit: 1 });
    (await cluster.getConnection('replica1')).release();
    expect(cluster.guard.member('replica1')!.name).toBe('cluster/replica1');
  });

  it('generic-pool: generic-pool', async () => {
    expect(defaults).toContain('generic-pool: `generic-pool`');
    const pool = createGenericPool({ create: async () => ({}), destroy: async () => {} }, { max: 1 });
    cleanup.push(async () => {
      await pool.drain();
      await pool.clear();
    });
    await pool.release(await pool.acquire());
    expect(pool.guard.name).toBe('generic-pool');
  });
});

import * as genericPool from 'generic-pool';
import knex from 'knex';
import mysql2 from 'mysql2';
import pg from 'pg';
import { Pool as SequelizePool } from 'sequelize-pool';
import { Pool as TarnPool } from 'tarn';
import { afterEach, describe, expect, it } from 'vitest';
import { guard as guardGeneric } from '../../src/generic-pool.js';
import { guard as guardMysql } from '../../src/mysql2.js';
import { guard as guardPg } from '../../src/pg.js';
import { DATABASE_URL } from '../helpers/db.js';

/**
 * Issue 16.5: a guard never changes a pool it does not understand. Each guard() checks that it
 * holds the pool its adapter supports and refuses anything else, naming what it got and what to
 * use; the refused pool keeps behaving as documented.
 */
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn().catch(() => {});
});

/** A factory of real pg clients, as Sequelize's connection manager gives sequelize-pool. */
function clientFactory() {
  return {
    create: async () => {
      const client = new pg.Client({ connectionString: DATABASE_URL, application_name: 'poolguard_containment' });
      await client.connect();
      return client;
    },
    destroy: async (client: pg.Client) => {
      await client.end();
    },
    validate: () => true,
  };
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('a guard never changes a pool it does not understand', () => {
  it("guard() from poolguard/generic-pool refuses Sequelize's pool (sequelize-pool), naming poolguard/sequelize; the pool still grows to its max", async () => {
    const pool = new SequelizePool<pg.Client>({ name: 'contain-seq', max: 3, min: 0, idleTimeoutMillis: 1_000, acquireTimeoutMillis: 5_000, ...clientFactory() });
    cleanup.push(async () => {
      await pool.drain();
      await pool.destroyAllNow();
    });
    const err = errorOf(() => guardGeneric(pool as never));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toBe(
      "guard(pool) needs a generic-pool Pool for 'poolguard/generic-pool', got Sequelize's pool (sequelize-pool): " +
        "use guardSequelize(sequelize) from 'poolguard/sequelize' on the Sequelize instance that owns it: it guards the pool in place.",
    );
    expect(() => guardPg(pool as never)).toThrow(/^guard\(pool\) needs a pg\.Pool for 'poolguard\/pg', got Sequelize's pool \(sequelize-pool\): use guardSequelize\(sequelize\) from 'poolguard\/sequelize'/);
    // Its documented behaviour, unchanged: three concurrent queries run on three connections.
    expect(pool.maxSize).toBe(3);
    expect('guard' in pool).toBe(false);
    const clients = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    const pids = await Promise.all(clients.map(async (c) => (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number));
    expect(new Set(pids).size).toBe(3);
    expect([pool.size, pool.using]).toEqual([3, 3]);
    for (const c of clients) pool.release(c);
  });

  it('tarn (the pool Knex uses) and a Knex instance are refused by both guards, naming poolguard/knex', async () => {
    const tarn = new TarnPool({ create: async () => ({}), destroy: async () => {}, min: 0, max: 2 });
    cleanup.push(() => tarn.destroy());
    for (const guardFn of [guardGeneric, guardPg]) {
      expect(() => guardFn(tarn as never)).toThrow(/got a tarn pool \(the pool Knex uses\): use guardKnex\(knex\) from 'poolguard\/knex' on the Knex instance that owns it/);
    }
    const db = knex({ client: 'pg', connection: DATABASE_URL, pool: { min: 0, max: 2 } });
    cleanup.push(() => db.destroy());
    await db.raw('SELECT 1');
    expect(() => guardPg(db as never)).toThrow(/got a Knex instance: use guardKnex\(knex\) from 'poolguard\/knex' for it\./);
    expect(() => guardGeneric((db.client as { pool: unknown }).pool as never)).toThrow(/got a tarn pool/);
    // Knex still works, and its tarn pool gained nothing.
    expect((await db.raw('SELECT 2 AS n')).rows[0].n).toBe(2);
    expect('guard' in (db.client as { pool: object }).pool).toBe(false);
  });

  it('each guard refuses the other adapter’s pool, a pg.Client and a lookalike, and says which guard to use', async () => {
    const gp = genericPool.createPool({ create: async () => ({}), destroy: async () => {} }, { max: 1 });
    cleanup.push(() => gp.drain().then(() => gp.clear()));
    const pgPool = new pg.Pool({ connectionString: DATABASE_URL });
    cleanup.push(() => pgPool.end());
    expect(() => guardPg(gp as never)).toThrow("guard(pool) needs a pg.Pool for 'poolguard/pg', got a generic-pool Pool: use guard() from 'poolguard/generic-pool' for it.");
    expect(() => guardGeneric(pgPool as never)).toThrow("guard(pool) needs a generic-pool Pool for 'poolguard/generic-pool', got a pg.Pool: use guard() from 'poolguard/pg' for it.");
    const client = new pg.Client({ connectionString: DATABASE_URL });
    expect(() => guardPg(client as never)).toThrow("guard(pool) needs a pg.Pool for 'poolguard/pg', got a pg.Client (one connection, not a pool): pass the pg.Pool it came from instead.");
    // An object with acquire() and release() only (what the old check accepted).
    class MyPool {
      acquire() {}
      release() {}
    }
    expect(() => guardGeneric(new MyPool() as never)).toThrow(
      "guard(pool) needs a generic-pool Pool for 'poolguard/generic-pool', got an object of class MyPool: pass a generic-pool Pool (generic-pool's createPool(…), or use createPool from 'poolguard/generic-pool').",
    );
    // A real mysql2 pool is sent to poolguard/mysql2; a look-alike (the mysql package's) is refused as foreign.
    const mysqlPool = mysql2.createPool({ host: '127.0.0.1' });
    cleanup.push(() => new Promise((r) => mysqlPool.end(r)));
    expect(() => guardPg(mysqlPool as never)).toThrow(/got a mysql2 pool: use guard\(\) from 'poolguard\/mysql2'/);
    expect(() => guardGeneric(mysqlPool.promise() as never)).toThrow(/got a mysql2 promise pool: use guard\(\) from 'poolguard\/mysql2'/);
    const mysqlLike = { getConnection() {}, releaseConnection() {}, query() {}, end() {} };
    expect(() => guardPg(mysqlLike as never)).toThrow(/got a mysql \(or mysql2-like\) pool: poolguard does not guard mysql pools yet/);
    expect(() => guardMysql(mysqlLike as never)).toThrow("guard(pool) needs a mysql2 pool for 'poolguard/mysql2', got a mysql (or mysql2-like) pool");
    expect(() => guardMysql(pgPool as never)).toThrow("guard(pool) needs a mysql2 pool for 'poolguard/mysql2', got a pg.Pool: use guard() from 'poolguard/pg' for it.");
    // Neither pool was touched.
    expect(['guard' in gp, 'guard' in pgPool, gp.acquire === genericPool.Pool.prototype.acquire, pgPool.connect === pg.Pool.prototype.connect]).toEqual([false, false, true, true]);
  });

  it('guard() from poolguard/generic-pool keeps every field of the pool’s factory readable', async () => {
    const factory = { create: async () => ({}), destroy: async () => {}, label: 'contain-factory' };
    const gp = genericPool.createPool(factory, { max: 1 });
    cleanup.push(() => gp.drain().then(() => gp.clear()));
    const handle = guardGeneric(gp);
    const internal = (gp as unknown as { _factory: typeof factory })._factory;
    expect(internal.label).toBe('contain-factory');
    const r = await gp.acquire();
    expect(handle.snapshot().counts.leased).toBe(1);
    await gp.release(r);
  });
});

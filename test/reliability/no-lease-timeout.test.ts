// A checkout that times out while no lease is open: nothing is checked out, so the pool's size is
// not the cause, and the timeout must not ask about it. What the pool waited on is said instead, in
// each pool's own terms: a connection that does not open, a ping before hand-out that gets no
// answer (mysql always, the MariaDB connector after minDelayValidation), a factory that never settles.
import mysql2 from 'mysql2';
import { afterEach, describe, expect, it } from 'vitest';
import { Pool } from '../../src/pg.js';
import { createPool as createMysql2Pool } from '../../src/mysql2.js';
import { createPool as createGenericPool } from '../../src/generic-pool.js';
import { DATABASE_URL } from '../helpers/db.js';
import { addedTo } from '../helpers/driver-errors.js';
import { MYSQL } from '../helpers/mysql.js';
import { connectionOf, guardedMysqljsPool, queryOn } from '../helpers/mysqljs-pools.js';
import { guardedMariadbPool } from '../helpers/mariadb-pools.js';
import { guardedSql } from '../helpers/postgres.js';
import { proxyPerTest } from '../helpers/tcp-proxy.js';

const pgProxy = proxyPerTest({ host: '127.0.0.1', port: Number(new URL(DATABASE_URL).port || 5432) });
const mysqlProxy = proxyPerTest({ host: MYSQL.host, port: MYSQL.port });

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** What poolguard added to the failed checkout's error. */
const addedOn = (err: unknown): string => {
  expect(err, 'the checkout fails').toBeInstanceOf(Error);
  return addedTo(err as Error);
};

const CHECKED_OUT_NONE = /: 0 of \d+ (connection|resource)s checked out/;

function expectNoLeaseWords(text: string, words: string): void {
  expect(text).toMatch(CHECKED_OUT_NONE);
  expect(text).toContain(`No lease is open: ${words}.`);
  // Nothing is checked out: a larger pool would have waited on the same thing.
  expect(text).not.toMatch(/\bmax\b|connectionLimit|pool is too small/);
}

const SERVER_WORDS = 'the pool could not open a connection in time (is the server reachable, and does it answer?)';

describe('a checkout timeout with no lease open names what the pool waited on, not its size', () => {
  it('pg: a server that accepts and never answers', async () => {
    const proxy = pgProxy();
    await proxy.setMode('hang');
    const url = new URL(DATABASE_URL);
    url.port = String(proxy.port);
    url.hostname = '127.0.0.1';
    const pool = new Pool({ connectionString: url.href, max: 1, connectionTimeoutMillis: 300, guard: { logger: false } });
    cleanups.push(() => pool.end().catch(() => {}));
    // The first caller's connect fails on its own (pg's client error, nothing to add); the second
    // waits in pg-pool's queue for that connection and times out there.
    const opening = pool.connect().catch((e: unknown) => e);
    const err = await pool.connect().catch((e: unknown) => e);
    expect((await opening as Error).message).toBe('Connection terminated due to connection timeout');
    expect((err as Error).message).toBe('timeout exceeded when trying to connect');
    expectNoLeaseWords(addedOn(err), SERVER_WORDS);
    expect(pool.guard.snapshot().counts.leased).toBe(0);
  });

  it('mysql2: a server that accepts and never answers', async () => {
    const proxy = mysqlProxy();
    await proxy.setMode('hang');
    const pool = createMysql2Pool({ host: '127.0.0.1', port: proxy.port, user: MYSQL.user, database: MYSQL.database, connectionLimit: 2, connectTimeout: 30_000, guard: { logger: false, acquireTimeoutMs: 300 } });
    cleanups.push(() => destroyMysql2(pool));
    const err = await pool.promise().getConnection().catch((e: unknown) => e);
    expectNoLeaseWords(addedOn(err), SERVER_WORDS);
    expect(pool.guard.snapshot().counts.leased).toBe(0);
  });

  it('postgres.js: a server that accepts and never answers', async () => {
    const proxy = pgProxy();
    await proxy.setMode('hang');
    const sql = guardedSql({ max: 1, connect_timeout: 30, guard: { acquireTimeoutMs: 300 } }, `postgres://postgres@127.0.0.1:${proxy.port}/test`);
    const err = await sql.reserve().catch((e: unknown) => e);
    expectNoLeaseWords(addedOn(err), SERVER_WORDS);
    expect(sql.guard.snapshot().counts.leased).toBe(0);
  });

  const MYSQL_WORDS = 'mysql could not open a connection in time, nor get an answer to the ping it sends before handing a free one out (is the server reachable, and does it answer?)';

  it('mysql: a server that accepts and never answers', async () => {
    const proxy = mysqlProxy();
    await proxy.setMode('hang');
    const pool = guardedMysqljsPool({ port: proxy.port, connectionLimit: 1, guard: { acquireTimeoutMs: 300 } });
    const err = await connectionOf(pool).catch((e: unknown) => e);
    expectNoLeaseWords(addedOn(err), MYSQL_WORDS);
  });

  it('mysql: a free connection whose ping before hand-out gets no answer; once the server answers, the pool serves again', async () => {
    const proxy = mysqlProxy();
    const pool = guardedMysqljsPool({ port: proxy.port, connectionLimit: 1, guard: { acquireTimeoutMs: 300 } });
    (await connectionOf(pool)).release();
    expect(pool.guard.snapshot().counts).toMatchObject({ total: 1, idle: 1, leased: 0 });
    const answer = proxy.holdReplies();
    const err = await connectionOf(pool).catch((e: unknown) => e);
    expectNoLeaseWords(addedOn(err), MYSQL_WORDS);
    answer();
    expect(await queryOn(pool, 'SELECT 2 AS two')).toEqual([{ two: 2 }]);
    expect(pool.guard.snapshot().counts.leased).toBe(0);
  });

  const MARIADB_WORDS =
    'the MariaDB connector could not open a connection in time, nor get an answer to the ping it sends before lending one idle for over minDelayValidation (is the server reachable, and does it answer?)';

  it('mariadb: a server that accepts and never answers (the connector’s own timeout error, unchanged)', async () => {
    const proxy = mysqlProxy();
    await proxy.setMode('hang');
    const pool = guardedMariadbPool({ port: proxy.port, connectionLimit: 1, acquireTimeout: 400, connectTimeout: 30_000 });
    const err = await pool.getConnection().catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('ER_GET_CONNECTION_TIMEOUT');
    expectNoLeaseWords(addedOn(err), MARIADB_WORDS);
  });

  it('mariadb: a connection idle past minDelayValidation whose ping gets no answer', async () => {
    const proxy = mysqlProxy();
    const pool = guardedMariadbPool({ port: proxy.port, connectionLimit: 1, acquireTimeout: 600, connectTimeout: 30_000, minDelayValidation: 50 });
    await (await pool.getConnection()).release();
    await new Promise((r) => setTimeout(r, 120));
    const answer = proxy.holdReplies();
    const err = await pool.getConnection().catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('ER_GET_CONNECTION_TIMEOUT');
    expectNoLeaseWords(addedOn(err), MARIADB_WORDS);
    answer();
    expect(pool.guard.snapshot().counts.leased).toBe(0);
  });

  it("generic-pool: a factory whose create() never settles (generic-pool's own timeout error, unchanged)", async () => {
    const pool = createGenericPool({ create: () => new Promise<object>(() => {}), destroy: async () => {} }, { max: 2, acquireTimeoutMillis: 200, guard: { logger: false } });
    const err = await pool.acquire().catch((e: unknown) => e);
    expect((err as Error).name).toBe('TimeoutError');
    expectNoLeaseWords(addedOn(err), "generic-pool could not create a resource in time (does the factory's create() settle?)");
  });
});

/** Ends a mysql2 pool whose connections may never have opened. */
async function destroyMysql2(pool: mysql2.Pool): Promise<void> {
  const internal = pool as unknown as { _allConnections: { toArray(): Array<{ destroy(): void }> } };
  for (const c of internal._allConnections.toArray()) c.destroy();
  await new Promise<void>((r) => pool.end(() => r()));
}

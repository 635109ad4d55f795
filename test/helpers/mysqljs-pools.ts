import mysql from 'mysql';
import { afterEach } from 'vitest';
import { createPool, type GuardedPool, type GuardedPoolOptions } from '../../src/mysql.js';
import { MYSQL } from './mysql.js';

const open: mysql.Pool[] = [];

const base = (): GuardedPoolOptions => ({ ...MYSQL, connectionLimit: 2 });

/** A guarded mysql (mysqljs) pool on the test server, ended after the test even if leases are still out. */
export function guardedMysqljsPool(options: GuardedPoolOptions = {}): GuardedPool {
  const pool = createPool({ ...base(), ...options, guard: { logger: false, ...options.guard } });
  open.push(pool);
  return pool;
}

/** A bare mysql pool on the test server. */
export function bareMysqljsPool(options: mysql.PoolConfig = {}): mysql.Pool {
  const pool = mysql.createPool({ ...base(), ...options });
  open.push(pool);
  return pool;
}

/** getConnection(cb) as a promise, for tests that do not look at the callback itself. */
export function connectionOf(pool: mysql.Pool): Promise<mysql.PoolConnection> {
  return new Promise((resolve, reject) => pool.getConnection((err, conn) => (err ? reject(err) : resolve(conn))));
}

/** conn.query(sql) as a promise. */
export function queryOn(conn: mysql.Connection | mysql.Pool, sql: string): Promise<unknown> {
  return new Promise((resolve, reject) => conn.query(sql, (err: mysql.MysqlError | null, rows: unknown) => (err ? reject(err) : resolve(rows))));
}

/** Ends a pool whose connections may still be checked out or busy. */
async function forceEnd(pool: mysql.Pool): Promise<void> {
  const internal = pool as unknown as { _closed: boolean; _allConnections: Array<{ destroy(): void }> };
  if (!internal._closed) await Promise.race([new Promise<void>((r) => pool.end(() => r())), new Promise((r) => setTimeout(r, 500))]);
  for (const c of internal._allConnections.slice()) c.destroy();
}

afterEach(async () => {
  await Promise.all(open.splice(0).map(forceEnd));
});

import mysql from 'mysql2';
import { afterEach } from 'vitest';
import { createPool, type GuardedPool, type GuardedPoolOptions } from '../../src/mysql2.js';
import { createPool as createPromisePool } from '../../src/mysql2-promise.js';

import { MYSQL_URL } from './mysql.js';

export { MYSQL_URL };

const open: mysql.Pool[] = [];

const base = (): GuardedPoolOptions => ({ uri: MYSQL_URL, connectionLimit: 2 });

/** A guarded callback pool on the test server, ended after the test even if leases are still out. */
export function guardedMysqlPool(options: GuardedPoolOptions = {}): GuardedPool {
  const pool = createPool({ ...base(), ...options, guard: { logger: false, ...options.guard } });
  open.push(pool);
  return pool;
}

/** The same through poolguard/mysql2/promise. */
export function guardedPromisePool(options: GuardedPoolOptions = {}) {
  const pool = createPromisePool({ ...base(), ...options, guard: { logger: false, ...options.guard } });
  open.push(pool.pool);
  return pool;
}

/** A bare mysql2 pool on the test server. */
export function bareMysqlPool(options: mysql.PoolOptions = {}): mysql.Pool {
  const pool = mysql.createPool({ ...base(), ...options });
  open.push(pool);
  return pool;
}

/** Ends a pool whose connections may still be checked out: mysql2's end() closes them all. */
async function forceEnd(pool: mysql.Pool): Promise<void> {
  const internal = pool as unknown as { _closed: boolean; _allConnections: { length: number; get(i: number): { destroy(): void } } };
  if (!internal._closed) await Promise.race([new Promise<void>((r) => pool.end(() => r())), new Promise((r) => setTimeout(r, 500))]);
  for (let i = internal._allConnections.length - 1; i >= 0; i--) internal._allConnections.get(i).destroy();
}

afterEach(async () => {
  await Promise.all(open.splice(0).map(forceEnd));
});

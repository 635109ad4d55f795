import * as mariadb from 'mariadb';
import { afterEach } from 'vitest';
import { createPool, type GuardedPool, type GuardedPoolOptions } from '../../src/mariadb.js';
import { MYSQL } from './mysql.js';

const open: Array<{ end(): Promise<void> | void; closed?: boolean }> = [];

const base = (): GuardedPoolOptions => ({ ...MYSQL, connectionLimit: 2, minimumIdle: 0 });

/** A guarded MariaDB connector pool (promise API) on the test server, ended after the test. */
export function guardedMariadbPool(options: GuardedPoolOptions = {}): GuardedPool {
  const pool = createPool({ ...base(), ...options, guard: { logger: false, ...options.guard } });
  open.push(pool);
  return pool;
}

/** A bare MariaDB connector pool on the test server. */
export function bareMariadbPool(options: mariadb.PoolConfig = {}): mariadb.Pool {
  const pool = mariadb.createPool({ ...base(), ...options });
  open.push(pool);
  return pool;
}

/** Remembers a pool of another kind (the callback API) to end after the test. */
export function endAfterTest(pool: { end(): Promise<void> | void; closed?: boolean }): void {
  open.push(pool);
}

afterEach(async () => {
  // The connector's end waits up to 10 s for leased connections: a leak left by a test is cut sooner.
  await Promise.all(open.splice(0).map((p) => (p.closed ? undefined : Promise.race([Promise.resolve(p.end()).catch(() => {}), new Promise((r) => setTimeout(r, 300))]))));
});

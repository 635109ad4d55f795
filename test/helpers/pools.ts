import pg from 'pg';
import { afterEach } from 'vitest';
import { Pool, type PoolOptions } from '../../src/pg.js';
import { DATABASE_URL } from './db.js';

const open: pg.Pool[] = [];

/** A guarded pool on the test server, ended after the test even if leases are still out. */
export function guardedPool(options: PoolOptions = {}): Pool {
  const pool = new Pool({ connectionString: DATABASE_URL, ...options, guard: { logger: false, ...options.guard } });
  open.push(pool);
  return pool;
}

/**
 * Opens `n` of the pool's connections and puts them back, before a test times a wait: pg's
 * connectionTimeoutMillis bounds a cold connect as well as the wait, and a loaded machine can
 * outlast a short one while connecting (seen at load 6 with 300 ms).
 */
export async function warm(pool: pg.Pool, n: number): Promise<void> {
  const options = (pool as unknown as { options: { connectionTimeoutMillis?: number } }).options;
  const bound = options.connectionTimeoutMillis;
  options.connectionTimeoutMillis = 30_000;
  try {
    const clients = await Promise.all(Array.from({ length: n }, () => pool.connect()));
    for (const c of clients) c.release();
  } finally {
    options.connectionTimeoutMillis = bound;
  }
}

/** A bare pg.Pool on the test server, for side-by-side comparisons. */
export function barePool(options: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, ...options });
  open.push(pool);
  return pool;
}

/** Ends a pool whose clients may still be checked out, without waiting for their holders. */
export async function forceEnd(pool: pg.Pool): Promise<void> {
  const internal = pool as unknown as { _clients: Array<{ end(): Promise<void> }> };
  const ending = pool.ending ? Promise.resolve() : pool.end().catch(() => {});
  await Promise.all([...internal._clients].map((c) => c.end().catch(() => {})));
  await Promise.race([ending, new Promise((r) => setTimeout(r, 500))]);
}

afterEach(async () => {
  await Promise.all(open.splice(0).map(forceEnd));
});

import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool, type GuardedPool, type LeakReport } from '../../src/generic-pool.js';
import { until } from '../helpers/db.js';
import { pgClientFactory } from '../helpers/factories.js';

let pool: GuardedPool<pg.Client> | undefined;
afterEach(async () => {
  await pool?.drain().catch(() => {});
  await pool?.clear().catch(() => {});
  pool = undefined;
});

describe('generic-pool with pg.Client resources: state read from the client (real server)', () => {
  it('a resource left inside an open transaction is reported idle, transaction first, in words about queries', async () => {
    pool = createPool<pg.Client>(pgClientFactory(), { max: 1, guard: { logger: false, leakThresholdMs: 100, idleAfterMs: 5_000 } });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    const client = await pool.acquire();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1');
      await until(() => leaks.length > 0, 'a leak report');
      expect(leaks[0]).toMatchObject({ kind: 'acquire', state: 'idle', transaction: 'open' });
      expect(leaks[0]!.message).toMatch(/^poolguard\[generic-pool\]: possible connection leak inside an open transaction: a resource checked out at /);
      expect(leaks[0]!.message).toMatch(/with no query in flight; its last query finished \d+ ms ago/);
      expect(pool.guard.snapshot().leases[0]!.transaction).toBe('open');
    } finally {
      await client.query('ROLLBACK');
      await pool.release(client);
    }
  });
});

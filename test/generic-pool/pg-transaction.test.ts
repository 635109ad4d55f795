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
    // idleAfterMs above the threshold: a touch() that recent would read busy; a pg.Client is read.
    pool = createPool<pg.Client>(pgClientFactory(), { max: 1, guard: { logger: false, leakThresholdMs: 100, idleAfterMs: 200 } });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    const client = await pool.acquire();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1');
      // Its last query finished within idleAfterMs at the threshold: slow (in active use) first.
      await until(() => leaks.length > 1, 'a possible leak report after the slow one');
      expect(leaks.map((r) => r.state)).toEqual(['idle', 'idle']);
      expect(leaks[0]!.message).toMatch(/: slow lease inside an open transaction: a resource checked out at .* in active use: no query in flight at this instant, but its last one finished \d+ ms ago/);
      leaks.shift();
      expect(leaks[0]).toMatchObject({ kind: 'acquire', state: 'idle', transaction: 'open' });
      expect(leaks[0]!.message).toMatch(/^poolguard\[generic-pool\]: possible resource leak inside an open transaction: a resource checked out at /);
      expect(leaks[0]!.message).toMatch(/with no query in flight; its last query finished \d+ ms ago/);
      expect(pool.guard.snapshot().leases[0]!.transaction).toBe('open');
    } finally {
      await client.query('ROLLBACK');
      await pool.release(client);
    }
  });
});

import { pgClientFactory } from '../helpers/factories.js';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool } from '../../src/generic-pool.js';
import type { LeakReport } from '../../src/pg.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { acquireHere, leakWithPromise } from '../fixtures/leaky.mjs';
import { DATABASE_URL, sleep, until } from '../helpers/db.js';
import { guardedPool } from '../helpers/pools.js';

const ends: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const end of ends.splice(0)) await end().catch(() => {});
});

describe('intentional long holds on the real server', () => {
  it('a LISTEN client marked with pool.guard.exempt() receives notifications past the threshold and is never reported', async () => {
    const pool = guardedPool({ max: 2, guard: { leakThresholdMs: 60, idleAfterMs: 20, reclaimAfterMs: 120 } });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    pool.guard.on('reclaim', (r) => leaks.push(r));
    const listener = pool.guard.exempt(await pool.connect(), 'LISTEN orders');
    const received: string[] = [];
    listener.on('notification', (n) => received.push(String(n.payload)));
    await listener.query('LISTEN orders');
    await sleep(250);
    await pool.query(`NOTIFY orders, 'order 1'`);
    await until(() => received.length === 1, 'the notification');
    expect(leaks).toEqual([]);
    expect(pool.guard.snapshot().leases).toEqual([expect.objectContaining({ exempt: 'LISTEN orders', state: 'idle', reported: false })]);
    await listener.query('UNLISTEN *');
    listener.release();
    expect(pool.guard.snapshot().leases).toEqual([]);
  });

  it('guard.exemptSites exempts a long report transaction by its call site; other sites are still reported', async () => {
    const pool = guardedPool({ max: 3, guard: { leakThresholdMs: 60, idleAfterMs: 20, exemptSites: ['test/fixtures/leaky.mjs:5:'] } });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    const report = await leakWithPromise(pool); // leaky.mjs line 5: exempt
    await report.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const forgotten = await pool.connect(); // this file: watched
    await until(() => leaks.length > 0, 'the other lease reported');
    await sleep(100);
    expect(leaks.map((l) => l.site)).toEqual([expect.stringMatching(/^test\/pg\/exempt\.test\.ts:\d+:\d+$/)]);
    expect(pool.guard.snapshot().leases.find((l) => l.exempt !== undefined)!.exempt).toBe('guard.exemptSites /test\\/fixtures\\/leaky\\.mjs:5:/');
    await report.query('COMMIT');
    report.release();
    forgotten.release();
  });

  it('generic-pool: the same API on an acquired resource', async () => {
    const pool = createPool<pg.Client>(
      pgClientFactory(),
      { max: 1, guard: { logger: false, leakThresholdMs: 50, idleAfterMs: 20 } },
    );
    ends.push(async () => {
      await pool.drain();
      await pool.clear();
    });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    const client = pool.guard.exempt(await acquireHere(pool), 'replication slot reader');
    await sleep(150);
    expect(leaks).toEqual([]);
    expect(pool.guard.snapshot().leases[0]!.exempt).toBe('replication slot reader');
    await pool.release(client);
  });
});

import { describe, expect, it } from 'vitest';
import type { EndReport, LeakReport } from '../../src/mysql2.js';
import { sleep } from '../helpers/db.js';
import { guardedMysqlPool, guardedPromisePool } from '../helpers/mysql-pools.js';

describe('a release() during pool.end(), which mysql2 swallows, still ends the lease', () => {
  it('promise API: no leak report, not cut by endForced, not in the snapshot taken after end() resolved', async () => {
    const pool = guardedPromisePool({ connectionLimit: 2, guard: { leakThresholdMs: 150, endTimeoutMs: 400 } });
    const leaks: LeakReport[] = [];
    const forced: EndReport[] = [];
    const blocked: EndReport[] = [];
    const closed: EndReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    pool.guard.on('endForced', (r) => forced.push(r));
    pool.guard.on('endBlocked', (r) => blocked.push(r));
    pool.guard.on('endClosed', (r) => closed.push(r));
    const quick = await pool.getConnection();
    const quickId = pool.guard.snapshot().leases[0]!.id;
    const slow = await pool.getConnection();
    const slowId = pool.guard.snapshot().leases.find((l) => l.id !== quickId)!.id;
    const running = slow.query('SELECT SLEEP(1.5)').catch((e: Error) => e);
    await sleep(20);
    // Before end(), a loaded machine may truly report the idle one as a possible leak: only what
    // comes after the call counts here.
    leaks.length = 0;
    const ending = pool.end();
    // mysql2 closes the idle one under its holder at the call: its lease ended with the pool.
    expect(pool.guard.snapshot().leases.map((l) => l.id)).toEqual([slowId]);
    await sleep(20);
    expect(closed.map((r) => r.leases.map((l) => l.id))).toEqual([[quickId]]);
    // The holder gives its connection back while the pool ends; mysql2 returns without telling the pool.
    quick.release();
    expect(pool.guard.snapshot().leases.map((l) => l.id)).toEqual([slowId]);
    await ending;
    await running;
    expect(leaks.map((r) => r.leaseId)).not.toContain(quickId);
    for (const report of [...forced, ...blocked]) expect(report.leases.map((l) => l.id)).toEqual([slowId]);
    expect(forced).toHaveLength(1);
    expect(closed).toHaveLength(1);
    const final = pool.guard.snapshot();
    expect(final.leases.map((l) => l.id)).not.toContain(quickId);
    expect(final.totals.doubleReleases).toBe(0);
    // The slow one was cut by endForced: its lease is over too.
    expect(final.leases).toEqual([]);
    expect(final.connections).toEqual([]);
  });

  it('callback API: a release while end() waits on its query ends the lease by its holder; releases after end() finished are harmless', async () => {
    const pool = guardedMysqlPool({ connectionLimit: 2, guard: { leakThresholdMs: 100 } });
    const leaks: LeakReport[] = [];
    const closed: EndReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    pool.guard.on('endClosed', (r) => closed.push(r));
    const get = () => new Promise<import('mysql2').PoolConnection>((res, rej) => pool.getConnection((e, c) => (e ? rej(e) : res(c))));
    const a = await get();
    const aId = pool.guard.snapshot().leases[0]!.id;
    const b = await get();
    const bId = pool.guard.snapshot().leases.find((l) => l.id !== aId)!.id;
    // b's holder releases it when its query ends, after end() began (mysql2's end waits for the query).
    const released = new Promise<void>((res) =>
      b.query('SELECT SLEEP(0.2)', () => {
        b.release();
        res();
      }),
    );
    const ended = new Promise<void>((res) => pool.end(() => res()));
    // Only what comes after the call counts: b may be reported slow (its query runs), a must not be.
    leaks.length = 0;
    expect(pool.guard.snapshot().leases.map((l) => l.id)).toEqual([bId]);
    a.release();
    await released;
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    await ended;
    b.release();
    a.release();
    expect(pool.guard.snapshot().leases).toEqual([]);
    expect(pool.guard.snapshot().connections).toEqual([]);
    // a was closed under its holder at the call; b was given back by its holder, so no endClosed for it.
    expect(closed.map((r) => r.leases.map((l) => l.id))).toEqual([[aId]]);
    await sleep(250);
    expect(leaks.filter((r) => r.leaseId === aId || r.type !== 'leak' || !/slow lease/.test(r.message))).toEqual([]);
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(0);
  });
});

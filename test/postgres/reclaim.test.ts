import { describe, expect, it } from 'vitest';
import { LeaseReclaimedError, type LeakReport, type RetireReport } from '../../src/postgres.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { beginAndHang, reserveAndForget } from '../fixtures/postgres-leaky.mjs';
import { sleep, until } from '../helpers/db.js';
import { guardedSql } from '../helpers/postgres.js';
import { siteMatchers } from '../helpers/sites.js';

const site = siteMatchers('test/fixtures/postgres-leaky.mjs');

describe('postgres.js: guard.reclaimAfterMs takes back idle leases', () => {
  it('a reserve(), known or not yet named, and a stuck begin(): closed, their holders refused, the pool whole again', async () => {
    const sql = guardedSql({ max: 3, guard: { leakThresholdMs: 0, reclaimAfterMs: 150, idleAfterMs: 50 } });
    const reclaims: LeakReport[] = [];
    const retired: RetireReport[] = [];
    sql.guard.on('reclaim', (r) => reclaims.push(r));
    sql.guard.on('retire', (r) => retired.push(r));
    const unnamed = await reserveAndForget(sql);
    const named = await reserveAndForget(sql);
    await named`select 1`;
    const { entered, settled } = beginAndHang(sql);
    const tx = await entered;
    await until(() => reclaims.length === 3, 'three reclaims');
    expect(reclaims.map((r) => r.site).every((s) => site('reserve').test(s!) || site('begin').test(s!))).toBe(true);
    expect(reclaims.find((r) => r.kind === 'transaction')!.transaction).toBe('open');
    for (const holder of [unnamed, named, tx]) await expect(holder`select 1`).rejects.toBeInstanceOf(LeaseReclaimedError);
    await expect(settled).rejects.toBeInstanceOf(LeaseReclaimedError);
    unnamed.release();
    named.release();
    await until(() => retired.filter((r) => r.reason === 'reclaimed').length === 3, 'three connections closed');
    // Three fresh connections, none left inside a transaction.
    const rows = await Promise.all([1, 2, 3].map(() => sql.begin((t) => t`select pg_backend_pid() as pid`)));
    expect(rows.every((r) => r.length === 1)).toBe(true);
    expect(sql.guard.snapshot().counts.leased).toBe(0);
  });

  it('a busy lease is never reclaimed', async () => {
    const sql = guardedSql({ max: 1, guard: { leakThresholdMs: 0, reclaimAfterMs: 60, idleAfterMs: 30 } });
    const reclaims: LeakReport[] = [];
    sql.guard.on('reclaim', (r) => reclaims.push(r));
    const reserved = await reserveAndForget(sql);
    await reserved`select pg_sleep(0.3)`;
    expect(reclaims).toEqual([]);
    reserved.release();
    await sleep(100);
    expect(reclaims).toEqual([]);
  });
});

// mysql2's pool.end() closes every connection at once, checked out or not (lib/base/pool.js: end()
// calls _realEnd on each of _allConnections). A lease still held then has no connection any more:
// it must end with the pool, not stay in the snapshot and be reported as a possible leak later.
import mysql from 'mysql2';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool as createCallbackPool, createPoolCluster, type EndReport } from '../../src/mysql2.js';
import { createPool, createPoolCluster as createPromisePoolCluster } from '../../src/mysql2-promise.js';
import { until } from '../helpers/db.js';
import { MYSQL_URL } from '../helpers/mysql.js';
import { siteMatchers } from '../helpers/sites.js';

const site = siteMatchers('test/mysql2/end-closes-held.test.ts');

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const end of cleanup.splice(0).reverse()) await end().catch(() => undefined);
});

const CLOSED = "Can't add new command when connection is in closed state";

/**
 * Waits past the leak threshold (200 ms) for a report that must not come once the pool has ended;
 * a late scan can only let it pass. (Before the end, a loaded machine may report a lease held past
 * the threshold, truly: slow, or idle.)
 */
async function noReportAfterThreshold(reports: unknown[]): Promise<void> {
  reports.length = 0;
  const t = Date.now();
  await until(() => Date.now() - t > 600 || reports.length > 0, 'the threshold passed');
  expect(reports).toEqual([]);
}

/** The leak and endClosed reports of a pool's guard or a cluster's. */
function listen(guard: { on(event: 'leak', l: (r: { message: string }) => void): unknown; on(event: 'endClosed', l: (r: EndReport) => void): unknown }): { reports: string[]; closed: EndReport[] } {
  const heard = { reports: [] as string[], closed: [] as EndReport[] };
  guard.on('leak', (r) => heard.reports.push(r.message));
  guard.on('endClosed', (r) => heard.closed.push(r));
  return heard;
}

/** The endClosed report names the held lease at the holder's line, as ended with the pool. */
function expectClosedReport(closed: EndReport[], line: RegExp, call = 'pool.end()'): void {
  expect(closed).toHaveLength(1);
  const [report] = closed;
  expect(report!.type).toBe('endClosed');
  expect(report!.call).toBe(call);
  expect(report!.leases.map((l) => l.where)).toEqual([expect.stringMatching(line)]);
  expect(report!.message).toContain(`${call} closed 1 connection still checked out, under its holder`);
  expect(report!.message).toContain('its lease ended with the pool, not given back');
  expect(report!.message).toContain(`from ${report!.leases[0]!.where}: held`);
  expect(report!.message).toContain(`Its holder's next query on it fails with mysql2's error "${CLOSED}"`);
  expect(report!.message).not.toMatch(/possible leak/i);
}

describe('mysql2: pool.end() with a lease still held', () => {
  it('promise API: ends the lease with the connection mysql2 closed: no lease in the snapshot after end(), no leak report after it', async () => {
    const pool = createPool({ uri: MYSQL_URL, connectionLimit: 2, guard: { leakThresholdMs: 200, logger: false } });
    const { reports, closed } = listen(pool.guard);
    const held = await pool.getConnection(); // SITE:promiseHeld (never released)
    const released = await pool.getConnection();
    released.release();
    await pool.end();
    const failed = await held.query('SELECT 1').then(() => '', (e: Error) => e.message);
    expect(failed).toBe(CLOSED);
    const after = pool.guard.snapshot();
    expect(after.leases).toEqual([]);
    expect(after.connections).toEqual([]);
    expect(after.counts.total).toBe(0);
    expect(after.counts.leased).toBe(0);
    expect(after.totals.retired.ended).toBe(2);
    expectClosedReport(closed, site('promiseHeld'));
    // The holder's late release() is harmless: no double release.
    held.release();
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(0);
    // a leak report would come at 200 ms; a later one of a closed connection is untrue
    await noReportAfterThreshold(reports);
  });

  it('callback API: the same, and a lease busy at end() ends with the pool once its query has finished', async () => {
    const pool = createCallbackPool({ uri: MYSQL_URL, connectionLimit: 2, guard: { leakThresholdMs: 200, logger: false, endTimeoutMs: 5_000 } });
    cleanup.push(() => new Promise<void>((r) => (pool as unknown as { _closed: boolean })._closed ? r() : pool.end(() => r())));
    const { reports, closed } = listen(pool.guard);
    const idle = await new Promise<mysql.PoolConnection>((res, rej) => pool.getConnection((e, c) => (e ? rej(e) : res(c!)))); // SITE:callbackIdle
    const busy = await new Promise<mysql.PoolConnection>((res, rej) => pool.getConnection((e, c) => (e ? rej(e) : res(c!)))); // SITE:callbackBusy
    const running = new Promise<unknown>((res) => busy.query('SELECT SLEEP(0.3) AS s', (e, rows) => res(e ?? rows)));
    const ended = new Promise<Error | null | undefined>((res) => pool.end((e) => res(e)));
    // The idle one is closed under its holder at the call: ended with the pool at once.
    expect(pool.guard.snapshot().leases.map((l) => l.where)).toEqual([expect.stringMatching(site('callbackBusy'))]);
    expect(await running).toEqual([{ s: 0 }]);
    expect(await ended).toBeFalsy();
    expect(closed.map((r) => r.leases.map((l) => l.where))).toEqual([[expect.stringMatching(site('callbackIdle'))], [expect.stringMatching(site('callbackBusy'))]]);
    const after = pool.guard.snapshot();
    expect(after.leases).toEqual([]);
    expect(after.connections).toEqual([]);
    expect(after.counts).toMatchObject({ total: 0, idle: 0, leased: 0, waiting: 0 });
    const failed = await new Promise<string>((res) => idle.query('SELECT 1', (e) => res(e?.message ?? '')));
    expect(failed).toBe(CLOSED);
    idle.release();
    busy.release();
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(0);
    await noReportAfterThreshold(reports);
  });

  it('a cluster member (callback cluster): its lease ends with the cluster, reported as the member\'s', async () => {
    const cluster = createPoolCluster({ guard: { name: 'shop', leakThresholdMs: 200, logger: false } });
    cluster.add('primary', { uri: MYSQL_URL, connectionLimit: 2 });
    cluster.add('replica', { uri: MYSQL_URL, connectionLimit: 1 });
    cleanup.push(() => new Promise<void>((r) => cluster.end(() => r())));
    const { reports, closed } = listen(cluster.guard);
    const held = await new Promise<mysql.PoolConnection>((res, rej) => cluster.getConnection('replica', (e, c) => (e ? rej(e) : res(c!)))); // SITE:clusterHeld
    await new Promise<void>((res, rej) => cluster.end((e) => (e ? rej(e) : res())));
    expectClosedReport(closed, site('clusterHeld'), 'cluster.end()');
    expect(closed[0]!.pool).toBe('shop/replica');
    const replica = cluster.guard.member('replica')!.snapshot();
    expect(replica.leases).toEqual([]);
    expect(replica.connections).toEqual([]);
    expect(replica.counts.total).toBe(0);
    const failed = await new Promise<string>((res) => held.query('SELECT 1', (e) => res(e?.message ?? '')));
    expect(failed).toBe(CLOSED);
    await noReportAfterThreshold(reports);
  });

  it('a cluster member (promise cluster): the same', async () => {
    const cluster = createPromisePoolCluster({ guard: { name: 'shop', leakThresholdMs: 200, logger: false } });
    cluster.add('primary', { uri: MYSQL_URL, connectionLimit: 1 });
    cleanup.push(() => cluster.end());
    const { reports, closed } = listen(cluster.guard);
    const held = await cluster.getConnection('primary'); // SITE:promiseClusterHeld
    await cluster.end();
    expectClosedReport(closed, site('promiseClusterHeld'), 'cluster.end()');
    expect(closed[0]!.pool).toBe('shop/primary');
    const primary = cluster.guard.member('primary')!.snapshot();
    expect(primary.leases).toEqual([]);
    expect(primary.connections).toEqual([]);
    expect(await held.query('SELECT 1').then(() => '', (e: Error) => e.message)).toBe(CLOSED);
    await noReportAfterThreshold(reports);
  });
});

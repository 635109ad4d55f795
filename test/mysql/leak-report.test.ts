import mysql from 'mysql';
import { describe, expect, it } from 'vitest';
import { LeaseReclaimedError } from '../../src/mysql.js';
import { sleep, until } from '../helpers/db.js';
import { expectBusyThenResolved, seen } from '../helpers/reports.js';
import { bareMysqljsPool, connectionOf, guardedMysqljsPool, queryOn } from '../helpers/mysqljs-pools.js';
import { siteMatchers } from '../helpers/sites.js';

const site = siteMatchers('test/mysql/leak-report.test.ts');

describe('mysql (mysqljs) leak reports name the line that took the connection', () => {
  it('getConnection(cb) reports its own line, idle, once, with the thread id; the release resolves nothing unreported', async () => {
    const pool = guardedMysqljsPool({ guard: { leakThresholdMs: 60, idleAfterMs: 30 } });
    const leaks = seen(pool.guard);
    const conn = await new Promise<mysql.PoolConnection>((resolve, reject) => pool.getConnection((e, c) => (e ? reject(e) : resolve(c)))); // SITE:callback
    await until(() => leaks.length > 0, 'a leak report');
    const report = leaks[0]!;
    expect(report.site).toMatch(site('callback'));
    expect(report.kind).toBe('connect');
    expect(report.state).toBe('idle');
    expect(report.transaction).toBeUndefined();
    expect(report.connection!.pid).toBe(conn.threadId);
    expect(report.message).toContain('checked out at test/mysql/leak-report.test.ts:');
    await sleep(100);
    expect(leaks).toHaveLength(1);
    conn.release();
    expect(pool.guard.snapshot().counts).toMatchObject({ leased: 0, idle: 1 });
  });

  it("a free connection is handed out after mysql's ping: the ping is the pool's, so a lease that ran nothing says so; the holder's own query counts", async () => {
    const pool = guardedMysqljsPool({ connectionLimit: 1, guard: { leakThresholdMs: 60, idleAfterMs: 30 } });
    const leaks = seen(pool.guard);
    // Opened and put back: every later checkout of it waits for the ping mysql sends first.
    (await connectionOf(pool)).release();
    const conn = await connectionOf(pool);
    await until(() => leaks.length > 0, 'a leak report');
    expect(leaks[0]!.message).toContain('with no query in flight and none run since checkout');
    conn.release();
    const again = await connectionOf(pool);
    await queryOn(again, 'SELECT 1');
    // On a loaded machine the threshold can fall within guard.idleAfterMs of that query's end:
    // the lease is then reported slow first, and as a possible leak once idle for the threshold.
    const idleSinceQuery = /with no query in flight; its last query finished \d+ ms ago/;
    await until(() => leaks.slice(1).some((r) => idleSinceQuery.test(r.message)), 'a leak report after the query');
    expect(leaks.slice(1).filter((r) => !idleSinceQuery.test(r.message)).every((r) => r.message.includes('slow lease'))).toBe(true);
    again.release();
  });

  it('a SLEEP in flight makes the lease busy (read from the protocol queue, no round trip); its release resolves the report', async () => {
    const pool = guardedMysqljsPool({ guard: { leakThresholdMs: 80, idleAfterMs: 40 } });
    const conn = await connectionOf(pool);
    await expectBusyThenResolved(pool.guard, (sql) => queryOn(conn, sql), () => conn.release());
  });

  it('a lease inside BEGIN is reported "in an open transaction", read from the server status flags; COMMIT clears it', async () => {
    const pool = guardedMysqljsPool({ guard: { leakThresholdMs: 60, idleAfterMs: 30 } });
    const leaks = seen(pool.guard);
    const conn = await connectionOf(pool);
    await queryOn(conn, 'BEGIN');
    await queryOn(conn, 'SELECT 1 AS a UNION ALL SELECT 2');
    await until(() => leaks.length > 0, 'a leak report');
    expect(leaks[0]!.transaction).toBe('open');
    expect(leaks[0]!.state).toBe('idle');
    expect(pool.guard.snapshot().leases[0]!.transaction).toBe('open');
    await queryOn(conn, 'COMMIT');
    expect(pool.guard.snapshot().leases[0]!.transaction).toBeUndefined();
    conn.release();
  });

  it('pool.query() leases capture no stack by default and are busy while their query runs', async () => {
    const pool = guardedMysqljsPool({ guard: { leakThresholdMs: 60 } });
    const leaks = seen(pool.guard);
    await queryOn(pool, 'SELECT SLEEP(0.2)');
    expect(leaks).toHaveLength(1);
    expect(leaks[0]).toMatchObject({ kind: 'query', site: undefined, state: 'busy' });
    expect(pool.guard.snapshot().counts).toMatchObject({ leased: 0, idle: 1 });
  });

  it('reclaim destroys an idle leaked connection, serves the waiter, fails the holder with LeaseReclaimedError', async () => {
    const pool = guardedMysqljsPool({ connectionLimit: 1, guard: { leakThresholdMs: 60, idleAfterMs: 30, reclaimAfterMs: 120 } });
    const reclaims = seen(pool.guard, 'reclaim');
    const leaked = await new Promise<mysql.PoolConnection>((resolve, reject) => pool.getConnection((e, c) => (e ? reject(e) : resolve(c)))); // SITE:reclaimed
    const thread = leaked.threadId;
    const waiter = queryOn(pool, 'SELECT CONNECTION_ID() AS id');
    await until(() => reclaims.length > 0, 'a reclaim');
    expect(reclaims[0]!.site).toMatch(site('reclaimed'));
    const rows = (await waiter) as Array<{ id: number }>;
    expect(rows[0]!.id).not.toBe(thread);
    const err = (await queryOn(leaked, 'SELECT 1').catch((e: unknown) => e)) as LeaseReclaimedError;
    expect(err).toBeInstanceOf(LeaseReclaimedError);
    expect(err.message).toContain('checked out at test/mysql/leak-report.test.ts:');
    expect(() => leaked.release()).not.toThrow();
    const snap = pool.guard.snapshot();
    expect(snap.counts).toMatchObject({ total: 1, leased: 0 });
    expect(snap.totals).toMatchObject({ reclaims: 1 });
    expect(snap.totals.retired.reclaimed).toBe(1);
  });

  it("a second release() throws mysql's own error unchanged; poolguard counts it and logs both sites", async () => {
    const bare = bareMysqljsPool();
    const bareConn = await connectionOf(bare);
    bareConn.release();
    let bareErr: unknown;
    try {
      bareConn.release();
    } catch (e) {
      bareErr = e;
    }
    const lines: string[] = [];
    const pool = guardedMysqljsPool({ guard: { releaseStacks: 'always', logger: { warn: (_obj, msg) => lines.push(msg) } } });
    const conn = await connectionOf(pool);
    conn.release();
    let err: unknown;
    try {
      conn.release();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).constructor).toBe((bareErr as Error).constructor);
    expect((err as Error).message).toBe((bareErr as Error).message);
    expect((err as Error).message).toBe('Connection already released');
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^DoubleReleaseError: Connection already released poolguard\[127\.0\.0\.1:3306\/test\]: The first release\(\) was .* ago at test\/mysql\/leak-report\.test\.ts:\d+/);
    expect(pool.guard.snapshot().counts).toMatchObject({ total: 1, idle: 1 });
  });

  it('await using: a guarded connection releases its lease at the end of the scope, once; a disposal after release() by hand does nothing', async () => {
    const pool = guardedMysqljsPool({ connectionLimit: 1 });
    const asyncDispose = (Symbol as { asyncDispose?: symbol }).asyncDispose ?? Symbol.for('nodejs.asyncDispose');
    const conn = await connectionOf(pool);
    const dispose = (conn as unknown as Record<symbol, () => Promise<void>>)[asyncDispose]!;
    expect(pool.guard.snapshot().counts.leased).toBe(1);
    await dispose();
    expect(pool.guard.snapshot().counts).toMatchObject({ leased: 0, idle: 1 });
    const again = await connectionOf(pool);
    expect(again).toBe(conn);
    const late = (again as unknown as Record<symbol, () => Promise<void>>)[asyncDispose]!;
    again.release();
    await late();
    await dispose();
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(0);
    expect(pool.guard.snapshot().counts).toMatchObject({ leased: 0, idle: 1 });
  });
});

import { describe, expect, it } from 'vitest';
import { LeaseReclaimedError, type LeakReport } from '../../src/mysql2.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithCallback, leakWithPromise, queryFromHere } from '../fixtures/mysql-leaky.mjs';
import { sleep, until } from '../helpers/db.js';
import { expectBusyThenResolved, seen } from '../helpers/reports.js';
import { guardedMysqlPool, guardedPromisePool } from '../helpers/mysql-pools.js';

const FIXTURE = 'test/fixtures/mysql-leaky.mjs';

describe('mysql2 leak reports name the line that took the connection', () => {
  it('promise API: getConnection() reports the fixture line, idle, once, with the thread id', async () => {
    const pool = guardedPromisePool({ guard: { leakThresholdMs: 60, idleAfterMs: 30 } });
    const leaks = seen(pool.guard);
    const conn = await leakWithPromise(pool);
    await until(() => leaks.length > 0, 'a leak report');
    const report = leaks[0]!;
    expect(report.site).toBe(`${FIXTURE}:5:33`);
    expect(report.kind).toBe('connect');
    expect(report.state).toBe('idle');
    expect(report.transaction).toBeUndefined();
    expect(report.connection!.pid).toBe(conn.connection.threadId);
    expect(report.message).toContain(`checked out at ${FIXTURE}:5:33`);
    await sleep(100);
    expect(leaks).toHaveLength(1);
    conn.release();
  });

  it('callback API: getConnection(cb) reports the fixture line', async () => {
    const pool = guardedMysqlPool({ guard: { leakThresholdMs: 60 } });
    const leaks = seen(pool.guard);
    const conn = await leakWithCallback(pool);
    await until(() => leaks.length > 0, 'a leak report');
    expect(leaks[0]!.site).toBe(`${FIXTURE}:11:10`);
    conn.release();
    expect(pool.guard.snapshot().counts).toMatchObject({ leased: 0, idle: 1 });
  });

  it('a SLEEP in flight makes the lease busy (read from mysql2, no round trip); its release sends a resolved report', async () => {
    const pool = guardedPromisePool({ guard: { leakThresholdMs: 80, idleAfterMs: 40 } });
    const conn = await leakWithPromise(pool);
    await expectBusyThenResolved(pool.guard, (sql) => conn.query(sql), () => conn.release(), 0.5);
    expect(pool.guard.snapshot().totals).toMatchObject({ leaks: 1, leaksResolved: 1 });
  });

  it('a streaming read in flight is busy; after its last row the lease is idle, idle time counted from then', async () => {
    const pool = guardedMysqlPool({ guard: { leakThresholdMs: 150, idleAfterMs: 50 } });
    const leaks = seen(pool.guard);
    const conn = await leakWithCallback(pool);
    const rows: unknown[] = [];
    const stream = conn.query('SELECT SLEEP(0.05) AS a UNION ALL SELECT SLEEP(0.25)').stream();
    stream.on('data', (r: unknown) => rows.push(r));
    await until(() => leaks.length > 0, 'a leak report');
    expect(rows.length).toBeLessThan(2);
    expect(leaks[0]!.state).toBe('busy');
    await new Promise((r) => stream.on('end', r));
    const quiet = await new Promise<LeakReport>((resolve) => pool.guard.on('leak', resolve));
    expect(quiet.state).toBe('idle');
    expect(quiet.idleMs).toBeLessThan(quiet.heldMs - 200);
    conn.release();
  });

  it('pool.query() and execute() leases capture no stack by default; captureStacks all names the query line', async () => {
    const pool = guardedPromisePool({ guard: { leakThresholdMs: 60 } });
    const leaks = seen(pool.guard);
    await Promise.all([queryFromHere(pool, 'SELECT SLEEP(0.2)'), pool.execute('SELECT SLEEP(0.2)')]);
    expect(leaks).toHaveLength(2);
    expect(leaks.map((r) => r.kind)).toEqual(['query', 'query']);
    expect(leaks.every((r) => r.site === undefined && r.state === 'busy')).toBe(true);

    const all = guardedPromisePool({ guard: { leakThresholdMs: 60, captureStacks: 'all' } });
    const allLeaks = seen(all.guard);
    await queryFromHere(all, 'SELECT SLEEP(0.2)');
    expect(allLeaks[0]!.site).toBe(`${FIXTURE}:19:15`);
  });

  it('reclaim destroys an idle leaked connection, serves the waiter, fails the holder with LeaseReclaimedError', async () => {
    const pool = guardedPromisePool({ connectionLimit: 1, guard: { leakThresholdMs: 60, idleAfterMs: 30, reclaimAfterMs: 120 } });
    const reclaims = seen(pool.guard, 'reclaim');
    const leaked = await leakWithPromise(pool);
    const thread = leaked.connection.threadId;
    const waiter = pool.query('SELECT CONNECTION_ID() AS id');
    await until(() => reclaims.length > 0, 'a reclaim');
    expect(reclaims[0]!.site).toBe(`${FIXTURE}:5:33`);
    const [rows] = (await waiter) as unknown as [Array<{ id: number }>];
    expect(rows[0]!.id).not.toBe(thread);
    const err = (await leaked.query('SELECT 1').catch((e: unknown) => e)) as LeaseReclaimedError;
    expect(err).toBeInstanceOf(LeaseReclaimedError);
    expect(err.message).toContain(`checked out at ${FIXTURE}:5:33`);
    const execErr = await leaked.execute('SELECT 1').catch((e: unknown) => e);
    expect(execErr).toBeInstanceOf(LeaseReclaimedError);
    expect(() => leaked.release()).not.toThrow();
    const snap = pool.guard.snapshot();
    expect(snap.counts).toMatchObject({ total: 1, leased: 0 });
    expect(snap.totals).toMatchObject({ reclaims: 1, doubleReleases: 0 });
    expect(snap.totals.retired.reclaimed).toBe(1);
  });

  it("a second release() keeps mysql2's behaviour (ignored, no error), is counted and logged with both sites", async () => {
    const lines: string[] = [];
    const pool = guardedPromisePool({ guard: { releaseStacks: 'always', logger: { warn: (_obj, msg) => lines.push(msg) } } });
    const conn = await leakWithPromise(pool);
    conn.release();
    expect(() => conn.release()).not.toThrow();
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^DoubleReleaseError: release\(\) was called on a connection that was already released; mysql2 ignored it/);
    // The checkout stack is not kept after the first release (nothing of the caller outlives it):
    // the line names the lease, and its stack is the second release().
    expect(lines[0]).toMatch(/The getConnection\(\) lease #\d+ on connection #\d+, checked out .* ago \(its checkout stack is dropped at release; the stack below is the second release\(\)\)\. Release each connection exactly once/);
    expect(lines[0]).toMatch(/\n {4}at .*test\/mysql2\/leak-report\.test\.ts:\d+/);
    expect(lines[0]).toMatch(/first release\(\) was .* ago at test\/mysql2\/leak-report\.test\.ts:\d+/);
    // Still one connection, free once, and it works.
    expect(pool.guard.snapshot().counts).toMatchObject({ total: 1, idle: 1 });
    expect((await pool.query('SELECT 1 AS x'))[0]).toEqual([{ x: 1 }]);
  });

  it('a second pool.releaseConnection(conn) does not put the connection in the free list twice', async () => {
    const pool = guardedMysqlPool({ guard: { logger: false } });
    const conn = await leakWithCallback(pool);
    pool.releaseConnection(conn);
    pool.releaseConnection(conn);
    expect(pool.guard.snapshot().counts).toMatchObject({ total: 1, idle: 1 });
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(1);
  });
});

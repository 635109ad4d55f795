import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { beginAndHang, reserveAndForget, reserveInTransaction } from '../fixtures/postgres-leaky.mjs';
import { sleep, until } from '../helpers/db.js';
import { guardedSql } from '../helpers/postgres.js';
import { seen } from '../helpers/reports.js';
import { siteMatchers } from '../helpers/sites.js';

const site = siteMatchers('test/fixtures/postgres-leaky.mjs');

describe('postgres.js leak reports name the line that took the connection', () => {
  it('a reserve() never released: reported once, idle, at the fixture line, with its pid once a query named the connection', async () => {
    const sql = guardedSql({ guard: { leakThresholdMs: 80, idleAfterMs: 30 } });
    const leaks = seen(sql.guard);
    const reserved = await reserveAndForget(sql);
    const [{ pid }] = await reserved`select pg_backend_pid() as pid`;
    // A scan just after the query says "slow lease" first on a loaded machine; the possible leak follows.
    await until(() => leaks.some((r) => r.message.includes('possible connection leak')), 'a possible-leak report');
    const report = leaks.find((r) => r.message.includes('possible connection leak'))!;
    expect(report.site).toMatch(site('reserve'));
    expect(report.kind).toBe('connect');
    expect(report.state).toBe('idle');
    expect(report.transaction).toBeUndefined();
    expect(report.connection!.pid).toBe(pid);
    expect(report.message).toContain(`checked out at ${report.site}`);
    expect(report.message).toContain('with no query in flight; its last query finished');
    await sleep(120);
    expect(leaks.filter((r) => r.message.includes('possible connection leak'))).toHaveLength(1);
    reserved.release();
    expect(sql.guard.snapshot().counts.leased).toBe(0);
  });

  it('a reserve() that ran no query is reported at its line, with no pid (its connection is not named yet)', async () => {
    const sql = guardedSql({ guard: { leakThresholdMs: 60 } });
    const leaks = seen(sql.guard);
    const reserved = await reserveAndForget(sql);
    await until(() => leaks.length > 0, 'a leak report');
    expect(leaks[0]!.site).toMatch(site('reserve'));
    expect(leaks[0]!.state).toBe('idle');
    expect(leaks[0]!.message).toContain('with no query in flight and none run since checkout');
    expect(leaks[0]!.connection!.pid).toBeUndefined();
    reserved.release();
  });

  it('a begin() whose callback never returns: a transaction lease at the begin() line, inside an open transaction', async () => {
    const sql = guardedSql({ guard: { leakThresholdMs: 80, idleAfterMs: 30 } });
    const leaks = seen(sql.guard);
    const { entered } = beginAndHang(sql, (tx: any) => tx`select pg_backend_pid() as pid`);
    await entered;
    // A scan just after the query says "slow lease" first on a loaded machine; the possible leak follows.
    await until(() => leaks.some((r) => r.message.includes('possible connection leak')), 'a possible-leak report');
    const report = leaks.find((r) => r.message.includes('possible connection leak'))!;
    expect(report.site).toMatch(site('begin'));
    expect(report.kind).toBe('transaction');
    expect(report.state).toBe('idle');
    expect(report.transaction).toBe('open');
    expect(typeof report.connection!.pid).toBe('number');
    const [{ n }] = (await sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where pid = ${report.connection!.pid!} and state = 'idle in transaction'`) as unknown as [{ n: number }];
    expect(n).toBe(1);
  });

  it('a BEGIN run on a reserved connection is read from its command tag: the leak is inside an open transaction', async () => {
    const sql = guardedSql({ guard: { leakThresholdMs: 60 } });
    const leaks = seen(sql.guard);
    const reserved = await reserveInTransaction(sql);
    // A scan that falls just after the BEGIN says "slow lease" first (its last query ended moments
    // ago); the possible leak follows once the lease has been quiet.
    const possible = () => leaks.find((r) => r.message.includes('possible connection leak'));
    await until(() => possible() !== undefined, 'a possible-leak report');
    expect(possible()!.site).toMatch(site('reserve-in-transaction'));
    expect(possible()!.transaction).toBe('open');
    expect(possible()!.message).toContain('possible connection leak inside an open transaction');
    await reserved`rollback`;
    reserved.release();
  });

  it('a statement the server refuses inside that transaction makes it a failed one; ROLLBACK TO SAVEPOINT opens it again', async () => {
    const sql = guardedSql({ guard: { leakThresholdMs: 10_000 } });
    const reserved = await reserveInTransaction(sql);
    const lease = () => sql.guard.snapshot().leases[0]!;
    await reserved`savepoint s1`;
    await expect(reserved`select nope`).rejects.toMatchObject({ code: '42703' });
    expect(lease().transaction).toBe('failed');
    await reserved`rollback to savepoint s1`;
    expect(lease().transaction).toBe('open');
    await reserved`commit`;
    expect(lease().transaction).toBeUndefined();
    reserved.release();
    expect(sql.guard.snapshot().totals.dirtyReleases).toBe(0);
  });

  it('a pg_sleep in flight on the reserved connection is busy (read from postgres.js, no round trip); its release sends a resolved report', async () => {
    const sql = guardedSql({ guard: { leakThresholdMs: 80, idleAfterMs: 40 } });
    const leaks = seen(sql.guard);
    const resolved = seen(sql.guard, 'leakResolved');
    const reserved = await reserveAndForget(sql);
    const sleeping = reserved`select pg_sleep(0.4)`.execute();
    await until(() => leaks.length > 0, 'a leak report');
    expect(leaks[0]!.state).toBe('busy');
    expect(leaks[0]!.idleMs).toBe(0);
    expect(leaks[0]!.message).toContain('with a query in flight now');
    await sleeping;
    expect(sql.guard.snapshot().leases[0]!.state).toBe('idle');
    reserved.release();
    expect(resolved).toHaveLength(1);
    expect(resolved[0]!.heldMs).toBeGreaterThanOrEqual(400);
  });

  it('a transaction busy in pg_sleep is reported slow, then idle once its callback sits waiting', async () => {
    const sql = guardedSql({ guard: { leakThresholdMs: 80, idleAfterMs: 30 } });
    const leaks = seen(sql.guard);
    beginAndHang(sql, (tx: any) => tx`select pg_sleep(0.3)`);
    await until(() => leaks.length > 0, 'a slow report');
    expect(leaks[0]!.state).toBe('busy');
    expect(leaks[0]!.site).toMatch(site('begin'));
    await until(() => leaks.length > 1, 'the idle report');
    expect(leaks[1]!.state).toBe('idle');
    expect(leaks[1]!.transaction).toBe('open');
  });

  it('queries through unsafe(), a cursor and a savepoint count as the lease\'s own work', async () => {
    const sql = guardedSql({ guard: { leakThresholdMs: 10_000 } });
    const reserved = await reserveAndForget(sql);
    const lease = () => sql.guard.snapshot().leases[0]!;
    const running = reserved.unsafe('select pg_sleep(0.5)').execute();
    await until(() => lease().state === 'busy', 'the unsafe() query to be in flight');
    await running;
    expect(lease().state).toBe('idle');
    for await (const rows of reserved`select generate_series(1, 3) as n`.cursor(1)) {
      expect(rows).toHaveLength(1);
      expect(lease().state).toBe('busy');
    }
    expect(lease().state).toBe('idle');
    reserved.release();
    const { entered } = beginAndHang(sql, (tx: any) => tx.savepoint((sp: any) => sp`select pg_sleep(0.01)`));
    await entered;
    expect(lease().transaction).toBe('open');
    expect(lease().state).toBe('idle');
  });
});

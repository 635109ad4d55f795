import { describe, expect, it } from 'vitest';
import type { DirtyReleaseReport } from '../../src/postgres.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { reserveInTransaction } from '../fixtures/postgres-leaky.mjs';
import { until } from '../helpers/db.js';
import { guardedSql } from '../helpers/postgres.js';
import { siteMatchers } from '../helpers/sites.js';

const site = siteMatchers('test/fixtures/postgres-leaky.mjs');

async function idleInTransaction(sql: any, pid: number): Promise<number> {
  const [{ n }] = await sql`select count(*)::int as n from pg_stat_activity where pid = ${pid} and state like 'idle in transaction%'`;
  return n;
}

describe('postgres.js: a reserved connection released inside a transaction', () => {
  it("'destroy' (the default): reported with both lines, closed (the server rolls back), never handed to the next caller", async () => {
    const sql = guardedSql();
    const reports: DirtyReleaseReport[] = [];
    sql.guard.on('dirtyRelease', (r) => reports.push(r));
    const reserved = await reserveInTransaction(sql);
    const [{ pid }] = await reserved`select pg_backend_pid() as pid`;
    await reserved`create temp table poolguard_dirty (n int)`;
    reserved.release();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ transaction: 'open', action: 'destroy' });
    expect(reports[0]!.checkoutSite).toMatch(site('reserve-in-transaction'));
    expect(reports[0]!.releaseSite).toMatch(/^test\/postgres\/dirty-release\.test\.ts:\d+:\d+$/);
    await until(() => sql.guard.snapshot().connections.every((c) => c.pid !== pid), 'the connection to close');
    const pids = await Promise.all([sql`select pg_backend_pid() as pid`, sql`select pg_backend_pid() as pid`]);
    expect(pids.map((r) => r[0]!.pid)).not.toContain(pid);
    expect(await idleInTransaction(sql, pid)).toBe(0);
    expect(sql.guard.snapshot().totals).toMatchObject({ dirtyReleases: 1 });
    expect(sql.guard.snapshot().totals.retired.dirty).toBe(1);
  });

  it("'rollback': rolled back on the connection, which goes back to the pool clean", async () => {
    const sql = guardedSql({ max: 1, guard: { dirtyRelease: 'rollback' } });
    const reports: DirtyReleaseReport[] = [];
    sql.guard.on('dirtyRelease', (r) => reports.push(r));
    const reserved = await reserveInTransaction(sql);
    const [{ pid }] = await reserved`select pg_backend_pid() as pid`;
    await reserved`create temp table poolguard_rolled_back (n int)`;
    reserved.release();
    expect(reports[0]).toMatchObject({ action: 'rollback' });
    const [{ pid: next, tables }] = (await sql<{ pid: number; tables: number }[]>`select pg_backend_pid() as pid, (select count(*)::int from pg_tables where tablename = 'poolguard_rolled_back') as tables`) as unknown as [{ pid: number; tables: number }];
    expect(next).toBe(pid);
    expect(tables).toBe(0);
    expect(await idleInTransaction(sql, pid)).toBe(0);
  });

  it('a failed transaction is dirty too; a committed one is not', async () => {
    const sql = guardedSql();
    const reports: DirtyReleaseReport[] = [];
    sql.guard.on('dirtyRelease', (r) => reports.push(r));
    const failed = await reserveInTransaction(sql);
    await failed`select nope`.catch(() => {});
    failed.release();
    expect(reports.map((r) => r.transaction)).toEqual(['failed']);
    const committed = await reserveInTransaction(sql);
    await committed`commit`;
    committed.release();
    expect(reports).toHaveLength(1);
  });

  it("postgres.js's begin() is never dirty: it commits or rolls back before the lease ends", async () => {
    const sql = guardedSql();
    const reports: DirtyReleaseReport[] = [];
    sql.guard.on('dirtyRelease', (r) => reports.push(r));
    await sql.begin((tx) => tx`select 1`);
    await sql.begin(async (tx) => {
      await tx`select 1`;
      throw new Error('rolled back');
    }).catch(() => {});
    expect(reports).toEqual([]);
    expect(sql.guard.snapshot().counts.leased).toBe(0);
  });
});

describe('postgres.js: a second release()', () => {
  it('is not passed on (postgres.js would hand the connection to the pool twice), and is logged with its line', async () => {
    const lines: string[] = [];
    const sql = guardedSql({ guard: { logger: { warn: (_o: unknown, msg: string) => lines.push(msg), info: () => {} } } });
    const first = await sql.reserve();
    first.release();
    const second = await sql.reserve();
    first.release();
    // Had the second release() reached postgres.js, the connection `second` holds would be in the pool now.
    const [{ a }] = (await second<{ a: number }[]>`select 1 as a`) as unknown as [{ a: number }];
    expect(a).toBe(1);
    expect(sql.guard.snapshot().counts.leased).toBe(1);
    second.release();
    expect(sql.guard.snapshot().totals.doubleReleases).toBe(1);
    expect(lines.join('\n')).toContain('release() was called on a reserved connection that was already released');
  });
});

import { describe, expect, it } from 'vitest';
import { sleep, until } from '../helpers/db.js';
import { seen } from '../helpers/reports.js';
import { guardedMariadbPool } from '../helpers/mariadb-pools.js';
import { siteMatchers } from '../helpers/sites.js';

const site = siteMatchers('test/mariadb/leak-report.test.ts');

describe('MariaDB connector leak reports name the line that took the connection', () => {
  it('getConnection() (promise API) reports its own line, idle, once, with the thread id', async () => {
    const pool = guardedMariadbPool({ guard: { leakThresholdMs: 60, idleAfterMs: 30 } });
    const leaks = seen(pool.guard);
    const conn = await pool.getConnection(); // SITE:promise
    await until(() => leaks.length > 0, 'a leak report');
    const report = leaks[0]!;
    expect(report.site).toMatch(site('promise'));
    expect(report.kind).toBe('connect');
    expect(report.state).toBe('idle');
    expect(report.transaction).toBeUndefined();
    expect(report.connection!.pid).toBe(conn.threadId);
    await sleep(100);
    expect(leaks).toHaveLength(1);
    await conn.release();
    expect(pool.guard.snapshot().counts).toMatchObject({ leased: 0, idle: 1 });
  });
});

describe('a second release()', () => {
  it('is counted and logged with both sites and passed on as the connector takes it: once the connection is lent again, from its new holder, whose lease ends too', async () => {
    const lines: string[] = [];
    const pool = guardedMariadbPool({ connectionLimit: 1, guard: { releaseStacks: 'always', logger: { warn: (_o, msg) => lines.push(msg) } } });
    const first = await pool.getConnection();
    await first.release();
    await first.release();
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(1);
    expect(lines[0]).toMatch(/^DoubleReleaseError: release\(\) was called on a connection that was already released; poolguard passed it on to the MariaDB connector/);
    const second = await pool.getConnection(); // SITE:second
    expect(second.threadId).toBe(first.threadId);
    await second.beginTransaction();
    await second.query('SELECT 1');
    await first.release();
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(2);
    expect(lines.at(-1)).toMatch(/^poolguard\[127\.0\.0\.1:3306\/test\]: the second release\(\) above took connection #\d+ back from lease #\d+ \(checked out at test\/mariadb\/leak-report\.test\.ts:\d+:\d+\), which still holds it/);
    // The connector rolled the new holder's transaction back and put the connection in the pool.
    expect(pool.guard.snapshot().counts).toMatchObject({ leased: 0, idle: 1 });
    expect(await second.query('SELECT @@in_transaction AS t')).toEqual([{ t: 0n }]);
  });
});

import { describe, expect, it } from 'vitest';
import type { LeakReport } from '../../src/mysql2.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { drizzleTransaction, kyselyTransaction } from '../fixtures/mysql-orm.mjs';
import { guardedMysqlPool, guardedPromisePool } from '../helpers/mysql-pools.js';

const FIXTURE = 'test/fixtures/mysql-orm.mjs';

describe("data layers on a guarded mysql2 pool name the application's line", () => {
  it("Drizzle's mysql2 driver (callback pool, which it turns into a promise pool): a long transaction names the db.transaction() line, inside a transaction", async () => {
    const pool = guardedMysqlPool({ guard: { leakThresholdMs: 60 } });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    await drizzleTransaction(pool, 200);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]!.site).toBe(`${FIXTURE}:10:12`);
    expect(leaks[0]!.transaction).toBe('open');
    expect(pool.guard.snapshot().counts.leased).toBe(0);
  });

  it('Drizzle with a promise pool, and Kysely’s MysqlDialect with a callback pool, name their lines too', async () => {
    const promisePool = guardedPromisePool({ guard: { leakThresholdMs: 60 } });
    const drizzleLeaks: LeakReport[] = [];
    promisePool.guard.on('leak', (r) => drizzleLeaks.push(r));
    await drizzleTransaction(promisePool, 200);
    expect(drizzleLeaks[0]!.site).toBe(`${FIXTURE}:10:12`);

    const pool = guardedMysqlPool({ guard: { leakThresholdMs: 60 } });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    await kyselyTransaction(pool, 200);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]!.site).toBe(`${FIXTURE}:15:3`);
    expect(leaks[0]!.transaction).toBe('open');
  });
});

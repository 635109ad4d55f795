import { describe, expect, it } from 'vitest';
import type { LeakReport } from '../../src/mysql2.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { drizzleTransaction, kyselyTransaction } from '../fixtures/mysql-orm.mjs';
import { guardedMysqlPool, guardedPromisePool } from '../helpers/mysql-pools.js';

const FIXTURE = 'test/fixtures/mysql-orm.mjs';

// The transaction's SELECT may end less than idleAfterMs before the threshold on a loaded machine:
// the lease is then slow (in active use) first. Muting slow leases leaves the one report made once
// the lease is quiet, whenever that is.
const QUIET_LEAKS = { leakThresholdMs: 60, reportBusy: false };

describe("data layers on a guarded mysql2 pool name the application's line", () => {
  it("Drizzle's mysql2 driver (callback pool, which it turns into a promise pool): a long transaction names the db.transaction() line, inside a transaction", async () => {
    const pool = guardedMysqlPool({ guard: QUIET_LEAKS });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    await drizzleTransaction(pool, 200);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]!.site).toBe(`${FIXTURE}:10:12`);
    expect(leaks[0]!.transaction).toBe('open');
    expect(pool.guard.snapshot().counts.leased).toBe(0);
  });

  it('Drizzle with a promise pool, and Kysely’s MysqlDialect with a callback pool, name their lines too', async () => {
    const promisePool = guardedPromisePool({ guard: QUIET_LEAKS });
    const drizzleLeaks: LeakReport[] = [];
    promisePool.guard.on('leak', (r) => drizzleLeaks.push(r));
    await drizzleTransaction(promisePool, 200);
    expect(drizzleLeaks[0]!.site).toBe(`${FIXTURE}:10:12`);

    const pool = guardedMysqlPool({ guard: QUIET_LEAKS });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    await kyselyTransaction(pool, 200);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]!.site).toBe(`${FIXTURE}:15:3`);
    expect(leaks[0]!.transaction).toBe('open');
  });
});

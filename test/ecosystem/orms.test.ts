import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LeakReport, Pool } from '../../src/pg.js';
import { root } from '../helpers/build.js';
import { until } from '../helpers/db.js';
import { guardedPool } from '../helpers/pools.js';
// @ts-expect-error plain JavaScript fixture with marked lines
import * as orm from '../fixtures/orm.mjs';

const FIXTURE = 'test/fixtures/orm.mjs';
const source = readFileSync(join(root, FIXTURE), 'utf8').split('\n');

/** `test/fixtures/orm.mjs:<line>:` of the line marked `SITE:<name>`. */
function site(name: string): string {
  const index = source.findIndex((line) => line.includes(`// SITE:${name}`));
  if (index === -1) throw new Error(`no SITE:${name} marker in ${FIXTURE}`);
  return `${FIXTURE}:${index + 1}:`;
}

function reports(pool: Pool, type: 'leak' | 'leakResolved' = 'leak'): LeakReport[] {
  const seen: LeakReport[] = [];
  pool.guard.on(type, (r) => seen.push(r));
  return seen;
}

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
});

describe('Kysely (PostgresDialect({ pool }))', () => {
  it('works unchanged: queries, transactions, and every connection comes back', async () => {
    const pool = guardedPool({ max: 3 });
    const db = orm.kysely(pool);
    cleanups.push(() => db.destroy());
    const { rows } = await orm.kyselySlowQuery(db, 0);
    expect(rows).toHaveLength(1);
    const n = await db.transaction().execute(async (trx: any) => (await trx.selectNoFrom((eb: any) => eb.lit(41).as('n')).executeTakeFirstOrThrow()).n + 1);
    expect(n).toBe(42);
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    expect(pool.guard.snapshot().totals.checkouts).toBeGreaterThanOrEqual(2);
  });

  it('a transaction stuck in its callback is reported idle at the application line, not inside Kysely', async () => {
    const pool = guardedPool({ guard: { leakThresholdMs: 80, idleAfterMs: 40 } });
    const db = orm.kysely(pool);
    cleanups.push(() => db.destroy());
    const seen = reports(pool);
    let unstick!: () => void;
    const done = orm.kyselyStuckTransaction(db, new Promise<void>((r) => (unstick = r)));
    await until(() => seen.length > 0, 'a leak report', 3_000);
    expect(seen[0]!.site).toMatch(new RegExp(`^${site('kysely-transaction')}\\d+$`));
    expect(seen[0]!.state).toBe('idle');
    expect(seen[0]!.stack).toContain('node_modules/kysely/');
    unstick();
    await done;
  });

  it('a slow query is reported busy at the application line with captureStacks: all', async () => {
    const pool = guardedPool({ guard: { leakThresholdMs: 80, idleAfterMs: 40, captureStacks: 'all' } });
    const db = orm.kysely(pool);
    cleanups.push(() => db.destroy());
    const seen = reports(pool);
    const resolved = reports(pool, 'leakResolved');
    await orm.kyselySlowQuery(db, 0.4);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.site).toMatch(new RegExp(`^${site('kysely-slow')}\\d+$`));
    expect(seen[0]!.state).toBe('busy');
    expect(resolved).toHaveLength(1);
  });
});

describe('Drizzle (drizzle-orm/node-postgres, drizzle(pool))', () => {
  it('works unchanged: the guarded Pool is a pg.Pool to drizzle, transactions included', async () => {
    const pool = guardedPool({ max: 2 });
    const db = orm.drizzleDb(pool);
    const { rows } = await orm.drizzleSlowQuery(db, 0);
    expect(rows).toHaveLength(1);
    await orm.drizzleStuckTransaction(db, Promise.resolve());
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    // A transaction takes an explicit connect() lease; the plain query a pool.query() one.
    expect(pool.guard.snapshot().totals.checkouts).toBe(2);
  });

  it('a transaction stuck in its callback is reported idle at the application line', async () => {
    const pool = guardedPool({ guard: { leakThresholdMs: 80, idleAfterMs: 40 } });
    const db = orm.drizzleDb(pool);
    const seen = reports(pool);
    let unstick!: () => void;
    const done = orm.drizzleStuckTransaction(db, new Promise<void>((r) => (unstick = r)));
    await until(() => seen.length > 0, 'a leak report', 3_000);
    expect(seen[0]!.site).toMatch(new RegExp(`^${site('drizzle-transaction')}\\d+$`));
    expect(seen[0]!.state).toBe('idle');
    unstick();
    await done;
    expect(pool.guard.snapshot().totals.leaksResolved).toBe(1);
  });

  it('a slow query in a transaction is reported busy at the application line', async () => {
    const pool = guardedPool({ guard: { leakThresholdMs: 80, idleAfterMs: 40 } });
    const db = orm.drizzleDb(pool);
    const seen = reports(pool);
    await orm.drizzleSlowTransaction(db, 0.4);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.site).toMatch(new RegExp(`^${site('drizzle-slow')}\\d+$`));
    expect(seen[0]!.state).toBe('busy');
  });
});

describe('Knex (connectionPool: the guarded pool instead of tarn)', () => {
  it('works unchanged: builder queries and transactions run on the guarded pool', async () => {
    const pool = guardedPool({ max: 2 });
    const knex = orm.knexOnPool(pool);
    cleanups.push(() => knex.destroy());
    const rows = await knex.select(knex.raw('41 + 1 AS n'));
    expect(rows[0].n).toBe(42);
    await knex.transaction(async (trx: any) => trx.raw('SELECT 1'));
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    expect(pool.guard.snapshot().totals.checkouts).toBeGreaterThanOrEqual(2);
  });
});

/**
 * Calls where V8's async stack stops inside the data layer (a thenable, a promise the library starts
 * itself): without `guard.asyncCallers` the report names the library and says how to get the line;
 * with it, the report names the application's line.
 */
describe('calls V8 loses inside the data layer, without and with guard.asyncCallers', () => {
  interface Case {
    via: string;
    marker: string;
    state: 'idle' | 'busy';
    guard?: Record<string, unknown>;
    /** Makes the leak (or slow lease); returns once a report is due. */
    run(pool: Pool, seen: LeakReport[]): Promise<void>;
  }
  // A forgotten transaction is idle once its BEGIN has answered; on a loaded machine that answer can
  // come less than idleAfterMs before the threshold, and the lease was reported busy. Muting busy
  // leases makes the report wait until the lease is idle, whenever that is.
  const IDLE_WHEN_REPORTED = { reportBusy: false };
  const cases: Record<string, Case> = {
    'Kysely startTransaction() left open': {
      via: 'kysely',
      marker: 'kysely-controlled',
      state: 'idle',
      guard: IDLE_WHEN_REPORTED,
      async run(pool, seen) {
        const db = orm.kysely(pool);
        cleanups.push(() => db.destroy());
        const trx = await orm.kyselyForgottenControlledTransaction(db);
        cleanups.push(() => trx.rollback().execute());
        await until(() => seen.length > 0, 'a leak report', 3_000);
      },
    },
    'a slow Drizzle plain query (a thenable; pool.query)': {
      via: 'drizzle-orm',
      marker: 'drizzle-plain',
      state: 'busy',
      guard: { captureStacks: 'all' },
      async run(pool) {
        await orm.drizzleSlowQuery(orm.drizzleDb(pool), 0.4);
      },
    },
    'a knex transaction never committed': {
      via: 'knex',
      marker: 'knex-transaction',
      state: 'idle',
      guard: IDLE_WHEN_REPORTED,
      async run(pool, seen) {
        const knex = orm.knexOnPool(pool);
        cleanups.push(() => knex.destroy());
        const trx = await orm.knexForgottenTransaction(knex);
        cleanups.push(() => trx.rollback());
        await until(() => seen.length > 0, 'a leak report', 3_000);
      },
    },
    'a slow knex builder query': {
      via: 'knex',
      marker: 'knex-raw',
      state: 'busy',
      async run(pool) {
        const knex = orm.knexOnPool(pool);
        cleanups.push(() => knex.destroy());
        await orm.knexSlowQuery(knex, 0.4);
      },
    },
  };

  /** Runs a case on a fresh pool and returns its one report. */
  async function reportOf(c: Case, asyncCallers: boolean, guard: Record<string, unknown> = {}): Promise<{ pool: Pool; report: LeakReport }> {
    const pool = guardedPool({ guard: { leakThresholdMs: 80, idleAfterMs: 40, asyncCallers, ...c.guard, ...guard } });
    const seen = reports(pool);
    await c.run(pool, seen);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.state).toBe(c.state);
    return { pool, report: seen[0]! };
  }

  for (const [name, c] of Object.entries(cases)) {
    it(`${name}: without it, reported with ${c.via} named as where the trail ends and how to get the line`, async () => {
      const { report } = await reportOf(c, false);
      expect(report.site).toBeUndefined();
      expect(report.message).toContain(`an unknown site inside ${c.via}`);
      expect(report.message).toContain('guard.asyncCallers: true');
      expect(report.message).toContain('report.trace');
    });

    it(`${name}: with it, reported at the application line`, async () => {
      const { pool, report } = await reportOf(c, true);
      expect(report.site).toMatch(new RegExp(`^${site(c.marker)}\\d+$`));
      expect(report.message).toContain(`checked out at ${report.site}`);
      expect(report.stack).toContain('--- reached through promises created at (guard.asyncCallers) ---');
      if (c.state === 'idle') expect(pool.guard.snapshot().leases[0]!.site).toBe(report.site);
    });
  }

  it('when the trail holds no application frame either, the report says so and what to check', async () => {
    // Every caller skipped: the fixture, this test file and the test runner in node_modules.
    const ignoreFrames = [/fixtures[\\/]orm\.mjs$/, /orms\.test\.ts$/, /[\\/]node_modules[\\/]/];
    const { report } = await reportOf(cases['a knex transaction never committed']!, true, { ignoreFrames });
    expect(report.site).toBeUndefined();
    expect(report.message).toContain('an unknown site inside knex');
    expect(report.message).toContain('without reaching a frame of the application: check that guard.ignoreFrames does not skip your own files');
  });
});

describe('pg-cursor and pg-query-stream on a checked-out client', () => {
  it('a cursor read in flight is busy; between reads nothing is in flight, and idleMs counts from the last batch', async () => {
    const pool = guardedPool({ guard: { leakThresholdMs: 5_000, idleAfterMs: 40 } });
    const { client, cursor } = await orm.cursorForgotten(pool);
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const reading = cursor.read(5);
      expect(pool.guard.snapshot().leases[0]!.state).toBe('busy');
      await reading;
      const lease = pool.guard.snapshot().leases[0]!;
      expect(lease.state).toBe('idle');
      expect(lease.idleMs).toBeLessThan(50);
    }
    await cursor.close();
    client.release();
  });

  it('a stream read to the end works unchanged and the client comes back', async () => {
    const pool = guardedPool({ max: 1 });
    expect(await orm.streamAll(pool, 100)).toBe(5050);
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    expect(pool.idleCount).toBe(1);
  });

  it('a cursor left open between reads is idle, reported at the connect() line', async () => {
    const pool = guardedPool({ guard: { leakThresholdMs: 80, idleAfterMs: 40 } });
    const seen = reports(pool);
    const { client, cursor, rows } = await orm.cursorForgotten(pool);
    expect(rows).toHaveLength(10);
    await until(() => seen.length > 0, 'a leak report', 3_000);
    expect(seen[0]!.site).toMatch(new RegExp(`^${site('cursor')}\\d+$`));
    // An open cursor waiting for read() has nothing in flight: forgotten, not slow.
    expect(seen[0]!.state).toBe('idle');
    await cursor.close();
    client.release();
  });

  it('a paused stream whose consumer went away is idle, reported at the connect() line', async () => {
    const pool = guardedPool({ guard: { leakThresholdMs: 80, idleAfterMs: 40 } });
    const seen = reports(pool);
    const { client, stream, first } = await orm.streamAbandoned(pool);
    expect(first.n).toBe(1);
    await until(() => seen.length > 0, 'a leak report', 3_000);
    expect(seen[0]!.site).toMatch(new RegExp(`^${site('stream')}\\d+$`));
    expect(seen[0]!.state).toBe('idle');
    stream.destroy();
    client.release(true);
  });
});

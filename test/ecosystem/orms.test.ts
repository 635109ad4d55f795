import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { DataSource, EntitySchema } from 'typeorm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LeakReport, Pool as GuardedPool, type Pool } from '../../src/pg.js';
import { root } from '../helpers/build.js';
import { DATABASE_URL, until } from '../helpers/db.js';
import { otelHarness } from '../helpers/otel.js';
import { forceEnd, guardedPool, warm } from '../helpers/pools.js';
// @ts-expect-error plain JavaScript fixture with marked lines
import * as handlers from '../fixtures/handlers.mjs';
// @ts-expect-error plain JavaScript fixture with marked lines
import * as orm from '../fixtures/orm.mjs';

const StacksItem = new EntitySchema({
  name: 'StacksItem',
  tableName: 'stacks_item',
  columns: { id: { type: Number, primary: true, generated: true }, name: { type: String } },
});

/** For a fixture: `<file>:<line>:` of its line marked `SITE:<name>` (or containing `text`). */
function markers(file: string): (name: string, text?: string) => string {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  return (name, text = `// SITE:${name}`) => {
    const index = lines.findIndex((line) => line.includes(text));
    if (index === -1) throw new Error(`no ${text} in ${file}`);
    return `${file}:${index + 1}:`;
  };
}

const site = markers('test/fixtures/orm.mjs');

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
/**
 * Whether this V8 follows an awaited thenable back to the function that awaited it: from Node 26
 * on, a stack taken inside the thenable's then() lists `async <that function>`, so a checkout
 * made there carries the application's line without `guard.asyncCallers`. Older V8 stops at then().
 */
async function thenablesTraced(): Promise<boolean> {
  const thenable = { then: (resolve: (stack: string | undefined) => void) => resolve(new Error('probe').stack) };
  async function awaitingThenable(): Promise<string | undefined> {
    return await (thenable as unknown as Promise<string | undefined>);
  }
  return (await awaitingThenable())?.includes('awaitingThenable') === true;
}

describe('calls V8 loses inside the data layer, without and with guard.asyncCallers', () => {
  interface Case {
    via: string;
    marker: string;
    state: 'idle' | 'busy';
    /** The checkout runs in a thenable's then(), awaited by the application: see thenablesTraced(). */
    thenable?: true;
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
      thenable: true,
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
      thenable: true,
      async run(pool) {
        const knex = orm.knexOnPool(pool);
        cleanups.push(() => knex.destroy());
        // Long enough for several scans past the 80 ms threshold on a loaded machine (0.4 s left
        // no report once at load 6: a scan that finds the loop blocked decides nothing that time).
        await orm.knexSlowQuery(knex, 1.5);
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
    it(`${name}: without it, reported with ${c.via} named as where the trail ends and how to get the line (or, where V8 traces the call, at the application line)`, async () => {
      const { report } = await reportOf(c, false);
      if (c.thenable && (await thenablesTraced())) {
        expect(report.site).toMatch(new RegExp(`^${site(c.marker)}\\d+$`));
        expect(report.message).toContain(`checked out at ${report.site}`);
        return;
      }
      expect(report.site).toBeUndefined();
      expect(report.message).toContain(`an unknown site inside ${c.via}`);
      expect(report.message).toContain('guard.asyncCallers: true');
      expect(report.message).toContain('report.trace');
    });

    it(`${name}: with it, reported at the application line`, async () => {
      const { pool, report } = await reportOf(c, true);
      expect(report.site).toMatch(new RegExp(`^${site(c.marker)}\\d+$`));
      expect(report.message).toContain(`checked out at ${report.site}`);
      // The trail is added only when the stack itself lost the line.
      if (!(c.thenable && (await thenablesTraced()))) expect(report.stack).toContain('--- reached through promises created at (guard.asyncCallers) ---');
      if (c.state === 'idle') expect(pool.guard.snapshot().leases[0]!.site).toBe(report.site);
    });
  }

  it('when the trail holds no application frame either, the report says so and what to check', async () => {
    // Every caller skipped: the fixture, this test file and the test runner in node_modules.
    const ignoreFrames = [/fixtures[\\/]orm\.mjs$/, /orms\.test\.ts$/, /[\\/]node_modules[\\/]/];
    const { report } = await reportOf(cases['a knex transaction never committed']!, true, { ignoreFrames });
    expect(report.site).toBeUndefined();
    expect(report.message).toContain('an unknown site inside knex');
    // The trail stops at the first step whose own stack was cut (thirty frames, all ignored) rather
    // than walk on past frames it never saw.
    expect(report.message).toContain("guard.asyncCallers followed the call back through knex's promises to a step whose own stack was cut");
    expect(report.message).toContain('check that guard.ignoreFrames does not skip your own files');
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

/**
 * One handler per data layer, leaking the way its users leak: the request's earlier `await`, the
 * library's own call at its real depth, an early return before commit or release. DEFAULT settings,
 * but for a short leakThresholdMs: the report names the handler's line, or says it cannot and what
 * finds it, and never names a library's file or an unrelated line.
 */
describe('a leaking handler on each data layer, with default settings', () => {
  const marked = markers('test/fixtures/handlers.mjs');
  const handlerSite = (name: string): RegExp => new RegExp(`^${marked(name)}\\d+$`);
  // The handlers' earlier await: on the trail, but not on the path to the checkout.
  const authLine = new RegExp(`^${marked('auth', 'await auth(request)')}`);
  const THRESHOLD = { leakThresholdMs: 100 };

  /** The first report, checked for what every report must be whatever the data layer. */
  async function firstReport(pool: Pool): Promise<LeakReport> {
    const seen = reports(pool);
    await until(() => seen.length > 0, 'a leak report', 5_000);
    const report = seen[0]!;
    // The paragraph (the stack follows it) names no library file.
    expect(report.message.split('\n')[0]).not.toContain('node_modules');
    expect(report.site ?? '').not.toMatch(/node_modules/);
    expect(report.message).toContain(`checked out at ${report.where}`);
    // The snapshot and the holder groups say it in the same words.
    expect(pool.guard.snapshot().leases.find((l) => l.id === report.leaseId)?.where).toBe(report.where);
    return report;
  }

  it('pg: pool.connect() and an early return: the connect() line', async () => {
    const pool = guardedPool({ guard: THRESHOLD });
    const reported = firstReport(pool);
    expect(await handlers.pgHandler(pool, { id: 0 })).toEqual({ status: 404 });
    expect((await reported).site).toMatch(handlerSite('pg'));
  });

  it('pg-cursor: a cursor read once and an early return: the connect() line', async () => {
    const pool = guardedPool({ guard: THRESHOLD });
    const reported = firstReport(pool);
    const { rows } = await handlers.cursorHandler(pool, { pageSize: 50 });
    expect(rows).toHaveLength(10);
    expect((await reported).site).toMatch(handlerSite('cursor-handler'));
  });

  it('pg-query-stream: a return from inside for await: the connect() line', async () => {
    const pool = guardedPool({ guard: THRESHOLD });
    const reported = firstReport(pool);
    const { row } = await handlers.streamHandler(pool, { wanted: 3 });
    expect(row.n).toBe(3);
    expect((await reported).site).toMatch(handlerSite('stream-handler'));
  });

  it('Drizzle: a transaction whose callback never returns: the db.transaction() line', async () => {
    const pool = guardedPool({ guard: THRESHOLD });
    const reported = firstReport(pool);
    let unstick!: () => void;
    const done = handlers.drizzleHandler(orm.drizzleDb(pool), {}, new Promise<void>((r) => (unstick = r)));
    expect((await reported).site).toMatch(handlerSite('drizzle-handler'));
    unstick();
    await done;
  });

  it('Kysely: startTransaction() and an early return: no line (V8 loses it in Kysely), and guard.asyncCallers named as what finds it', async () => {
    const pool = guardedPool({ guard: THRESHOLD });
    // No db.destroy(): it would wait for the leaked connection. The pool is ended after the test.
    const db = orm.kysely(pool);
    const reported = firstReport(pool);
    expect(await handlers.kyselyHandler(db, { id: 0 })).toEqual({ status: 404 });
    const report = await reported;
    expect(report.site).toBeUndefined();
    expect(report.where).toBe('an unknown site inside kysely');
    expect(report.message).toContain('run with guard.asyncCallers: true until the next report');
  });

  it('Knex: knex.transaction() and an early return: no line, guard.asyncCallers named; the timeout error, snapshot and leak span say it the same way', async () => {
    const otel = otelHarness();
    cleanups.push(() => otel.shutdown());
    const pool = guardedPool({ max: 1, connectionTimeoutMillis: 300, guard: { ...THRESHOLD, tracerProvider: otel.tracerProvider } });
    await warm(pool, 1);
    const knex = orm.knexOnPool(pool);
    const reported = firstReport(pool);
    expect(await handlers.knexHandler(knex, { id: 0 })).toEqual({ status: 404 });
    const report = await reported;
    expect(report.site).toBeUndefined();
    expect(report.where).toBe('an unknown site inside knex');
    expect(report.message).toContain('run with guard.asyncCallers: true until the next report');
    const err = await pool.connect().then(
      () => undefined,
      (e: unknown) => e as { message: string; stack: string; holders: Array<{ site: string; hint: string | undefined }> },
    );
    expect(err?.stack).toContain('1 × an unknown site inside knex: ');
    // …and, under the group, what finds the line, as the leak report says it.
    expect(err?.stack).toContain(`\n    (${err?.holders[0]?.hint})\n`);
    expect(report.message).toContain(`checked out at ${report.where} (${err?.holders[0]?.hint})`);
    expect(err?.stack).not.toContain('stack not captured');
    expect(err?.holders[0]).toMatchObject({ site: report.where, hint: expect.stringContaining('guard.asyncCallers: true') });
    const span = otel.exporter.getFinishedSpans().find((s) => s.name === 'poolguard.lease.leak');
    expect(span?.attributes['poolguard.lease.site']).toBe('an unknown site inside knex');
  });

  it("Kysely and Knex with guard.asyncCallers, as their reports advise: the handler's line, not its earlier await", async () => {
    for (const [layer, run] of [
      ['kysely', (pool: Pool) => handlers.kyselyHandler(orm.kysely(pool), { id: 0 })],
      ['knex', (pool: Pool) => handlers.knexHandler(orm.knexOnPool(pool), { id: 0 })],
    ] as const) {
      const pool = guardedPool({ guard: { ...THRESHOLD, asyncCallers: true } });
      const reported = firstReport(pool);
      expect(await run(pool)).toEqual({ status: 404 });
      const report = await reported;
      expect(report.site, layer).toMatch(handlerSite(`${layer}-handler`));
      expect(report.site, layer).not.toMatch(authLine);
    }
  });

  describe('TypeORM (DataSource with driver: { ...pg, Pool })', () => {
    let admin: pg.Client;
    beforeAll(async () => {
      admin = new pg.Client({ connectionString: DATABASE_URL });
      await admin.connect();
      await admin.query('CREATE TABLE IF NOT EXISTS stacks_item (id serial PRIMARY KEY, name text NOT NULL)');
    });
    afterAll(async () => {
      await admin.query('DROP TABLE IF EXISTS stacks_item');
      await admin.end();
    });

    async function dataSource(guard: Record<string, unknown>): Promise<{ ds: DataSource; pool: Pool }> {
      const ds = new DataSource({ type: 'postgres', url: DATABASE_URL, entities: [StacksItem], driver: { ...pg, Pool: GuardedPool }, extra: { guard: { logger: false, ...guard } } } as never);
      await ds.initialize();
      cleanups.push(() => forceEnd((ds.driver as unknown as { master: Pool }).master));
      return { ds, pool: (ds.driver as unknown as { master: Pool }).master };
    }

    it('a QueryRunner transaction and an early return: the runner.connect() line', async () => {
      const { ds, pool } = await dataSource(THRESHOLD);
      const reported = firstReport(pool);
      expect(await handlers.typeormHandler(ds, { id: 0 })).toEqual({ status: 404 });
      expect((await reported).site).toMatch(handlerSite('typeorm-handler'));
    });

    /** A find() that waits on a lock another session holds: held past the threshold at TypeORM's real depth. */
    async function blockedFind(guard: Record<string, unknown>): Promise<LeakReport> {
      const { ds, pool } = await dataSource(guard);
      const reported = firstReport(pool);
      await admin.query('BEGIN');
      await admin.query('LOCK TABLE stacks_item IN ACCESS EXCLUSIVE MODE');
      const found = handlers.typeormFindHandler(ds, { name: 'x' });
      try {
        return await reported;
      } finally {
        await admin.query('COMMIT');
        expect((await found).status).toBe(200);
      }
    }

    it('repo.find() after an earlier await: the find() line (ten frames inside TypeORM, past V8\'s default limit)', async () => {
      const report = await blockedFind(THRESHOLD);
      expect(report.site).toMatch(handlerSite('typeorm-find'));
    });

    it('with guard.stackDepth: 10, the report says the stack was cut inside typeorm and names the option, not async code', async () => {
      const report = await blockedFind({ ...THRESHOLD, stackDepth: 10 });
      expect(report.site).toBeUndefined();
      expect(report.where).toBe('an unknown site inside typeorm');
      expect(report.message).toContain('the stack was cut at 10 frames, inside typeorm, before it reached your code: raise guard.stackDepth (now 10, at most 200)');
      expect(report.message).not.toMatch(/thenable|asyncCallers/);
    });

    it("with guard.stackDepth: 10 and guard.asyncCallers, it still names no line: never the handler's earlier await", async () => {
      const report = await blockedFind({ ...THRESHOLD, stackDepth: 10, asyncCallers: true });
      expect(report.site ?? '').not.toMatch(authLine);
      expect(report.site).toBeUndefined();
      expect(report.message).toContain('the stack was cut at 10 frames, inside typeorm');
    });
  });

  describe('Prisma 7 (@prisma/adapter-pg on the guarded pool)', () => {
    let PrismaClient: new (options: object) => { $disconnect(): Promise<void>; $executeRawUnsafe(sql: string): Promise<number> };
    beforeAll(async () => {
      // The client is generated here, not committed. Prisma 7's client needs no query engine; the CLI
      // still looks for a schema engine at start-up (and would download one) unless told where one is.
      execFileSync(process.execPath, [join(root, 'node_modules/prisma/build/index.js'), 'generate', '--schema', join(root, 'test/fixtures/prisma/schema.prisma')], {
        cwd: root,
        env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.execPath, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
        stdio: 'pipe',
      });
      ({ PrismaClient } = await import(join(root, 'test/fixtures/prisma/generated/client.ts')));
      const admin = new pg.Client({ connectionString: DATABASE_URL });
      await admin.connect();
      await admin.query('CREATE TABLE IF NOT EXISTS stacks_item (id serial PRIMARY KEY, name text NOT NULL)');
      await admin.end();
    }, 60_000);

    it('an interactive $transaction whose callback never returns: the $transaction() line', async () => {
      const pool = guardedPool({ guard: THRESHOLD });
      const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
      cleanups.push(() => prisma.$disconnect());
      const reported = firstReport(pool);
      let unstick!: () => void;
      const done = handlers.prismaHandler(prisma, { name: 'x' }, new Promise<void>((r) => (unstick = r)));
      const report = await reported;
      expect(report.site).toMatch(handlerSite('prisma-handler'));
      // The checkout is made inside @prisma/client's runtime, a package in no ignore list.
      expect(report.stack).toContain('node_modules/@prisma/client/');
      unstick();
      expect(await done).toEqual({ status: 200 });
    });
  });
});

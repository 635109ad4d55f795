import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LeakReport, Pool } from '../../src/pg.js';
import { guardPrisma } from '../../src/prisma.js';
import { ensureBuilt, root } from '../helpers/build.js';
import { DATABASE_URL, until } from '../helpers/db.js';
import { guardedPool } from '../helpers/pools.js';
import { generatePrismaClient } from '../helpers/prisma.js';
import { siteMatchers } from '../helpers/sites.js';
// @ts-expect-error plain JavaScript fixture with marked lines
import * as app from '../fixtures/prisma-app.mjs';

const SERVICE = 'test/fixtures/prisma-service';
const TABLE = 'poolguard_prisma_orders';
const site = siteMatchers('test/fixtures/prisma-app.mjs');

/** `file:line` of the service's `$transaction` call (its `LINE:place-order` comment). */
function serviceLine(): string {
  const file = `${SERVICE}/orders-service.ts`;
  const index = readFileSync(join(root, file), 'utf8')
    .split('\n')
    .findIndex((line) => line.includes('// LINE:place-order'));
  return `${file}:${index + 1}`;
}

interface ServiceRun {
  statuses: Record<string, number>;
  checkoutsBefore: number;
  leaksBefore: number;
  stalledStatus: number;
  prismaSpans: number;
  report: Pick<LeakReport, 'site' | 'where' | 'kind' | 'state' | 'transaction' | 'stack' | 'message'>;
  stderr: string;
}

/** Runs the TypeScript service with tsx, as its developers do, and returns what it printed. */
function runService(env: Record<string, string>): Promise<ServiceRun> {
  const tsx = join(root, 'node_modules/tsx/dist/cli.mjs');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [tsx, `${SERVICE}/main.ts`], { cwd: root, env: { ...process.env, DATABASE_URL, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`the service failed (${err.message}):\n${stdout}\n${stderr}`));
      try {
        resolve({ ...(JSON.parse(stdout) as Omit<ServiceRun, 'stderr'>), stderr });
      } catch {
        reject(new Error(`the service printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}

type Client = Record<string, any> & { $disconnect(): Promise<void>; $transaction(...args: any[]): Promise<any> };
let PrismaClient: new (options: object) => Client;
let admin: pg.Client;

beforeAll(async () => {
  ensureBuilt();
  generatePrismaClient(`${SERVICE}/schema.prisma`);
  ({ PrismaClient } = await import(join(root, `${SERVICE}/generated/client.ts`)));
  admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id serial PRIMARY KEY, item text NOT NULL, qty int NOT NULL)`);
}, 60_000);

afterAll(async () => {
  await admin?.end();
});

describe('a TypeScript service run with tsx: route → service → prisma.$transaction, poolguard defaults, leakThresholdMs 200', () => {
  it('without guardPrisma, a stuck transaction is reported at an unknown site inside @prisma/client', async () => {
    const run = await runService({ GUARD_PRISMA: 'off', TRAFFIC: '0' });
    expect(run.report.site).toBeUndefined();
    expect(run.report.where).toBe('an unknown site inside @prisma/client');
  }, 60_000);

  it('first use: the report names the $transaction line in the service file', async () => {
    const run = await runService({ TRAFFIC: '0' });
    expect(run.checkoutsBefore).toBe(0);
    expect(run.report.site).toMatch(new RegExp(`^${serviceLine()}:\\d+$`));
    expect(run.report).toMatchObject({ state: 'idle', transaction: 'open' });
    // The stack is the call's own: the service function, then the route that called it.
    expect(run.report.stack?.split('\n')[0]).toMatch(/at placeOrder \(.*orders-service\.ts:\d+:\d+\)$/);
    expect(run.report.stack).toMatch(/routes\.ts:\d+:\d+/);
    // The log line an on-call engineer reads (the default logger, on stderr) names it too (a
    // "slow lease" line instead when, on a loaded machine, the order's INSERT crossed the threshold).
    expect(run.stderr).toMatch(/poolguard\[orders-db\]: (possible connection leak|slow lease) inside an open transaction: a client checked out at /);
    expect(run.stderr).toContain(` checked out at ${run.report.site} has been held `);
    expect(run.stalledStatus).toBe(201);
  }, 60_000);

  it('after ordinary traffic (orders, batch orders, listings), the same line', async () => {
    const run = await runService({ TRAFFIC: '40' });
    expect(run.statuses).toEqual({ 200: 10, 201: 30 });
    expect(run.report.site).toMatch(new RegExp(`^${serviceLine()}:\\d+$`));
  }, 60_000);

  it("after more than 1,000 checkouts, when the 'adaptive' default samples pool.connect() 1 in 64, the same line", async () => {
    const run = await runService({ TRAFFIC: '1400' });
    // Three requests in four take a connection of their own (a transaction); listings use pool.query().
    expect(run.statuses).toEqual({ 200: 350, 201: 1050 });
    expect(run.checkoutsBefore).toBeGreaterThan(1_000);
    expect(run.report.site).toMatch(new RegExp(`^${serviceLine()}:\\d+$`));
  }, 180_000);

  it("with Prisma's OpenTelemetry tracing (@prisma/instrumentation) on, the same line", async () => {
    const run = await runService({ TRAFFIC: '8', TRACING: '1' });
    expect(run.prismaSpans).toBeGreaterThanOrEqual(6);
    expect(run.report.site).toMatch(new RegExp(`^${serviceLine()}:\\d+$`));
  }, 60_000);

  it('the service type-checks: guardPrisma takes the generated PrismaClient as it is', async () => {
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const out = await new Promise<string>((resolve) =>
      execFile(process.execPath, [tsc, '-p', `${SERVICE}/tsconfig.json`], { cwd: root, timeout: 120_000 }, (err, stdout, stderr) => resolve(err ? `${stdout}${stderr}${err.message}` : '')),
    );
    expect(out).toBe('');
  }, 120_000);
});

describe('guardPrisma(prisma) in process (Prisma 7, @prisma/adapter-pg on a guarded pool)', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
  });

  function client(pool: pg.Pool): Client {
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    cleanups.push(() => prisma.$disconnect());
    return prisma;
  }

  /**
   * The pool's possible-leak reports (state idle), as they come. A lease that is merely slow on this
   * busy machine (Prisma's first query plans, a loaded server) may be reported busy: not counted.
   */
  function idleReports(pool: Pool): LeakReport[] {
    const seen: LeakReport[] = [];
    pool.guard.on('leak', (r) => {
      if (r.state === 'idle') seen.push(r);
    });
    return seen;
  }

  function stuck(): { promise: Promise<void>; release: () => void } {
    let release!: () => void;
    const promise = new Promise<void>((r) => (release = r));
    return { promise, release };
  }

  async function rows(item: string): Promise<number> {
    return Number((await admin.query(`SELECT count(*) AS n FROM ${TABLE} WHERE item = $1`, [item])).rows[0].n);
  }

  it('interactive form: the callback commits and its value comes back, a throw rolls back and rethrows it, every connection comes back', async () => {
    const pool = guardedPool({ max: 2 });
    const prisma = client(pool);
    guardPrisma(prisma);
    const item = `commit-${process.pid}-${Date.now()}`;
    const row = await app.placeOrder(prisma, item);
    expect(row).toMatchObject({ item, qty: 1 });
    expect(await rows(item)).toBe(1);
    const failed = `rollback-${process.pid}-${Date.now()}`;
    const error = new Error('payment declined');
    await expect(app.failingOrder(prisma, failed, error)).rejects.toBe(error);
    expect(await rows(failed)).toBe(0);
    const saved = `savepoint-${process.pid}-${Date.now()}`;
    expect(await app.orderWithSavepoint(prisma, saved)).toMatchObject({ item: saved, qty: 2 });
    expect(await rows(saved)).toBe(2);
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    expect(pool.guard.snapshot().totals.checkouts).toBe(3);
  });

  it("Prisma's own errors keep their class, code and message", async () => {
    const barePool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
    cleanups.push(() => barePool.end());
    const bare = client(barePool);
    const pool = guardedPool({ max: 1 });
    const guarded = client(pool);
    guardPrisma(guarded);
    const expected = await app.invalidOrder(bare, 'invalid').catch((e: Error) => e);
    const actual = await app.invalidOrder(guarded, 'invalid').catch((e: Error) => e);
    expect(actual).toBeInstanceOf(Error);
    expect(actual.constructor).toBe(expected.constructor);
    expect(actual.message).toBe(expected.message);
    expect((actual as { code?: unknown }).code).toBe((expected as { code?: unknown }).code);
  });

  it('two transactions stuck at once, from two lines, beside ordinary ones: each report names its own line', async () => {
    const pool = guardedPool({ max: 4, guard: { leakThresholdMs: 150 } });
    const prisma = client(pool);
    guardPrisma(prisma);
    const seen = idleReports(pool);
    const a = stuck();
    const b = stuck();
    const first = app.stuckOrder(prisma, a.promise);
    const ordinary = app.placeOrder(prisma, 'ordinary');
    const second = app.stuckRefund(prisma, b.promise);
    await ordinary;
    const stuckSite = (r: LeakReport) => site('stuck-order').test(r.site ?? '') || site('stuck-refund').test(r.site ?? '');
    await until(() => seen.filter(stuckSite).length >= 2, 'two leak reports', 5_000);
    const sites = seen.filter(stuckSite).map((r) => r.site);
    // One report per stuck lease, each at its own line.
    expect(sites).toHaveLength(2);
    expect(new Set(seen.filter(stuckSite).map((r) => r.leaseId)).size).toBe(2);
    expect(sites).toEqual(expect.arrayContaining([expect.stringMatching(site('stuck-order')), expect.stringMatching(site('stuck-refund'))]));
    // A loaded machine can hold the ordinary transaction past the 150 ms threshold: then it is reported too, at its own line.
    for (const other of seen.filter((r) => !stuckSite(r))) expect(other.site).toMatch(site('place-order'));
    // The snapshot's holders say the same.
    expect(pool.guard.snapshot().leases.map((l) => l.site)).toEqual(expect.arrayContaining(sites));
    a.release();
    b.release();
    expect(await second).toBe('refunded');
    expect(await first).toMatchObject({ item: 'stuck' });
  });

  it("Prisma's own timeout (5 s by default) ends a stuck transaction before a longer guard.leakThresholdMs: nothing is left to report", async () => {
    const pool = guardedPool({ max: 2, guard: { leakThresholdMs: 2_000 } });
    const prisma = client(pool);
    guardPrisma(prisma);
    const seen: LeakReport[] = [];
    pool.guard.on('leak', (r) => seen.push(r));
    const s = stuck();
    const done = app.stuckOrder(prisma, s.promise, 'timed-out', { timeout: 200 }).catch((e: Error) => e);
    await until(() => pool.guard.snapshot().totals.checkouts === 1 && pool.guard.snapshot().counts.leased === 0, "Prisma's rollback", 1_800);
    // Released before the threshold: a lease no longer held is never reported.
    expect(seen).toEqual([]);
    s.release();
    // The callback's next query finds its transaction closed.
    expect(String((await done as Error).message)).toMatch(/Transaction already closed|expired|timed? ?out/i);
    expect(await rows('timed-out')).toBe(0);
  });

  it("a transaction whose query waits on a lock outlasts Prisma's timeout: reported slow, at its line", async () => {
    const pool = guardedPool({ max: 2, guard: { leakThresholdMs: 400 } });
    const prisma = client(pool);
    guardPrisma(prisma);
    const seen: LeakReport[] = [];
    pool.guard.on('leak', (r) => seen.push(r));
    await admin.query('BEGIN');
    await admin.query(`LOCK TABLE ${TABLE} IN ACCESS EXCLUSIVE MODE`);
    let done: Promise<unknown>;
    try {
      done = app.stuckOrder(prisma, Promise.resolve(), 'behind-a-lock', { timeout: 150 }).catch((e: Error) => e);
      await until(() => seen.length >= 1, 'a leak report', 5_000);
    } finally {
      await admin.query('COMMIT');
    }
    expect(seen[0]).toMatchObject({ state: 'busy', site: expect.stringMatching(site('stuck-order')) });
    await done!;
    await until(() => pool.guard.snapshot().counts.leased === 0, 'the connection back', 5_000);
  });

  it("a transaction started inside another's callback is named at its own line, not the outer one", async () => {
    const pool = guardedPool({ max: 2, guard: { leakThresholdMs: 150 } });
    const prisma = client(pool);
    guardPrisma(prisma);
    const seen = idleReports(pool);
    const s = stuck();
    const done = app.auditInsideOrder(prisma, s.promise);
    await until(() => seen.length >= 2, 'two leak reports', 5_000);
    const sites = seen.map((r) => r.site);
    expect(sites).toHaveLength(2);
    expect(sites).toEqual(expect.arrayContaining([expect.stringMatching(site('audit-log')), expect.stringMatching(site('order-with-audit'))]));
    s.release();
    expect(await done).toBe('done');
  });

  it("the application's own pool.connect() inside a Prisma callback keeps its own line", async () => {
    const pool = guardedPool({ max: 3, guard: { leakThresholdMs: 150 } });
    const prisma = client(pool);
    guardPrisma(prisma);
    const seen = idleReports(pool);
    const s = stuck();
    const done = app.ownCheckoutInSavepoint(prisma, pool, s.promise);
    await until(() => seen.length >= 2, 'two leak reports', 5_000);
    const sites = seen.map((r) => r.site);
    expect(sites).toHaveLength(2);
    expect(sites).toEqual(expect.arrayContaining([expect.stringMatching(site('tx-around-own')), expect.stringMatching(site('own-connect'))]));
    s.release();
    expect(await done).toBe('released');
  });

  it('a client made with $extends shares the wrapped $transaction', async () => {
    const pool = guardedPool({ max: 2, guard: { leakThresholdMs: 150 } });
    const base = client(pool);
    guardPrisma(base);
    const extended = base.$extends({ query: { $allModels: { async $allOperations({ args, query }: any) { return query(args); } } } }) as Client;
    const seen = idleReports(pool);
    const s = stuck();
    const done = app.stuckOrder(extended, s.promise, 'extended');
    await until(() => seen.length >= 1, 'a leak report', 5_000);
    expect(seen[0]!.site).toMatch(site('stuck-order'));
    s.release();
    await done;
  });

  it('batch form: the results in order and the connection back; held on a lock, it is reported busy, at no line of yours (see the README)', async () => {
    const pool = guardedPool({ max: 2, guard: { leakThresholdMs: 150 } });
    const prisma = client(pool);
    guardPrisma(prisma);
    const pair = await app.orderPair(prisma, 'left', 'right');
    expect(pair.map((r: { item: string }) => r.item)).toEqual(['left', 'right']);
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    const seen: LeakReport[] = [];
    pool.guard.on('leak', (r) => seen.push(r));
    await admin.query('BEGIN');
    await admin.query(`LOCK TABLE ${TABLE} IN ACCESS EXCLUSIVE MODE`);
    let waiting: Promise<unknown>;
    try {
      waiting = app.orderPair(prisma, 'locked-left', 'locked-right');
      await until(() => seen.length >= 1, 'a slow-lease report', 5_000);
    } finally {
      await admin.query('COMMIT');
    }
    expect(await waiting!).toHaveLength(2);
    // Prisma runs a batch from a process.nextTick of its own: no stack leads back to the call.
    expect(seen[0]).toMatchObject({ state: 'busy', site: undefined, where: 'an unknown site inside @prisma/client' });
    expect(seen[0]!.message).toContain('slow, not forgotten');
  });

  it('guards a plain pg.Pool in place with the options given; a second call returns the same guard and wraps nothing twice', async () => {
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
    cleanups.push(() => pool.end());
    const prisma = client(pool);
    const handle = guardPrisma(prisma, { name: 'prisma-plain', logger: false });
    expect((pool as unknown as { guard: unknown }).guard).toBe(handle);
    expect(handle.name).toBe('prisma-plain');
    const wrapped = prisma.$transaction;
    expect(wrapped).not.toBe(Object.getPrototypeOf((prisma as unknown as { _originalClient: object })._originalClient).$transaction);
    expect(guardPrisma(prisma)).toBe(handle);
    expect(prisma.$transaction).toBe(wrapped);
    expect(await app.placeOrder(prisma, 'plain')).toMatchObject({ item: 'plain' });
  });

  it("guard.captureStacks 'none': $transaction stays Prisma's own", async () => {
    const pool = guardedPool({ guard: { captureStacks: 'none' } });
    const prisma = client(pool);
    const own = prisma.$transaction;
    guardPrisma(prisma);
    expect(prisma.$transaction).toBe(own);
  });

  it('refuses a PrismaPg given connection settings, and anything not a Prisma client, saying what to do', () => {
    const fromSettings = new PrismaClient({ adapter: new PrismaPg({ connectionString: DATABASE_URL }) });
    expect(() => guardPrisma(fromSettings)).toThrow(/given connection settings, not a pool .*new PrismaPg\(new Pool\(\{ connectionString, guard: \{ name: 'orders-db' \} \}\)\)/);
    expect(() => guardPrisma({ $transaction() {} })).toThrow(/has no driver adapter; poolguard guards Prisma 7 clients built on @prisma\/adapter-pg/);
    expect(() => guardPrisma(null as never)).toThrow(/needs a PrismaClient \(Prisma 7\), got null/);
  });
});

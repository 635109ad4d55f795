import PgBoss from 'pg-boss';
import { DataSource } from 'typeorm';
import { afterEach, describe, expect, it } from 'vitest';
import { guard, type LeakReport } from '../../src/pg.js';
import type { PoolGuard } from '../../src/index.js';
import { siteMatchers } from '../helpers/sites.js';
import { DATABASE_URL, until } from '../helpers/db.js';
import { guardedPool } from '../helpers/pools.js';
// @ts-expect-error plain JavaScript fixture with marked lines
import * as app from '../fixtures/recipes-app.mjs';

const site = siteMatchers('test/fixtures/recipes-app.mjs');

function reports(handle: PoolGuard): LeakReport[] {
  const seen: LeakReport[] = [];
  handle.on('leak', (r) => seen.push(r));
  return seen;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
});

const SCHEMA = 'poolguard_dl_boss';

describe('TypeORM: guard() on the pool the DataSource built', () => {
  it('a QueryRunner transaction never committed nor released is reported at the runner.connect() line, inside an open transaction', async () => {
    const ds = new DataSource({ type: 'postgres', url: DATABASE_URL, poolSize: 3 });
    await ds.initialize();
    cleanups.push(() => ds.destroy());
    const pool = (ds.driver as unknown as { master: import('pg').Pool }).master;
    const handle = guard(pool, { logger: false, leakThresholdMs: 150, idleAfterMs: 60 });
    const seen = reports(handle);
    expect(Number((await ds.query('SELECT 1 AS one'))[0].one)).toBe(1);
    const runner = await app.typeormForgotten(ds);
    await until(() => seen.length > 0, 'a leak report', 3_000);
    expect(seen[0]!.site).toMatch(site('typeorm-connect'));
    expect(seen[0]!.kind).toBe('connect');
    expect(seen[0]!.state).toBe('idle');
    expect(seen[0]!.transaction).toBe('open');
    await runner.rollbackTransaction();
    await runner.release();
    expect(handle.snapshot().counts.leased).toBe(0);
  });
});

describe('pg-boss', () => {
  async function startBoss(options: Record<string, unknown>): Promise<PgBoss> {
    const boss = new PgBoss({ schema: SCHEMA, supervise: false, schedule: false, migrate: true, ...options } as never);
    boss.on('error', () => {});
    await boss.start();
    cleanups.push(() => boss.stop({ graceful: false, wait: true } as never));
    return boss;
  }

  it('guard() on its pool after start(): jobs flow unchanged, every query is a pool.query() lease, a slow one is reported busy', async () => {
    const boss = await startBoss({ connectionString: DATABASE_URL, max: 3 });
    const pool = (boss.getDb() as unknown as { pool: import('pg').Pool }).pool;
    const handle = guard(pool, { logger: false, leakThresholdMs: 150, idleAfterMs: 60, captureStacks: 'all' });
    const seen = reports(handle);
    await boss.createQueue('dl-jobs');
    const id = await boss.send('dl-jobs', { n: 1 });
    const [job] = await boss.fetch('dl-jobs');
    expect(job!.id).toBe(id);
    await boss.complete('dl-jobs', job!.id);
    const before = handle.snapshot();
    expect(before.counts.leased).toBe(0);
    expect(before.totals.checkouts).toBeGreaterThanOrEqual(4);
    await app.bossSlowSql(boss, 0.4);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.kind).toBe('query');
    expect(seen[0]!.state).toBe('busy');
    expect(seen[0]!.site).toMatch(site('boss-sql'));
  });

  it('a guarded Pool of your own through the db option: pg-boss runs every statement on it', async () => {
    const pool = guardedPool({ max: 3 });
    const boss = await startBoss({ db: { executeSql: (text: string, values?: unknown[]) => pool.query(text, values) } });
    await boss.createQueue('dl-own');
    await boss.send('dl-own', { n: 2 });
    const [job] = await boss.fetch('dl-own');
    expect(job!.data).toEqual({ n: 2 });
    expect(pool.guard.snapshot().totals.checkouts).toBeGreaterThanOrEqual(3);
    expect(pool.guard.snapshot().counts.leased).toBe(0);
  });
});

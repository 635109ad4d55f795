import { describe, expect, it } from 'vitest';
import { CheckoutTimeoutError } from '../../src/postgres.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { beginAndHang, reserveAndForget } from '../fixtures/postgres-leaky.mjs';
import { sleep, until } from '../helpers/db.js';
import { guardedSql, plainSql, POSTGRES_JS_MAJOR } from '../helpers/postgres.js';
import { siteMatchers } from '../helpers/sites.js';

const site = siteMatchers('test/fixtures/postgres-leaky.mjs');
/**
 * Opens the pool's `max` connections first (queries with a connection free are not bounded), so
 * that a lease is granted an open one however slowly a connection opens on a loaded machine.
 */
const warm = async (sql: { (t: TemplateStringsArray): PromiseLike<unknown>; options: { max: number } }): Promise<void> => {
  // postgres.js 4's queue_timeout bounds a query waiting for a connection to open as well: on a
  // loaded machine an opening may take longer than the tests' bound, so the warming is retried.
  for (let attempt = 0; ; attempt++) {
    try {
      await Promise.all(Array.from({ length: sql.options.max }, () => sql`select pg_sleep(0.05)`));
      return;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'QUEUE_TIMEOUT' || attempt > 20) throw err;
    }
  }
};

/**
 * The error a wait past the bound gets: poolguard's `CheckoutTimeoutError` on 3.4, which has no
 * bound of its own; on 4, postgres.js's own `QUEUE_TIMEOUT`, unchanged but for poolguard's fields.
 */
function expectTimeout(err: unknown, boundMs: number, call: string): string {
  const e = err as CheckoutTimeoutError & { poolguard?: string };
  if (POSTGRES_JS_MAJOR === 3) {
    expect(e).toBeInstanceOf(CheckoutTimeoutError);
    expect(e.code).toBe('POOLGUARD_CHECKOUT_TIMEOUT');
    expect(e.message).toContain(`no connection became free within guard.acquireTimeoutMs (${boundMs} ms) for ${call}`);
    return e.message;
  }
  expect(e).not.toBeInstanceOf(CheckoutTimeoutError);
  expect(Object.getPrototypeOf(e)).toBe(Error.prototype);
  expect(e.code).toBe('QUEUE_TIMEOUT');
  expect(e.message).toBe(`QUEUE_TIMEOUT: Waited more than ${boundMs / 1_000} seconds for a connection`);
  // postgres.js 4 gives a query's error the stack of the code awaiting it, once awaited: the
  // holders stay in the fields (`holders`, `poolguard`); a reserve()'s or begin()'s keeps them in its stack.
  if (call !== 'a query') expect(e.stack).toContain(e.poolguard!);
  expect(e.holders.length).toBeGreaterThan(0);
  return e.poolguard!;
}
const late = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => 'settled', () => 'settled'), sleep(ms).then(() => 'still waiting')]);

describe('postgres.js: guard.acquireTimeoutMs bounds the wait for a connection', () => {
  it('plain postgres.js waits for ever once every connection is reserved (porsager/postgres issue 824)', async () => {
    const sql = plainSql({ max: 1 });
    await sql.reserve();
    expect(await late(sql.reserve(), 300)).toBe('still waiting');
    expect(await late(sql`select 1`.execute(), 100)).toBe('still waiting');
  });

  it('reserve(), begin() and a query fail with CheckoutTimeoutError naming the holders by line, idle or busy', async () => {
    const sql = guardedSql({ guard: { acquireTimeoutMs: 150, idleAfterMs: 20 } });
    await warm(sql);
    const reserved = await reserveAndForget(sql);
    const { entered } = beginAndHang(sql);
    await entered;
    for (const [call, attempt] of [
      ['sql.reserve()', () => sql.reserve()],
      ['sql.begin()', () => sql.begin((tx) => tx`select 1`)],
      ['a query', () => sql`select 1`.execute()],
      ['a query', () => sql.unsafe('select 1').execute()],
    ] as const) {
      const started = Date.now();
      const err = (await (attempt as () => Promise<unknown>)().catch((e: unknown) => e)) as CheckoutTimeoutError;
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(expectTimeout(err, 150, call)).toContain('2 of 2 connections checked out');
      const sites = err.holders.map((h) => h.site);
      expect(sites.some((s) => site('reserve').test(s!))).toBe(true);
      expect(sites.some((s) => site('begin').test(s!))).toBe(true);
      expect(err.holders.find((h) => site('begin').test(h.site!))!.inTransaction).toBe(1);
    }
    expect(sql.guard.snapshot().totals.timeouts).toBe(4);
    // What timed out was taken out of the wait or gives its connection straight back.
    reserved.release();
    const [{ ok }] = (await sql<{ ok: number }[]>`select 1 as ok`) as unknown as [{ ok: number }];
    expect(ok).toBe(1);
    await until(() => sql.guard.snapshot().counts.leased === 1, 'timed-out requests to give their connection back');
    const again = await sql.reserve();
    again.release();
  });

  it('a busy holder is named busy in the timeout error', async () => {
    const sql = guardedSql({ max: 1, guard: { acquireTimeoutMs: 100 } });
    await warm(sql);
    const reserved = await reserveAndForget(sql);
    const sleeping = reserved`select pg_sleep(0.5)`.execute();
    const err = (await sql.reserve().catch((e: unknown) => e)) as CheckoutTimeoutError;
    expect(err.holders[0]).toMatchObject({ busy: 1, idle: 0 });
    expect(expectTimeout(err, 100, 'sql.reserve()')).toContain('every holder was busy (a query in flight)');
    await sleeping;
    reserved.release();
  });

  it('a timed-out begin() never runs its callback; postgres.js rolls back what it began', async () => {
    const sql = guardedSql({ max: 1, guard: { acquireTimeoutMs: 100 } });
    await warm(sql);
    const reserved = await reserveAndForget(sql);
    let ran = false;
    const err = await sql.begin(async () => {
      ran = true;
    }).catch((e: unknown) => e);
    expectTimeout(err, 100, 'sql.begin()');
    reserved.release();
    await sleep(100);
    expect(ran).toBe(false);
    // The pool's only connection is idle, not idle inside the transaction postgres.js began for it.
    const [{ pid }] = (await sql<{ pid: number }[]>`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
    await sleep(30);
    const [{ state }] = (await plainSql()<{ state: string }[]>`select state from pg_stat_activity where pid = ${pid}`) as unknown as [{ state: string }];
    expect(state).toBe('idle');
  });

  it('a query is bounded only while every connection is lent out: then none can be opening for it', async () => {
    const sql = guardedSql({ max: 2, guard: { acquireTimeoutMs: 100 } });
    await warm(sql);
    const reserved = await reserveAndForget(sql);
    // One connection is free: the query runs, however long its neighbour is held.
    const [{ x }] = (await sql<{ x: number }[]>`select 1 as x`) as unknown as [{ x: number }];
    expect(x).toBe(1);
    await sleep(150);
    expect(sql.guard.snapshot().totals.timeouts).toBe(0);
    reserved.release();
  });
});

import knexFactory, { type Knex } from 'knex';
import { afterEach, describe, expect, it } from 'vitest';
import { guard, guardKnex } from '../../src/knex.js';
import type { LeakReport, PoolGuard } from '../../src/index.js';
import { siteMatchers } from '../helpers/sites.js';
import { DATABASE_URL, sleep, until } from '../helpers/db.js';
import { MYSQL } from '../helpers/mysql.js';
// @ts-expect-error plain JavaScript fixture with marked lines
import * as app from '../fixtures/knex-app.mjs';

const site = siteMatchers('test/fixtures/knex-app.mjs');

const APP = 'poolguard_dl_knex';

const dialects = {
  pg: (pool?: Knex.PoolConfig, extra: Partial<Knex.Config> = {}): Knex.Config => ({
    client: 'pg',
    connection: `${DATABASE_URL}?application_name=${APP}`,
    ...(pool === undefined ? {} : { pool }),
    ...extra,
  }),
  mysql2: (pool?: Knex.PoolConfig, extra: Partial<Knex.Config> = {}): Knex.Config => ({
    client: 'mysql2',
    connection: { ...MYSQL },
    ...(pool === undefined ? {} : { pool }),
    ...extra,
  }),
} as const;

const open: Knex[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((k) => Promise.race([k.destroy().catch(() => {}), new Promise((r) => setTimeout(r, 1_000))])));
});

function make(dialect: keyof typeof dialects, pool?: Knex.PoolConfig, extra?: Partial<Knex.Config>): Knex {
  const knex = knexFactory(dialects[dialect](pool, extra));
  open.push(knex);
  return knex;
}

function leaks(handle: PoolGuard, type: 'leak' | 'leakResolved' | 'reclaim' = 'leak'): LeakReport[] {
  const seen: LeakReport[] = [];
  handle.on(type, (r) => seen.push(r));
  return seen;
}

const quick = { logger: false as const, leakThresholdMs: 150, idleAfterMs: 60 };

describe.each(['pg', 'mysql2'] as const)('Knex (%s), its own tarn pool guarded in place', (dialect) => {
  it('works unchanged with the default configuration; guardKnex is idempotent; every connection comes back', async () => {
    const knex = make(dialect);
    const handle = guardKnex(knex, { logger: false });
    expect(guardKnex(knex)).toBe(handle);
    expect(guard(knex.client.pool)).toBe(handle);
    const [{ one }] = await app.select(knex);
    expect(Number(one)).toBe(1);
    const n = await knex.transaction(async (trx) => Number((await app.select(trx))[0].one) + 41);
    expect(n).toBe(42);
    // Knex's default pool (max 10) serves concurrent queries on more than one connection.
    await Promise.all(Array.from({ length: 4 }, () => app.slowQuery(knex, 0.05)));
    const snap = handle.snapshot();
    expect(snap.counts.leased).toBe(0);
    expect(snap.counts.max).toBe(10);
    expect(snap.connections.length).toBeGreaterThan(1);
    expect(snap.totals.checkouts).toBeGreaterThanOrEqual(6);
  });

  it('`const trx = await knex.transaction()` never committed: reported at that line, idle', async () => {
    const knex = make(dialect);
    const handle = guardKnex(knex, quick);
    const seen = leaks(handle);
    const trx = await app.forgottenTransaction(knex);
    // On a loaded machine a scan can find the transaction's BEGIN still in flight and say so (a slow
    // lease, busy) before the lease is idle: the report this test is about is the idle one.
    await until(() => seen.some((x) => x.state === 'idle'), 'an idle leak report', 5_000);
    const r = seen.find((x) => x.state === 'idle')!;
    expect(r.site).toMatch(site('forgotten'));
    expect(r.kind).toBe('transaction');
    expect(r.state).toBe('idle');
    expect(r.transaction).toBe('open');
    expect(r.message).toContain('has not been committed or rolled back');
    expect(r.message).toMatch(/with no query in flight; its last query finished \d+ ms ago/);
    const resolved = leaks(handle, 'leakResolved');
    await trx.rollback();
    await until(() => resolved.length === 1, 'leakResolved');
    expect(handle.snapshot().counts.leased).toBe(0);
  });

  it('a transaction handed to a helper that returns without committing: reported where it was taken', async () => {
    const knex = make(dialect);
    const handle = guardKnex(knex, quick);
    const seen = leaks(handle);
    const trx = await app.handedAround(knex);
    await until(() => seen.some((x) => x.state === 'idle'), 'an idle leak report', 5_000);
    expect(seen.find((x) => x.state === 'idle')!.site).toMatch(site('handed'));
    await trx.rollback();
  });

  it('a callback transaction stuck in its callback: reported at the knex.transaction(cb) line', async () => {
    const knex = make(dialect);
    const handle = guardKnex(knex, quick);
    const seen = leaks(handle);
    let unstick!: () => void;
    const done = app.stuckCallback(knex, new Promise<void>((r) => (unstick = r)));
    await until(() => seen.length > 0, 'a leak report', 3_000);
    expect(seen[0]!.site).toMatch(site('callback'));
    expect(seen[0]!.kind).toBe('transaction');
    unstick();
    await done;
    expect(handle.snapshot().counts.leased).toBe(0);
  });

  it("a builder query stuck in flight: busy, at the builder's line with captureStacks: 'all'", async () => {
    const knex = make(dialect);
    const handle = guardKnex(knex, { ...quick, captureStacks: 'all' });
    const seen = leaks(handle);
    await app.slowQuery(knex, 0.5);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.site).toMatch(site('slow'));
    expect(seen[0]!.kind).toBe('statement');
    expect(seen[0]!.state).toBe('busy');
    expect(seen[0]!.message).toContain('with a query in flight now');
  });

  it('a builder query stuck in flight with the default captureStacks: busy, and the report says how to get the line', async () => {
    const knex = make(dialect);
    const handle = guardKnex(knex, quick);
    const seen = leaks(handle);
    await app.slowQuery(knex, 0.5);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.site).toBeUndefined();
    expect(seen[0]!.state).toBe('busy');
    expect(seen[0]!.where).toBe("an unknown site (no stack captured for this data layer's query)");
    expect(seen[0]!.message).toContain(
      "an unknown site (no stack captured for this data layer's query) (the data layer releases the connection of each query itself, so queries capture no stack unless guard.captureStacks is 'all')",
    );
  });

  it('KnexTimeoutError keeps its class and message, and names the holder by call site in its fields and stack', async () => {
    // Knex logs every acquire error itself; silenced here.
    const knex = make(dialect, { min: 0, max: 1 }, { acquireConnectionTimeout: 300, log: { warn() {} } });
    const handle = guardKnex(knex, { logger: false });
    const trx = await app.forgottenTransaction(knex);
    const KnexTimeoutError = (knexFactory as unknown as { KnexTimeoutError: new () => Error }).KnexTimeoutError;
    const err = (await knex.raw('SELECT 1').then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { holders: Array<{ site: string; count: number; idle: number }>; sql?: string };
    expect(err).toBeInstanceOf(KnexTimeoutError);
    expect(err.name).toBe('KnexTimeoutError');
    expect(err.message).toBe('Knex: Timeout acquiring a connection. The pool is probably full. Are you missing a .transacting(trx) call?');
    expect(err.stack).toMatch(/^KnexTimeoutError: Knex: Timeout acquiring a connection\. The pool is probably full\. Are you missing a \.transacting\(trx\) call\?\npoolguard\[[^\]]+\]: 1 of 1 connections checked out/);
    expect(err.holders).toHaveLength(1);
    expect(err.holders[0]!.site).toMatch(site('forgotten'));
    expect(err.holders[0]!.idle).toBe(1);
    // Knex still adds the builder's SQL to its own error.
    expect(err.sql).toBe('SELECT 1');
    expect(handle.snapshot().totals.timeouts).toBe(1);
    await trx.rollback();
    expect(Number((await app.select(knex))[0].one)).toBe(1);
  });
});

describe('guard(pool) from poolguard/knex on a tarn pool of your own (events only)', () => {
  it('a resource acquired and never released is reported at the acquire() line; the pool is unchanged', async () => {
    const { Pool: TarnPool } = await import('tarn');
    const pool = new TarnPool({ create: async () => ({ n: 1 }), destroy: async () => {}, min: 0, max: 1, acquireTimeoutMillis: 200 });
    const handle = guard(pool, quick);
    const seen = leaks(handle);
    const resource = await app.tarnForgotten(pool);
    await until(() => seen.length > 0, 'a leak report', 3_000);
    expect(seen[0]!.site).toMatch(site('tarn'));
    expect(seen[0]!.kind).toBe('acquire');
    // tarn's own timeout error and message; the holder in its fields and stack.
    const err = (await pool.acquire().promise.catch((e: unknown) => e)) as Error & { holders: Array<{ site: string }> };
    expect(err.constructor.name).toBe('TimeoutError');
    expect(err.message).toBe('operation timed out for an unknown reason');
    expect(err.stack).toMatch(/^Error: operation timed out for an unknown reason\npoolguard\[/);
    expect(err.holders[0]!.site).toMatch(site('tarn'));
    expect(handle.snapshot().totals.timeouts).toBe(1);
    pool.release(resource);
    expect(handle.snapshot().counts.leased).toBe(0);
    await pool.destroy();
  });
});

describe('guardKnex refuses what it cannot guard, naming what to use instead', () => {
  it('recycling options (the pool has its own) and a Knex without its own pool', () => {
    const knex = make('pg');
    expect(() => guardKnex(knex, { maxLifetimeMs: 1_000 })).toThrow(new TypeError("guard.maxLifetimeMs is not available for a tarn (Knex) pool, got 1000: use Knex's pool.maxConnectionLifetimeMillis"));
    expect(() => guardKnex(knex, { leakThresholdMs: -5 })).toThrow('guard.leakThresholdMs must be ≥ 0, got -5');
    const noPool = knexFactory({ client: 'pg' });
    expect(() => guardKnex(noPool)).toThrow(/this Knex instance has no pool/);
    expect(() => guardKnex({} as never)).toThrow(TypeError);
  });
});

describe('Knex (pg): a connection held by an unfinished transaction, terminated by the server', () => {
  it('the holder gets the error, the connection leaves the pool, the pool keeps serving', async () => {
    const knex = make('pg', { min: 0, max: 2 }, { log: { warn() {} } });
    const handle = guardKnex(knex, { logger: false });
    const retired: string[] = [];
    handle.on('retire', (r) => retired.push(r.reason));
    const trx = await app.forgottenTransaction(knex);
    const pid = handle.snapshot().connections.find((c) => c.state === 'leased')!.pid!;
    expect(pid).toBeGreaterThan(0);
    const admin = make('pg');
    await admin.raw('SELECT pg_terminate_backend(?)', [pid]);
    // The client sees its socket close a moment later (Knex marks it disposed then).
    await sleep(300);
    const rejected = trx.executionPromise.then(
      () => undefined,
      (e: unknown) => e,
    );
    await trx.commit().catch(() => {});
    expect(String(await rejected)).toMatch(/terminat|closed|Connection/i);
    await until(() => handle.snapshot().counts.leased === 0, 'the lease to end', 3_000);
    // Knex marked the connection disposed; tarn destroys it at the next acquire, which gets a new one.
    expect(Number((await app.select(knex))[0].one)).toBe(1);
    await until(() => retired.length > 0, 'the terminated connection to leave the pool', 3_000);
    expect(retired).toEqual(['terminated']);
    expect(handle.snapshot().connections.map((c) => c.pid)).not.toContain(pid);
  });
});

// What `await using` calls, called by hand: `[Symbol.asyncDispose]()` and `[Symbol.dispose]()` of
// a leased object, read when the declaration runs and called when its scope ends (the syntax
// itself runs in handlers.test.ts). Against the real servers.
import { describe, expect, it } from 'vitest';
import { guard } from '../../src/pg.js';
import { createPool as createGenericPool } from '../../src/generic-pool.js';
import { ASYNC_DISPOSE, DISPOSE } from '../../src/adapters/disposal.js';
import { sleep, until } from '../helpers/db.js';
import { guardedMysqlPool, guardedPromisePool } from '../helpers/mysql-pools.js';
import { barePool, guardedPool } from '../helpers/pools.js';

type Disposable = { [ASYNC_DISPOSE](): Promise<void>; [DISPOSE](): void };

/** A logger that keeps what it is told. */
function recorder() {
  const lines: string[] = [];
  return { lines, logger: { warn: (_: object, msg: string) => lines.push(msg), info: () => {} } };
}

describe('the symbols', () => {
  it('are the runtime’s own, or Node’s stand-ins where it has none (what tslib looks up as Symbol.asyncDispose)', () => {
    expect(ASYNC_DISPOSE).toBe(Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose'));
    expect(DISPOSE).toBe(Symbol.dispose ?? Symbol.for('nodejs.dispose'));
  });
});

describe('a poolguard/pg client', () => {
  it('releases its lease when disposed, asynchronously or synchronously', async () => {
    const pool = guardedPool({ max: 1 });
    const client = await pool.connect();
    await client[Symbol.asyncDispose]();
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    expect(pool.idleCount).toBe(1);
    const again = await pool.connect();
    expect(again).toBe(client);
    again[Symbol.dispose]();
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    expect(pool.guard.snapshot().totals).toMatchObject({ checkouts: 2, doubleReleases: 0 });
  });

  it('a disposal after release() does nothing: no error, no double release counted or logged', async () => {
    const { lines, logger } = recorder();
    const pool = guardedPool({ max: 1, guard: { logger } });
    const client = await pool.connect();
    const dispose = client[Symbol.asyncDispose];
    const disposeSync = client[Symbol.dispose];
    client.release();
    await expect(dispose.call(client)).resolves.toBeUndefined();
    expect(() => disposeSync.call(client)).not.toThrow();
    await expect(client[Symbol.asyncDispose]()).resolves.toBeUndefined();
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(0);
    expect(lines).toEqual([]);
    // While a second release() by hand still is one, as in pg.
    expect(() => client.release()).toThrow(/Release called on client which has already been released to the pool\./);
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(1);
  });

  it('a late disposal never releases the next holder’s lease of the same client', async () => {
    const pool = guardedPool({ max: 1 });
    const first = await pool.connect();
    // As `await using first = …` reads it, at the declaration.
    const disposeFirst = first[Symbol.asyncDispose];
    first.release();
    const second = await pool.connect();
    expect(second).toBe(first);
    await disposeFirst.call(first);
    expect(pool.guard.snapshot().counts.leased).toBe(1);
    await second[Symbol.asyncDispose]();
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(0);
  });

  it('a disposal inside a transaction is a release inside one: the client is closed, not handed on', async () => {
    const pool = guardedPool({ max: 1 });
    const client = await pool.connect();
    const pid = (client as unknown as { processID: number }).processID;
    await client.query('BEGIN');
    await client[Symbol.asyncDispose]();
    expect(pool.guard.snapshot().totals.dirtyReleases).toBe(1);
    const next = await pool.connect();
    expect((next as unknown as { processID: number }).processID).not.toBe(pid);
    next.release();
  });

  it('a reclaimed client’s late disposal is harmless, as its late release() is', async () => {
    const pool = guardedPool({ max: 1, guard: { leakThresholdMs: 40, idleAfterMs: 20, reclaimAfterMs: 60 } });
    const client = await pool.connect();
    await until(() => pool.guard.snapshot().totals.reclaims === 1, 'the reclaim');
    await expect(client[Symbol.asyncDispose]()).resolves.toBeUndefined();
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(0);
  });

  it('clients of a pg.Pool guarded in place dispose the same way; a plain pg.Pool’s do not (pg is untouched)', async () => {
    const plain = barePool({ max: 1 });
    const bare = await plain.connect();
    expect((bare as Partial<Disposable>)[ASYNC_DISPOSE]).toBeUndefined();
    bare.release();
    const existing = barePool({ max: 1 });
    const handle = guard(existing, { logger: false });
    const client = (await existing.connect()) as unknown as Disposable;
    await client[ASYNC_DISPOSE]();
    expect(handle.snapshot().counts.leased).toBe(0);
  });
});

describe('mysql2 connections under poolguard (mysql2’s own disposers)', () => {
  it('callback API: [Symbol.dispose]() releases; after release() it is no double release', async () => {
    const { lines, logger } = recorder();
    const pool = guardedMysqlPool({ connectionLimit: 1, guard: { logger } });
    const get = () => new Promise<Disposable & { release(): void }>((resolve, reject) => pool.getConnection((err, c) => (err ? reject(err) : resolve(c as never))));
    const conn = await get();
    conn[DISPOSE]();
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    const again = await get();
    again.release();
    again[DISPOSE]();
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(0);
    expect(lines).toEqual([]);
    // A second release() by hand is still said (mysql2 ignores it; poolguard names where).
    again.release();
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(1);
    expect(lines.join('\n')).toContain('release() was called on a connection that was already released');
  });

  it('promise API: [Symbol.asyncDispose]() releases; after release() it is no double release', async () => {
    const { lines, logger } = recorder();
    const pool = guardedPromisePool({ connectionLimit: 1, guard: { logger } });
    const conn = await pool.getConnection();
    await conn[Symbol.asyncDispose]();
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    const again = await pool.getConnection();
    again.release();
    await again[Symbol.asyncDispose]();
    expect(pool.guard.snapshot().totals).toMatchObject({ checkouts: 2, doubleReleases: 0 });
    expect(lines).toEqual([]);
  });

  it('promise API: a late disposal, after a release by hand, leaves the next holder’s connection alone', async () => {
    const { lines, logger } = recorder();
    const pool = guardedPromisePool({ connectionLimit: 1, guard: { logger } });
    const first = await pool.getConnection();
    first.release();
    const next = await pool.getConnection();
    expect(next.connection).toBe(first.connection);
    // The first holder's scope ends now (mysql2's disposal calls the wrapper's release()).
    await first[Symbol.asyncDispose]();
    expect(pool.guard.snapshot().counts.leased).toBe(1);
    const [rows] = await next.query('SELECT 1 AS ok');
    expect(rows).toEqual([{ ok: 1 }]);
    next.release();
    expect(pool.guard.snapshot()).toMatchObject({ counts: { leased: 0 }, totals: { checkouts: 2, doubleReleases: 0 } });
    expect(lines).toEqual([]);
  });
});

describe('pool.guard.lease() for generic-pool resources', () => {
  let made = 0;
  const factory = { create: async () => ({ id: ++made }), destroy: async () => {} };

  it('acquires as acquire() does and gives the resource back when disposed', async () => {
    const pool = createGenericPool(factory, { max: 1, guard: { logger: false } });
    const lease = await pool.guard.lease();
    expect(lease.resource).toEqual({ id: expect.any(Number) });
    expect(pool.borrowed).toBe(1);
    await lease[Symbol.asyncDispose]();
    expect(pool.borrowed).toBe(0);
    expect(pool.guard.snapshot().totals).toMatchObject({ checkouts: 1, doubleReleases: 0 });
    await pool.drain();
    await pool.clear();
  });

  it('after pool.release() or pool.destroy() inside the scope, the disposal does nothing', async () => {
    const pool = createGenericPool(factory, { max: 1, guard: { logger: false } });
    const released = await pool.guard.lease();
    await pool.release(released.resource);
    await expect(released[Symbol.asyncDispose]()).resolves.toBeUndefined();
    const destroyed = await pool.guard.lease();
    await pool.destroy(destroyed.resource);
    await expect(destroyed[Symbol.asyncDispose]()).resolves.toBeUndefined();
    expect(pool.guard.snapshot().totals).toMatchObject({ checkouts: 2, doubleReleases: 0 });
    await pool.drain();
    await pool.clear();
  });

  it('is reported at the line that called lease(), as an acquire() lease', async () => {
    const pool = createGenericPool(factory, { max: 1, guard: { logger: false, leakThresholdMs: 40 } });
    const reports: Array<{ site?: string; kind: string }> = [];
    pool.guard.on('leak', (r) => reports.push(r));
    const lease = await pool.guard.lease(); // LEASE-LINE
    await until(() => reports.length === 1, 'a leak report');
    expect(reports[0]!.kind).toBe('acquire');
    expect(reports[0]!.site).toMatch(/^test\/await-using\/disposal\.test\.ts:\d+:\d+$/);
    const line = Number(reports[0]!.site!.split(':')[1]);
    const source = (await import('node:fs')).readFileSync(new URL(import.meta.url), 'utf8').split('\n');
    expect(source[line - 1]).toContain('// LEASE-LINE');
    await lease[Symbol.asyncDispose]();
    await pool.drain();
    await pool.clear();
  });

  it('times out as acquire() does, with the holders named', async () => {
    const pool = createGenericPool(factory, { max: 1, acquireTimeoutMillis: 100, guard: { logger: false } });
    const held = await pool.guard.lease();
    await sleep(20);
    const err = (await pool.guard.lease().catch((e: unknown) => e)) as Error & { code: string };
    // generic-pool's own error, unchanged; its stack names the holder (the line that called lease()).
    expect(err.name).toBe('TimeoutError');
    expect(err.message).toBe('ResourceRequest timed out');
    expect(err.stack).toMatch(/1 × test\/await-using\/disposal\.test\.ts:\d+:\d+/);
    expect(pool.guard.snapshot().counts.waiting).toBe(0);
    await held[Symbol.asyncDispose]();
    await pool.drain();
    await pool.clear();
  });

  it('lives on the handle: generic-pool’s pool gains no method', async () => {
    const pool = createGenericPool(factory, { max: 1, guard: { logger: false } });
    expect('lease' in pool).toBe(false);
    expect(typeof pool.guard.lease).toBe('function');
    await pool.drain();
    await pool.clear();
  });
});

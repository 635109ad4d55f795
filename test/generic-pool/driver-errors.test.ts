import * as genericPool from 'generic-pool';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool, guard, type EndReport, type LeakReport, type PoolGuard } from '../../src/generic-pool.js';
import { caught, expectPoolguardLines, expectSameDriverError } from '../helpers/driver-errors.js';
import { pgClientFactory } from '../helpers/factories.js';

// generic-pool's own errors reach the caller of a guarded pool as generic-pool raised them: the same
// class, code and message. Each path runs on a plain generic-pool and a guarded one, with pg clients
// of the real server as resources, and the two errors are compared.

type Pool = genericPool.Pool<pg.Client>;
type Make = (options: genericPool.Options) => Pool;

const open: Pool[] = [];
afterEach(async () => {
  for (const pool of open.splice(0)) {
    // Whatever a test left on loan goes back first: drain() waits for it.
    const loaned = (pool as unknown as { _resourceLoans: Map<pg.Client, unknown> })._resourceLoans;
    for (const client of [...loaned.keys()]) await pool.release(client).catch(() => {});
    await Promise.resolve(pool.drain()).catch(() => {});
    await pool.clear().catch(() => {});
  }
});

const plain: Make = (options) => {
  const pool = genericPool.createPool(pgClientFactory(), options);
  open.push(pool);
  return pool;
};
const guarded: Make = (options) => {
  const pool = createPool(pgClientFactory(), { ...options, guard: { name: 'gp-errors', logger: false } });
  open.push(pool);
  return pool;
};
const guardedInPlace: Make = (options) => {
  const pool = plain(options);
  guard(pool, { name: 'gp-errors', logger: false });
  return pool;
};
const handle = (pool: Pool): PoolGuard => (pool as Pool & { guard: PoolGuard }).guard;

const forms = {
  'acquire()': (pool: Pool) => pool.acquire().then((r) => pool.release(r)),
  'use()': (pool: Pool) => pool.use(async () => undefined),
} as const;

async function timedOut(make: Make, form: keyof typeof forms) {
  // acquireTimeoutMillis bounds every acquire, the first one's connect too (which on a loaded machine
  // outlasted 200 ms): the client is made first (min: 1), and only the wait behind the holder is timed.
  const pool = make({ max: 1, min: 1, acquireTimeoutMillis: 200 });
  await pool.ready();
  const held = await pool.acquire();
  const err = await caught(() => forms[form](pool));
  await pool.release(held);
  return err;
}

async function duringDrain(make: Make, form: keyof typeof forms) {
  const pool = make({ max: 1 });
  const held = await pool.acquire();
  const draining = pool.drain();
  const err = await caught(() => forms[form](pool));
  await pool.release(held);
  await draining;
  return err;
}

async function afterDrain(make: Make, form: keyof typeof forms) {
  const pool = make({ max: 1 });
  await pool.release(await pool.acquire());
  await pool.drain();
  await pool.clear();
  return caught(() => forms[form](pool));
}

describe.each([
  ['createPool', guarded],
  ['guard(pool)', guardedInPlace],
] as const)("generic-pool's own errors pass through %s unchanged (real server)", (_label, make) => {
  it.each(Object.keys(forms) as Array<keyof typeof forms>)("timeout, %s: generic-pool's TimeoutError \"ResourceRequest timed out\", the holders in fields and in the stack", async (form) => {
    const mine = await timedOut(make, form);
    expectSameDriverError(mine, await timedOut(plain, form));
    expect(mine.name).toBe('TimeoutError');
    expect(mine.message).toBe('ResourceRequest timed out');
    expect(mine.code).toBeUndefined();
    expect(mine.holders).toEqual([expect.objectContaining({ count: 1, idle: 1 })]);
    expect(mine.holders![0]!.site).toContain('test/generic-pool/driver-errors.test.ts');
    expectPoolguardLines(mine, /^poolguard\[gp-errors\]: 1 of 1 resources checked out/, /\nNext: give the resource back with pool\.release\(resource\)/);
  });

  it.each(Object.keys(forms) as Array<keyof typeof forms>)('during drain(), %s: "pool is draining and cannot accept work", the note in the stack', async (form) => {
    const mine = await duringDrain(make, form);
    expectSameDriverError(mine, await duringDrain(plain, form));
    expect(mine.message).toBe('pool is draining and cannot accept work');
    expectPoolguardLines(mine, /^poolguard\[gp-errors\]: the pool is ending \(pool\.drain\(\) was called \d+ ms ago\)/);
  });

  it.each(Object.keys(forms) as Array<keyof typeof forms>)('after drain() and clear(), %s: the same error, the note says the pool has ended', async (form) => {
    const mine = await afterDrain(make, form);
    expectSameDriverError(mine, await afterDrain(plain, form));
    expectPoolguardLines(mine, /^poolguard\[gp-errors\]: the pool has ended/);
  });

  it('a second release(), and release() or destroy() of a resource never lent: "Resource not currently part of this pool"', async () => {
    const run = async (make: Make) => {
      const pool = make({ max: 1 });
      const r = await pool.acquire();
      await pool.release(r);
      const second = await caught(() => pool.release(r));
      const stranger = { not: 'a resource of this pool' } as unknown as pg.Client;
      const unknownRelease = await caught(() => pool.release(stranger));
      const unknownDestroy = await caught(() => pool.destroy(stranger));
      return [second, unknownRelease, unknownDestroy];
    };
    const mine = await run(make);
    const theirs = await run(plain);
    for (const [i, err] of mine.entries()) expectSameDriverError(err, theirs[i]);
    expect(mine[0]!.message).toBe('Resource not currently part of this pool');
    expectPoolguardLines(mine[0]!, /^poolguard\[gp-errors\]: it was already released \(or never acquired from this pool\); release each resource exactly once\./);
    expect(handle(open.at(-2)!).snapshot().totals.doubleReleases).toBe(2);
  });
});

describe('a release during drain() ends the lease (real server)', () => {
  it.each(['release', 'destroy'] as const)('%s() while drain() waits: no leak report, no endForced, no lease in the final snapshot', async (how) => {
    const pool = guarded({ max: 2 });
    const seen: Array<LeakReport | EndReport> = [];
    for (const type of ['leak', 'reclaim', 'endForced'] as const) handle(pool).on(type, (r: LeakReport | EndReport) => seen.push(r));
    const held = await pool.acquire();
    const draining = pool.drain();
    expect(handle(pool).snapshot().leases).toHaveLength(1);
    await pool[how](held);
    expect(handle(pool).snapshot().leases).toEqual([]);
    await draining;
    await pool.clear();
    const final = handle(pool).snapshot();
    expect(final.leases).toEqual([]);
    expect(final.counts.total).toBe(0);
    expect(seen).toEqual([]);
  });

  it('a use() callback that settles during drain(): its lease ends', async () => {
    const pool = guarded({ max: 1 });
    let finish!: () => void;
    const using = pool.use(() => new Promise<void>((resolve) => (finish = resolve)));
    await new Promise((r) => setImmediate(r));
    while (handle(pool).snapshot().leases.length === 0) await new Promise((r) => setTimeout(r, 5));
    const draining = pool.drain();
    finish();
    await using;
    await draining;
    await pool.clear();
    expect(handle(pool).snapshot().leases).toEqual([]);
  });
});

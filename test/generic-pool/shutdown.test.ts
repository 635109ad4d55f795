import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool, type EndReport, type GuardedPool, type LeakReport } from '../../src/generic-pool.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { acquireHere } from '../fixtures/leaky.mjs';
import { DATABASE_URL, sleep } from '../helpers/db.js';
import { runJsonScript } from '../helpers/scripts.js';

const APP = 'gp_shutdown_test';
const pools: GuardedPool<pg.Client>[] = [];
const clients: pg.Client[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await Promise.race([p.clear().catch(() => {}), sleep(500)]);
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => {})));
});

function clientPool(guardOptions: NonNullable<Parameters<typeof createPool>[1]>['guard']): GuardedPool<pg.Client> {
  const pool = createPool<pg.Client>(
    {
      create: async () => {
        const c = new pg.Client({ connectionString: DATABASE_URL, application_name: APP });
        clients.push(c);
        await c.connect();
        return c;
      },
      destroy: (c) => c.end(),
    },
    { max: 2, guard: { logger: false, ...guardOptions } },
  );
  pools.push(pool);
  return pool;
}

function within<T>(promise: PromiseLike<T>, ms: number): Promise<{ value?: T; error?: unknown } | 'pending'> {
  return Promise.race([Promise.resolve(promise).then((value) => ({ value }), (error: unknown) => ({ error })), sleep(ms).then(() => 'pending' as const)]);
}

describe('generic-pool drain() with a resource still on loan (real server)', () => {
  it('drain() resolves at guard.endTimeoutMs instead of waiting for ever, after naming the holder and its open transaction', async () => {
    const pool = clientPool({ name: 'gp-shutdown', endTimeoutMs: 500 });
    const ends: EndReport[] = [];
    const reclaims: LeakReport[] = [];
    pool.guard.on('endBlocked', (r) => ends.push(r));
    pool.guard.on('endForced', (r) => ends.push(r));
    pool.guard.on('reclaim', (r) => reclaims.push(r));
    const leaked: pg.Client = await acquireHere(pool);
    await leaked.query('BEGIN');
    const started = performance.now();
    expect(await within(pool.drain(), 3_000)).toEqual({ value: undefined });
    const tookMs = performance.now() - started;
    expect(tookMs).toBeGreaterThanOrEqual(490);
    expect(tookMs).toBeLessThan(2_500);
    expect(ends.map((e) => [e.type, e.call])).toEqual([
      ['endBlocked', 'pool.drain()'],
      ['endForced', 'pool.drain()'],
    ]);
    expect(ends[0]!.leases[0]).toMatchObject({ kind: 'acquire', site: 'test/fixtures/leaky.mjs:29:15', transaction: 'open' });
    expect(ends[0]!.message).toMatch(/^poolguard\[gp-shutdown\]: pool\.drain\(\) has waited \d+ ms for 1 checked-out resource/);
    expect(ends[0]!.message).toContain('inside an open transaction');
    expect(ends[1]!.message).toContain('pool.drain() reached guard.endTimeoutMs (500 ms) with 1 resource still checked out; poolguard reclaimed it so that pool.drain() can finish');
    expect(reclaims.map((r) => r.site)).toEqual(['test/fixtures/leaky.mjs:29:15']);
    // The holder's late release is harmless; the pool clears to nothing.
    await expect(pool.release(leaked)).resolves.toBeUndefined();
    expect(await within(pool.clear(), 2_000)).toEqual({ value: undefined });
    expect(pool.size).toBe(0);
    expect(pool.guard.snapshot().leases).toEqual([]);
  });

  it('a resource that is not a pg client is described by what poolguard knows of it: its last touch(), no claim about queries', async () => {
    const pool = createPool<{ n: number }>({ create: async () => ({ n: 1 }), destroy: async () => {} }, { max: 1, guard: { name: 'gp-plain', logger: false, endTimeoutMs: 400 } });
    const ends: EndReport[] = [];
    pool.guard.on('endBlocked', (r) => ends.push(r));
    const held = await acquireHere(pool);
    pool.guard.touch(held);
    expect(await within(pool.drain(), 3_000)).toEqual({ value: undefined });
    expect(ends[0]!.leases[0]).toMatchObject({ site: 'test/fixtures/leaky.mjs:29:15', inFlight: undefined, transaction: undefined });
    expect(ends[0]!.message).toMatch(/leaky\.mjs:29:15: held \d+ ms, last touched \d+ ms ago \(pool\.guard\.touch\(\)\)\n/);
    expect(ends[0]!.message).not.toContain('in flight');
    expect(ends[0]!.message).not.toMatch(/quer|client/i);
    await pool.clear();
  });

  it('a resource never touched is said to be never touched, since its checkout, with no invented last activity', async () => {
    const pool = createPool<{ n: number }>({ create: async () => ({ n: 1 }), destroy: async () => {} }, { max: 1, guard: { name: 'gp-untouched', logger: false, endTimeoutMs: 400 } });
    const ends: EndReport[] = [];
    pool.guard.on('endBlocked', (r) => ends.push(r));
    pool.guard.on('endForced', (r) => ends.push(r));
    await acquireHere(pool);
    expect(await within(pool.drain(), 3_000)).toEqual({ value: undefined });
    expect(ends.map((e) => e.type)).toEqual(['endBlocked', 'endForced']);
    for (const end of ends) {
      const line = end.message.split('\n')[1]!;
      const [, held, since] = /^  lease \d+ \(acquire\) from test\/fixtures\/leaky\.mjs:29:15: held (\d+) ms, never touched since its checkout (\d+) ms ago \(pool\.guard\.touch\(resource\) marks activity\)$/.exec(line) ?? [];
      expect(held, line).toBeDefined();
      expect(since).toBe(held);
      expect(end.message).not.toMatch(/last marked active|last touched|quer|client/i);
    }
    await pool.clear();
  });

  it('with guard.endTimeoutMs: 0, drain() waits for the holder, as generic-pool does', async () => {
    const pool = clientPool({ endTimeoutMs: 0 });
    const ends: EndReport[] = [];
    pool.guard.on('endBlocked', (r) => ends.push(r));
    pool.guard.on('endForced', (r) => ends.push(r));
    const held: pg.Client = await acquireHere(pool);
    const draining = pool.drain();
    expect(await within(draining, 1_300)).toBe('pending');
    expect(ends.map((e) => e.type)).toEqual(['endBlocked']);
    expect(ends[0]!.message).toContain('guard.endTimeoutMs is 0, so pool.drain() waits until they are given back');
    await pool.release(held);
    expect(await within(draining, 2_000)).toEqual({ value: undefined });
  });

  it('an acquire() after drain() gets generic-pool\'s own error, unchanged, and its stack says that the pool is ending', async () => {
    const pool = clientPool({ name: 'gp-ending' });
    const held: pg.Client = await acquireHere(pool);
    const draining = pool.drain();
    const err = (await pool.acquire().then(
      () => undefined,
      (e: unknown) => e,
    )) as Error;
    expect(Object.getPrototypeOf(err)).toBe(Error.prototype);
    expect(err.message).toBe('pool is draining and cannot accept work');
    expect(err.stack).toMatch(/^Error: pool is draining and cannot accept work\npoolguard\[gp-ending\]: the pool is ending \(pool\.drain\(\) was called \d+ ms ago\); this checkout can no longer be served\./);
    expect(pool.guard.snapshot().counts.waiting).toBe(0);
    await pool.release(held);
    await draining;
    const after = (await pool.acquire().then(
      () => undefined,
      (e: unknown) => e,
    )) as Error;
    expect(after.message).toBe('pool is draining and cannot accept work');
    expect(after.stack).toMatch(/^Error: pool is draining and cannot accept work\npoolguard\[gp-ending\]: the pool has ended \(pool\.drain\(\) was called \d+ ms ago and finished \d+ ms ago\)/);
  });
});

describe('drain() keeps the process alive while it waits on a forgotten resource, and only then (child process)', () => {
  it('a plain resource (no socket, no timer): endBlocked, endForced, drain() resolved by guard.endTimeoutMs, a final snapshot without the lease', () => {
    const { status, stderr, result } = runJsonScript<{ events: string[]; drained: boolean; drainMs: number; leasesAfter: number }>('test/fixtures/drain-forgotten.mjs', ['forgotten']);
    expect(status, stderr).toBe(0);
    expect(result.events).toEqual(['endBlocked', 'endForced']);
    expect(result.drained).toBe(true);
    expect(result.drainMs).toBeGreaterThanOrEqual(390);
    expect(result.leasesAfter).toBe(0);
  });

  it('with guard.endTimeoutMs 0, the process stays until endBlocked has named the holder; then it exits as generic-pool would, drain() unsettled', () => {
    const { status, result } = runJsonScript<{ events: string[]; drained: boolean }>('test/fixtures/drain-forgotten.mjs', ['forever']);
    // 13: Node's exit code for a top-level await that never settled.
    expect(status).toBe(13);
    expect(result).toMatchObject({ events: ['endBlocked'], drained: false });
  });

  it('nothing held: drain() resolves at once and no timer of poolguard keeps the process', () => {
    const { status, stderr, result } = runJsonScript<{ events: string[]; drained: boolean; drainMs: number; leasesAfter: number }>('test/fixtures/drain-forgotten.mjs', ['clean']);
    expect(status, stderr).toBe(0);
    expect(result).toMatchObject({ events: [], drained: true, leasesAfter: 0 });
    expect(result.drainMs).toBeLessThan(300);
  });
});

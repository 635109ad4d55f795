import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { DoubleReleaseError, Pool } from '../../src/pg.js';
import { DATABASE_URL, until } from '../helpers/db.js';
import { barePool, guardedPool } from '../helpers/pools.js';

const DOUBLE = 'Release called on client which has already been released to the pool.';

/** Runs the same script on a bare and a guarded pool and returns what each observed. */
async function observe(pool: pg.Pool) {
  const events: string[] = [];
  for (const e of ['connect', 'acquire', 'release', 'remove'] as const) pool.on(e, () => events.push(e));
  const counters = () => [pool.totalCount, pool.idleCount, pool.waitingCount, pool.expiredCount].join('/');
  const seen: string[] = [];
  const a = await pool.connect();
  seen.push(counters());
  const b = await pool.connect();
  const waiting = pool.connect();
  seen.push(counters());
  a.release();
  const c = await waiting;
  seen.push(counters());
  b.release(new Error('broken'));
  c.release();
  await new Promise((r) => setTimeout(r, 50));
  seen.push(counters());
  const r1 = await pool.query('SELECT $1::int AS n', [7]);
  const r2 = await new Promise<pg.QueryResult>((resolve, reject) => pool.query('SELECT 2 AS n', (e, r) => (e ? reject(e) : resolve(r))));
  const r3 = await new Promise<pg.QueryResult>((resolve, reject) => pool.query('SELECT $1::int AS n', [3], (e, r) => (e ? reject(e) : resolve(r))));
  const r4 = await pool.query({ text: 'SELECT $1::text AS t', values: ['x'] });
  const syntax = await pool.query('SELEC 1').catch((e: Error) => e.message);
  const fnFirst = await new Promise<string>((resolve) => (pool.query as any)((e: Error) => resolve(e.message)));
  const cbClient = await new Promise<string>((resolve) => pool.connect((err, client, done) => { resolve(`${err}/${typeof client?.query}/${typeof done}`); done(); }));
  let double: Error | undefined;
  const d = await pool.connect();
  d.release();
  try { d.release(); } catch (e) { double = e as Error; }
  seen.push(counters());
  await pool.end();
  const afterEnd = await pool.connect().catch((e: Error) => e.message);
  const afterEndQuery = await pool.query('SELECT 1').catch((e: Error) => e.message);
  // pg emits the last 'remove' after end() resolves, once the server has closed the connection: wait
  // for one per connection opened (a fixed 50 ms pause was too short at load 6).
  const count = (name: string) => events.filter((e) => e === name).length;
  await until(() => count('remove') === count('connect'), "a 'remove' for every connection", 10_000);
  return { events, seen, rows: [r1.rows, r2.rows, r3.rows, r4.rows], syntax, fnFirst, cbClient, double, afterEnd, afterEndQuery, ended: pool.ended };
}

describe('drop-in: the guarded Pool behaves exactly like pg.Pool', () => {
  it('is a pg.Pool', () => {
    const pool = guardedPool();
    expect(pool).toBeInstanceOf(pg.Pool);
    expect(pool).toBeInstanceOf(Pool);
  });

  it('same events, counters, results and error messages as bare pg.Pool for the same script', async () => {
    const bare = await observe(barePool({ max: 2 }));
    const guarded = await observe(guardedPool({ max: 2 }));
    // 'remove' fires when the server has closed the connection: its place among the other events
    // depends on network timing, not on the pool. The rest must match in order.
    const ordered = (events: string[]) => events.filter((e) => e !== 'remove');
    expect(ordered(guarded.events)).toEqual(ordered(bare.events));
    expect(guarded.events.filter((e) => e === 'remove').length).toBe(bare.events.filter((e) => e === 'remove').length);
    expect(guarded.seen).toEqual(bare.seen);
    expect(guarded.rows).toEqual(bare.rows);
    expect(guarded.syntax).toBe(bare.syntax);
    expect(guarded.fnFirst).toBe(bare.fnFirst);
    expect(guarded.cbClient).toBe(bare.cbClient);
    // pg's own error and message; poolguard's word that the pool has ended is in its stack (test/pg/shutdown.test.ts).
    expect(guarded.afterEnd).toBe(bare.afterEnd);
    expect(guarded.afterEndQuery).toBe(bare.afterEndQuery);
    expect(guarded.ended).toBe(true);
    expect(bare.double!.message).toBe(DOUBLE);
    // The double release is pg's own Error and message; what is left of the lease (its checkout
    // stack is dropped at release, issue 20) is in its stack, whose frames are the second release().
    expect(Object.getPrototypeOf(guarded.double)).toBe(Error.prototype);
    expect(guarded.double).not.toBeInstanceOf(DoubleReleaseError);
    expect(guarded.double!.message).toBe(DOUBLE);
    expect((guarded.double as Error & { code?: unknown }).code).toBeUndefined();
    expect(guarded.double!.stack).toMatch(/The connect\(\) lease #\d+ on connection #\d+, checked out \d+ ms ago \(its checkout stack is dropped at release; the stack below is the second release\(\)\)/);
    expect(guarded.double!.stack).toContain('test/pg/drop-in.test.ts:');
  });

  it("pool.query()'s promise: the pool's Promise class, pg's result, and pg's error with the caller's frames", async () => {
    class OwnPromise<T> extends Promise<T> {}
    async function fromHere(make: (options: pg.PoolConfig) => pg.Pool) {
      const own = make({ Promise: OwnPromise } as pg.PoolConfig);
      const ok = own.query('SELECT $1::int AS n', [5]);
      const failing = own.query('SELECT 1/0');
      const ownClass = ok instanceof OwnPromise && failing instanceof OwnPromise;
      const [{ rows }] = await Promise.all([ok, failing.catch(() => undefined)]);
      // An await on the pool's own Promise class keeps the caller's async frames.
      let err!: Error & Record<string, unknown>;
      try {
        await make({}).query('SELECT 1/0');
      } catch (e) {
        err = e as Error & Record<string, unknown>;
      }
      return { ownClass, rows, err };
    }
    const bare = await fromHere(barePool);
    const guarded = await fromHere(guardedPool);
    expect(bare.ownClass).toBe(true);
    expect(guarded.ownClass).toBe(true);
    expect(guarded.rows).toEqual([{ n: 5 }]);
    expect(guarded.rows).toEqual(bare.rows);
    expect(Object.getPrototypeOf(guarded.err)).toBe(Object.getPrototypeOf(bare.err));
    expect({ message: guarded.err.message, code: guarded.err.code }).toEqual({ message: 'division by zero', code: bare.err.code });
    // pg-pool re-captures a failed query's stack: its frames are the awaiting caller's.
    expect(bare.err.stack).toMatch(/\n {4}at (async )?fromHere \(/);
    expect(guarded.err.stack).toMatch(/\n {4}at (async )?fromHere \(/);
    expect(guarded.err.stack!.startsWith(`${bare.err.name}: division by zero\n    at `)).toBe(true);
  });

  it('the guard key never reaches pg.Client, and the password stays hidden as in pg', async () => {
    const seenOptions: Record<string, unknown>[] = [];
    class SpyClient extends pg.Client {
      constructor(options: pg.ClientConfig) {
        seenOptions.push({ ...(options as Record<string, unknown>) });
        super(options);
      }
    }
    const pool = new Pool({ connectionString: DATABASE_URL, password: 'pw', Client: SpyClient, guard: { logger: false } } as any);
    try {
      await pool.query('SELECT 1');
      expect(seenOptions).toHaveLength(1);
      expect(seenOptions[0]).not.toHaveProperty('guard');
      expect(Object.keys(pool.options)).not.toContain('guard');
      expect(Object.keys(pool.options)).not.toContain('password');
      expect((pool.options as any).password).toBe('pw');
    } finally {
      await pool.end();
    }
  });

  it('release(true) and release(err) destroy the client as in pg', async () => {
    const pool = guardedPool();
    const c = await pool.connect();
    c.release(true);
    expect(pool.totalCount).toBe(0);
    // The record goes when the client's socket has closed ('end'), which a loaded machine delays.
    await until(() => pool.guard.snapshot().connections.length === 0, 'the destroyed connection to leave the snapshot', 3_000);
    expect(pool.guard.snapshot().totals.destroyed).toBe(1);
  });

  it('maxUses and idleTimeoutMillis from pg keep working', async () => {
    const pool = guardedPool({ maxUses: 2, idleTimeoutMillis: 30 });
    const pids = [];
    for (let i = 0; i < 3; i++) pids.push((await pool.query('SELECT pg_backend_pid() AS p')).rows[0].p);
    expect(pids[0]).toBe(pids[1]);
    expect(pids[2]).not.toBe(pids[1]);
    // idleTimeoutMillis ends the idle client; its record goes when its socket has closed, which a loaded machine delays.
    await until(() => pool.totalCount === 0 && pool.guard.snapshot().totals.destroyed === 2, 'both clients ended', 3_000);
    expect(pool.guard.snapshot().totals).toMatchObject({ created: 2, destroyed: 2, checkouts: 3 });
  });

  it('constructs with no options at all, like pg.Pool', async () => {
    const pool = new Pool();
    expect(pool.options.max).toBe(10);
    expect(pool.guard.name).toMatch(/:\d+\//);
    await pool.end();
  });

  it('the ledger holds nothing after many checkouts: no lease kept, no growth', async () => {
    const pool = guardedPool({ max: 3 });
    for (let i = 0; i < 2_000; i++) {
      const c = await pool.connect();
      c.release();
    }
    await Promise.all(Array.from({ length: 50 }, () => pool.query('SELECT 1')));
    const snap = pool.guard.snapshot();
    expect(snap.leases).toHaveLength(0);
    expect(snap.totals.checkouts).toBe(2_050);
    expect(snap.connections.length).toBe(pool.totalCount);
    expect(snap.connections.reduce((n, c) => n + c.uses, 0)).toBe(2_050);
  });
});

import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { EndReport, LeakReport, Pool } from '../../src/pg.js';
import { caught, expectPoolguardLines, expectSameDriverError } from '../helpers/driver-errors.js';
import { DATABASE_URL } from '../helpers/db.js';
import { barePool, guardedPool, warm } from '../helpers/pools.js';

// Every error pg-pool raises reaches the caller of a guarded pool as pg-pool raised it: the same
// class, code and message, byte for byte. What poolguard adds is in fields and in the stack's lines.
// Each path is run on a plain pg.Pool and on poolguard's, against the real server, and compared.

const APP = 'pg_driver_errors_test';
const NO_DB = `${DATABASE_URL.replace(/\/[^/?]*(\?.*)?$/, '')}/poolguard_no_such_db`;
type Make = (options: pg.PoolConfig) => pg.Pool;
const plain: Make = (options) => barePool({ application_name: APP, ...options });
const guarded: Make = (options) => guardedPool({ application_name: APP, ...options, guard: { name: 'pg-errors' } });

const connectCallback = (pool: pg.Pool) =>
  new Promise<void>((resolve, reject) => pool.connect((err, client, done) => (err ? reject(err) : (done(), resolve()))));
const queryCallback = (pool: pg.Pool) => new Promise<void>((resolve, reject) => pool.query('SELECT 1', (err: Error | undefined) => (err ? reject(err) : resolve())));

const forms = {
  'connect()': (pool: pg.Pool) => pool.connect().then((c) => c.release()),
  'connect(cb)': connectCallback,
  'query()': (pool: pg.Pool) => pool.query('SELECT 1'),
  'query(cb)': queryCallback,
} as const;

/** A pool of one whose client is held, and the error of a checkout that waits past connectionTimeoutMillis. */
async function timedOut(make: Make, form: keyof typeof forms) {
  const pool = make({ max: 1, connectionTimeoutMillis: 200 });
  // Opened before the short wait is timed: connectionTimeoutMillis bounds a cold connect too.
  await warm(pool, 1);
  const held = await pool.connect();
  const err = await caught(() => forms[form](pool));
  held.release();
  return err;
}

/** The error of a checkout after end() finished. */
async function afterEnd(make: Make, form: keyof typeof forms) {
  const pool = make({ max: 1 });
  await pool.query('SELECT 1');
  await pool.end();
  return caught(() => forms[form](pool));
}

/** The error of a checkout made while end() waits for a held client. */
async function duringEnd(make: Make, form: keyof typeof forms) {
  const pool = make({ max: 2 });
  const held = await pool.connect();
  const ending = pool.end();
  const err = await caught(() => forms[form](pool));
  held.release();
  await ending;
  return err;
}

describe("pg-pool's own errors pass through a guarded pool unchanged (real server)", () => {
  it.each(Object.keys(forms) as Array<keyof typeof forms>)('timeout, %s: pg-pool\'s Error "timeout exceeded when trying to connect", the holders in fields and in the stack', async (form) => {
    const mine = await timedOut(guarded, form);
    expectSameDriverError(mine, await timedOut(plain, form));
    expect(mine.message).toBe('timeout exceeded when trying to connect');
    expect(mine.code).toBeUndefined();
    expect(mine.pool).toBe('pg-errors');
    expect(mine.holders).toEqual([expect.objectContaining({ count: 1, idle: 1, busy: 0 })]);
    expect(mine.holders![0]!.site).toContain('test/pg/driver-errors.test.ts');
    expect(mine.waitedMs).toBeGreaterThanOrEqual(150);
    expectPoolguardLines(mine, /^poolguard\[pg-errors\]: 1 of 1 connections checked out/, /\n {2}1 × test\/pg\/driver-errors\.test\.ts:\d+:\d+: oldest held/, /\nNext: /);
    // An explicit checkout's capture gives the caller's frames, not pg's timer (a pool.query() lease
    // captures no stack by default: its frames are pg's, as on a plain pool).
    if (form.startsWith('connect')) expect(mine.stack!.slice(mine.stack!.indexOf('\n    at '))).toContain('test/pg/driver-errors.test.ts');
  });

  it.each(Object.keys(forms) as Array<keyof typeof forms>)('after end(), %s: pg-pool\'s "Cannot use a pool after calling end on the pool", the note in the stack', async (form) => {
    const mine = await afterEnd(guarded, form);
    expectSameDriverError(mine, await afterEnd(plain, form));
    expect(mine.message).toBe('Cannot use a pool after calling end on the pool');
    expectPoolguardLines(mine, /^poolguard\[pg-errors\]: the pool has ended \(pool\.end\(\) was called \d+ ms ago and finished \d+ ms ago\); this checkout can no longer be served\./);
  });

  it.each(Object.keys(forms) as Array<keyof typeof forms>)('during end(), %s: the same error, the note says the pool is ending', async (form) => {
    const mine = await duringEnd(guarded, form);
    expectSameDriverError(mine, await duringEnd(plain, form));
    expectPoolguardLines(mine, /^poolguard\[pg-errors\]: the pool is ending \(pool\.end\(\) was called \d+ ms ago\)/);
  });

  it('a waiter that times out while end() waits: pg-pool\'s timeout error, its note says the pool is ending and who holds it', async () => {
    const run = async (make: Make) => {
      const pool = make({ max: 1, connectionTimeoutMillis: 300 });
      await warm(pool, 1);
      const held = await pool.connect();
      const waiter = caught(() => pool.connect());
      const ending = pool.end();
      const err = await waiter;
      held.release();
      await ending;
      return err;
    };
    const mine = await run(guarded);
    expectSameDriverError(mine, await run(plain));
    expect(mine.holders).toHaveLength(1);
    expectPoolguardLines(mine, /^poolguard\[pg-errors\]: 1 of 1 connections checked out/, /\npoolguard\[pg-errors\]: the pool is ending \(pool\.end\(\) was called \d+ ms ago\)/);
  });

  it("a waiter with no timeout, which pg-pool would leave pending for ever once ended, gets pg-pool's error for an ended pool", async () => {
    const pool = guarded({ max: 1 });
    const held = await pool.connect();
    const waiter = caught(() => pool.query('SELECT 1'));
    const ending = pool.end();
    held.release();
    await ending;
    const mine = await waiter;
    expectSameDriverError(mine, await afterEnd(plain, 'query()'));
    expectPoolguardLines(mine, /^poolguard\[pg-errors\]: the pool has ended/);
  });

  it('a second end(): pg-pool\'s "Called end on pool more than once", promise and callback', async () => {
    const run = async (make: Make) => {
      const pool = make({ max: 1 });
      await pool.end();
      const promise = await caught(() => pool.end());
      const callback = await caught(() => new Promise<void>((resolve, reject) => pool.end((err?: Error) => (err ? reject(err) : resolve()))));
      return [promise, callback] as const;
    };
    const [mine, mineCb] = await run(guarded);
    const [theirs, theirsCb] = await run(plain);
    expectSameDriverError(mine, theirs);
    expectSameDriverError(mineCb, theirsCb);
    expect(mine.message).toBe('Called end on pool more than once');
  });

  it('a second release(): pg-pool\'s "Release called on client which has already been released to the pool.", what poolguard knows in the stack', async () => {
    const run = async (make: Make) => {
      const client = await make({ max: 1 }).connect();
      client.release();
      return caught(() => client.release());
    };
    const mine = await run(guarded);
    expectSameDriverError(mine, await run(plain));
    expect(mine.message).toBe('Release called on client which has already been released to the pool.');
    expectPoolguardLines(mine, /^poolguard\[pg-errors\]: .*The connect\(\) lease #\d+ on connection #\d+, checked out \d+ ms ago/);
    expect(mine.pool).toBe('pg-errors');
    expect(mine.stack!.slice(mine.stack!.indexOf('\n    at '))).toContain('test/pg/driver-errors.test.ts');
  });

  it("a connection error is the server's, unchanged (a database that does not exist)", async () => {
    const run = (make: Make) => caught(() => make({ max: 1, connectionString: NO_DB }).query('SELECT 1'));
    const mine = await run(guarded);
    expectSameDriverError(mine, await run(plain));
    expect(mine.code).toBe('3D000');
  });
});

describe('a release during end() ends the lease (real server)', () => {
  it.each(['release()', 'release(err)', 'done()'] as const)('%s while end() waits: no leak report, no endForced, no lease in the final snapshot', async (how) => {
    const pool = guarded({ max: 2 }) as Pool;
    const seen: Array<LeakReport | EndReport> = [];
    for (const type of ['leak', 'reclaim', 'endForced'] as const) pool.guard.on(type, (r: LeakReport | EndReport) => seen.push(r));
    const client = await pool.connect();
    let done: ((err?: Error) => void) | undefined;
    if (how === 'done()') await new Promise<void>((resolve) => pool.connect((err, _c, d) => ((done = d), resolve())));
    await client.query('SELECT 1');
    const ending = pool.end();
    expect(pool.guard.snapshot().leases.length).toBeGreaterThan(0);
    if (how === 'release(err)') client.release(new Error('broken'));
    else client.release();
    done?.();
    expect(pool.guard.snapshot().leases).toEqual([]);
    await ending;
    const final = pool.guard.snapshot();
    expect(final.leases).toEqual([]);
    expect(final.counts.total).toBe(0);
    expect(seen).toEqual([]);
    expect(final.totals.reclaims).toBe(0);
  });
});

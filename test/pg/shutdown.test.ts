import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { guard, LeaseReclaimedError, type EndReport, type LeakReport, type PoolGuard } from '../../src/pg.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithCallback, leakWithPromise } from '../fixtures/leaky.mjs';
import { DATABASE_URL, sleep } from '../helpers/db.js';
import type { Annotated } from '../helpers/driver-errors.js';
import { barePool, guardedPool, warm } from '../helpers/pools.js';

const APP = 'pg_shutdown_test';

/** Settles with the outcome, or with 'pending' once `ms` pass: an end() that hangs must fail the test, not time it out. */
function within<T>(promise: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown } | 'pending'> {
  return Promise.race([promise.then((value) => ({ value }), (error: unknown) => ({ error })), sleep(ms).then(() => 'pending' as const)]);
}

function events(pool: { guard: PoolGuard }) {
  const ends: EndReport[] = [];
  const reclaims: LeakReport[] = [];
  pool.guard.on('endBlocked', (r) => ends.push(r));
  pool.guard.on('endForced', (r) => ends.push(r));
  pool.guard.on('reclaim', (r) => reclaims.push(r));
  return { ends, reclaims };
}

describe('pool.end() with a client still checked out (real server)', () => {
  it('end() resolves at guard.endTimeoutMs instead of hanging, after saying who holds it (site, age, open transaction), and the holder gets the reclaim error', async () => {
    const logged: string[] = [];
    const pool = guardedPool({ max: 2, application_name: APP, guard: { name: 'shutdown', endTimeoutMs: 600, logger: { warn: (_o: object, m: string) => logged.push(m) } } });
    const { ends, reclaims } = events(pool);
    const leaked: pg.PoolClient = await leakWithPromise(pool);
    await leaked.query('BEGIN');
    await leaked.query('SELECT 1');
    const started = performance.now();
    const outcome = await within(pool.end(), 3_000);
    const tookMs = performance.now() - started;
    expect(outcome).toEqual({ value: undefined });
    expect(tookMs).toBeGreaterThanOrEqual(590);
    expect(tookMs).toBeLessThan(2_500);
    expect(pool.ended).toBe(true);
    expect(pool.totalCount).toBe(0);

    expect(ends.map((e) => [e.type, e.call, e.endTimeoutMs])).toEqual([
      ['endBlocked', 'pool.end()', 600],
      ['endForced', 'pool.end()', 600],
    ]);
    const [blocked, forced] = ends as [EndReport, EndReport];
    expect(blocked.waitedMs).toBeGreaterThanOrEqual(299);
    expect(blocked.waitedMs).toBeLessThan(600);
    expect(blocked.leases).toHaveLength(1);
    expect(blocked.leases[0]).toMatchObject({ kind: 'connect', site: 'test/fixtures/leaky.mjs:5:29', transaction: 'open', inFlight: false });
    expect(blocked.leases[0]!.idleMs).toBeGreaterThan(250);
    expect(blocked.message).toMatch(/^poolguard\[shutdown\]: pool\.end\(\) has waited \d+ ms for 1 checked-out connection, and cannot finish until it comes back\. Held by:\n/);
    expect(blocked.message).toMatch(/  lease \d+ \(connect\) from test\/fixtures\/leaky\.mjs:5:29: held \d+ ms, nothing in flight for \d+ ms, inside an open transaction \(BEGIN without COMMIT: its locks block other sessions\)\n/);
    expect(forced.leases.map((l) => l.site)).toEqual(['test/fixtures/leaky.mjs:5:29']);
    expect(forced.message).toContain('pool.end() reached guard.endTimeoutMs (600 ms) with 1 connection still checked out; poolguard reclaimed it so that pool.end() can finish');
    expect(reclaims.map((r) => r.site)).toEqual(['test/fixtures/leaky.mjs:5:29']);
    expect(logged).toEqual([blocked.message, forced.message]);

    const err = (await leaked.query('COMMIT').catch((e: unknown) => e)) as LeaseReclaimedError;
    expect(err).toBeInstanceOf(LeaseReclaimedError);
    expect(err.reason).toBe('end');
    expect(err.message).toContain('reclaimed because the pool is shutting down: pool.end() waited 600 ms (guard.endTimeoutMs) for it');
    expect(() => leaked.release()).not.toThrow();
    expect(pool.guard.snapshot().leases).toEqual([]);
    expect(pool.guard.snapshot().totals.reclaims).toBe(1);
  });

  it('the callback form of end() is called back at the deadline too, on a pool guarded with guard()', async () => {
    const pool = barePool({ max: 1, application_name: APP });
    guard(pool, { name: 'shutdown-cb', endTimeoutMs: 300, logger: false });
    const { ends } = events(pool as unknown as { guard: PoolGuard });
    const { client } = (await leakWithCallback(pool)) as { client: pg.PoolClient };
    const started = performance.now();
    let returned: unknown = 'not yet';
    const ended = new Promise<Error | undefined>((resolve) => {
      returned = pool.end((err?: Error) => resolve(err));
    });
    expect(returned).toBeUndefined();
    expect(await within(ended, 3_000)).toEqual({ value: undefined });
    expect(performance.now() - started).toBeLessThan(2_500);
    expect(ends.map((e) => e.type)).toEqual(['endBlocked', 'endForced']);
    expect(ends[0]!.leases[0]).toMatchObject({ site: 'test/fixtures/leaky.mjs:11:10', transaction: undefined });
    const err = await new Promise<Error>((resolve) => client.query('SELECT 1', (e: Error) => resolve(e)));
    expect(err).toBeInstanceOf(LeaseReclaimedError);
  });

  it('a client with a query still running at the deadline does not hold end() either', async () => {
    const pool = guardedPool({ max: 1, application_name: APP, guard: { endTimeoutMs: 300 } });
    const { ends } = events(pool);
    const client: pg.PoolClient = await leakWithPromise(pool);
    const running = client.query('SELECT pg_sleep(30)').catch((e: unknown) => e);
    await sleep(50);
    expect(await within(pool.end(), 3_000)).toEqual({ value: undefined });
    expect(ends[0]!.leases[0]).toMatchObject({ idleMs: 0, inFlight: true, transaction: undefined });
    expect(ends[0]!.message).toContain('a query in flight');
    expect(await within(running, 2_000)).toMatchObject({ value: expect.any(Error) });
  });

  it('with guard.endTimeoutMs: 0, end() waits for the holder as pg does, and finishes when it releases', async () => {
    const pool = guardedPool({ max: 1, application_name: APP, guard: { endTimeoutMs: 0 } });
    const { ends, reclaims } = events(pool);
    const client: pg.PoolClient = await leakWithPromise(pool);
    const ending = pool.end();
    expect(await within(ending, 1_300)).toBe('pending');
    expect(ends.map((e) => e.type)).toEqual(['endBlocked']);
    expect(reclaims).toEqual([]);
    client.release();
    expect(await within(ending, 2_000)).toEqual({ value: undefined });
  });
});

describe('callers refused while the pool ends get pg\'s own error, its stack saying that the pool ends (real server)', () => {
  it('a waiter that times out during end() gets pg\'s own timeout error; its stack names the holders and says that the pool is ending', async () => {
    const pool = guardedPool({ max: 1, connectionTimeoutMillis: 300, application_name: APP, guard: { name: 'ending', endTimeoutMs: 0 } });
    await warm(pool, 1);
    const client: pg.PoolClient = await leakWithPromise(pool);
    const waiter = pool.connect().catch((e: unknown) => e);
    await sleep(100);
    void pool.end();
    const err = (await waiter) as Annotated;
    expect(Object.getPrototypeOf(err)).toBe(Error.prototype);
    expect(err.code).toBeUndefined();
    expect(err.message).toBe('timeout exceeded when trying to connect');
    expect(err.poolguard).toMatch(/\npoolguard\[ending\]: the pool is ending \(pool\.end\(\) was called \d+ ms ago\); this checkout can no longer be served\. Stop taking work/);
    // end() came after the checkout, so it is younger than the 300 ms the checkout waited.
    expect(Number(/was called (\d+) ms ago/.exec(err.poolguard!)![1])).toBeLessThan(300);
    expect(err.holders).toHaveLength(1);
    expect(err.stack).toContain(err.poolguard);
    expect(err.stack).toContain('shutdown.test.ts');
    client.release();
  });

  it('a checkout after end() gets pg\'s "Cannot use a pool after calling end on the pool", the same Error and message, the note in its stack (promise and callback)', async () => {
    const pool = guardedPool({ application_name: APP, guard: { name: 'ended' } });
    await pool.query('SELECT 1');
    await pool.end();
    const note = /^Error: Cannot use a pool after calling end on the pool\npoolguard\[ended\]: the pool has ended \(pool\.end\(\) was called \d+ ms ago and finished \d+ ms ago\); this checkout can no longer be served\./;
    const err = (await pool.connect().catch((e: unknown) => e)) as Error;
    expect(Object.getPrototypeOf(err)).toBe(Error.prototype);
    expect(err.message).toBe('Cannot use a pool after calling end on the pool');
    expect(err.stack).toMatch(note);
    const cbErr = await new Promise<Error>((resolve) => pool.connect((e) => resolve(e!)));
    expect(cbErr.message).toBe('Cannot use a pool after calling end on the pool');
    expect(cbErr.stack).toMatch(note);
    const queryErr = (await pool.query('SELECT 1').catch((e: unknown) => e)) as Error;
    expect(queryErr.message).toBe('Cannot use a pool after calling end on the pool');
    expect(queryErr.stack).toMatch(note);
    expect(pool.guard.snapshot().counts.waiting).toBe(0);
  });

  it('a waiter with no connectionTimeoutMillis, which an ended pg pool would leave pending for ever, is failed when the end finishes', async () => {
    const pool = guardedPool({ max: 1, application_name: APP, guard: { name: 'stranded', endTimeoutMs: 300 } });
    await leakWithPromise(pool);
    const waiter = pool.query('SELECT 1');
    await sleep(20);
    expect(await within(pool.end(), 3_000)).toEqual({ value: undefined });
    const outcome = await within(waiter, 1_000);
    expect(outcome).not.toBe('pending');
    const err = (outcome as { error: Error }).error;
    expect(err.message).toBe('Cannot use a pool after calling end on the pool');
    expect(err.stack).toMatch(/^Error: Cannot use a pool after calling end on the pool\npoolguard\[stranded\]: the pool has ended/);
    expect(pool.guard.snapshot().counts.waiting).toBe(0);
    expect(pool.guard.snapshot().leases).toEqual([]);
  });

  it('bare pg for comparison: end() with a client out does not resolve, and a queued waiter never settles', async () => {
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1, application_name: APP });
    const client = await pool.connect();
    const waiter = pool.query('SELECT 1');
    const ending = pool.end();
    expect(await within(ending, 700)).toBe('pending');
    client.release();
    expect(await within(ending, 2_000)).toEqual({ value: undefined });
    expect(await within(waiter, 300)).toBe('pending');
  });
});

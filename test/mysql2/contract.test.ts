import { createRequire } from 'node:module';
import mysql from 'mysql2';
import { describe, expect, it } from 'vitest';
import { CheckoutTimeoutError } from '../../src/mysql2.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithCallback, leakWithPromise } from '../fixtures/mysql-leaky.mjs';
import { sleep } from '../helpers/db.js';
import { bareMysqlPool, guardedMysqlPool, guardedPromisePool } from '../helpers/mysql-pools.js';

const FIXTURE = 'test/fixtures/mysql-leaky.mjs';
const require = createRequire(import.meta.url);
// The classes mysql2's own contract test reads (lib/base/pool.js is not in its exports map).
const mysqlDir = require.resolve('mysql2').replace(/index\.js$/, '');
const BasePool = require(`${mysqlDir}lib/base/pool.js`) as { prototype: Record<string, unknown> };

type Failure = { err: Error; message: string; name: string; code: unknown; ctor: unknown; own: string[] };
const failure = (err: Error): Failure => ({ err, message: err.message, name: err.name, code: (err as { code?: unknown }).code, ctor: err.constructor, own: Object.keys(err) });

/** What a pool (bare or guarded) answers to the same misuse. */
async function closedAnswers(pool: mysql.Pool): Promise<{ queued: Failure; after: Failure; query: Failure; execute: Failure; promise: Failure }> {
  const held = await new Promise<mysql.PoolConnection>((res, rej) => pool.getConnection((e, c) => (e ? rej(e) : res(c))));
  const queued = new Promise<Error>((res) => pool.getConnection((e) => res(e!)));
  await sleep(10);
  const ended = new Promise<void>((res) => pool.end(() => res()));
  const queuedErr = await queued;
  held.release();
  await ended;
  const after = await new Promise<Error>((res) => pool.getConnection((e) => res(e!)));
  const query = await new Promise<Error>((res) => pool.query('SELECT 1', (e) => res(e!)));
  const execute = await new Promise<Error>((res) => pool.execute('SELECT 1', (e) => res(e!)));
  const promise = (await pool.promise().query('SELECT 1').catch((e: Error) => e)) as Error;
  return { queued: failure(queuedErr), after: failure(after), query: failure(query), execute: failure(execute), promise: failure(promise) };
}

describe("mysql2's own contracts hold on a guarded pool", () => {
  it('getConnection is inherited from BasePool.prototype, never an own property, on a created or a guard()ed pool', async () => {
    const pool = guardedMysqlPool();
    expect(Object.prototype.hasOwnProperty.call(pool, 'getConnection')).toBe(false);
    expect(pool.getConnection).toBe(BasePool.prototype.getConnection);
    for (const method of ['query', 'execute', 'releaseConnection', 'end', 'promise']) {
      expect(Object.prototype.hasOwnProperty.call(pool, method), method).toBe(false);
    }
    expect((pool as unknown as { _getConnection?: unknown })._getConnection).toBeUndefined();
    const { guard } = await import('../../src/mysql2.js');
    const bare = bareMysqlPool();
    guard(bare, { logger: false });
    expect(Object.prototype.hasOwnProperty.call(bare, 'getConnection')).toBe(false);
    expect(bare.getConnection).toBe(BasePool.prototype.getConnection);
  });

  it('instrumentation that wraps the prototype after the pool exists sees the guarded pool’s checkouts, and the guard still names the line', async () => {
    // An agent's wrapper lives in node_modules, which site finding skips; this spy is in this file.
    const pool = guardedPromisePool({ connectionLimit: 1, guard: { leakThresholdMs: 100, ignoreFrames: ['test/mysql2/contract.test.ts'] } });
    await pool.query('SELECT 1');
    const original = BasePool.prototype.getConnection as Function;
    const seen: unknown[] = [];
    BasePool.prototype.getConnection = function spied(this: unknown, ...args: unknown[]) {
      seen.push(this);
      return original.apply(this, args);
    };
    try {
      const leaks: string[] = [];
      pool.guard.on('leak', (r) => leaks.push(r.site ?? 'none'));
      const conn = await leakWithPromise(pool);
      expect(seen).toContain(pool.pool);
      await sleep(400);
      expect(leaks).toEqual([`${FIXTURE}:5:33`]);
      conn.release();
    } finally {
      BasePool.prototype.getConnection = original;
    }
  });

  it("a driver error keeps its class, code and message byte for byte ('Pool is closed.'); poolguard's note is a field and a log line", async () => {
    const bare = await closedAnswers(bareMysqlPool({ connectionLimit: 1 }));
    const lines: string[] = [];
    const pool = guardedMysqlPool({ connectionLimit: 1, guard: { logger: { warn: (_o, msg) => lines.push(msg) } } });
    const guarded = await closedAnswers(pool);
    for (const key of ['queued', 'after', 'query', 'execute', 'promise'] as const) {
      expect(guarded[key].message, key).toBe('Pool is closed.');
      expect(guarded[key].message, key).toBe(bare[key].message);
      expect(guarded[key].name, key).toBe(bare[key].name);
      expect(guarded[key].code, key).toBe(bare[key].code);
      expect(guarded[key].ctor, key).toBe(bare[key].ctor);
      expect(guarded[key].err.stack?.split('\n')[0], key).toBe('Error: Pool is closed.');
    }
    // What poolguard knows goes beside the message: the pool, and why it refused.
    expect(guarded.queued.err).toMatchObject({ pool: '127.0.0.1:3306/test' });
    expect((guarded.queued.err as { poolguard?: string }).poolguard).toMatch(/^poolguard\[127\.0\.0\.1:3306\/test\]: the pool (is ending|has ended) \(pool\.end\(\) was called \d+ ms ago/);
    expect(lines.filter((l) => /^poolguard\[127\.0\.0\.1:3306\/test\]: the pool (is ending|has ended)/.test(l)).length).toBeGreaterThanOrEqual(1);
  });

  it("mysql2's other refusals are its own too: 'No connections available.', 'Queue limit reached.'", async () => {
    const answers = async (pool: mysql.Pool, options: { waitForConnections: boolean }) => {
      const held = await new Promise<mysql.PoolConnection>((res, rej) => pool.getConnection((e, c) => (e ? rej(e) : res(c))));
      const errs: Error[] = [];
      if (options.waitForConnections) pool.getConnection(() => {});
      await new Promise<void>((res) => pool.getConnection((e) => (errs.push(e!), res())));
      held.release();
      return errs.map(failure);
    };
    for (const options of [{ waitForConnections: false }, { waitForConnections: true, queueLimit: 1 }]) {
      const bare = await answers(bareMysqlPool({ connectionLimit: 1, ...options }), options);
      const guarded = await answers(guardedMysqlPool({ connectionLimit: 1, ...options }), options);
      expect(guarded.map((f) => [f.message, f.name, f.code, f.ctor])).toEqual(bare.map((f) => [f.message, f.name, f.code, f.ctor]));
      expect(guarded[0]!.message).toMatch(/^(No connections available\.|Queue limit reached\.)$/);
    }
  });

  it("poolguard's own timeout error is poolguard's, and names the holder's line (callback API)", async () => {
    const pool = guardedMysqlPool({ connectionLimit: 1, guard: { acquireTimeoutMs: 100 } });
    const held = await leakWithCallback(pool);
    const err = await new Promise<Error>((res) => pool.getConnection((e) => res(e!)));
    expect(err).toBeInstanceOf(CheckoutTimeoutError);
    expect(err.message).toContain(`${FIXTURE}:11:10`);
    held.release();
  });
});

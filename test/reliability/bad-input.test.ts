import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { audit } from '../../src/index.js';
import { createPool, guard as guardGeneric } from '../../src/generic-pool.js';
import { Pool, guard as guardPg } from '../../src/pg.js';
import { DATABASE_URL, until } from '../helpers/db.js';
import { barePool, guardedPool } from '../helpers/pools.js';

// Every value paired with the error it must produce, whichever entry point receives it.
const BAD: Array<[string, unknown, ErrorConstructor, RegExp]> = [
  ['negative threshold', { leakThresholdMs: -5 }, RangeError, /^guard\.leakThresholdMs must be ≥ 0, got -5$/],
  ['NaN', { idleAfterMs: NaN }, TypeError, /^guard\.idleAfterMs must be a number of milliseconds, got NaN$/],
  ['Infinity', { reclaimAfterMs: Infinity }, RangeError, /^guard\.reclaimAfterMs must be at most 2147483647 .*got Infinity$/],
  ['huge', { maxLifetimeMs: 1e15 }, RangeError, /^guard\.maxLifetimeMs must be at most 2147483647 .*got 1000000000000000$/],
  ['string number', { leakThresholdMs: '100' }, TypeError, /guard\.leakThresholdMs must be a number of milliseconds, got "100"/],
  ['bigint', { leakThresholdMs: 10n }, TypeError, /got 10n/],
  ['negative jitter', { lifetimeJitter: -0.1 }, RangeError, /guard\.lifetimeJitter must be from 0 to 0\.5/],
  ['fractional uses', { maxUses: 1.5 }, TypeError, /guard\.maxUses must be a whole number/],
  ['percent over 100', { reclaimWhenUsedPercent: 150 }, RangeError, /guard\.reclaimWhenUsedPercent must be from 0 to 100, got 150/],
  ['typo', { leakThreshold: 100 }, TypeError, /^guard\.leakThreshold is not a poolguard option\. Did you mean guard\.leakThresholdMs\?/],
  ['case typo', { reclaimafterms: 1 }, TypeError, /Did you mean guard\.reclaimAfterMs\?/],
  ['unknown key', { flux: 1 }, TypeError, /^guard\.flux is not a poolguard option\. The options are listed in the README\.$/],
  ['enum', { captureStacks: 'every' }, TypeError, /guard\.captureStacks must be one of 'connect', 'all', 'adaptive', 'none', got "every"/],
  ['logger without warn', { logger: { info() {} } }, TypeError, /guard\.logger must be false or an object with a warn\(obj, msg\) method/],
  ['validate not a function', { validate: 'SELECT 1' }, TypeError, /guard\.validate must be a function/],
  ['meter provider', { meterProvider: {} }, TypeError, /guard\.meterProvider must be an OpenTelemetry MeterProvider/],
  ['empty name', { name: '   ' }, TypeError, /guard\.name must be a non-empty string/],
  ['long name', { name: 'x'.repeat(500) }, RangeError, /guard\.name must be at most 200 characters, got 500/],
  ['not an object', 42, TypeError, /^guard must be an options object, got 42$/],
  ['array', [], TypeError, /^guard must be an options object, got an array$/],
];

const factory = { create: async () => ({}), destroy: async () => {} };

const ENTRY_POINTS: Array<[string, (guardOptions: unknown) => unknown]> = [
  ['new Pool({ guard })', (g) => new Pool({ connectionString: DATABASE_URL, guard: g as never })],
  ['guard(pg.Pool, options)', (g) => guardPg(new pg.Pool({ connectionString: DATABASE_URL }), g as never)],
  ['createPool(factory, { guard })', (g) => createPool(factory, { max: 1, guard: g as never })],
  ['guard(genericPool, options)', async (g) => guardGeneric((await import('generic-pool')).createPool(factory, { max: 1 }), g as never)],
];

describe('bad input, at every public entry point', () => {
  for (const [entry, make] of ENTRY_POINTS) {
    it.each(BAD)(`${entry}: %s is refused at construction with the option and value named`, async (_label, value, type, message) => {
      let err: unknown;
      try {
        await make(value);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(type);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('hostile names cannot forge log lines or break reports', async () => {
    const lines: string[] = [];
    const pool = guardedPool({ max: 1, guard: { name: 'orders\n\u001b[31mFAKE ALERT\u0007', leakThresholdMs: 20, idleAfterMs: 5, logger: { warn: (_o, m) => lines.push(m) } } });
    expect(pool.guard.name).toBe('orders??[31mFAKE ALERT?');
    const c = await pool.connect();
    await until(() => lines.length > 0, 'a leak line');
    c.release();
    for (const line of lines) expect(line.split('\n')[0]).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  });

  it('guard() and audit() refuse what is not a pool, naming what they got', async () => {
    expect(() => guardPg(undefined as never)).toThrow(/guard\(pool\) needs a pg\.Pool .*got undefined/);
    expect(() => guardGeneric('pool' as never)).toThrow(/guard\(pool\) needs a generic-pool Pool .*got string/);
    await expect(audit(42 as never)).rejects.toThrow(TypeError);
  });

  it('touch() with anything is harmless', () => {
    const pool = guardedPool();
    for (const v of [undefined, null, 42, 'x', {}, Symbol('s')]) expect(() => pool.guard.touch(v)).not.toThrow();
  });
});

describe('code that throws never corrupts the pool', () => {
  it('a throwing listener, logger and validate function: the pool keeps serving', async () => {
    let validated = 0;
    const pool = guardedPool({
      max: 2,
      guard: {
        leakThresholdMs: 20,
        idleAfterMs: 5,
        validateAfterIdleMs: 1,
        validate: () => {
          validated++;
          throw new Error('validate bug');
        },
        logger: {
          warn: () => {
            throw new Error('logger bug');
          },
        },
      },
    });
    for (const e of ['leak', 'leakResolved', 'retire', 'dirtyRelease'] as const) {
      pool.guard.on(e, () => {
        throw new Error(`${e} listener bug`);
      });
    }
    const c = await pool.connect();
    await c.query('BEGIN');
    // Reported (its listener throws) whenever the scan comes round, which on a loaded machine is late.
    await until(() => pool.guard.snapshot().totals.leaks === 1, 'the leak report');
    c.release(); // dirty, resolved: both listeners throw
    expect(pool.guard.snapshot().totals).toMatchObject({ leaks: 1, leaksResolved: 1, dirtyReleases: 1 });
    await new Promise((r) => setTimeout(r, 10));
    // validate throws: the idle connection is discarded; a fresh one serves
    const { rows } = await pool.query('SELECT 7 AS n');
    expect(rows).toEqual([{ n: 7 }]);
    // On a loaded machine the query's own lease can outlast the 20 ms threshold and be reported as
    // slow, then resolved: every report is still resolved, and the dirty release counted once.
    const totals = pool.guard.snapshot().totals;
    expect(totals.leaksResolved).toBe(totals.leaks);
    expect(totals.dirtyReleases).toBe(1);
    expect(pool.totalCount).toBeLessThanOrEqual(2);
    expect(validated).toBeGreaterThanOrEqual(0);
  });

  it('a generic-pool factory that throws reaches generic-pool’s event, and the pool recovers', async () => {
    let n = 0;
    const pool = createPool(
      {
        create: async () => {
          if (n++ === 0) throw new Error('create failed');
          return { n };
        },
        destroy: async () => {},
      },
      { max: 1, guard: { logger: false } },
    );
    const errors: string[] = [];
    pool.on('factoryCreateError', (e) => errors.push((e as Error).message));
    const r = await pool.acquire();
    expect(errors).toEqual(['create failed']);
    await pool.release(r);
    expect(pool.guard.snapshot().totals).toMatchObject({ created: 1, checkouts: 1 });
    await pool.drain();
    await pool.clear();
  });

  it('a bare pool keeps its own error semantics after guard(): pg errors pass through unchanged', async () => {
    const pool = barePool();
    guardPg(pool, { logger: false });
    const err = (await pool.query('SELECT * FROM no_such_table').catch((e: Error) => e)) as Error & { code: string };
    expect(err.code).toBe('42P01');
    expect((await pool.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
  });
});

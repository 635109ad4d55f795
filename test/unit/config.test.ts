import { describe, expect, it } from 'vitest';
import { GUARD_DEFAULTS, resolveGuardConfig } from '../../src/core/config.js';
import { Pool } from '../../src/pg.js';

describe('guard options', () => {
  it('fills documented defaults and freezes the result', () => {
    const c = resolveGuardConfig(undefined, 'db');
    expect(c).toMatchObject({ name: 'db', leakThresholdMs: 10_000, idleAfterMs: 1_000, reportBusy: true, reclaimAfterMs: 0, captureStacks: 'adaptive', stackSampleRate: 1, releaseStacks: 'auto', auditOnStart: false });
    expect(c.stackDepth).toBe(30);
    expect(c).toMatchObject(GUARD_DEFAULTS);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it.each([
    [{ leakThresholdMs: -5 }, RangeError, 'guard.leakThresholdMs must be ≥ 0, got -5'],
    [{ leakThresholdMs: NaN }, TypeError, 'guard.leakThresholdMs must be a number of milliseconds, got NaN'],
    [{ leakThresholdMs: '30s' }, TypeError, 'guard.leakThresholdMs must be a number of milliseconds, got "30s"'],
    [{ leakThresholdMs: Infinity }, RangeError, 'guard.leakThresholdMs must be at most 2147483647 (about 24.8 days), got Infinity'],
    [{ idleAfterMs: -1 }, RangeError, 'guard.idleAfterMs must be ≥ 0, got -1'],
    [{ reclaimAfterMs: 1e12 }, RangeError, 'guard.reclaimAfterMs must be at most 2147483647 (about 24.8 days), got 1000000000000'],
    [{ reclaimWhenUsedPercent: 101 }, RangeError, 'guard.reclaimWhenUsedPercent must be from 0 to 100, got 101'],
    [{ reportBusy: 'yes' }, TypeError, 'guard.reportBusy must be true or false, got "yes"'],
    [{ auditOnStart: 1 }, TypeError, 'guard.auditOnStart must be true or false, got 1'],
    [{ auditOnstart: true }, TypeError, 'guard.auditOnstart is not a poolguard option. Did you mean guard.auditOnStart?'],
    [{ captureStacks: 'some' }, TypeError, "guard.captureStacks must be one of 'connect', 'all', 'adaptive', 'none', got \"some\""],
    [{ releaseStacks: true }, TypeError, "guard.releaseStacks must be one of 'auto', 'always', 'never', got true"],
    [{ stackSampleRate: 0 }, RangeError, "guard.stackSampleRate must be greater than 0 and at most 1 (use captureStacks: 'none' to turn capture off), got 0"],
    [{ stackSampleRate: 2 }, RangeError, 'guard.stackSampleRate must be greater than 0 and at most 1'],
    [{ stackDepth: 2.5 }, TypeError, 'guard.stackDepth must be a whole number from 1 to 200, got 2.5'],
    [{ stackDepth: 0 }, RangeError, 'guard.stackDepth must be from 1 to 200, got 0'],
    [{ ignoreFrames: 'orm' }, TypeError, 'guard.ignoreFrames must be an array of strings or regular expressions, got "orm"'],
    [{ ignoreFrames: ['ok', 3] }, TypeError, 'guard.ignoreFrames[1] must be a non-empty string or a regular expression, got 3'],
    [{ exemptSites: 'listen.js' }, TypeError, 'guard.exemptSites must be an array of strings or regular expressions, got "listen.js"'],
    [{ exemptSites: [/ok/, ''] }, TypeError, 'guard.exemptSites[1] must be a non-empty string or a regular expression, got ""'],
    [{ exemptSite: [] }, TypeError, 'guard.exemptSite is not a poolguard option. Did you mean guard.exemptSites?'],
    [{ logger: console.log }, TypeError, 'guard.logger must be false or an object with a warn(obj, msg) method (pino, bunyan, console), got a function'],
    [{ logger: {} }, TypeError, 'guard.logger must be false or an object with a warn(obj, msg) method'],
    [{ name: '' }, TypeError, 'guard.name must be a non-empty string, got ""'],
    [{ name: 42 }, TypeError, 'guard.name must be a non-empty string, got 42'],
    [{ leakTresholdMs: 5 }, TypeError, 'guard.leakTresholdMs is not a poolguard option. Did you mean guard.leakThresholdMs?'],
    [{ reclaimAfter: 5 }, TypeError, 'guard.reclaimAfter is not a poolguard option. Did you mean guard.reclaimAfterMs?'],
    [{ wholly: 1 }, TypeError, 'guard.wholly is not a poolguard option. The options are listed in the README.'],
    ['on', TypeError, 'guard must be an options object, got "on"'],
    [[1], TypeError, 'guard must be an options object, got an array'],
  ])('%j is rejected: %s', (options, type, message) => {
    let err: unknown;
    try {
      resolveGuardConfig(options, 'db');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(type);
    expect((err as Error).message).toContain(message);
  });

  it('control characters in a name cannot forge log lines', () => {
    expect(resolveGuardConfig({ name: 'orders\nFAKE LINE' }, 'db').name).toBe('orders?FAKE LINE');
  });

  it('the Pool constructor throws before any connection is made, and pg options pass through', () => {
    expect(() => new Pool({ max: 3, guard: { leakThresholdMs: -5 } })).toThrow(new RangeError('guard.leakThresholdMs must be ≥ 0, got -5'));
    const pool = new Pool({ max: 3, idleTimeoutMillis: 5, guard: { name: 'orders-db' } });
    expect(pool.options.max).toBe(3);
    expect(pool.options.idleTimeoutMillis).toBe(5);
    expect(pool.guard.name).toBe('orders-db');
    expect(pool.totalCount).toBe(0);
    return pool.end();
  });

  it('derives a default name from host, port and database, never the user or password', () => {
    const pool = new Pool({ connectionString: 'postgres://alice:s3cret@db.internal:6543/orders?sslmode=disable' });
    expect(pool.guard.name).toBe('db.internal:6543/orders');
    const p2 = new Pool({ host: 'h', port: 1, database: 'd', user: 'u', password: 'p' });
    expect(p2.guard.name).toBe('h:1/d');
    return Promise.all([pool.end(), p2.end()]);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { runJsonScript } from '../helpers/scripts.js';

/**
 * Issue 16.6: two copies of poolguard in one process (its CommonJS and ESM builds both loaded,
 * by package name as a service and its dependencies would). The fixture runs in its own process
 * against the real server and reports what each cross-copy operation did.
 */
let out: Record<string, any>;
beforeAll(() => {
  const { status, stderr, result } = runJsonScript('test/fixtures/two-copies.mjs');
  expect(status, stderr).toBe(0);
  out = result;
}, 60_000);

describe('two copies of poolguard in one process (CommonJS and ESM builds)', () => {
  it('the fixture really loads two copies: two Pool classes, two error classes', () => {
    expect(out.twoCopies).toBe(true);
  });

  it('guarding is idempotent across copies: guard() from one copy on a pool of the other returns its handle, without throwing', () => {
    expect(out.esmGuardOnCjsPool).toEqual({ sameHandle: true });
    expect(out.cjsGuardOnEsmPool).toEqual({ sameHandle: true });
    expect(out.bareTwice).toEqual({ sameHandle: true, wrappedOnce: true, sameOptionsSilent: true });
    expect(out.bareCheckouts).toBe(1);
    expect(out.genericTwice).toEqual({ sameHandle: true, wrappedOnce: true });
    expect(out.esmGuardOnCjsGenericPool).toEqual({ sameHandle: true });
  });

  it('a second guard() with different options warns once, naming the options it did not apply', () => {
    expect(out.differentOptionsWarning).toEqual([
      "poolguard[contain-bare]: guard() was called on a pool that is already guarded, with different options (guard.leakThresholdMs); the first guard's options stay in force and these were not applied. Guard each pool once, where it is created, with all its options.",
    ]);
  });

  it('errors are recognisable across copies: the same code, and instanceof holds with either copy’s class', () => {
    expect(out.timeout).toEqual({
      code: 'POOLGUARD_CHECKOUT_TIMEOUT',
      cjsInstanceofCjs: true,
      cjsInstanceofEsm: true,
      esmInstanceofCjs: true,
      instanceofError: true,
      notADoubleRelease: true,
      plainErrorIsNot: true,
    });
  });

  it('two live pools that share a name warn once, whichever copy built them; a name freed by an ended pool does not', () => {
    expect(out.sharedName).toEqual([
      "poolguard[contain-shared]: another live pool is already guarded under the name 'contain-shared': their metrics (db.client.connection.pool.name) and reports would merge. Give each pool its own guard.name.",
    ]);
    expect(out.reusedAfterEnd).toEqual([]);
  });
});

describe('soak with both module formats (short version of benchmarks/soak-two-copies.mjs)', () => {
  it('under load with leaks, timeouts and synchronous failures, through both copies: zero crashes, zero unsettled callers, zero leases left in the ledger', () => {
    const { status, result } = runJsonScript('benchmarks/soak-two-copies.mjs', ['--duration', '3', '--json']);
    expect(status, JSON.stringify(result)).toBe(0);
    expect([result.sameHandle, result.crossGuarded, result.crashes, result.unsettled]).toEqual([true, true, [], 0]);
    expect(result.calls).toBeGreaterThan(500);
    expect(result.syncThrows).toBeGreaterThan(0);
    expect(result.leaksInjected).toBeGreaterThan(0);
    for (const ledger of Object.values(result.ledgers) as Array<{ leased: number; leases: number }>) expect([ledger.leased, ledger.leases]).toEqual([0, 0]);
  }, 60_000);
});

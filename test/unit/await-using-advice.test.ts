// The next step that leak reports and the timeout error give for a forgotten lease: `await using`
// (in the adapter's words) where the runtime runs it, try/finally where it does not or where the
// adapter's leases are not disposable. CI runs this file on Node 20, 22, 24 and 26.
import { describe, expect, it } from 'vitest';
import { NATIVE_AWAIT_USING } from '../../src/core/await-using.js';
import { resolveGuardConfig } from '../../src/core/config.js';
import { GuardCore } from '../../src/core/guard.js';
import { resolveWords, type AdapterHooks } from '../../src/core/hooks.js';
import { describeHolders } from '../../src/core/timeouts.js';
import type { GroupKinds } from '../../src/core/views.js';
import type { LeaseKind } from '../../src/core/ledger.js';
import type { HolderGroup, LeakReport } from '../../src/core/types.js';
import { FakeClock } from '../helpers/fake-clock.js';

const USING = 'await using client = await pool.connect()';

/** The leak report of one idle lease of `kind`, on a core whose adapter gives `awaitUsing` (or not). */
function leakMessage(kind: LeaseKind, awaitUsing: string | undefined, transaction?: 'open' | 'failed'): string {
  const clock = new FakeClock();
  const hooks: AdapterHooks = {
    inFlight: () => false,
    transaction: () => transaction,
    reclaim: () => {},
    counts: () => ({ total: 1, idle: 0, waiting: 0, max: 1, min: 0 }),
    words: awaitUsing === undefined ? {} : { awaitUsing },
  };
  const core = new GuardCore(resolveGuardConfig({ logger: false, leakThresholdMs: 1_000, captureStacks: 'none' }, 'p'), hooks, clock);
  const reports: LeakReport[] = [];
  core.handle.on('leak', (r) => reports.push(r));
  core.checkoutGranted(core.checkoutRequested(kind, undefined), core.connectionOpened({}));
  clock.advance(2_500);
  expect(reports).toHaveLength(1);
  return reports[0]!.message;
}

const holder = (inTransaction: number): HolderGroup => ({ site: 'src/orders.js:13:29', hint: undefined, trace: undefined, count: 2, oldestHeldMs: 4_000, idle: 2, busy: 0, inTransaction });

describe('the runtime check', () => {
  it('finds `await using` exactly on the Node lines that run it (24 and later)', () => {
    expect(NATIVE_AWAIT_USING).toBe(Number(process.versions.node.split('.')[0]) >= 24);
  });

  it('gives the adapter’s form only where the runtime runs it', () => {
    const hooks = { inFlight: () => undefined, reclaim: () => {}, counts: () => ({ total: 0, idle: 0, waiting: 0, max: 1, min: 0 }) };
    expect(resolveWords({ ...hooks, words: { awaitUsing: USING } }, true).awaitUsing).toBe(USING);
    expect(resolveWords({ ...hooks, words: { awaitUsing: USING } }, false).awaitUsing).toBeUndefined();
    expect(resolveWords(hooks, true).awaitUsing).toBeUndefined();
  });
});

describe('a leak report’s next step', () => {
  it('on this runtime, for an adapter whose leases are disposable', () => {
    expect(leakMessage('connect', USING)).toMatch(
      NATIVE_AWAIT_USING
        ? /held 1\.\d s with no query in flight.*\. Release it on every path at that line: use "await using client = await pool\.connect\(\)" or release it in a finally block\.$/
        : /held 1\.\d s with no query in flight.*\. Release it on every path \(try\/finally\) at that line\.$/,
    );
    expect(leakMessage('connect', USING, 'open')).toMatch(
      NATIVE_AWAIT_USING
        ? /Add the missing COMMIT or ROLLBACK at that line, and release\(\) in a finally block, or take it with "await using client = await pool\.connect\(\)"\.$/
        : /Add the missing COMMIT or ROLLBACK at that line, and release\(\) in a finally block\.$/,
    );
  });

  it('is try/finally for an adapter without a disposable lease, and for a data layer’s transaction', () => {
    expect(leakMessage('connect', undefined)).toMatch(/Release it on every path \(try\/finally\) at that line\.$/);
    expect(leakMessage('transaction', USING, 'open')).toMatch(/call commit\(\) or rollback\(\) on every path \(try\/finally\), wherever the transaction object was passed to/);
  });
});

describe('the timeout error’s Next:', () => {
  const hooks: AdapterHooks = { inFlight: () => undefined, reclaim: () => {}, counts: () => ({ total: 0, idle: 0, waiting: 0, max: 1, min: 0 }), words: { library: 'pg', lent: 'client', sessions: 'pg_stat_activity', awaitUsing: USING } };
  const kinds = new Map<string, GroupKinds>([['src/orders.js:13:29', { idle: new Set(['connect']), inTransaction: new Set(['connect']) }]]);
  const next = (inTransaction: number, native: boolean) => describeHolders('p', [holder(inTransaction)], 2, 2, 1, 'a query in flight', resolveWords(hooks, native), kinds).split('\n').at(-1);

  it('advises `await using` where the runtime runs it', () => {
    expect(next(0, true)).toBe(
      'Next: release the client in a finally block, or take it with "await using client = await pool.connect()" at the site with idle leases; guard.reclaimAfterMs recovers them meanwhile. Details: err.holders, pool.guard.snapshot().',
    );
    expect(next(2, true)).toBe(
      'Next: 2 leases are inside a transaction (at src/orders.js:13:29), which keeps its locks until COMMIT or ROLLBACK, so other sessions wait behind it: add the missing COMMIT/ROLLBACK and release() in a finally block, or take it with "await using client = await pool.connect()" there; guard.reclaimAfterMs recovers idle ones meanwhile. Details: err.holders, pool.guard.snapshot().',
    );
  });

  it('advises try/finally otherwise', () => {
    expect(next(0, false)).toBe(
      'Next: release the client in a finally block at the site with idle leases; guard.reclaimAfterMs recovers them meanwhile. Details: err.holders, pool.guard.snapshot().',
    );
    expect(next(2, false)).toContain('add the missing COMMIT/ROLLBACK and release() in a finally block there; guard.reclaimAfterMs recovers idle ones meanwhile.');
  });

  it('is try/finally for holders whose pool gives the lease back itself (pool.query())', () => {
    const managed = new Map<string, GroupKinds>([['src/orders.js:13:29', { idle: new Set(['query']), inTransaction: new Set() }]]);
    expect(describeHolders('p', [holder(0)], 2, 2, 1, 'a query in flight', resolveWords(hooks, true), managed)).not.toContain('await using');
  });
});

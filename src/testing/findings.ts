import { resolve } from 'node:path';
import type { DirtyReleaseReport, GuardSnapshot, LeaseSnapshot } from '../core/types.js';
import type { LeaseKind } from '../core/ledger.js';
import { formatDuration, plural } from '../core/format.js';

/**
 * A lease still checked out when the check ran.
 * @public
 */
export interface OpenLeaseFinding {
  /** What was found: a lease still checked out. */
  readonly type: 'openLease';
  /** The pool's name (`guard.name`). */
  readonly pool: string;
  /** The lease, as `pool.guard.snapshot()` shows it: `site`/`where`, `kind`, `transaction`, `state`, `heldMs`, … */
  readonly lease: LeaseSnapshot;
  /**
   * Taken before the checkpoint the check ran `since` (by an earlier test, or a before-all hook):
   * not this test's lease, so it never fails it.
   */
  readonly takenBefore: boolean;
  /** Why it may stay open, when it may: `allowOpenLeases(reason)` or `pool.guard.exempt(client, reason)`; else `undefined`. */
  readonly allowed: string | undefined;
  /**
   * Taken by `pool.query()`, generic-pool's `use()` or a data layer's query: its pool releases it
   * when the work ends, so it is slow, never forgotten, and never fails a test.
   */
  readonly managed: boolean;
  /** Whether it fails the test: taken since the checkpoint, by an explicit checkout, and not allowed. */
  readonly fails: boolean;
  /** One line that says all of the above. */
  readonly message: string;
}

/**
 * A connection released inside an open or failed transaction since the checkpoint (the pool's
 * `dirtyRelease` event).
 * @public
 */
export interface DirtyReleaseFinding {
  /** What was found: a release inside a transaction. */
  readonly type: 'dirtyRelease';
  /** The pool's name (`guard.name`). */
  readonly pool: string;
  /** The pool's report: `checkoutSite`, `releaseSite`, `transaction`, `action`. */
  readonly report: DirtyReleaseReport;
  /** Whether it fails the test (`configureLeakCheck({ dirtyReleases })`, on by default). */
  readonly fails: boolean;
  /** One line that says where and what happened. */
  readonly message: string;
}

/**
 * `release()` called again on a lease already released, since the checkpoint (counted by the
 * pool: `snapshot().totals.doubleReleases`). The caller got the pool's error (pg, generic-pool) or
 * a logged warning (mysql2), which names the line.
 * @public
 */
export interface DoubleReleaseFinding {
  /** What was found: second releases. */
  readonly type: 'doubleRelease';
  /** The pool's name (`guard.name`). */
  readonly pool: string;
  /** How many second releases the pool counted since the checkpoint. */
  readonly count: number;
  /** Whether it fails the test (`configureLeakCheck({ doubleReleases })`, on by default). */
  readonly fails: boolean;
  /** One line that says what happened. */
  readonly message: string;
}

/**
 * What `checkOpenLeases()` found.
 * @public
 */
export type LeakFinding = OpenLeaseFinding | DirtyReleaseFinding | DoubleReleaseFinding;

/**
 * A test ended with a lease still checked out (or, when those checks are on, with a dirty or
 * double release). Thrown by `assertNoOpenLeases()` and by the test runners' set-up modules, which
 * fail the test with it.
 * @public
 */
export class LeakCheckError extends Error {
  /** Stable code for this error: `POOLGUARD_LEAK_CHECK`. */
  readonly code = 'POOLGUARD_LEAK_CHECK';
  /** The test's name as its runner gives it, if known. */
  declare readonly testName: string | undefined;
  /** What failed the check (every finding here has `fails: true`). */
  declare readonly findings: readonly LeakFinding[];

  /** @internal */
  constructor(message: string, testName: string | undefined, findings: readonly LeakFinding[]) {
    super(message);
    this.name = 'LeakCheckError';
    // Not enumerable: runners that print an error's own properties (node:test) would repeat the
    // message's every line once more, as objects.
    Object.defineProperty(this, 'testName', { value: testName, enumerable: false });
    Object.defineProperty(this, 'findings', { value: findings, enumerable: false });
    // The stack is the leases' checkout lines, not this module's frames: a runner shows the code
    // at the first frame, which is then the line that took the lease.
    const frames = findings.map(frameOf).filter((f): f is string => f !== undefined);
    if (frames.length > 0) this.stack = `${this.name}: ${message}\n${frames.join('\n')}`;
  }
}

/** A stack frame at a finding's line, with the absolute path runners read a code frame from. */
function frameOf(finding: LeakFinding): string | undefined {
  const site = finding.type === 'openLease' ? finding.lease.site : finding.type === 'dirtyRelease' ? (finding.report.releaseSite ?? finding.report.checkoutSite) : undefined;
  const m = site === undefined ? null : /^(.*):(\d+):(\d+)$/.exec(site);
  if (m === null) return undefined;
  const file = /^[a-z][a-z0-9+.-]*:\/\//i.test(m[1]!) ? m[1]! : resolve(m[1]!);
  const what = finding.type === 'openLease' ? `${callOf(finding.lease.kind)} lease #${finding.lease.id} on pool '${finding.pool}'` : `release() inside a transaction on pool '${finding.pool}'`;
  return `    at ${what} (${file}:${m[2]}:${m[3]})`;
}

/** Kinds whose pool releases the lease itself when the work ends. */
const MANAGED: ReadonlySet<LeaseKind> = new Set<LeaseKind>(['query', 'use', 'statement']);

export function isManaged(kind: LeaseKind): boolean {
  return MANAGED.has(kind);
}

/** How a lease was taken, as the application called it. */
export function callOf(kind: LeaseKind): string {
  switch (kind) {
    case 'query':
      return 'pool.query()';
    case 'use':
      return 'pool.use()';
    case 'statement':
      return "a data layer's query";
    default:
      return `${kind}()`;
  }
}

export function transactionWords(transaction: 'open' | 'failed' | undefined): string | undefined {
  if (transaction === 'open') return 'inside an open transaction (BEGIN without COMMIT or ROLLBACK)';
  if (transaction === 'failed') return 'inside a failed transaction that was never rolled back';
  return undefined;
}

export function openLeaseFinding(snapshot: GuardSnapshot, lease: LeaseSnapshot, takenBefore: boolean, allowedBy: string | undefined, settleMs: number): OpenLeaseFinding {
  const managed = isManaged(lease.kind);
  const allowed = lease.exempt ?? allowedBy;
  const fails = !takenBefore && !managed && allowed === undefined;
  const parts = [`${callOf(lease.kind)} lease #${lease.id} on pool '${snapshot.pool}', taken at ${lease.where}`];
  const tx = transactionWords(lease.transaction);
  if (tx !== undefined) parts.push(tx);
  parts.push(lease.state === 'busy' ? 'with work in flight' : 'with nothing in flight', `held ${formatDuration(lease.heldMs)}`);
  if (takenBefore) parts.push('taken before this test started (by an earlier test or a before-all hook), so not counted against it');
  else if (managed) parts.push(`still running ${settleMs} ms after the test ended: its pool releases it when the work ends, so it is not a leak`);
  else if (allowed !== undefined) parts.push(`allowed to stay open (${allowed})`);
  if (fails && lease.site === undefined) parts.push("to have the line, give this pool guard.captureStacks: 'connect' in tests");
  return Object.freeze({ type: 'openLease', pool: snapshot.pool, lease, takenBefore, allowed, managed, fails, message: parts.join(', ') });
}

export function dirtyReleaseFinding(report: DirtyReleaseReport, fails: boolean): DirtyReleaseFinding {
  const state = transactionWords(report.transaction)!;
  const done = report.action === 'destroy' ? 'poolguard closed the connection, so the transaction was rolled back' : 'poolguard rolled the transaction back';
  const message =
    `pool '${report.pool}': ${callOf(report.kind)} lease #${report.leaseId} released ${state} at ${report.releaseSite ?? 'an unknown site'} ` +
    `(taken at ${report.checkoutSite ?? 'an unknown site'}); ${done}`;
  return Object.freeze({ type: 'dirtyRelease', pool: report.pool, report, fails, message });
}

export function doubleReleaseFinding(pool: string, count: number, fails: boolean): DoubleReleaseFinding {
  const message = `pool '${pool}': release() called ${count === 1 ? 'once' : `${count} times`} on a lease already released (the pool's error, or for mysql2 its logged warning, names the line)`;
  return Object.freeze({ type: 'doubleRelease', pool, count, fails, message });
}

/** The failing test's message: what is wrong, where, and what to do. */
export function failureMessage(testName: string | undefined, failing: readonly LeakFinding[]): string {
  const open = failing.filter((f) => f.type === 'openLease');
  const dirty = failing.filter((f) => f.type === 'dirtyRelease');
  const double = failing.filter((f): f is DoubleReleaseFinding => f.type === 'doubleRelease');
  const what: string[] = [];
  if (open.length > 0) what.push(`${plural(open.length, 'lease')} still checked out`);
  if (dirty.length > 0) what.push(plural(dirty.length, 'dirty release'));
  const doubles = double.reduce((n, f) => n + f.count, 0);
  if (doubles > 0) what.push(plural(doubles, 'double release'));
  const who = testName === undefined ? 'the check' : `test "${testName}"`;
  const lines = [`poolguard: ${who} ended with ${what.join(' and ')}:`, ...failing.map((f) => `  ${f.message}`)];
  if (open.length > 0) {
    lines.push(
      `Release ${open.length === 1 ? 'it' : 'each'} on every path (try/finally). If the next test takes ${open.length === 1 ? 'it' : 'them'} over on purpose, ` +
        `call allowOpenLeases() from 'poolguard/testing' in this test once taken, or pool.guard.exempt(client, reason).`,
    );
  }
  if (dirty.length > 0) lines.push('Commit or roll back on every path before release(); configureLeakCheck({ dirtyReleases: false }) stops failing tests for it.');
  if (doubles > 0) lines.push('Release each lease exactly once, in one finally block; configureLeakCheck({ doubleReleases: false }) stops failing tests for it.');
  return lines.join('\n');
}

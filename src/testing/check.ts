import * as diagnosticsChannel from 'node:diagnostics_channel';
import * as timers from 'node:timers';
import { DIAGNOSTICS_CHANNELS } from '../core/diagnostics.js';
import type { DirtyReleaseReport, GuardSnapshot } from '../core/types.js';
import { guardedHandles } from '../core/registry.js';
import { dirtyReleaseFinding, doubleReleaseFinding, failureMessage, LeakCheckError, openLeaseFinding, type LeakFinding } from './findings.js';

/**
 * Captured when this module loads, before a test installs fake timers: the wait for a running
 * `pool.query()` must pass in real time, and a faked `setTimeout` would never fire.
 */
const realSetTimeout = timers.setTimeout;

/** How long the check waits, at most, for leases still running at a test's end, unless configured. */
const DEFAULT_SETTLE_MS = 100;
const POLL_MS = 5;
/** Dirty releases kept for checks still to run; a test that makes more has bigger problems. */
const MAX_DIRTY = 1_000;

/**
 * How the leak check behaves, for `configureLeakCheck()`.
 * @public
 */
export interface LeakCheckSettings {
  /**
   * How long, in milliseconds, the check waits at a test's end for the test's leases to be
   * released before it looks (a `pool.query()` still running, a release in a `.finally()` the test
   * did not await). Default 100; 0 looks at once. Only a test that ends with a lease open waits.
   */
  settleMs?: number;
  /**
   * Whether a connection released inside an open or failed transaction fails the test. Default
   * `true`: poolguard closes such a connection, so the transaction's work is lost, and a test
   * passes over that path unless something fails it.
   */
  dirtyReleases?: boolean;
  /**
   * Whether a second `release()` of one lease fails the test. Default `true`: pg throws its error
   * only to the caller, which may swallow it, and mysql2 only logs it.
   */
  doubleReleases?: boolean;
}

/**
 * Where a test starts: which leases were already open, and the pools' release-fault counts.
 * `leakCheckpoint()` makes one; `checkOpenLeases({ since })` reads against it.
 * @public
 */
export class LeakCheckpoint {
  /** When it was taken (ISO 8601). */
  readonly takenAt: string;
  /** @internal Open lease ids and double-release counts, by guard handle. */
  readonly pools: ReadonlyMap<object, { readonly open: ReadonlySet<number>; readonly doubleReleases: number }>;
  /** @internal The dirty releases seen before it. */
  readonly dirtySeq: number;

  /** @internal */
  constructor(pools: ReadonlyMap<object, { readonly open: ReadonlySet<number>; readonly doubleReleases: number }>, dirtySeq: number) {
    this.takenAt = new Date().toISOString();
    this.pools = pools;
    this.dirtySeq = dirtySeq;
  }
}

/**
 * Options of `checkOpenLeases()` and `assertNoOpenLeases()`.
 * @public
 */
export interface LeakCheckOptions {
  /**
   * The test's start (`leakCheckpoint()`): leases open then are not the test's, and dirty and
   * double releases are counted from there. Without it every open lease counts, and release faults
   * are not checked.
   */
  since?: LeakCheckpoint;
  /** Overrides `settleMs` of `configureLeakCheck()` for this check. */
  settleMs?: number;
  /** The test's name, for the error's message. */
  testName?: string;
}

/** A guard handle from any copy of poolguard: read through its public methods only. */
interface Handle {
  readonly name: string;
  snapshot(): GuardSnapshot;
}

interface Allowance {
  readonly reason: string;
  /** The test that was running when it was allowed, if a set-up module says. */
  readonly test: string | undefined;
}

/**
 * What every copy of `poolguard/testing` in a process shares (a test file may import the ESM build
 * while its set-up file loads the CommonJS one): under a `Symbol.for` key, as the pools' registry.
 */
interface SharedState {
  readonly settings: Required<LeakCheckSettings>;
  /** Leases allowed to stay open, by guard handle and lease id. */
  readonly allowed: WeakMap<object, Map<number, Allowance>>;
  readonly dirty: { seq: number; readonly seen: Array<{ readonly seq: number; readonly report: DirtyReleaseReport }>; subscribed: boolean };
  /** The test a set-up module says is running, and where it started, for allowances. */
  current: { readonly name: string; readonly since: LeakCheckpoint } | undefined;
}

const STATE = Symbol.for('poolguard.testing.v1');

export function sharedState(): SharedState {
  const g = globalThis as unknown as Record<symbol, SharedState | undefined>;
  let state = g[STATE];
  if (state === undefined) {
    state = {
      settings: { settleMs: DEFAULT_SETTLE_MS, dirtyReleases: true, doubleReleases: true },
      allowed: new WeakMap(),
      dirty: { seq: 0, seen: [], subscribed: false },
      current: undefined,
    };
    Object.defineProperty(globalThis, STATE, { value: state, enumerable: false, configurable: false, writable: false });
  }
  return state;
}

function handles(): Handle[] {
  return guardedHandles().filter((h): h is Handle => typeof (h as Partial<Handle>).snapshot === 'function');
}

function snapshotOf(handle: Handle): GuardSnapshot | undefined {
  try {
    return handle.snapshot();
  } catch {
    // A pool whose copy of poolguard cannot describe it now: nothing to read.
    return undefined;
  }
}

/**
 * Starts listening for dirty releases, once per process. A dirty release is published on its
 * diagnostics channel by every copy of poolguard and every pool, including pools a test creates
 * after its checkpoint; the path is cold (a release inside a transaction), so listening costs the
 * pools nothing else.
 */
function watchDirtyReleases(state: SharedState): void {
  if (state.dirty.subscribed) return;
  state.dirty.subscribed = true;
  diagnosticsChannel.subscribe(DIAGNOSTICS_CHANNELS.dirtyRelease, (message) => {
    const dirty = state.dirty;
    dirty.seen.push({ seq: ++dirty.seq, report: message as DirtyReleaseReport });
    if (dirty.seen.length > MAX_DIRTY) dirty.seen.shift();
  });
}

/**
 * Notes the leases open on every guarded pool now, and starts counting dirty and double releases:
 * call it where a test starts and pass it to `checkOpenLeases({ since })` where it ends.
 * @public
 */
export function leakCheckpoint(): LeakCheckpoint {
  const state = sharedState();
  watchDirtyReleases(state);
  const pools = new Map<object, { open: ReadonlySet<number>; doubleReleases: number }>();
  for (const handle of handles()) {
    const snap = snapshotOf(handle);
    if (snap !== undefined) pools.set(handle, { open: new Set(snap.leases.map((l) => l.id)), doubleReleases: snap.totals.doubleReleases });
  }
  return new LeakCheckpoint(pools, state.dirty.seq);
}

/** Sets how the leak check behaves, for the rest of the process (call it in the set-up file). @public */
export function configureLeakCheck(settings: LeakCheckSettings): void {
  const current = sharedState().settings;
  for (const [key, value] of Object.entries(settings ?? {})) {
    if (key === 'settleMs') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new TypeError(`configureLeakCheck({ settleMs }): must be a number of milliseconds, 0 or more, got ${String(value)}`);
      current.settleMs = value;
    } else if (key === 'dirtyReleases' || key === 'doubleReleases') {
      if (typeof value !== 'boolean') throw new TypeError(`configureLeakCheck({ ${key} }): must be true or false, got ${String(value)}`);
      current[key] = value;
    } else {
      throw new TypeError(`configureLeakCheck({ ${key} }): unknown setting; the settings are settleMs, dirtyReleases and doubleReleases`);
    }
  }
}

/**
 * Allows the leases this test has open now, on every guarded pool, to stay open at its end: a test
 * that hands a client, a transaction or a resource to the next test on purpose calls it once the
 * lease is taken. Leases taken after the call are checked as usual, and so are leases an earlier
 * test left open (that test's failure). Without a set-up module, which says where the test started,
 * every lease open now is allowed. Returns how many leases it allowed; throws a `TypeError` when
 * there is none (called before the checkout, the call would allow nothing).
 * @public
 */
export function allowOpenLeases(reason = 'allowOpenLeases()'): number {
  if (typeof reason !== 'string' || reason === '') throw new TypeError(`allowOpenLeases(reason): reason must be a non-empty string, got ${typeof reason === 'string' ? '""' : typeof reason}`);
  const state = sharedState();
  const current = state.current;
  let count = 0;
  for (const handle of handles()) {
    const snap = snapshotOf(handle);
    if (snap === undefined || snap.leases.length === 0) continue;
    const before = current?.since.pools.get(handle)?.open;
    let allowed = state.allowed.get(handle);
    if (allowed === undefined) state.allowed.set(handle, (allowed = new Map()));
    for (const lease of snap.leases) {
      if (allowed.has(lease.id) || lease.exempt !== undefined || before?.has(lease.id) === true) continue;
      allowed.set(lease.id, { reason, test: current?.name });
      count++;
    }
  }
  if (count === 0) {
    throw new TypeError(
      `allowOpenLeases(): ${current === undefined ? 'no lease is open' : `test "${current.name}" has no lease open`} on any guarded pool now, so there is nothing to allow. ` +
        'Call it after the checkout whose lease the next test takes over.',
    );
  }
  return count;
}

/** The leases allowed to stay open on a pool, for the run's summary. @internal */
export function allowancesOf(handle: object): ReadonlyMap<number, Allowance> | undefined {
  return sharedState().allowed.get(handle);
}

/** One look at every guarded pool: the findings, and how many this test's leases are still open. */
function look(since: LeakCheckpoint | undefined, until: LeakCheckpoint | undefined, settleMs: number): { findings: LeakFinding[]; pending: number } {
  const state = sharedState();
  const findings: LeakFinding[] = [];
  let pending = 0;
  for (const handle of handles()) {
    const snap = snapshotOf(handle);
    if (snap === undefined) continue;
    const before = since?.pools.get(handle);
    const atEnd = until?.pools.get(handle);
    const allowed = state.allowed.get(handle);
    // A checkout asked for and not yet handed out (a pool.query() or an unawaited connect() still
    // waiting, or its connection still opening) has no lease in the snapshot yet: the pool's own
    // counters say so, and the check waits for it as for an open lease.
    const { waiting, total, idle, leased } = snap.counts;
    if (waiting > 0 || total > idle + leased) pending++;
    for (const lease of snap.leases) {
      // A lease taken after the test's end (a later hook) is not the test's: `until` saw the end.
      if (until !== undefined && atEnd?.open.has(lease.id) !== true) continue;
      const finding = openLeaseFinding(snap, lease, before?.open.has(lease.id) === true, allowed?.get(lease.id)?.reason, settleMs);
      if (!finding.takenBefore && finding.allowed === undefined) pending++;
      findings.push(finding);
    }
    if (since !== undefined && (until === undefined || atEnd !== undefined)) {
      const doubles = (atEnd?.doubleReleases ?? snap.totals.doubleReleases) - (before?.doubleReleases ?? 0);
      if (doubles > 0) findings.push(doubleReleaseFinding(snap.pool, doubles, state.settings.doubleReleases));
    }
  }
  if (since !== undefined) {
    const last = until?.dirtySeq ?? Infinity;
    for (const { seq, report } of state.dirty.seen) {
      if (seq > since.dirtySeq && seq <= last) findings.push(dirtyReleaseFinding(report, state.settings.dirtyReleases));
    }
  }
  return { findings, pending };
}

/**
 * Looks at every guarded pool in the process (every adapter, every copy of poolguard) and returns
 * what a test's end should know: the leases still open, each saying whether it fails the test,
 * and, `since` a checkpoint, the dirty and double releases made after it. When a lease the test
 * took is still open, it first waits up to `settleMs` (default 100 ms) for it to be released: a
 * `pool.query()` still running is released by its pool when it ends.
 * @public
 */
export async function checkOpenLeases(options: LeakCheckOptions = {}): Promise<readonly LeakFinding[]> {
  return (await check(options, undefined)).findings;
}

/** `checkOpenLeases`, with `until`: only leases already open at that checkpoint count (Mocha's deferred check). */
export async function check(options: LeakCheckOptions, until: LeakCheckpoint | undefined): Promise<{ findings: readonly LeakFinding[]; error: LeakCheckError | undefined }> {
  const settleMs = options.settleMs ?? sharedState().settings.settleMs;
  if (typeof settleMs !== 'number' || !Number.isFinite(settleMs) || settleMs < 0) throw new TypeError(`checkOpenLeases({ settleMs }): must be a number of milliseconds, 0 or more, got ${String(settleMs)}`);
  let seen = look(options.since, until, settleMs);
  // Counted in polls, not read from a clock: fake timers may have replaced the clocks.
  for (let polls = Math.ceil(settleMs / POLL_MS); seen.pending > 0 && polls > 0; polls--) {
    await new Promise((r) => realSetTimeout(r, POLL_MS));
    seen = look(options.since, until, settleMs);
  }
  const failing = seen.findings.filter((f) => f.fails);
  const error = failing.length === 0 ? undefined : new LeakCheckError(failureMessage(options.testName, failing), options.testName, failing);
  return { findings: seen.findings, error };
}

/**
 * `checkOpenLeases()`, throwing a `LeakCheckError` that names each lease's line, kind and
 * transaction state when anything fails the check: for a test runner without a poolguard set-up
 * module, call `leakCheckpoint()` where a test starts and this where it ends.
 * @public
 */
export async function assertNoOpenLeases(options: LeakCheckOptions = {}): Promise<void> {
  const { error } = await check(options, undefined);
  if (error !== undefined) throw error;
}

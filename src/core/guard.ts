import { admit, discardedEnough, dueForRetirement, idleTooLong, validateConnection, validationPassed } from './admission.js';
import { CapturePolicy } from './capture-policy.js';
import { systemClock, type Clock } from './clock.js';
import { GuardContext } from './context.js';
import { settingConflicts } from './config.js';
import { channels } from './diagnostics.js';
import { annotate, type CheckoutTimeoutError, type DirtyReleaseError, type DoubleReleaseError } from './errors.js';
import { formatDuration } from './format.js';
import { PoolGuard } from './handle.js';
import type { AdapterHooks } from './hooks.js';
import { Housekeeper } from './housekeeper.js';
import { LeakScan, suspectAfterMs } from './leak-scan.js';
import { ConnectionRecord, Ledger, Lease, type LeaseKind } from './ledger.js';
import type { ResolvedGuardConfig } from './options.js';
import { markRetiring, retireAt } from './recycle-policy.js';
import { dirtyReleased, doubleRelease, unhandledError, useCallbackFailed } from './release-faults.js';
import { Shutdown } from './shutdown.js';
import type { CapturedStack, CapturePlan, StackCapturer } from './stack.js';
import type { TelemetrySink } from './telemetry.js';
import { annotateTimeout, checkoutTimeoutError, timeoutDetails, type TimeoutDetails } from './timeouts.js';
import type { GuardSnapshot, HolderGroup, PoolCounts, RetireReason } from './types.js';
import { checkoutMessage, holderGroups, snapshot } from './views.js';
import type { LeaseWhereabouts } from './where-taken.js';

// Where adapters, otel and tests import these from; each is defined in its own room.
export { PoolGuard } from './handle.js';
export type { AdapterHooks, PoolWords } from './hooks.js';
export type { LeakReport } from './types.js';

/**
 * The choke point: every checkout, release, reclaim and removal of a guarded pool passes here, in
 * the order of a connection's life below (opened, checkout requested, granted, released, removed),
 * then the pool's end and its views. It knows nothing of the pool libraries; adapters translate
 * their pool's hooks into these calls and carry out the decisions (destroy, replace).
 *
 * The hot path (`prepareCapture`, `checkoutRequested`, `checkoutGranted`, `released`) lives here
 * and reads only this object's own fields. What happens off it lives in rooms of one purpose:
 * `capture-policy.ts` (which checkouts capture a stack), `admission.ts` (retire or check a
 * connection before its holder gets it), `leak-scan.ts` and `housekeeper.ts` (where a leak is
 * decided; the timer), `timeouts.ts`, `release-faults.ts`, `shutdown.ts`, `views.ts`, and the
 * wording of leak reports in `leak-report.ts`.
 */
export class GuardCore {
  readonly config: ResolvedGuardConfig;
  readonly ledger = new Ledger();
  readonly handle: PoolGuard;
  readonly clock: Clock;
  /**
   * Whether lifetime or use limits are set: adapters test this plain field before asking
   * `dueForRetirement`, so that a pool without them pays one property read per checkout.
   */
  readonly recycles: boolean;
  /** Whether connections are checked before reuse (`validateAfterIdleMs`); read the same way. */
  readonly validates: boolean;
  readonly #ctx: GuardContext;
  readonly #random: () => number;
  #telemetry: TelemetrySink;
  /** The plan in force for explicit checkouts, installed by the capture policy. */
  #explicit: CapturePlan;
  readonly #managedPlan: CapturePlan;
  readonly #captureRelease: StackCapturer;
  /** Set by `runManaged` around its synchronous call into the pool's checkout. */
  #managed = false;
  #managedCapture: Lease['capture'] = undefined;
  #recordReleases: boolean;
  /** Whether any lease is ever looked at (a threshold is set, or stacks are captured). */
  readonly #watchesLeases: boolean;
  readonly #capture: CapturePolicy;
  readonly #leaks: LeakScan;
  readonly #housekeeper: Housekeeper;
  readonly #shutdown: Shutdown;

  constructor(config: ResolvedGuardConfig, hooks: AdapterHooks, clock: Clock = systemClock, random: () => number = Math.random) {
    this.config = config;
    this.clock = clock;
    this.handle = new PoolGuard(this);
    const ctx = (this.#ctx = new GuardContext(config, clock, this.ledger, hooks, this.handle));
    this.#telemetry = ctx.telemetry;
    const suspectAfter = suspectAfterMs(config);
    const capture = (this.#capture = new CapturePolicy(config, suspectAfter, ctx.log, (plan) => {
      this.#explicit = plan;
    }, ctx.words.connectCall));
    this.#explicit = capture.explicit;
    this.#managedPlan = capture.managed;
    this.#captureRelease = capture.release;
    this.#recordReleases = config.releaseStacks === 'always';
    this.#watchesLeases = suspectAfter !== Infinity;
    this.#random = random;
    this.recycles = config.maxLifetimeMs > 0 || config.maxUses > 0;
    this.validates = config.validateAfterIdleMs > 0;
    this.#leaks = new LeakScan(ctx, capture, suspectAfter);
    this.#housekeeper = new Housekeeper(ctx, this.#leaks, capture, suspectAfter, this.recycles);
    this.#shutdown = new Shutdown(ctx, this.#leaks);
    for (const conflict of settingConflicts(config)) {
      ctx.log.write('warn', `settings ${conflict.message}`, { pool: config.name, ...conflict }, `poolguard[${config.name}]: ${conflict.message}. ${conflict.why} ${conflict.fix}`);
    }
  }

  /** Plugs in the adapter's telemetry (OpenTelemetry's sink); until then, and when off, none. */
  useTelemetry(sink: TelemetrySink): void {
    this.#telemetry = sink;
    this.#ctx.telemetry = sink;
  }

  /** Writes one line through the pool's rate-limited logger (for adapters' one-off messages). */
  log(level: 'warn' | 'info', key: string, obj: object, msg: string): void {
    this.#ctx.log.write(level, key, obj, msg);
  }

  // ---- a connection is opened -------------------------------------------------------------

  /** A connection was opened; `createMs`, where the adapter measured it, is how long that took. */
  connectionOpened(resource: object, createMs?: number): ConnectionRecord {
    const now = this.clock.now();
    const record = this.ledger.addConnection(resource, now);
    if (createMs !== undefined) {
      record.createTimed = true;
      this.#telemetry.created(createMs);
    }
    record.retireAt = retireAt(now, this.config, this.#random);
    if (this.config.maxLifetimeMs > 0) this.#housekeeper.start(now);
    return record;
  }

  // ---- a checkout is requested ------------------------------------------------------------

  /**
   * A holder for the caller's stack at an explicit checkout, or `undefined` (capture off, sampled
   * out, or a managed call's own checkout, whose stack `runManaged` took). The adapter's entry point
   * (`connect`, `acquire`) calls `Error.captureStackTrace(holder, itself)` in its own frame and
   * hands the holder to `checkoutRequested`: V8 summarises every optimised frame it walks past.
   * Instructions per checkout+release (`benchmarks/instructions.sh`): 55,952 with the capture inside
   * the core, three frames deeper; 49,677 through one helper frame; 45,067 in the entry point.
   */
  prepareCapture(): CapturedStack | undefined {
    return this.#managed ? undefined : this.#explicit.prepare();
  }

  /**
   * A holder for the caller's stack at a managed call (`pool.query()`, `use()`), or `undefined`
   * (the default `captureStacks: 'connect'` takes none): captured by the entry point in its own
   * frame, as for `prepareCapture`.
   */
  prepareManagedCapture(): CapturedStack | undefined {
    return this.#managedPlan.prepare();
  }

  /**
   * Puts `Error.stackTraceLimit` back after a capture into a holder from `prepareCapture()`
   * (`managed: false`) or `prepareManagedCapture()` (`managed: true`), for an adapter whose
   * checkout comes later, asynchronously (a data layer's transaction or builder).
   */
  captureTaken(managed: boolean): void {
    (managed ? this.#managedPlan : this.#explicit).finish();
  }

  /**
   * Runs a pool's own managed call (a `query`, a `use`), which checks out synchronously through
   * the public entry point: that checkout is marked as managed and takes the managed call's capture.
   */
  runManaged<T>(capture: CapturedStack | undefined, call: () => T): T {
    this.enterManaged(capture);
    try {
      return call();
    } finally {
      this.leaveManaged();
    }
  }

  /**
   * `runManaged` for an entry point that calls the pool itself, in its own frame, between
   * `enterManaged` and `leaveManaged` (in a `finally`): a driver that captures a stack at every
   * call (mysql's `trace`) then sees no frame of poolguard's between the pool and its caller.
   */
  enterManaged(capture: CapturedStack | undefined): void {
    if (capture !== undefined) this.#managedPlan.finish();
    this.#managedCapture = capture;
    this.#managed = true;
  }

  /** Ends what `enterManaged` began. */
  leaveManaged(): void {
    this.#managed = false;
    this.#managedCapture = undefined;
  }

  /**
   * A caller asks for a lease, with the stack captured into `prepareCapture()`'s holder. Inside
   * `runManaged`, the request is the managed call's own (`pool.query()` → `connect()`, `use()` →
   * `acquire()`) and becomes a lease of `managedKind`, with the managed call's capture.
   */
  checkoutRequested(kind: LeaseKind, capture: CapturedStack | undefined, managedKind?: LeaseKind, ready = false): Lease {
    if (capture !== undefined) this.#explicit.finish();
    let lease: Lease;
    if (this.#managed && managedKind !== undefined) {
      this.#managed = false;
      const managed = this.#managedCapture;
      this.#managedCapture = undefined;
      lease = this.ledger.newLease(managedKind, managed, this.clock.now());
    } else {
      lease = this.ledger.newLease(kind, capture, this.clock.now());
    }
    lease.ready = ready;
    lease.trace = this.#telemetry.activeTrace();
    // A ready lease waits for nothing but the pool's next tick: it stays off the waiting queue
    // (which the oldest-waiter gauge and the snapshot read) unless `checkoutWaits` puts it there.
    if (!ready) this.ledger.waiting.push(lease);
    return lease;
  }

  // ---- the checkout waits, or is admitted --------------------------------------------------

  /**
   * A ready lease's connection must be checked or replaced before the holder gets it: from now on
   * it waits like any other, and its grant reads the clock.
   */
  checkoutWaits(lease: Lease): void {
    if (!lease.ready || lease.acquiredAt >= 0) return;
    lease.ready = false;
    this.ledger.waiting.push(lease);
  }

  /**
   * What to do with a connection the pool just handed to a lease, before its holder sees it:
   * `'retire'` when its lifetime ended while it sat idle (the pool could not close it then; the
   * adapter closes it and asks the pool again), `'validate'` when it sat idle past
   * `validateAfterIdleMs` (the adapter calls `validateConnection`), else `'handOut'`. Every adapter
   * asks here, so the policy and its bound (a few discards per checkout: a dead server must not
   * hold callers for ever) live once. `discarded`: how many connections this lease discarded.
   */
  admission(lease: Lease, record: ConnectionRecord, discarded: number): 'handOut' | 'retire' | 'validate' {
    const next = admit(this.#ctx, record, discarded, this.recycles, this.validates);
    if (next !== 'handOut') this.checkoutWaits(lease);
    return next;
  }

  /** Whether a connection about to be handed out has sat idle long enough to be checked first. */
  needsValidation(record: ConnectionRecord): boolean {
    return this.validates && idleTooLong(this.#ctx, record);
  }

  /**
   * Runs the check before reuse (`guard.validate`, else the adapter's `fallback`: `SELECT 1`, a
   * ping); when it failed, the adapter discards the connection and calls `validationDiscarded`.
   */
  validateConnection(record: ConnectionRecord, resource: unknown, fallback: () => unknown, then: (err: Error | undefined) => void): void {
    validateConnection(this.#ctx, record, resource, fallback, then);
  }

  /** A connection checked fine: it counts as freshly active. */
  validationPassed(record: ConnectionRecord): void {
    validationPassed(this.#ctx, record);
  }

  /**
   * A connection failed its check and the adapter discarded it. Returns `true` when the lease has
   * discarded enough: it leaves the ledger and the adapter gives the caller `err`; `false`: the
   * adapter asks the pool again.
   */
  validationDiscarded(lease: Lease, record: ConnectionRecord, err: Error, discarded: number): boolean {
    if (!discardedEnough(this.#ctx, record, err, discarded)) return false;
    this.checkoutFailed(lease, false);
    return true;
  }

  // ---- the checkout is granted, or fails ---------------------------------------------------

  /**
   * The pool handed a connection to a lease's holder. A lease still `ready` (see `checkoutWaits`)
   * is timed by its request's clock reading, its wait 0: a clock read costs 70–200 ns on a VM, a
   * tenth of a bare checkout+release, and the wait it would measure is one tick of the pool's.
   */
  checkoutGranted(lease: Lease, conn: ConnectionRecord): void {
    let now: number;
    if (lease.ready) {
      now = lease.requestedAt;
    } else {
      now = this.clock.now();
      this.ledger.waiting.remove(lease);
    }
    lease.acquiredAt = now;
    lease.conn = conn;
    // The fields behind `conn.lease` (a getter): a setter's branch here cost the hot path its
    // inlining budget (benchmarks/RESULTS.md, mysql2).
    conn.last = lease;
    conn.held = true;
    this.ledger.totals.checkouts++;
    this.ledger.open.push(lease);
    if (!conn.createTimed) {
      // The pool opened this connection for this very checkout (pg's connect() does so
      // synchronously): its creation took from the request to the connection's first sight.
      conn.createTimed = true;
      if (conn.uses === 0 && lease.requestedAt <= conn.createdAt) this.#telemetry.created(conn.createdAt - lease.requestedAt);
    }
    this.#telemetry.granted(lease);
    if (this.#housekeeper.timerEpoch !== this.clock.epoch && this.#watchesLeases) this.#housekeeper.start(now);
    if (channels.checkout.hasSubscribers) channels.checkout.publish(checkoutMessage(this.#ctx, lease, now));
  }

  /** A checkout failed (the pool's error goes to the caller); `timedOut` when it waited too long. */
  checkoutFailed(lease: Lease, timedOut: boolean): void {
    if (lease.list === this.ledger.waiting) this.ledger.waiting.remove(lease);
    // A ready lease was never queued; once failed it is no longer ready, so a second call is ignored.
    else if (lease.ready && lease.acquiredAt < 0) lease.ready = false;
    else return;
    this.#telemetry.failed(lease, timedOut);
  }

  /**
   * A checkout timed out: who holds the connections and the caller's frames from the capture at
   * checkout; counted.
   */
  timeoutDetails(lease: Lease, poolMessage: string): TimeoutDetails {
    const now = this.clock.now();
    this.ledger.totals.timeouts++;
    this.checkoutFailed(lease, true);
    return timeoutDetails(this.#ctx, this.#capture, lease, poolMessage, now);
  }

  /**
   * The log line of a timeout (at most once a minute, within the log's limits), for the engineer
   * whose logger prints only the error's message: `error` names what the caller got.
   */
  #logTimeout(details: TimeoutDetails, error: string): void {
    const { name } = this.config;
    const text = `poolguard[${name}]: a checkout timed out after ${formatDuration(details.waitedMs)}; the caller got ${error}.\n${details.text}`;
    this.#ctx.log.write('warn', 'timeout', { pool: name, waitedMs: Math.round(details.waitedMs), holders: details.holders }, text);
  }

  /** A checkout timed out where the pool has no timeout of its own (mysql2): poolguard's error, which names who holds the connections. */
  checkoutTimedOut(lease: Lease, poolMessage: string, cause: unknown): CheckoutTimeoutError {
    const details = this.timeoutDetails(lease, poolMessage);
    this.#logTimeout(details, 'CheckoutTimeoutError');
    return checkoutTimeoutError(this.config.name, details, cause);
  }

  /**
   * A checkout timed out with the pool's own error (pg-pool's, generic-pool's, Knex's, tarn's,
   * Sequelize's): the same object, class, `code` and `message`, with who holds the connections in
   * its fields (`holders`, `waitedMs`, `pool`, `poolguard`) and its stack; while the pool ends,
   * with `endingNote()` too.
   */
  poolTimedOut(lease: Lease, err: Error): Error {
    const details = this.timeoutDetails(lease, err.message);
    this.#logTimeout(details, `the pool's own error, "${`${err.name}: ${err.message}`.split('\n', 1)[0]}", with the holders below in err.holders and its stack`);
    return annotateTimeout(this.config.name, details, err, this.#shutdown.endingNote());
  }

  // ---- the holder uses the lease -----------------------------------------------------------

  connectionActive(record: ConnectionRecord): void {
    // Only the lease holding the connection reads this, against its own acquiredAt; a command that
    // ends once no lease holds the connection (mysql2 and mysql release a pool.query()'s connection
    // from inside the handling of its last packet, before the adapter hears that it ended) would
    // leave a time no later lease can see: no clock read, about 300 instructions of a GET
    // (benchmarks/RESULTS.md, mysql2 HTTP, session 2).
    if (record.held) record.lastActiveAt = this.clock.now();
  }

  touch(resource: unknown): void {
    let record: ConnectionRecord | undefined;
    try {
      record = this.#ctx.hooks.recordOf?.(resource as object);
    } catch {
      // Not a resource of this pool (null, a primitive pg never lends): nothing to mark.
    }
    if (record !== undefined) this.connectionActive(record);
  }

  exempt(resource: object, reason: unknown): void {
    const lent = this.#ctx.words.lent;
    if (typeof reason !== 'string' || reason === '') throw new TypeError(`${this.#ctx.words.handle}.exempt(${lent}, reason): reason must be a non-empty string, got ${typeof reason === 'string' ? '""' : typeof reason}`);
    const lease = (resource == null ? undefined : this.#ctx.hooks.recordOf?.(resource))?.lease;
    if (lease === undefined || lease.released || lease.reclaimed) {
      throw new TypeError(
        `${this.#ctx.words.handle}.exempt(${lent}): poolguard[${this.config.name}] has no open lease for this object. Pass the ${lent} exactly as the pool handed it out, before releasing it.`,
      );
    }
    lease.exempt = reason;
  }

  /**
   * A `use()` callback that can never release its resource: said, with the `use()` call's line
   * read from a stack captured above `above` (the frame that called the callback); the adapter
   * destroys the resource.
   */
  useCallbackFailed(resource: unknown, what: string, above: Function): void {
    useCallbackFailed(this.#ctx, this.#captureRelease, resource, what, above);
  }

  // ---- the lease is released ---------------------------------------------------------------

  /**
   * A holder releases a lease. Returns `false` when the lease had been reclaimed (the late release
   * is harmless and the adapter must not touch the pool); throws `DoubleReleaseError` on a second
   * release, whose message starts with `poolMessage`.
   */
  released(lease: Lease, above: Function, poolMessage: string): boolean {
    if (lease.released) throw this.#doubleRelease(lease, poolMessage);
    lease.released = true;
    // Nothing of the capture outlives the release: the adapter keeps the lease (pg's release
    // closure stays on the idle client to catch a second release), and an unformatted capture
    // would keep the caller's frames, and their request objects, alive with it. A suspect's
    // capture is already formatted (strings), and its reports still need it.
    if (lease.list !== this.ledger.suspects) lease.capture = undefined;
    // No clock read here unless something needs it: at ~70 ns, performance.now() is a visible
    // share of a 1.2 µs checkout+release.
    if (this.#recordReleases) {
      lease.releasedAt = this.clock.now();
      const capture = this.#captureRelease(above);
      // Formatted now and kept as a plain string, for the same reason: a second release may never
      // come. (Newer V8s keep `stack` an accessor even once read, so the holder itself is dropped.)
      lease.releaseCapture = capture === undefined ? undefined : { stack: capture.stack };
    }
    if (lease.reclaimed) return false;
    this.#telemetry.released(lease);
    if (channels.release.hasSubscribers) {
      channels.release.publish({ pool: this.config.name, leaseId: lease.id, kind: lease.kind, heldMs: Math.round(this.clock.now() - lease.acquiredAt), connectionId: lease.conn?.id });
    }
    lease.list?.remove(lease);
    const conn = lease.conn;
    if (conn !== undefined) {
      conn.uses++;
      conn.held = false;
      if (this.validates) conn.idleSince = this.clock.now();
    }
    if (lease.reported) this.#leaks.resolved(lease, this.clock.now());
    return true;
  }

  /**
   * A second release of `lease`, told by an adapter whose pool has its own error for it (pg):
   * counted, and poolguard's `DoubleReleaseError` returned for what it says (the adapter keeps the
   * pool's error and adds that to it); from now on release sites are recorded (`releaseStacks: 'auto'`).
   */
  doubleReleased(lease: Lease, poolMessage: string): DoubleReleaseError {
    return this.#doubleRelease(lease, poolMessage);
  }

  /** A second release: the error, and from now on release sites are recorded (`releaseStacks: 'auto'`). */
  #doubleRelease(lease: Lease, poolMessage: string): DoubleReleaseError {
    const error = doubleRelease(this.#ctx, lease, poolMessage);
    if (this.config.releaseStacks === 'auto') this.#recordReleases = true;
    return error;
  }

  /**
   * The adapter found the released connection inside a transaction. Records and reports it with
   * both sites; returns what the adapter must do and, for `destroy`, the error to destroy it with.
   */
  dirtyReleased(lease: Lease, transaction: 'open' | 'failed', above: Function): { action: 'destroy' | 'rollback'; error: DirtyReleaseError } {
    return dirtyReleased(this.#ctx, this.#captureRelease, lease, transaction, above);
  }

  // ---- the connection retires --------------------------------------------------------------

  /** Records the first cause that retires a connection; the removal reports it. */
  markRetiring(record: ConnectionRecord, reason: RetireReason): void {
    markRetiring(record, reason);
  }

  /**
   * Whether the policy retires this connection now (lifetime, uses). Adapters ask at release and
   * at checkout, and carry out the retirement themselves.
   */
  dueForRetirement(record: ConnectionRecord, only?: 'lifetime'): 'lifetime' | 'uses' | undefined {
    if (!this.recycles) return undefined;
    return dueForRetirement(this.#ctx, record, only);
  }

  /**
   * A connection error nobody listened for. Returns `true` when it was reported (the adapter
   * swallows it) and `false` when the user asked for the library's behaviour (the adapter rethrows).
   */
  unhandledError(record: ConnectionRecord | undefined, err: Error): boolean {
    return unhandledError(this.#ctx, record, err);
  }

  /** A connection left the pool; `fallback` is the adapter's best guess when no cause was marked. */
  connectionRemoved(record: ConnectionRecord, fallback: RetireReason): void {
    if (!this.ledger.removeConnection(record)) return;
    const reason = record.retireReason ?? fallback;
    this.ledger.totals.retired[reason]++;
    if (!this.handle.listenerCount('retire') && !channels.retire.hasSubscribers) return;
    this.#ctx.emit('retire', Object.freeze({ pool: this.config.name, reason, connection: this.#ctx.summary(record, this.clock.now()) }));
  }

  // ---- the pool ends -----------------------------------------------------------------------

  /** The pool's end was called (`call` names it: `pool.end()`, `pool.drain()`); see `Shutdown`. Only the first call counts. */
  endStarted(call: string): void {
    this.#shutdown.started(call);
  }

  /** The pool finished ending: nothing is left to report or cut. */
  endFinished(): void {
    this.#shutdown.finished();
  }

  /**
   * The pool's end closed a connection (mysql2's and mysql's end close every one, lent or not): a
   * lease still open on it ends with the pool, named in the end's `endClosed` report rather than
   * left to be reported as a leak, and the connection leaves the ledger as `ended`. `above`: the
   * adapter's frame, as for `released`.
   */
  endedWithPool(record: ConnectionRecord, above: Function, poolMessage: string): void {
    const lease = record.lease;
    if (lease !== undefined && !lease.released && !lease.reclaimed) {
      this.#shutdown.closedUnderHolder(lease);
      // Not resolved: the lease was never given back, and its endClosed report says so.
      lease.reported = false;
      this.released(lease, above, poolMessage);
    }
    this.connectionRemoved(record, 'ended');
  }

  /**
   * What a caller refused because the pool is ending is told after the pool's own message (which
   * alone does not say that the service is shutting down), or `undefined` before `end()`.
   */
  endingNote(): string | undefined {
    return this.#shutdown.endingNote();
  }

  /**
   * A checkout refused (`timedOut`: or timed out) while the pool ends: the pool's own error, its
   * class, `code` and `message` unchanged, with `endingNote()` in its stack and `err.poolguard`
   * (see `poolTimedOut` for a timeout). `undefined` before `end()`: the adapter's usual path applies.
   */
  checkoutRefusedAtEnd(lease: Lease, err: Error, timedOut: boolean): Error | undefined {
    const note = this.#shutdown.endingNote();
    if (note === undefined) return undefined;
    if (timedOut) return this.poolTimedOut(lease, err);
    this.checkoutFailed(lease, false);
    this.noteRefusedAtEnd(err);
    return err;
  }

  /**
   * A checkout refused while the pool ends, told beside the pool's own error rather than in it:
   * its class, `code` and `message` stay byte for byte what the pool gave (code compares them);
   * `err.pool` is added and the `endingNote()` goes into `err.poolguard` and the stack (see
   * `annotate`), and is logged. Does nothing before `end()`.
   */
  noteRefusedAtEnd(err: Error): void {
    const note = this.#shutdown.endingNote();
    if (note === undefined) return;
    const name = this.config.name;
    annotate(err, note, { pool: name });
    this.log('warn', 'refused at end', { pool: name }, note);
  }

  // ---- views -------------------------------------------------------------------------------

  /** Looks at the leases old enough to matter, now (the housekeeper's timer does so on its own). */
  scan(): void {
    this.#housekeeper.sweep(this.clock.now(), true);
  }

  /** Open leases grouped by call site, largest group first. */
  holders(now = this.clock.now()): readonly HolderGroup[] {
    return holderGroups(this.#ctx, now).groups;
  }

  snapshot(): GuardSnapshot {
    return snapshot(this.#ctx);
  }

  /** Where a lease was checked out, as reports say it (for an adapter's own log lines). */
  whereTaken(lease: Lease): LeaseWhereabouts {
    return this.#ctx.whereTaken(lease);
  }

  /** The wrapped pool's own counters (never throws). */
  counts(): PoolCounts {
    return this.#ctx.counts();
  }
}

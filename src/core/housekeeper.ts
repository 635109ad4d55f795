import type { CapturePolicy } from './capture-policy.js';
import type { GuardContext } from './context.js';
import { formatDuration, plural } from './format.js';
import type { LeakScan } from './leak-scan.js';
import { dueReason, markRetiring } from './recycle-policy.js';
import type { StallReport } from './types.js';

/**
 * A check this late (and at least half its interval late) means the event loop was blocked. As
 * HikariCP's housekeeper treats a run 1.5 periods after the last as a clock leap, and floored so
 * that a garbage collection or a busy machine's scheduling does not count.
 */
const STALL_MIN_MS = 200;

/**
 * Late checks in a row that make no decision. A loop blocked this often would otherwise hide every
 * leak: after this many, the check decides even though it ran late.
 */
const MAX_DEFERRED_SCANS = 3;

/**
 * The pool's periodic check (HikariCP's HouseKeeper): a timer that runs only while there is
 * something to watch (open leases, or connections with a lifetime), that notices when it ran late
 * because the event loop was blocked (`stall`), and that on each run lets the capture policy adapt,
 * the leak scan decide, and retires idle connections whose lifetime or uses are spent.
 */
export class Housekeeper {
  /**
   * The clock's `epoch` when the timer was made; `null` while there is no timer. The core's grant
   * compares it with the clock's, so that a checkout pays one comparison to know the timer runs.
   */
  timerEpoch: number | undefined | null = null;
  /** The check's interval. */
  readonly everyMs: number;
  readonly #ctx: GuardContext;
  readonly #leaks: LeakScan;
  readonly #capture: CapturePolicy;
  readonly #watchesLeases: boolean;
  readonly #recycles: boolean;
  #timer: unknown = undefined;
  /** When the timer last ran (or was started): a check much later than due means a blocked loop. */
  #lastTickAt = 0;
  /** Late checks in a row that deferred their decisions. */
  #deferredScans = 0;

  constructor(ctx: GuardContext, leaks: LeakScan, capture: CapturePolicy, suspectAfterMs: number, recycles: boolean) {
    this.#ctx = ctx;
    this.#leaks = leaks;
    this.#capture = capture;
    this.#watchesLeases = suspectAfterMs !== Infinity;
    this.#recycles = recycles;
    const { maxLifetimeMs } = ctx.config;
    // Reports come at most a quarter of the threshold late, and never more than a second late;
    // lifetimes are enforced to within a tenth of the lifetime, or a second.
    const due = Math.min(suspectAfterMs / 4, maxLifetimeMs > 0 ? maxLifetimeMs / 10 : Infinity);
    this.everyMs = Math.min(1_000, Math.max(10, due));
  }

  /** Starts the timer unless it runs under the current clock. `now`: the caller's clock reading. */
  start(now: number): void {
    const clock = this.#ctx.clock;
    if (this.#timer !== undefined) {
      if (this.timerEpoch === clock.epoch) return;
      // Made under another clock (fake timers installed or removed since): it may never fire.
      clock.clearInterval(this.#timer);
    }
    this.timerEpoch = clock.epoch;
    this.#lastTickAt = now;
    this.#deferredScans = 0;
    this.#timer = clock.setInterval(() => this.#tick(), this.everyMs);
  }

  /**
   * The timer's run: a check that ran late means the event loop was blocked, and every holder with
   * it. Time gained that way is not the holders' doing, so the late check says so and decides
   * nothing; the next one, after holders have had their turn (their timers and I/O), decides.
   */
  #tick(): void {
    const now = this.#ctx.clock.now();
    const actualMs = now - this.#lastTickAt;
    const late = actualMs - this.everyMs;
    this.#lastTickAt = now;
    let decide = true;
    if (late >= Math.max(STALL_MIN_MS, this.everyMs / 2)) {
      this.#stalled(late, actualMs);
      decide = this.#deferredScans >= MAX_DEFERRED_SCANS;
    }
    this.#deferredScans = decide ? 0 : this.#deferredScans + 1;
    this.sweep(now, decide);
  }

  #stalled(blockedMs: number, actualMs: number): void {
    const ctx = this.#ctx;
    ctx.ledger.totals.stalls++;
    const pool = ctx.config.name;
    const leased = ctx.ledger.leased;
    const waiting = Math.max(0, ctx.counts().waiting);
    const deferred = this.#deferredScans < MAX_DEFERRED_SCANS;
    const message =
      `poolguard[${pool}]: the event loop was blocked for at least ${formatDuration(blockedMs)}: the pool's check, due every ${formatDuration(this.everyMs)}, ran ${formatDuration(actualMs)} after the previous one, ` +
      `with ${plural(leased, 'lease')} out and ${plural(waiting, 'caller')} waiting. No holder could run meanwhile, so ` +
      (deferred ? 'poolguard made no leak report or reclaim on that time (its next check decides). ' : `after ${MAX_DEFERRED_SCANS} late checks in a row poolguard decides anyway. `) +
      `A blocked loop stalls every request and makes checkouts wait: find the synchronous work (a CPU-heavy handler, a sync fs or crypto call, a huge JSON.parse) with node --cpu-prof or perf_hooks.monitorEventLoopDelay().`;
    const report: StallReport = Object.freeze({ pool, blockedMs: Math.round(blockedMs), expectedMs: this.everyMs, actualMs: Math.round(actualMs), leased, waiting, message });
    ctx.log.write('warn', 'stall', report, message);
    ctx.emit('stall', report);
  }

  /** One check: `decide` false on a check that ran late (see `#tick`). Stops the timer when nothing is left to watch. */
  sweep(now: number, decide: boolean): void {
    const ctx = this.#ctx;
    if (this.#capture.adapts) this.#capture.adapt(now, ctx.ledger);
    this.#leaks.scan(now, decide);
    if (this.#recycles) this.#retireIdle(now);
    const { open, suspects, connections } = ctx.ledger;
    const keepForLeases = open.size + suspects.size > 0 && this.#watchesLeases;
    const keepForConnections = ctx.config.maxLifetimeMs > 0 && connections.size > 0;
    if (!keepForLeases && !keepForConnections && this.#timer !== undefined) {
      ctx.clock.clearInterval(this.#timer);
      this.#timer = undefined;
      this.timerEpoch = null;
    }
  }

  /** Retires idle connections whose lifetime or uses are spent, through the adapter. */
  #retireIdle(now: number): void {
    const ctx = this.#ctx;
    const retire = ctx.hooks.retireIdle;
    if (retire === undefined) return;
    for (const record of [...ctx.ledger.connections]) {
      if (record.lease !== undefined) continue;
      const reason = dueReason(record, now, ctx.config);
      if (reason === undefined) continue;
      // Marked first: if the pool cannot close it now, its next release or checkout will.
      markRetiring(record, reason);
      try {
        retire(record);
      } catch {
        // The next release or checkout retires it.
      }
    }
  }
}

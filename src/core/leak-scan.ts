import { inActiveUse, type Activity } from './activity.js';
import type { CapturePolicy } from './capture-policy.js';
import type { GuardContext } from './context.js';
import { LeaseReclaimedError } from './errors.js';
import { leakReport } from './leak-report.js';
import { Watch, type Lease } from './ledger.js';
import type { ResolvedGuardConfig } from './options.js';
import { markRetiring } from './recycle-policy.js';
import { describeCapture, formattedCapture } from './stack.js';
import type { LeakReport } from './types.js';

/** Reports and reclaims handled per scan at most; the rest wait for the next scan (≤ 1 s later). */
const MAX_REPORTS_PER_SCAN = 100;

/**
 * A lease held this long keeps only its formatted stack, even with leak reports off
 * (`leakThresholdMs: 0`): an unformatted capture keeps every frame's receiver and arguments alive,
 * which for a forgotten lease is its whole request, for as long as it stays forgotten. Formatting
 * costs about 25 µs, once per lease held this long.
 */
const LONG_HELD_MS = 10_000;

/**
 * The age at which a lease becomes a suspect, the scan's first look at it: the shortest of the
 * positive leak and reclaim thresholds and, while stacks are captured, `LONG_HELD_MS` (a suspect's
 * capture is formatted). `Infinity`: no lease is ever looked at.
 */
export function suspectAfterMs(config: ResolvedGuardConfig): number {
  const thresholds = [config.leakThresholdMs, config.reclaimAfterMs].filter((t) => t > 0);
  if (config.captureStacks !== 'none') thresholds.push(LONG_HELD_MS);
  return thresholds.length ? Math.min(...thresholds) : Infinity;
}

/** The end deadline a reclaim is made at (`pool.end()` waited `timeoutMs`), as `LeaseReclaimedError` says it. */
export interface EndDeadline {
  readonly call: string;
  readonly timeoutMs: number;
}

/**
 * Where a leak is decided. The scan looks at the leases old enough to matter: it reports a lease
 * past `guard.leakThresholdMs` (as slow when work is in flight or its last query finished within
 * `guard.idleAfterMs`, as a possible leak when it is quiet), reports it resolved when it comes
 * back, and reclaims one idle past `guard.reclaimAfterMs`.
 * What the lease is doing is read from the driver, never guessed from time. Cost: the leases that
 * crossed a threshold, plus one.
 */
export class LeakScan {
  readonly #ctx: GuardContext;
  readonly #capture: CapturePolicy;
  readonly #suspectAfterMs: number;

  constructor(ctx: GuardContext, capture: CapturePolicy, suspectAfter: number) {
    this.#ctx = ctx;
    this.#capture = capture;
    this.#suspectAfterMs = suspectAfter;
  }

  /** `decide`: false on a check that ran late, which reports and reclaims nothing (see `Housekeeper`). */
  scan(now: number, decide: boolean): void {
    const ctx = this.#ctx;
    const { open, suspects } = ctx.ledger;
    const cfg = ctx.config;
    for (let lease = open.head; lease !== undefined && now - lease.acquiredAt >= this.#suspectAfterMs; lease = open.head) {
      open.remove(lease);
      suspects.push(lease);
      // Formatted once, when the lease first matters: earlier would cost every checkout.
      lease.capture = formattedCapture(lease.capture, ctx.sites);
      if (lease.exempt === undefined && cfg.exemptSites.length > 0) lease.exempt = this.#exemptSite(lease);
    }
    // A report formats a stack (about 25 µs): when thousands of leases cross a threshold at once,
    // a bounded number is handled per scan and the rest on the next ones, rather than blocking the
    // event loop for a quarter of a second (benchmarks/RESULTS.md, "Scale").
    let budget = decide ? MAX_REPORTS_PER_SCAN : 0;
    for (let lease = suspects.head; lease !== undefined && budget > 0; ) {
      const next = lease.next;
      if (lease.exempt !== undefined) {
        lease = next;
        continue;
      }
      const heldMs = now - lease.acquiredAt;
      let act: Activity | undefined;
      if (lease.watch !== Watch.leak && cfg.leakThresholdMs > 0 && heldMs >= cfg.leakThresholdMs) {
        act = ctx.activity(lease, now);
        // A lease whose last query finished moments ago is between two statements: slow, not
        // forgotten, wherever the scan falls in the pause. Only a quiet lease is a possible leak.
        const quiet = act.state === 'idle' && !inActiveUse(act, cfg.idleAfterMs);
        if (lease.watch === Watch.none) {
          const seen = quiet ? Watch.leak : act.state === 'busy' ? Watch.busy : Watch.active;
          if (seen === Watch.leak || cfg.reportBusy) {
            this.#report(lease, now, act, seen);
            budget--;
          } else {
            lease.watch = seen;
          }
        } else if (quiet && act.idleMs >= cfg.leakThresholdMs) {
          // Slow at the threshold (reported or muted): a possible leak once it has been quiet as
          // long as the threshold, not in a pause between queries.
          this.#report(lease, now, act, Watch.leak);
          budget--;
        }
      }
      if (cfg.reclaimAfterMs > 0 && heldMs >= cfg.reclaimAfterMs && !lease.managed) {
        act ??= ctx.activity(lease, now);
        // Nothing in flight for idleAfterMs: a scan that falls between two queries takes nothing.
        if (act.state === 'idle' && act.idleMs >= cfg.idleAfterMs && this.#underPressure()) {
          this.reclaim(lease, this.report('reclaim', lease, now, act), undefined);
          budget--;
        }
      }
      lease = next;
    }
  }

  /** A report on a lease, worded (see `leakReport`). */
  report(type: LeakReport['type'], lease: Lease, now: number, act: Activity | undefined, crossed?: 'busy' | 'active'): LeakReport {
    return leakReport(this.#ctx, this.#capture, type, lease, now, act, crossed);
  }

  /** A lease that was reported has been released: slow, not lost. */
  resolved(lease: Lease, now: number): void {
    const ctx = this.#ctx;
    ctx.ledger.totals.leaksResolved++;
    const report = this.report('leakResolved', lease, now, undefined);
    ctx.log.write('info', `resolved ${report.where}`, report, report.message);
    ctx.emit('leakResolved', report);
  }

  /**
   * Takes a lease back: the adapter destroys its connection and makes the holder's next use fail.
   * `report` is made before the lease changes; `end`: reclaimed at the end deadline, where one
   * summary (`endForced`) names every lease cut rather than a line each.
   */
  reclaim(lease: Lease, report: LeakReport, end: EndDeadline | undefined): void {
    const ctx = this.#ctx;
    lease.reclaimed = true;
    // The holder may keep it for ever: only the formatted stack stays (see LONG_HELD_MS).
    lease.capture = formattedCapture(lease.capture, ctx.sites);
    lease.list?.remove(lease);
    if (lease.conn !== undefined) lease.conn.held = false;
    ctx.ledger.totals.reclaims++;
    if (lease.conn !== undefined) markRetiring(lease.conn, 'reclaimed');
    const { name, reclaimAfterMs } = ctx.config;
    const lent = ctx.words.lent;
    const makeError = () => new LeaseReclaimedError(name, report.site, report.heldMs, report.idleMs, reclaimAfterMs, end, report.where, lent);
    try {
      ctx.hooks.reclaim(lease, makeError);
    } catch {
      // The adapter destroys a connection that may already be broken; nothing to add.
    }
    if (end === undefined) ctx.log.write('warn', `reclaim ${report.where}`, report, report.message);
    ctx.telemetry.leak(report, lease);
    ctx.emit('reclaim', report);
  }

  /** `seen`: what the lease is found doing (see `Watch`); the report is worded from it. */
  #report(lease: Lease, now: number, act: Activity, seen: Watch): void {
    const ctx = this.#ctx;
    const crossed = lease.watch === Watch.busy ? 'busy' : lease.watch === Watch.active ? 'active' : undefined;
    // A lease reported slow and then as a possible leak counts once in the leak totals.
    if (!lease.reported) ctx.ledger.totals.leaks++;
    lease.reported = true;
    lease.watch = seen;
    const report = this.report('leak', lease, now, act, crossed);
    ctx.log.write('warn', `leak ${report.where}`, report, report.message);
    ctx.telemetry.leak(report, lease);
    ctx.emit('leak', report);
  }

  /** The `guard.exemptSites` pattern the lease's site matches, as its exemption reason. */
  #exemptSite(lease: Lease): string | undefined {
    const ctx = this.#ctx;
    const site = describeCapture(lease.capture, ctx.sites)?.site;
    if (site === undefined) return undefined;
    const match = ctx.config.exemptSites.find((re) => re.test(site));
    return match === undefined ? undefined : `guard.exemptSites ${String(match)}`;
  }

  #underPressure(): boolean {
    const ctx = this.#ctx;
    const percent = ctx.config.reclaimWhenUsedPercent;
    if (percent <= 0) return true;
    const max = ctx.counts().max;
    return max > 0 && (ctx.ledger.leased / max) * 100 >= percent;
  }
}

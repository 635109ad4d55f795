import { enableAsyncTrail } from './async-trail.js';
import { formatDuration } from './format.js';
import type { Lease, Ledger } from './ledger.js';
import type { RateLimitedLog } from './logger.js';
import type { ResolvedGuardConfig } from './options.js';
import { makeCapturePlan, makeStackCapturer, type CapturePlan, type StackCapturer } from './stack.js';
import { takenBy } from './where-taken.js';

/**
 * `captureStacks: 'adaptive'`: the share of explicit checkouts captured while no lease without a
 * stack is held long. One in 64 costs about 0.1 µs per checkout on average (a capture is 3.4–4.3 µs
 * in a checkout loop here) and still names a leak that recurs at its first sampled occurrence.
 */
const ADAPTIVE_SAMPLE_RATE = 1 / 64;

/**
 * `captureStacks: 'adaptive'`: a pool's first explicit checkouts are all captured. A leak in a new
 * deployment, a test suite or a first try is then named from its first report, as with `'connect'`;
 * the capture costs about 3 ms over these 1,000 checkouts, once, and a service at steady state pays
 * the sampled rate.
 */
export const ADAPTIVE_START_CHECKOUTS = 1_000;

/**
 * A lease its holder took explicitly (and so can forget) without a captured stack: no report can
 * name its line. Managed leases (`pool.query()`, `use()`, a data layer's query) are released by
 * their pool, so a missing stack there loses nothing.
 */
export function unnamedExplicit(lease: Lease): boolean {
  return lease.capture === undefined && !lease.managed;
}

/**
 * Which checkouts capture the caller's stack (`guard.captureStacks`, `stackSampleRate`,
 * `releaseStacks`), and, for `'adaptive'`, when to move between sampling and every checkout.
 * The capture itself happens on the hot path, in the adapter's entry point and the core's
 * `prepareCapture`/`checkoutRequested`, which read the plan this policy installs: the policy runs
 * only at construction, at the end of its start and in the scan.
 */
export class CapturePolicy {
  /** The plan for managed calls (`pool.query()`, `use()`, a data layer's query). */
  readonly managed: CapturePlan;
  /** Captures where a lease is released (double and dirty releases). */
  readonly release: StackCapturer;
  /** `'adaptive'`: an explicit lease without a stack held this long switches to every checkout. */
  readonly adaptAfterMs: number;
  /** `'adaptive'`: the sampled plan captures 1 explicit checkout in this many. */
  readonly oneIn: number = 0;
  /** The plan in force for explicit checkouts; the core keeps a copy for its hot path. */
  #explicit: CapturePlan;
  readonly #install: (plan: CapturePlan) => void;
  /** `'adaptive'` only: the sampled plan and the every-checkout plan, else both `undefined`. */
  readonly #sampled: CapturePlan | undefined = undefined;
  readonly #every: CapturePlan | undefined = undefined;
  /** `'adaptive'`: no lease without a stack is held long; back to sampling at this clock reading. */
  #everyUntil = -Infinity;
  readonly #suspectAfterMs: number;
  readonly #log: RateLimitedLog;
  readonly #name: string;
  readonly #connectCall: string;

  /**
   * `suspectAfterMs`: the age at which the scan first looks at a lease; `install` gives the core
   * each explicit plan the policy moves to; `connectCall`: the pool's name for its `connect` checkout.
   */
  constructor(config: ResolvedGuardConfig, suspectAfterMs: number, log: RateLimitedLog, install: (plan: CapturePlan) => void, connectCall = 'connect()') {
    this.#connectCall = connectCall;
    this.#install = install;
    this.#suspectAfterMs = suspectAfterMs;
    this.#log = log;
    this.#name = config.name;
    this.adaptAfterMs = suspectAfterMs / 4;
    const settings = { sampleRate: config.stackSampleRate, depth: config.stackDepth, asyncCallers: config.asyncCallers };
    if (config.asyncCallers) enableAsyncTrail();
    this.#explicit = makeCapturePlan(config.captureStacks !== 'none', settings);
    if (config.captureStacks === 'adaptive') {
      const sampleRate = config.stackSampleRate < 1 ? config.stackSampleRate : ADAPTIVE_SAMPLE_RATE;
      this.oneIn = Math.round(1 / sampleRate);
      const every = (this.#every = makeCapturePlan(true, { ...settings, sampleRate: 1 }));
      const sampled = (this.#sampled = makeCapturePlan(true, { ...settings, sampleRate }));
      // The start: every checkout, counted, then sampling (unless `adapt` has moved on to `every`).
      // A stackSampleRate set below 1 asks for sampling from the first checkout: no start.
      let left = config.stackSampleRate < 1 ? 0 : ADAPTIVE_START_CHECKOUTS;
      const start: CapturePlan = {
        prepare: () => every.prepare(),
        finish: () => {
          every.finish();
          if (--left <= 0 && this.#explicit === start) this.#use(sampled);
        },
      };
      this.#explicit = left > 0 ? start : sampled;
    }
    this.managed = makeCapturePlan(config.captureStacks === 'all', settings);
    this.release = makeStackCapturer(true, { sampleRate: 1, depth: config.stackDepth });
  }

  /** The plan in force for explicit checkouts (`connect()`, `acquire()`, `getConnection()`). */
  get explicit(): CapturePlan {
    return this.#explicit;
  }

  /** Whether the policy moves between plans (`'adaptive'`), so that the scan calls `adapt`. */
  get adapts(): boolean {
    return this.#every !== undefined;
  }

  /** `'adaptive'`: whether every explicit checkout is captured now, after an unnamed lease was held long. */
  get capturingEvery(): boolean {
    return this.#every !== undefined && this.#explicit === this.#every;
  }

  #use(plan: CapturePlan): void {
    this.#explicit = plan;
    this.#install(plan);
  }

  /**
   * `captureStacks: 'adaptive'`: an explicit lease held past `adaptAfterMs` without a stack may be
   * a leak that sampling missed, and its site cannot be named; from now on every checkout is
   * captured, so that the next lease from the same line is (a leak recurs). Back to sampling once
   * no such lease has been seen for the suspect age. Walks only the open leases past that age.
   */
  adapt(now: number, ledger: Ledger): void {
    let found: Lease | undefined;
    for (let lease = ledger.open.head; lease !== undefined && now - lease.acquiredAt >= this.adaptAfterMs; lease = lease.next) {
      if (unnamedExplicit(lease) && lease.exempt === undefined) {
        found = lease;
        break;
      }
    }
    if (found !== undefined) {
      if (this.#explicit !== this.#every) {
        this.#use(this.#every!);
        const name = this.#name;
        this.#log.write(
          'info',
          'adaptive capture',
          { pool: name, leaseId: found.id, heldMs: Math.round(now - found.acquiredAt) },
          `poolguard[${name}]: a ${takenBy(found, this.#connectCall)} lease without a stack has been held ${formatDuration(now - found.acquiredAt)} (guard.captureStacks: 'adaptive' samples ` +
            `1 checkout in ${this.oneIn}); every checkout's stack is captured from now on, so a leak that recurs is reported with its line.`,
        );
      }
      this.#everyUntil = now + this.#suspectAfterMs;
    } else if (this.#explicit === this.#every && now >= this.#everyUntil) {
      this.#use(this.#sampled!);
    }
  }
}

import { readActivity, type Activity } from './activity.js';
import type { Clock } from './clock.js';
import { channels } from './diagnostics.js';
import type { PoolGuard } from './handle.js';
import { resolveWords, type AdapterHooks, type Words } from './hooks.js';
import type { ConnectionRecord, Lease, Ledger } from './ledger.js';
import { RateLimitedLog } from './logger.js';
import type { ResolvedGuardConfig } from './options.js';
import { DEFAULT_IGNORED_FRAMES, describeCapture, type SiteRules } from './stack.js';
import { NO_TELEMETRY, type TelemetrySink } from './telemetry.js';
import type { ConnectionSummary, GuardEvents, PoolCounts } from './types.js';
import { whereTaken, type LeaseWhereabouts } from './where-taken.js';

/**
 * What every room of a guard shares about its pool: the settings, the clock, the ledger, the
 * adapter's hooks and words, the log and the event outlet, and the readings every report makes of
 * a lease (what it is doing, where it was taken) and of a connection. Built once per pool.
 */
export class GuardContext {
  readonly config: ResolvedGuardConfig;
  readonly clock: Clock;
  readonly ledger: Ledger;
  readonly hooks: AdapterHooks;
  readonly words: Words;
  readonly log: RateLimitedLog;
  /** What a capture is read with: the frames that are not the application's, and the depth. */
  readonly sites: SiteRules;
  readonly handle: PoolGuard;
  /** The adapter's telemetry once plugged in (`GuardCore.useTelemetry`). */
  telemetry: TelemetrySink = NO_TELEMETRY;

  constructor(config: ResolvedGuardConfig, clock: Clock, ledger: Ledger, hooks: AdapterHooks, handle: PoolGuard) {
    this.config = config;
    this.clock = clock;
    this.ledger = ledger;
    this.hooks = hooks;
    this.words = resolveWords(hooks);
    this.log = new RateLimitedLog(config.logger, () => clock.now(), this.words.handle);
    this.sites = { ignore: [...DEFAULT_IGNORED_FRAMES, ...config.ignoreFrames], depth: config.stackDepth };
    this.handle = handle;
  }

  /** Publishes an event on its diagnostics channel and to `pool.guard`'s listeners; a listener that throws is logged. */
  emit<K extends keyof GuardEvents>(event: K, ...args: GuardEvents[K]): void {
    const channel = channels[event];
    if (channel.hasSubscribers) channel.publish(args[0]);
    for (const listener of this.handle.rawListeners(event)) {
      try {
        (listener as (...a: unknown[]) => void).apply(this.handle, args);
      } catch (err) {
        this.log.write('warn', `listener ${event}`, { err }, `poolguard[${this.config.name}]: a '${event}' listener on ${this.words.handle} threw (${String((err as Error)?.message ?? err)}); the pool is unaffected. Fix the listener.`);
      }
    }
  }

  /** The wrapped pool's own counters (never throws). */
  counts(): PoolCounts {
    try {
      return this.hooks.counts();
    } catch {
      return { total: this.ledger.connections.size, idle: 0, waiting: 0, max: 0, min: 0 };
    }
  }

  /** A connection as reports and snapshots show it. */
  summary(conn: ConnectionRecord, now: number): ConnectionSummary {
    return { id: conn.id, pid: conn.pid, ageMs: Math.round(now - conn.createdAt), uses: conn.uses };
  }

  /** What the lease is doing now (see `readActivity`). */
  activity(lease: Lease, now: number): Activity {
    return readActivity(this.hooks, this.config.idleAfterMs, lease, now);
  }

  /**
   * Where a lease was taken, or why that is unknown: the one description every output uses.
   * `capture`: the stack to read, when not the lease's own (kept by a reader, or taken later).
   */
  whereTaken(lease: Lease, capture = lease.capture): LeaseWhereabouts {
    return whereTaken(describeCapture(capture, this.sites), lease, this.config, this.words.connectCall);
  }
}

import type { GuardLogger } from './options.js';

/** Writes the message, then the details already in it, to stderr: what an on-call engineer greps. */
export const stderrLogger: GuardLogger = Object.freeze({
  warn(_obj: object, msg: string): void {
    process.stderr.write(`${msg}\n`);
  },
  info(_obj: object, msg: string): void {
    process.stderr.write(`${msg}\n`);
  },
});

const SITE_INTERVAL_MS = 60_000;
const WINDOW_MS = 60_000;
const WINDOW_MAX = 20;

/**
 * One line per call site per minute and at most twenty lines a minute per pool, so that a leak
 * in a hot route cannot flood the logs that the on-call engineer needs. What is held back is
 * counted and said on the next line that is written. Events on `pool.guard` are never limited.
 */
export class RateLimitedLog {
  readonly #logger: GuardLogger | undefined;
  readonly #now: () => number;
  /** The user's handle on this pool's guard (`pool.guard`, `sql.guard`, …): where the held-back lines are. */
  readonly #handle: string;
  readonly #lastBySite = new Map<string, number>();
  #windowStart = -Infinity;
  #windowCount = 0;
  #suppressed = 0;

  constructor(logger: GuardLogger | false | undefined, now: () => number, handle = 'pool.guard') {
    this.#logger = logger === false ? undefined : (logger ?? stderrLogger);
    this.#now = now;
    this.#handle = handle;
  }

  get enabled(): boolean {
    return this.#logger !== undefined;
  }

  /** `unlimited`: never held back (a stuck shutdown says so once, even after a minute of leak reports). */
  write(level: 'warn' | 'info', key: string, obj: object, msg: string, unlimited = false): void {
    const logger = this.#logger;
    if (logger === undefined) return;
    const now = this.#now();
    const last = this.#lastBySite.get(key);
    if (!unlimited && last !== undefined && now - last < SITE_INTERVAL_MS) {
      this.#suppressed++;
      return;
    }
    if (now - this.#windowStart >= WINDOW_MS) {
      this.#windowStart = now;
      this.#windowCount = 0;
    }
    if (!unlimited && this.#windowCount >= WINDOW_MAX) {
      this.#suppressed++;
      return;
    }
    this.#windowCount++;
    if (this.#lastBySite.size > 1000) this.#lastBySite.clear();
    this.#lastBySite.set(key, now);
    if (this.#suppressed > 0) {
      msg += `\n  (${this.#suppressed} similar line${this.#suppressed === 1 ? '' : 's'} held back in the last minute; every report is on ${this.#handle}'s events and in ${this.#handle}.snapshot())`;
      this.#suppressed = 0;
    }
    try {
      const fn = level === 'info' && typeof logger.info === 'function' ? logger.info : logger.warn;
      fn.call(logger, obj, msg);
    } catch {
      // A broken logger must never break the pool that is trying to tell about a leak.
    }
  }
}

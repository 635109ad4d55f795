/**
 * The one monotonic clock of a guard. Durations never come from `Date.now()`, which jumps
 * with NTP and daylight changes; wall time is derived from the monotonic reading only when a
 * report needs a timestamp.
 */
export interface Clock {
  /** Monotonic milliseconds, fractional. */
  now(): number;
  /** Wall-clock epoch milliseconds for a reading of `now()`. */
  wallTime(monotonic: number): number;
  /** A repeating timer that never holds the process open. */
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  wallTime: (monotonic: number) => performance.timeOrigin + monotonic,
  setInterval(fn: () => void, ms: number): unknown {
    const handle = setInterval(fn, ms);
    // A pool's housekeeping must never keep a finished process alive.
    handle.unref?.();
    return handle;
  },
  clearInterval(handle: unknown): void {
    clearInterval(handle as ReturnType<typeof setInterval>);
  },
});

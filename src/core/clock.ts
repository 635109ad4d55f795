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
  /**
   * Lets a timer from `setInterval` hold the process open (`hold: true`) or not any more. Only the
   * timers of an `end()` that waits on a lease are held (see `GuardCore.endStarted`).
   */
  holdOpen?(handle: unknown, hold: boolean): void;
  /**
   * Changes when the clock's source changes (fake timers installed or removed): a timer made
   * before then may never fire again, and is made anew.
   */
  readonly epoch?: number;
}

type Now = () => number;

// The runtime's own timer, taken when this module loads: fake timers (@sinonjs/fake-timers, as
// Vitest and Jest install them) replace the global one, and a timer they made dies with them.
const nativeSetInterval = globalThis.setInterval;
const nativeClearInterval = globalThis.clearInterval;
const NativeDate = globalThis.Date;
// Node's `globalThis.performance` is a lazy accessor whose getter checks its receiver at every read:
// about 200 of the 580 instructions of a clock read (callgrind, Node 20). The object it returns is
// kept here and read directly while nothing says fake timers are installed (see `MonotonicClock`).
const nativePerformance = globalThis.performance;
const nativeNow = nativePerformance.now;
// The runtime's `performance.now()` read through `process.hrtime()`, taken when this module loads:
// both count from the same monotonic source (libuv's hrtime in Node), and the brand check Node's
// `performance.now()` makes of its receiver at every call (a `hasOwnProperty`) makes it the dearer
// of the two: a `now()` here measured 327 instructions through it and 272 through `hrtime()`
// (callgrind, Node 20), and a connection followed command by command reads the clock at each
// command's end. The offset between the two is measured here, to within a microsecond (the
// closest of a few paired readings).
const nativeHrtime = typeof process === 'object' && typeof process?.hrtime === 'function' ? process.hrtime : undefined;
const hrMillis = (hr: () => [number, number]): number => {
  const t = hr();
  return t[0] * 1e3 + t[1] / 1e6;
};
const hrOrigin = ((): number | undefined => {
  if (nativeHrtime === undefined) return undefined;
  try {
    let best = Infinity;
    let origin = 0;
    for (let i = 0; i < 5; i++) {
      const before = hrMillis(nativeHrtime);
      const reading = nativeNow.call(nativePerformance);
      const after = hrMillis(nativeHrtime);
      if (after - before < best) {
        best = after - before;
        origin = (before + after) / 2 - reading;
      }
    }
    return Number.isFinite(origin) ? origin : undefined;
  } catch {
    return undefined;
  }
})();
/** The runtime's monotonic clock, in `performance.now()`'s terms. */
const nativeReading: () => number =
  nativeHrtime !== undefined && hrOrigin !== undefined ? () => hrMillis(nativeHrtime) - hrOrigin : () => nativeNow.call(nativePerformance);

/**
 * `performance.now()`, made safe against the clocks tests swap in and out. Fake timers replace
 * `performance.now` with a clock of their own, which starts wherever the test says (usually 0)
 * and moves only when told; uninstalling them brings the real one back, hours ahead or behind.
 * Read raw, a lease taken one fake minute in would be held for -56,778 ms once the fake clock is
 * gone, and reported only when real time caught up. So:
 * - when the source changes (another `performance.now` function), the reading carries on from
 *   where it was: the switch itself takes no time;
 * - within one source, a step backwards is never shown: the reading carries on from where it was,
 *   moving with the source from then on;
 * - a step forwards within one source (a fake clock advanced by the test) is followed, so that
 *   tests that advance fake timers see the leak reports they expect.
 * Durations read from it are therefore never negative.
 *
 * A fake clock is seen when the test's fake timers replace `Date` or `setInterval` along with
 * `performance`, or replace `performance.now` on the runtime's object (@sinonjs/fake-timers 15,
 * Jest's). One case is not seen: another `performance` object put on the global alone (Vitest's
 * `vi.useFakeTimers({ toFake: ['performance'] })`), which poolguard would only see by reading the
 * global's accessor at every checkout.
 */
export class MonotonicClock implements Clock {
  #source: Now | undefined = undefined;
  #perf: typeof globalThis.performance | undefined = undefined;
  /** Added to the source's reading: moves only when the source changes or steps back. */
  #offset = 0;
  #last = -Infinity;
  /** Changes of source so far: a guard re-arms a timer made under another source (see setInterval). */
  epoch = 0;

  now(): number {
    // Fake timers replace `Date` and the timers with `performance`, or `performance.now` on the
    // runtime's own object (@sinonjs/fake-timers 15 does both for `toFake: ['performance']`): while
    // all three are the runtime's, so is the clock, and the global's accessor is not read.
    const native = globalThis.Date === NativeDate && globalThis.setInterval === nativeSetInterval && nativePerformance.now === nativeNow;
    const perf = native ? nativePerformance : globalThis.performance;
    const source = perf.now;
    let reading = (native ? nativeReading() : perf.now()) + this.#offset;
    if (source !== this.#source) {
      if (this.#source !== undefined) {
        // Another clock: continue from where the old one stands now (the time it moved since the
        // last reading counts), rather than jump to the new clock's time.
        let until = this.#last;
        try {
          until = Math.max(until, this.#source.call(this.#perf) + this.#offset);
        } catch {
          // The old clock cannot be read any more: continue from the last reading.
        }
        this.#offset += until - reading;
        reading = until;
        this.epoch++;
      }
      this.#source = source;
      this.#perf = perf;
    } else if (reading < this.#last) {
      // The same clock stepped back (a fake clock set back): carry on from the last reading.
      this.#offset += this.#last - reading;
      reading = this.#last;
    }
    this.#last = reading;
    return reading;
  }

  wallTime(monotonic: number): number {
    // The current source's origin, and the reading in its terms: exact while the source is the
    // same as when the reading was taken; across a switch, the switch's gap is not counted.
    return globalThis.performance.timeOrigin + monotonic - this.#offset;
  }

  setInterval(fn: () => void, ms: number): unknown {
    const handle = setInterval(fn, ms);
    // A pool's housekeeping must never keep a finished process alive.
    (handle as { unref?: () => void }).unref?.();
    if (globalThis.setInterval === nativeSetInterval) return handle;
    // Made under fake timers: that timer fires when the test advances time and stops for good
    // when the fake clock is uninstalled, so a runtime timer beside it keeps the scans going.
    const native = nativeSetInterval(fn, ms);
    native.unref?.();
    return { handle, native };
  }

  holdOpen(handle: unknown, hold: boolean): void {
    // Made under fake timers: the runtime timer beside the fake one is what can hold the process.
    const timer = (handle !== null && typeof handle === 'object' && 'native' in handle ? (handle as { native: unknown }).native : handle) as { ref?: () => void; unref?: () => void } | null | undefined;
    if (hold) timer?.ref?.();
    else timer?.unref?.();
  }

  clearInterval(handle: unknown): void {
    if (handle !== null && typeof handle === 'object' && 'native' in handle) {
      const pair = handle as { handle: unknown; native: ReturnType<typeof setInterval> };
      nativeClearInterval(pair.native);
      handle = pair.handle;
    }
    // Cleared by whichever clearInterval is current: the fake one knows its own timers, and once
    // uninstalled the fake timer needs no clearing.
    try {
      clearInterval(handle as ReturnType<typeof setInterval>);
    } catch {
      // A fake timer's handle given to the runtime's clearInterval (or the reverse): nothing to stop.
    }
  }
}

/** The clock every guard uses: one per copy of poolguard, shared by its pools and adapters. */
export const systemClock = new MonotonicClock();

import type { Clock } from '../../src/core/clock.js';

/** A clock that moves only when told, firing due intervals in order: timing tests never sleep. */
export class FakeClock implements Clock {
  #now = 1_000;
  #timers = new Map<number, { fn: () => void; every: number; due: number }>();
  #nextId = 1;

  now(): number {
    return this.#now;
  }

  wallTime(monotonic: number): number {
    return Date.UTC(2026, 0, 1) + monotonic;
  }

  setInterval(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { fn, every: ms, due: this.#now + ms });
    return id;
  }

  clearInterval(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  get activeTimers(): number {
    return this.#timers.size;
  }

  /**
   * A blocked event loop: time moves `ms` with nothing running, then each overdue interval fires
   * once, in order, and is rescheduled from the new time, as Node's timers do after a block.
   */
  block(ms: number): void {
    this.#now += ms;
    const overdue = [...this.#timers].filter(([, t]) => t.due <= this.#now).sort((a, b) => a[1].due - b[1].due);
    for (const [id, timer] of overdue) {
      if (!this.#timers.has(id)) continue;
      timer.due = this.#now + timer.every;
      timer.fn();
    }
  }

  /** Moves time forward by `ms`, running every interval that falls due on the way. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: { id: number; due: number } | undefined;
      for (const [id, t] of this.#timers) if (t.due <= end && (next === undefined || t.due < next.due)) next = { id, due: t.due };
      if (next === undefined) break;
      this.#now = next.due;
      const timer = this.#timers.get(next.id)!;
      timer.due += timer.every;
      timer.fn();
    }
    this.#now = end;
  }
}

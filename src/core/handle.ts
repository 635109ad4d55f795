import { EventEmitter } from 'node:events';
import type { ResolvedGuardConfig } from './options.js';
import type { GuardEvents, GuardSnapshot } from './types.js';

/** What `pool.guard` asks of its pool's core (the `GuardCore` of guard.ts, which it cannot import). */
export interface GuardHandleCore {
  readonly config: ResolvedGuardConfig;
  snapshot(): GuardSnapshot;
  touch(resource: unknown): void;
  exempt(resource: object, reason: unknown): void;
}

/**
 * `pool.guard`: poolguard's handle on one pool. Listen for `leak`, `leakResolved` and `reclaim`;
 * call `snapshot()` for the pool's state. Listeners that throw are logged, never crash the pool.
 * @public
 */
export class PoolGuard extends EventEmitter {
  readonly #core: GuardHandleCore;

  /** @internal */
  constructor(core: GuardHandleCore) {
    super();
    this.#core = core;
  }

  /** The pool's name in reports, logs and telemetry. */
  get name(): string {
    return this.#core.config.name;
  }

  /** A JSON-serialisable picture of the pool now: counters, open leases, connections, totals. */
  snapshot(): GuardSnapshot {
    return this.#core.snapshot();
  }

  /**
   * Marks a checked-out resource as active now, so that a lease doing work poolguard cannot see
   * (a generic-pool resource that is not a pg client) reads `busy`, not `idle`, for the next
   * `guard.idleAfterMs`. pg clients need no call: what is in flight is read from the client.
   */
  touch(resource: unknown): void {
    this.#core.touch(resource);
  }

  /**
   * Marks the lease of a checked-out client (or generic-pool resource) as held on purpose — a
   * `LISTEN` client, a long report transaction — so that it is never reported as a leak nor
   * reclaimed. The lease still counts as checked out, and snapshots show it with `exempt: reason`.
   * The mark ends with the lease: the next checkout of the same connection is watched as usual.
   * Returns the client, so that it can wrap the checkout:
   * `const listener = pool.guard.exempt(await pool.connect(), 'LISTEN orders')`.
   * Throws a `TypeError` when the client is not checked out from this pool.
   */
  exempt<T extends object>(client: T, reason = 'exempt'): T {
    this.#core.exempt(client, reason);
    return client;
  }

  /** @internal The options in force, defaults included: what `audit(pool)` reads. */
  get resolvedOptions(): Readonly<Record<string, unknown>> {
    return { ...this.#core.config };
  }

  /** Adds a listener for one of {@link GuardEvents}. */
  override on<K extends keyof GuardEvents>(event: K, listener: (...args: GuardEvents[K]) => void): this;
  /** Adds a listener for any event name, as on every EventEmitter. */
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  /** Adds a one-time listener for one of {@link GuardEvents}. */
  override once<K extends keyof GuardEvents>(event: K, listener: (...args: GuardEvents[K]) => void): this;
  /** Adds a one-time listener for any event name, as on every EventEmitter. */
  override once(event: string | symbol, listener: (...args: any[]) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.once(event, listener);
  }

  /** Removes a listener for one of {@link GuardEvents}. */
  override off<K extends keyof GuardEvents>(event: K, listener: (...args: GuardEvents[K]) => void): this;
  /** Removes a listener for any event name, as on every EventEmitter. */
  override off(event: string | symbol, listener: (...args: any[]) => void): this;
  override off(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.off(event, listener);
  }
}

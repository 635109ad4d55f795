import type { PoolGuard } from '../core/handle.js';
import { ASYNC_DISPOSE } from './disposal.js';

/**
 * A generic-pool resource checked out with `pool.guard.lease()`, which gives it back at the end of
 * an `await using` scope, on every path out of it. generic-pool's resources are the application's
 * own objects, which poolguard does not extend; this small wrapper is what `await using` disposes.
 * @public
 */
export interface DisposableLease<T> {
  /** The resource, as `pool.acquire()` would have resolved it. */
  readonly resource: T;
  /**
   * Gives the resource back with `pool.release(resource)`, unless it went back already: a
   * `pool.release(lease.resource)` or `pool.destroy(lease.resource)` inside the scope (to give it
   * back early, or to destroy a broken one) makes the disposal do nothing, and no double release.
   */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * `pool.guard` of a generic-pool pool: poolguard's handle, and {@link GenericPoolGuard.lease} for
 * `await using`.
 * @public
 */
export interface GenericPoolGuard<T> extends PoolGuard {
  /**
   * Acquires a resource as `pool.acquire(priority)` does (same queue, timeout and errors; the
   * lease is reported, reclaimed and counted as any other), resolving with a
   * {@link DisposableLease} that gives it back when its `await using` scope ends:
   * `await using lease = await pool.guard.lease(); await render(lease.resource);`.
   * generic-pool's own methods are unchanged. A resource that may be broken after an error is
   * destroyed with `pool.destroy(lease.resource)`, as with `acquire()`.
   */
  lease(priority?: number): Promise<DisposableLease<T>>;
}

/** The lease `pool.guard.lease()` resolves with; `giveBack` releases it unless it went back already. */
export class ResourceLease<T> implements DisposableLease<T> {
  readonly resource: T;
  readonly #giveBack: () => Promise<void>;

  constructor(resource: T, giveBack: () => Promise<void>) {
    this.resource = resource;
    this.#giveBack = giveBack;
  }

  [ASYNC_DISPOSE](): Promise<void> {
    return this.#giveBack();
  }
}

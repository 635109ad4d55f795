import { formatDuration } from './format.js';
import type { HolderGroup } from './types.js';

/**
 * The brand every poolguard error carries: a `Symbol.for` key, the same in every copy of poolguard
 * in a process (CommonJS and ESM builds, two versions), with the error's stable `code` as value.
 */
const ERROR_BRAND = Symbol.for('poolguard.error.v1');

function brandError(error: Error, code: string): void {
  Object.defineProperty(error, ERROR_BRAND, { value: code, enumerable: false });
}

/**
 * `err instanceof CheckoutTimeoutError` holds for an error made by any copy of poolguard: with two
 * copies loaded, each has its own class, and a plain prototype check would say no to the other's.
 * Defined outside the class bodies so that the public API stays the classes as declared.
 */
function recogniseAcrossCopies(cls: Function, code: string): void {
  Object.defineProperty(cls, Symbol.hasInstance, {
    value: function hasInstance(this: Function, value: unknown): boolean {
      // A subclass inherits this static: for it, the ordinary prototype check.
      if (this !== cls) return Function.prototype[Symbol.hasInstance].call(this, value);
      return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ERROR_BRAND] === code;
    },
    configurable: true,
  });
}

/**
 * A checkout that waited longer than `guard.acquireTimeoutMs`, in a pool that has no acquire
 * timeout of its own (mysql2): poolguard's own error, whose message names who holds the
 * connections. A pool with a timeout of its own (pg, generic-pool, Knex, Sequelize) keeps its own
 * error, class, `code` and message unchanged, and gains the same `holders`, `waitedMs` and `pool`
 * fields, with the holders written into its stack.
 * @public
 */
export class CheckoutTimeoutError extends Error {
  /** Stable code for this error: `POOLGUARD_CHECKOUT_TIMEOUT`. */
  readonly code = 'POOLGUARD_CHECKOUT_TIMEOUT';
  /** The pool's name (`guard.name`). */
  readonly pool: string;
  /** Who held the connections when the wait timed out, largest group first. */
  readonly holders: readonly HolderGroup[];
  /** How long this caller waited, in milliseconds. */
  readonly waitedMs: number;

  /** @internal */
  constructor(message: string, pool: string, holders: readonly HolderGroup[], waitedMs: number, cause: unknown) {
    super(message, { cause });
    this.name = 'CheckoutTimeoutError';
    brandError(this, 'POOLGUARD_CHECKOUT_TIMEOUT');
    this.pool = pool;
    this.holders = holders;
    this.waitedMs = waitedMs;
  }
}

/**
 * Thrown by a second `release()` of one checkout. The message starts with the pool's own message
 * and adds where the lease was taken and, when recorded, where it was first released.
 * @public
 */
export class DoubleReleaseError extends Error {
  /** Stable code for this error: `POOLGUARD_DOUBLE_RELEASE`. */
  readonly code = 'POOLGUARD_DOUBLE_RELEASE';
  /** The pool's name (`guard.name`). */
  readonly pool: string;
  /**
   * Where the lease was taken, only if it was held long enough (10 s, or past a threshold) for its
   * stack to be formatted: a released lease keeps no unformatted capture, which would keep its
   * caller's objects alive. The error's own stack is the second `release()`.
   */
  readonly checkoutSite: string | undefined;
  /** Where the first `release()` happened, if release stacks were being recorded. */
  readonly firstReleaseSite: string | undefined;
  /** The first release's stack, if recorded. */
  readonly firstReleaseStack: string | undefined;

  /** @internal */
  constructor(message: string, pool: string, checkoutSite: string | undefined, firstReleaseSite: string | undefined, firstReleaseStack: string | undefined) {
    super(message);
    this.name = 'DoubleReleaseError';
    brandError(this, 'POOLGUARD_DOUBLE_RELEASE');
    this.pool = pool;
    this.checkoutSite = checkoutSite;
    this.firstReleaseSite = firstReleaseSite;
    this.firstReleaseStack = firstReleaseStack;
  }
}

/**
 * What a holder gets when it uses a connection that poolguard reclaimed: the lease had been idle
 * past `guard.reclaimAfterMs` (`reason: 'idle'`), or it was still held when `pool.end()` reached
 * `guard.endTimeoutMs` (`reason: 'end'`). The connection was destroyed under the lease.
 * @public
 */
export class LeaseReclaimedError extends Error {
  /** Stable code for this error: `POOLGUARD_LEASE_RECLAIMED`. */
  readonly code = 'POOLGUARD_LEASE_RECLAIMED';
  /** The pool's name (`guard.name`). */
  readonly pool: string;
  /** Where the reclaimed lease was taken, if its stack was captured. */
  readonly site: string | undefined;
  /** How long the lease had been held when it was reclaimed, in milliseconds. */
  readonly heldMs: number;
  /** Why: idle past `guard.reclaimAfterMs`, or still held at the `pool.end()` deadline. */
  readonly reason: 'idle' | 'end';

  /** @internal */
  constructor(
    pool: string,
    site: string | undefined,
    heldMs: number,
    idleMs: number,
    reclaimAfterMs: number,
    end?: { readonly call: string; readonly timeoutMs: number },
    taken = site ?? 'an unknown site',
    lent = 'client',
  ) {
    const where = `It was checked out at ${taken} and never released. `;
    super(
      end === undefined
        ? `poolguard[${pool}]: this connection was reclaimed after it was held ${formatDuration(heldMs)} ` +
            `with nothing in flight for ${formatDuration(idleMs)} (guard.reclaimAfterMs is ${reclaimAfterMs}). ` +
            where +
            `Release the ${lent} in a finally block there; calling release() now is harmless.`
        : `poolguard[${pool}]: this connection was reclaimed because the pool is shutting down: ${end.call} waited ` +
            `${formatDuration(end.timeoutMs)} (guard.endTimeoutMs) for it, and it had been held ${formatDuration(heldMs)}. ` +
            where +
            `Release the ${lent} in a finally block there, and stop work that uses the pool before ending it; calling release() now is harmless.`,
    );
    this.name = 'LeaseReclaimedError';
    brandError(this, 'POOLGUARD_LEASE_RECLAIMED');
    this.pool = pool;
    this.site = site;
    this.heldMs = heldMs;
    this.reason = end === undefined ? 'idle' : 'end';
  }
}

/**
 * The error a dirty connection is destroyed with (pg's `release` event carries it): the holder
 * released it inside an open or failed transaction.
 * @public
 */
export class DirtyReleaseError extends Error {
  /** Stable code for this error: `POOLGUARD_DIRTY_RELEASE`. */
  readonly code = 'POOLGUARD_DIRTY_RELEASE';

  /** @internal */
  constructor(message: string) {
    super(message);
    this.name = 'DirtyReleaseError';
    brandError(this, 'POOLGUARD_DIRTY_RELEASE');
  }
}

/**
 * Adds what poolguard knows to an error a pool or a driver raised, which keeps its class, `code`
 * and `message` byte for byte (code compares them, retries on them): `fields` are assigned, and
 * `text` is kept in `err.poolguard` and written into the stack after its first line
 * (`name: message`) and before the frames, where console.error, util.inspect and loggers that print
 * the stack (pino's `err`) show it. `frames`: the frames to show instead of the error's own (the
 * caller's, captured at checkout, for an error a timer raised).
 */
export function annotate(err: Error, text: string, fields: object, frames?: string): Error {
  Object.assign(err, fields);
  // Not enumerable: a logger that prints the stack and the enumerable fields shows the text once.
  Object.defineProperty(err, 'poolguard', { value: text, enumerable: false, configurable: true, writable: true });
  const stack = typeof err.stack === 'string' ? err.stack : `${err.name}: ${err.message}`;
  const header = `${err.name}: ${err.message}`;
  let head: string;
  let rest: string;
  if (stack.startsWith(header)) {
    head = header;
    rest = stack.slice(header.length);
  } else {
    // A stack whose first line the library wrote otherwise: the text goes before the first frame.
    const at = stack.search(/\n {4}at /);
    head = at === -1 ? stack : stack.slice(0, at);
    rest = at === -1 ? '' : stack.slice(at);
  }
  if (frames !== undefined && frames !== '') rest = `\n${frames}`;
  err.stack = `${head}\n${text}${rest}`;
  return err;
}

recogniseAcrossCopies(CheckoutTimeoutError, 'POOLGUARD_CHECKOUT_TIMEOUT');
recogniseAcrossCopies(DoubleReleaseError, 'POOLGUARD_DOUBLE_RELEASE');
recogniseAcrossCopies(LeaseReclaimedError, 'POOLGUARD_LEASE_RECLAIMED');
recogniseAcrossCopies(DirtyReleaseError, 'POOLGUARD_DIRTY_RELEASE');

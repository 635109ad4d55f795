import { formatDuration, plural } from './format.js';
import type { TraceRef } from './telemetry.js';

/**
 * Who holds a pool's connections, grouped by the call site that took them.
 * @public
 */
export interface HolderGroup {
  /** `file:line:column` of the code that took the leases, or a label when no stack was captured. */
  readonly site: string;
  /** Leases open from this site. */
  readonly count: number;
  /** The longest of their hold times, in milliseconds. */
  readonly oldestHeldMs: number;
  /** Leases with nothing in flight for `guard.idleAfterMs` or more: probably forgotten. */
  readonly idle: number;
  /** Leases with a query in flight or recent activity: slow, not forgotten. */
  readonly busy: number;
  /** The trace active when the oldest of them was taken, if one was. */
  readonly trace: TraceRef | undefined;
}

/**
 * A checkout that waited longer than the pool's acquire timeout. The message starts with the
 * pool's own message (`timeout exceeded when trying to connect` for pg), so code that tests it with
 * `startsWith`, `includes` or a regular expression still matches, and goes on to name who holds the
 * connections.
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
  constructor(pool: string, site: string | undefined, heldMs: number, idleMs: number, reclaimAfterMs: number, end?: { readonly call: string; readonly timeoutMs: number }) {
    const where = `It was checked out at ${site ?? 'an unknown site (stack capture was off for it)'} and never released. `;
    super(
      end === undefined
        ? `poolguard[${pool}]: this connection was reclaimed after it was held ${formatDuration(heldMs)} ` +
            `with nothing in flight for ${formatDuration(idleMs)} (guard.reclaimAfterMs is ${reclaimAfterMs}). ` +
            where +
            `Release the client in a finally block there; calling release() now is harmless.`
        : `poolguard[${pool}]: this connection was reclaimed because the pool is shutting down: ${end.call} waited ` +
            `${formatDuration(end.timeoutMs)} (guard.endTimeoutMs) for it, and it had been held ${formatDuration(heldMs)}. ` +
            where +
            `Release the client in a finally block there, and stop work that uses the pool before ending it; calling release() now is harmless.`,
    );
    this.name = 'LeaseReclaimedError';
    this.pool = pool;
    this.site = site;
    this.heldMs = heldMs;
    this.reason = end === undefined ? 'idle' : 'end';
  }
}

/** The lines a timeout error adds after the pool's own message. */
export function describeHolders(pool: string, holders: readonly HolderGroup[], total: number, max: number, waiting: number): string {
  const lines = [
    `poolguard[${pool}]: ${total} of ${max} connections checked out, ${plural(waiting, 'other caller')} waiting.` +
      (holders.length ? ' Holders by call site:' : ' No lease is open: the pool could not open a connection in time (is the server reachable, and is max large enough?).'),
  ];
  for (const h of holders) {
    const verdict = h.idle > 0 ? ` ← ${plural(h.idle, 'idle lease')}: probably never released` : '';
    const trace = h.trace ? ` (oldest from trace ${h.trace.traceId})` : '';
    lines.push(`  ${h.count} × ${h.site}: oldest held ${formatDuration(h.oldestHeldMs)}${trace}, ${h.idle} idle, ${h.busy} busy${verdict}`);
  }
  if (holders.some((h) => h.idle > 0)) {
    lines.push('Next: release the client in a finally block at the site with idle leases; guard.reclaimAfterMs recovers them meanwhile. Details: err.holders, pool.guard.snapshot().');
  } else if (holders.length) {
    lines.push('Next: every holder is busy, so the pool is too small for the load or the queries are slow: raise max or find the slow queries. Details: err.holders, pool.guard.snapshot().');
  }
  return lines.join('\n');
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
  }
}

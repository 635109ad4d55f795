import type { AdapterHooks, Words } from './hooks.js';
import type { Lease } from './ledger.js';
import { formatDuration } from './format.js';
import type { LeaseState } from './types.js';

/** What a lease is doing now, read from the driver (or, where it cannot tell, from `touch()`). */
export interface Activity {
  readonly state: LeaseState;
  /** As in `LeakReport.idleMs`. */
  readonly idleMs: number;
  /**
   * How the state was read: a `pool.query()` or `use()` lease (released by the pool when its work
   * ends), the driver's own state (`driver`: a pg client), or `touch()` within `idleAfterMs`.
   */
  readonly basis: 'query' | 'use' | 'statement' | 'driver' | 'touch';
  /** Whether anything was seen done during the lease (a query finished, a `touch()`). */
  readonly active: boolean;
  readonly transaction: 'open' | 'failed' | undefined;
}

/** Reads an adapter probe; a probe that throws (a resource in a strange state) knows nothing. */
export function probe<T>(read: ((resource: object) => T) | undefined, resource: object): T | undefined {
  if (read === undefined) return undefined;
  try {
    return read(resource);
  } catch {
    return undefined;
  }
}

/** What the lease is doing now: read from the driver where it can be, never guessed from time. */
export function readActivity(hooks: AdapterHooks, idleAfterMs: number, lease: Lease, now: number): Activity {
  const conn = lease.conn;
  const transaction = conn === undefined ? undefined : probe(hooks.transaction, conn.resource);
  if (lease.managed) {
    // A data layer's query runs on a driver connection whose state can be read: a query that
    // is no longer in flight (a stream nobody reads) is not called busy.
    const inFlight = lease.kind === 'statement' && conn !== undefined ? probe(hooks.inFlight, conn.resource) : undefined;
    if (inFlight === false) return { state: 'idle', idleMs: now - Math.max(lease.acquiredAt, conn!.lastActiveAt), basis: 'driver', active: conn!.lastActiveAt >= lease.acquiredAt, transaction };
    return { state: 'busy', idleMs: 0, basis: inFlight === true ? 'driver' : lease.kind === 'use' ? 'use' : lease.kind === 'statement' ? 'statement' : 'query', active: true, transaction };
  }
  if (conn === undefined) return { state: 'idle', idleMs: now - lease.acquiredAt, basis: 'touch', active: false, transaction };
  const active = conn.lastActiveAt >= lease.acquiredAt;
  const idleMs = now - (active ? conn.lastActiveAt : lease.acquiredAt);
  const inFlight = probe(hooks.inFlight, conn.resource);
  if (inFlight !== undefined) return { state: inFlight ? 'busy' : 'idle', idleMs: inFlight ? 0 : idleMs, basis: 'driver', active, transaction };
  // Work poolguard cannot see: only a touch() during this lease, recently enough, says busy.
  return { state: active && idleMs < idleAfterMs ? 'busy' : 'idle', idleMs, basis: 'touch', active, transaction };
}

/**
 * Nothing in flight, but the lease's last query finished less than `guard.idleAfterMs` ago: a pause
 * between two statements of work still going on, not a lease its holder forgot. A `touch()` within
 * `idleAfterMs` already reads busy, so this holds only for state read from the driver.
 */
export function inActiveUse(act: Activity, idleAfterMs: number): boolean {
  return act.state === 'idle' && act.active && act.idleMs < idleAfterMs;
}

/** The clause of a slow report on a lease `inActiveUse`: what was read, and the rule that makes it slow. */
export function activeUseWords(act: Activity, idleAfterMs: number): string {
  return `in active use: no query in flight at this instant, but its last one finished ${formatDuration(act.idleMs)} ago (less than guard.idleAfterMs, ${idleAfterMs} ms)`;
}

/** The clause of a report that says what a lease is doing, in the words of what was read. */
export function activityWords(act: Activity, idleAfterMs: number, words: Words): string {
  const idle = formatDuration(act.idleMs);
  const unseen = `(poolguard cannot see this resource's work; ${words.handle}.touch(resource) marks it)`;
  switch (act.basis) {
    case 'query':
      return `with its pool.query() still running (${words.queryEnds})`;
    case 'use':
      return `with its use() callback still running (${words.useEnds})`;
    case 'statement':
      return 'with its query still running (the data layer releases the connection when the query ends)';
    case 'driver':
      if (act.state === 'busy') return 'with a query in flight now (running or queued)';
      return act.active ? `with no query in flight; its last query finished ${idle} ago` : 'with no query in flight and none run since checkout';
    default:
      if (act.state === 'busy') return `and was last touched ${idle} ago (a touch() within guard.idleAfterMs, ${idleAfterMs} ms, counts as busy) ${unseen}`;
      return act.active ? `and was last touched ${idle} ago ${unseen}` : `and has not been touched since checkout ${unseen}`;
  }
}

/** What "busy" meant for the holders of a timeout error, in the words of what was read. */
export function busyWords(bases: ReadonlySet<Activity['basis']>): string {
  const words: string[] = [];
  if (bases.has('driver')) words.push('a query in flight');
  if (bases.has('query')) words.push('a pool.query() running');
  if (bases.has('use')) words.push('a use() callback running');
  if (bases.has('statement')) words.push("a data layer's query running");
  if (bases.has('touch')) words.push('a touch() within guard.idleAfterMs');
  return words.join(' or ');
}

/** The sentence a report adds when the lease's session is inside a transaction. */
export function transactionWords(transaction: 'open' | 'failed'): string {
  return transaction === 'open'
    ? 'Its session is inside an open transaction (BEGIN without COMMIT or ROLLBACK, as of the server\'s last reply), which keeps every lock it took until it ends: other sessions that need those rows wait behind it.'
    : 'Its session is inside a failed transaction (a statement failed and no ROLLBACK followed), which keeps every lock it took until ROLLBACK: other sessions that need those rows wait behind it.';
}

/**
 * What the pg adapter does through pg-pool's own bookkeeping rather than its public methods: close
 * an idle client the lifetime policy retired, have a client closed when it comes back, answer the
 * callers an ended pool strands, tell why pg-pool removed a client, and cut a reclaimed client off
 * from its holder. Each internal is feature-detected: a pg-pool without it gets the public path.
 */
import type { LeaseReclaimedError } from '../core/errors.js';
import type { ConnectionRecord, Lease } from '../core/ledger.js';
import type { RetireReason } from '../core/recycle-policy.js';
import { removalReason } from './kit.js';

// pg-pool's own message for a pool that has ended, matched and kept so that code written against pg keeps working.
export const ENDED_MESSAGE = 'Cannot use a pool after calling end on the pool';

type Done = (release?: unknown) => void;
type Callback = (err: Error | undefined, client?: unknown, done?: Done) => void;

/** What these functions read of a pg pool. */
export interface PgPoolState {
  options?: object;
  totalCount: number;
  ending?: boolean;
}

/** pg-pool's internals, each feature-detected. */
interface PgPoolInternals {
  _idle?: Array<{ client: unknown }>;
  _remove?: (client: unknown, cb?: () => void) => void;
  _pulseQueue?: () => void;
  _expired?: WeakSet<object>;
  _pendingQueue?: Array<{ callback: Callback }>;
  newClient?: (pending: { callback: Callback }) => void;
}

/** What these functions read and replace on a pg client. */
interface PgClientLike {
  query: (...args: unknown[]) => unknown;
  connection?: unknown;
  _poolUseCount?: number;
}

/**
 * Callers still queued when pg-pool has ended would wait for ever (or until their own timeout):
 * an ended pool never serves its queue again. They get pg's own error for a pool that has ended,
 * with poolguard's note (see granted() in pg.ts).
 */
export function failStrandedWaiters(pool: PgPoolState): void {
  const queue = (pool as PgPoolInternals)._pendingQueue;
  if (!Array.isArray(queue)) return;
  for (const item of queue.splice(0)) item.callback(new Error(ENDED_MESSAGE));
}

/**
 * Makes pg-pool close the client when it comes back, through its own lifetime mechanism, so that
 * its `release` event carries no error for what is routine; a pg-pool without it gets `true`.
 */
export function expire(pool: PgPoolState, client: object): void {
  const expired = (pool as PgPoolInternals)._expired;
  if (expired instanceof WeakSet) expired.add(client);
  else (client as PgClientLike)._poolUseCount = Number.MAX_SAFE_INTEGER;
}

/** Why pg-pool removed a connection nobody marked: its own policies, read from its options. */
export function inferredReason(pool: PgPoolState, client: object, record: ConnectionRecord, now: number): RetireReason {
  const options = (pool.options ?? {}) as { maxUses?: number; maxLifetimeSeconds?: number };
  if (!pool.ending && typeof options.maxUses === 'number' && ((client as PgClientLike)._poolUseCount ?? 0) >= options.maxUses) return 'uses';
  if (!pool.ending && options.maxLifetimeSeconds && record.lease === undefined && now - record.createdAt >= options.maxLifetimeSeconds * 1_000 - 50) return 'lifetime';
  return removalReason(pool.ending === true, record.lease !== undefined);
}

/**
 * Closes an idle client that the lifetime policy retired and, when `min` asks for one, opens its
 * replacement; `false` (retired at its next checkout instead) when the client is not idle in
 * pg-pool's own list or pg-pool lacks the internals.
 */
export function retireIdleClient(pool: PgPoolState, record: ConnectionRecord): boolean {
  const p = pool as PgPoolInternals & PgPoolState;
  if (pool.ending || !Array.isArray(p._idle) || typeof p._remove !== 'function') return false;
  const client = record.resource;
  if (!p._idle.some((item) => item.client === client)) return false;
  p._remove(client, () => p._pulseQueue?.());
  const min = Number((pool.options as { min?: unknown } | undefined)?.min ?? 0);
  if (pool.totalCount < min && typeof p.newClient === 'function') {
    // Opened through pg-pool's own path, handed straight back: it lands idle, as pg's min expects.
    p.newClient({ callback: (err, _client, done) => (err ? undefined : done?.()) });
  }
  return true;
}

/** Destroys a reclaimed lease's client through pg-pool itself (which replaces it for waiters). */
export function reclaimClient(lease: Lease, makeError: () => LeaseReclaimedError): void {
  const client = lease.conn?.resource as PgClientLike | undefined;
  if (client === undefined) return;
  const connection = client.connection;
  // The holder still has the client: its next query must say what happened, not pg's generic
  // "Client was closed and is not queryable".
  client.query = function reclaimedQuery(config: unknown, values?: unknown, callback?: unknown): unknown {
    const error = makeError();
    const submittable = config as { submit?: unknown; handleError?: (e: Error, c: unknown) => void } | null;
    if (submittable != null && typeof submittable.submit === 'function') {
      process.nextTick(() => submittable.handleError?.(error, connection));
      return submittable;
    }
    const cb = typeof values === 'function' ? values : callback;
    if (typeof cb === 'function') {
      process.nextTick(cb as (e: Error) => void, error);
      return undefined;
    }
    return Promise.reject(error);
  };
  // pg-pool's own release, which the lease keeps as its token.
  const pgRelease = lease.token as Done | undefined;
  pgRelease?.call(client, makeError());
}

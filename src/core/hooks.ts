import { NATIVE_AWAIT_USING } from './await-using.js';
import type { LeaseReclaimedError } from './errors.js';
import type { ConnectionRecord, Lease } from './ledger.js';
import type { PoolCounts } from './types.js';

/** What the core needs from the pool it guards; each adapter supplies these. */
export interface AdapterHooks {
  /** The record of a pooled resource, if the adapter knows it (for `touch`). */
  recordOf?(resource: unknown): ConnectionRecord | undefined;
  /** Whether work is in flight on the resource right now; `undefined` when the adapter cannot tell. */
  inFlight(resource: object): boolean | undefined;
  /** The transaction the resource's session is in, read without a round trip; `undefined`: none or unknown. */
  transaction?(resource: object): 'open' | 'failed' | undefined;
  /**
   * Destroys the lease's resource (the pool replaces it) and makes the holder's later use of it
   * fail with an error from `makeError` (called at each use, so the stack is the holder's).
   */
  reclaim(lease: Lease, makeError: () => LeaseReclaimedError): void;
  /** The pool's own counters. */
  counts(): PoolCounts;
  /**
   * Closes an idle connection the policy retired (lifetime, uses) and, where the pool's `min`
   * asks for it, opens a replacement. When the connection is not idle in the pool's own sense
   * right now the adapter does nothing: the core has marked it, and its next release or checkout
   * retires it.
   */
  retireIdle?(record: ConnectionRecord): void;
  /**
   * How a holder gives a lease back, in the pool's own words, for the timeout error's `Next:`
   * and the unhandled-error report (default `release the <lent>`; generic-pool's resources go
   * back through the pool).
   */
  readonly releaseWords?: string;
  /** The rest of the pool library's words in the core's sentences. */
  readonly words?: PoolWords;
}

/**
 * A pool library's words in the core's sentences. The core names no library: each adapter passes
 * its own, and a word left out reads neutrally.
 */
export interface PoolWords {
  /** The library, as a sentence names it (`pg`, `generic-pool`). Default `the pool`. */
  readonly library?: string;
  /** What the pool is made of, in the singular (`resource` for generic-pool). Default `connection`. */
  readonly connection?: string;
  /** What a holder holds, as the library's users call it (`client` for pg). Default: `connection`. */
  readonly lent?: string;
  /** The call that gives back an explicit checkout (`pool.release(resource)`). Default `release()`. */
  readonly releaseCall?: string;
  /** The call that makes a `connect` lease, as reports name it (`getConnection()`). Default `connect()`. */
  readonly connectCall?: string;
  /**
   * Who ends a `pool.query()` lease, said of one still running. Default
   * `<library> releases the <lent> when the query ends`.
   */
  readonly queryEnds?: string;
  /**
   * Who ends a `use()` lease, said of one whose callback still runs. Default
   * `<library> releases the resource when the callback's promise settles`.
   */
  readonly useEnds?: string;
  /**
   * What the holder of a lease poolguard reclaimed gets from its queries on it, after "fail with"
   * (`LeaseReclaimedError (code POOLGUARD_LEASE_RECLAIMED)`, or a driver's own error for a closed
   * connection). `null`: poolguard cannot tell (a destroyed resource behaves as it does); the
   * reports then say only that a late release is harmless. Default: the LeaseReclaimedError words.
   */
  readonly cutError?: string | null;
  /**
   * That the pool's end closes every connection, checked out or not (mysql2, mysql), said in the
   * `endClosed` report after "closed N connections still checked out, under their holders".
   * Left out for a pool whose end waits for its connections.
   */
  readonly closedAtEnd?: string;
  /**
   * What the holder of a connection the pool's end closed gets from its next query, after "fails
   * with" (`mysql2's error "…"`). Left out, the `endClosed` report does not say.
   */
  readonly closedError?: string;
  /**
   * Where the server lists its sessions and what they run, for a timeout error whose holders were
   * all busy, up to the snapshot that has the ids to look for (`pg_stat_activity for the pids in`;
   * the core adds `<handle>.snapshot()`). Left out (a pool with no server), the error sends the
   * reader to the sites it lists.
   */
  readonly sessions?: string;
  /**
   * Where the user's code reaches this pool's guard, as code the user can write with what they
   * hold (`pool.guard`, `sql.guard`, `knex.client.pool.guard`, `cluster.guard.member('replica')`):
   * reports that send the reader to the snapshot name it. Default `pool.guard`.
   */
  readonly handle?: string;
  /**
   * The data layer's own transaction call (`knex.transaction()`), for a connection its query left
   * inside a transaction (a BEGIN sent as a query of its own). Default `the data layer's transaction API`.
   */
  readonly transactionCall?: string;
  /**
   * What the timeout error says when no lease is open: nothing is checked out, so the pool's size is
   * not the cause; what the pool waited on is. Default `the pool could not open a connection in time
   * (is the server reachable, and does it answer?)`.
   */
  readonly noLease?: string;
  /**
   * How an explicit lease is taken with `await using`, so that it is released on every path
   * (`await using client = await pool.connect()`). Reports advise it where the runtime runs
   * `await using` itself, and try/finally where it does not or when this is left out.
   */
  readonly awaitUsing?: string;
}

/** The words in force: the adapter's, and the neutral ones for the rest. */
export interface Words {
  readonly library: string;
  /** `library` at the start of a sentence. */
  readonly Library: string;
  readonly connection: string;
  readonly lent: string;
  readonly release: string;
  readonly releaseCall: string;
  readonly connectCall: string;
  readonly queryEnds: string;
  readonly useEnds: string;
  readonly cutError: string | null;
  readonly closedAtEnd: string | undefined;
  readonly closedError: string | undefined;
  readonly sessions: string | undefined;
  /** See `PoolWords.handle`. */
  readonly handle: string;
  readonly transactionCall: string;
  readonly noLease: string;
  /** The adapter's `awaitUsing`, when this runtime runs `await using`; otherwise `undefined`. */
  readonly awaitUsing: string | undefined;
}

/** What the holder of a reclaimed lease gets from the core's own error. */
export const RECLAIMED_ERROR = 'LeaseReclaimedError (code POOLGUARD_LEASE_RECLAIMED)';

/** The adapter's words, with the neutral ones where it gave none; read once, when the guard is made. */
export function resolveWords(hooks: AdapterHooks, nativeAwaitUsing = NATIVE_AWAIT_USING): Words {
  const given = hooks.words ?? {};
  const library = given.library ?? 'the pool';
  const connection = given.connection ?? 'connection';
  const lent = given.lent ?? connection;
  const handle = given.handle ?? 'pool.guard';
  return Object.freeze({
    library,
    Library: given.library ?? 'The pool',
    connection,
    lent,
    release: hooks.releaseWords ?? `release the ${lent}`,
    releaseCall: given.releaseCall ?? 'release()',
    connectCall: given.connectCall ?? 'connect()',
    queryEnds: given.queryEnds ?? `${library} releases the ${lent} when the query ends`,
    useEnds: given.useEnds ?? `${library} releases the resource when the callback's promise settles`,
    cutError: given.cutError === undefined ? RECLAIMED_ERROR : given.cutError,
    closedAtEnd: given.closedAtEnd,
    closedError: given.closedError,
    sessions: given.sessions === undefined ? undefined : `${given.sessions} ${handle}.snapshot()`,
    handle,
    transactionCall: given.transactionCall ?? "the data layer's transaction API",
    noLease: given.noLease ?? 'the pool could not open a connection in time (is the server reachable, and does it answer?)',
    awaitUsing: nativeAwaitUsing ? given.awaitUsing : undefined,
  });
}

/**
 * The state of one guarded postgres.js pool, shared by the adapter's modules: the `sql` and its
 * own methods (wrapped in place), the core, and what the adapter follows of its connections.
 */
import type { GuardCore } from '../core/guard.js';
import type { ConnectionBook } from './postgres-connections.js';
import type { ScopeSql, Session, SessionHooks } from './postgres-session.js';

/** What poolguard reads of postgres.js's parsed options (`sql.options`). */
export interface OptionsLike {
  max: number;
  host?: unknown;
  port?: unknown;
  path?: unknown;
  database?: unknown;
  onclose?: (id: number) => unknown;
  /** postgres.js 4: connections kept open however idle. */
  min?: number;
  /** postgres.js 4's bound on a wait for a connection, in seconds (`0`: none). */
  queue_timeout?: number;
}

/** What poolguard reads of postgres.js 4's `sql.stats`. */
export interface StatsLike {
  connections: number;
  opening: number;
  idle: number;
  leased: number;
  waiting: number;
}

/** A postgres.js pool: its `sql` function object, with the methods poolguard wraps in place. */
export interface PostgresSqlLike extends ScopeSql {
  reserve: () => Promise<unknown>;
  begin: (...args: unknown[]) => Promise<unknown>;
  end: (options?: { timeout?: number | null }) => Promise<unknown>;
  options: OptionsLike;
  /** postgres.js 4 only: the pool's own counts. */
  readonly stats?: StatsLike;
}

export interface State {
  /**
   * postgres.js's major version, told by the `sql` itself (4 has `sql.stats`). 4 bounds a wait
   * (`queue_timeout`), reports a lease's connection on its queries (`query.connection`, with the
   * ReadyForQuery status byte), refuses the queries of an ended or closed lease and closes a
   * connection released inside a transaction: what 3.4 lacks and poolguard does for it.
   */
  readonly major: 3 | 4;
  readonly core: GuardCore;
  readonly sql: PostgresSqlLike;
  readonly options: OptionsLike;
  readonly book: ConnectionBook;
  readonly hooks: SessionHooks;
  readonly reserve: PostgresSqlLike['reserve'];
  readonly begin: PostgresSqlLike['begin'];
  readonly end: PostgresSqlLike['end'];
  /** `sql.end()` was called. */
  ending: boolean;
  /** `sql.end()` finished. */
  ended: boolean;
  /**
   * The key under which each `sql` handed to a holder (a reserved connection's, a transaction's)
   * carries its lease: one per pool, so that another pool's `sql` is not taken for one of this
   * pool's. A property, not a WeakMap entry: measured on Node 20, a WeakMap entry per transaction
   * kept what its value reaches (the lease, and through it postgres.js's transaction `sql` and
   * queries) surviving V8's scavenges, about 2,400 B more per transaction, promoted until the next
   * mark-compact (benchmarks/RESULTS.md, postgres.js HTTP POST).
   */
  readonly sessionKey: symbol;
  /** The `begin()` whose BEGIN postgres.js is building right now, synchronously. */
  beginning: Session | undefined;
  /** Leases still held whose connection the server or the network closed (they block nothing). */
  lostHeld: number;
}


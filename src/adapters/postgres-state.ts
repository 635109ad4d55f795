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
}

/** A postgres.js pool: its `sql` function object, with the methods poolguard wraps in place. */
export interface PostgresSqlLike extends ScopeSql {
  reserve: () => Promise<unknown>;
  begin: (...args: unknown[]) => Promise<unknown>;
  end: (options?: { timeout?: number | null }) => Promise<unknown>;
  options: OptionsLike;
}

export interface State {
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
  /** The lease of each `sql` handed to a holder (a reserved connection's, a transaction's). */
  readonly sessions: WeakMap<object, Session>;
  /** The `begin()` whose BEGIN postgres.js is building right now, synchronously. */
  beginning: Session | undefined;
  /** Leases still held whose connection the server or the network closed (they block nothing). */
  lostHeld: number;
}


import type { Words } from './hooks.js';
import type { LeaseKind } from './types.js';

// What a report tells a holder to do depends on what the holder holds: a client from connect()
// goes back with release(), a data layer's transaction with commit() or rollback() (it has no
// release()), and a pool.query(), a use() or a data layer's query are given back by the pool or
// the data layer itself. These phrases say it per lease kind, in the adapter's words.

/** Kinds whose holder gives the lease back with the pool's release call. */
const EXPLICIT: ReadonlySet<LeaseKind> = new Set<LeaseKind>(['connect', 'acquire']);

/** Whether the holder of a lease of `kind` gives it back itself with the pool's release call. */
export function releasedByHolder(kind: LeaseKind): boolean {
  return EXPLICIT.has(kind);
}

/**
 * The call that ends a lease of `kind`, as its holder makes it (`release()`, `commit() or
 * rollback()`); `undefined` for a lease that its pool or data layer gives back itself.
 */
export function giveBackCall(kind: LeaseKind, words: Words): string | undefined {
  if (kind === 'transaction') return 'commit() or rollback()';
  return EXPLICIT.has(kind) ? words.releaseCall : undefined;
}

/** The calls that end leases of these kinds, each once, joined with `or`; `undefined` if none does. */
export function giveBackCalls(kinds: Iterable<LeaseKind>, words: Words): string | undefined {
  const calls = new Set<string>();
  for (const kind of kinds) {
    const call = giveBackCall(kind, words);
    if (call !== undefined) calls.add(call);
  }
  return calls.size === 0 ? undefined : [...calls].join(' or ');
}

/**
 * The `await using` form after a try/finally fix (`, or take it with "await using client = await
 * pool.connect()"`), where the runtime runs it and the adapter gave one (`Words.awaitUsing`); empty
 * otherwise. One shape everywhere, so that a report reads the same on every Node line but for it.
 */
export function orAwaitUsing(using: string | undefined): string {
  return using === undefined ? '' : `, or take it with "${using}"`;
}

/**
 * What to fix at the lines that took leases of these kinds, as a clause that starts a sentence
 * (`Release the client in a finally block`); `undefined` when every lease is given back by its pool.
 */
export function fixAtLines(kinds: Iterable<LeaseKind>, words: Words): string | undefined {
  const set = new Set(kinds);
  const parts: string[] = [];
  if (set.has('transaction')) parts.push('commit or roll back each transaction on every path (try/finally)');
  if ([...set].some((k) => EXPLICIT.has(k))) parts.push(`${words.release} in a finally block`);
  if (parts.length === 0) return undefined;
  const text = parts.join(', and ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * What the holders of reclaimed leases get from their queries, as a clause: `one` says it of a
 * single holder. `null` when poolguard cannot tell (see `PoolWords.cutError`).
 */
export function cutFails(kinds: Iterable<LeaseKind>, words: Words, one: boolean): string | null {
  if (words.cutError === null) return null;
  const transaction = new Set(kinds).has('transaction');
  return (
    `${one ? "the holder's queries on it fail" : "their holders' queries on them fail"} with ${words.cutError}` +
    (transaction ? (one ? ', and so does its commit()' : ", and so does a transaction's commit()") : '')
  );
}

/** That a late release of a reclaimed lease is harmless, for the kinds that are released by their holder. */
export function lateRelease(kinds: Iterable<LeaseKind>, words: Words): string | undefined {
  for (const kind of kinds) if (EXPLICIT.has(kind)) return `a late ${words.releaseCall} is harmless`;
  return undefined;
}

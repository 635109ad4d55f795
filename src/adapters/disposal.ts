/**
 * Leased objects that release themselves at the end of an `await using` (or `using`) scope.
 * Shared by the adapters whose leased objects are poolguard's to extend:
 *
 * - a library whose leased object has no disposal (pg's client, mysql's connection): {@link disposeLease}
 *   on the object, once per pooled object;
 * - a library that hands out a new object at each checkout (postgres.js's `sql.reserve()`, with
 *   or without a disposal of its own): {@link disposeOnce} at each checkout;
 * - a library whose leased object disposes by calling its own `release()` (mysql2's connections,
 *   the MariaDB connector's promise connections): either {@link disposeLease} over the library's
 *   disposal, which binds it to the lease (a late disposal then cannot release the next holder's
 *   lease), or the library's own, with {@link releasedByDisposer} telling its second `release()`
 *   from a double release (what poolguard/mysql2 does, keeping mysql2's behaviour as it is);
 * - an object that is the user's own (generic-pool's resources): a wrapper, as
 *   `pool.guard.lease()` (generic-pool-lease.ts).
 */
import type { ConnectionRecord, Lease } from '../core/ledger.js';

/**
 * `Symbol.asyncDispose`, or, on a runtime without it, the symbol Node 20 and 22 define in its
 * place for their own objects (`Symbol.for('nodejs.asyncDispose')`): the one TypeScript's
 * down-level `await using` (tslib's `__addDisposableResource`) looks up there, as `Symbol.asyncDispose`.
 */
export const ASYNC_DISPOSE: typeof Symbol.asyncDispose = ((Symbol as { asyncDispose?: symbol }).asyncDispose ?? Symbol.for('nodejs.asyncDispose')) as typeof Symbol.asyncDispose;

/** `Symbol.dispose`, or Node's `Symbol.for('nodejs.dispose')` where it is missing (see {@link ASYNC_DISPOSE}). */
export const DISPOSE: typeof Symbol.dispose = ((Symbol as { dispose?: symbol }).dispose ?? Symbol.for('nodejs.dispose')) as typeof Symbol.dispose;

/** Releases one lease, unless it was released already; `undefined` when nothing is leased. */
export type BoundRelease = (() => void) | undefined;

const nothing = (): void => {};

/**
 * Gives `target` `[Symbol.asyncDispose]` and `[Symbol.dispose]` that release the lease held on it.
 * Each is a getter that binds the lease held when it is read, which `using` does once, at the
 * declaration: a disposal after the holder's own `release()` does nothing (it is no second
 * release), and a late disposal never releases the next holder's lease of the same object, which
 * a method reading the object's current lease when called would. `bind` is called at each read.
 * Set once per pooled object, so a checkout costs nothing more. Replaces a disposal the library
 * gave the object (an own property, or one its prototype has).
 */
export function disposeByRelease<T extends object>(target: T, bind: (target: T) => BoundRelease): void {
  // The object's own part is a data property; the two getters are shared by every object. A getter
  // made per object would give each object an accessor of its own, which V8 keeps in the hidden
  // class: every object would get a hidden class of its own, and the library's own property reads
  // on them (mysql's `this._protocol`, pg's `this.connection`) would go megamorphic (measured on
  // mysql: about 5,900 instructions more per pool.query() at concurrency 32).
  Object.defineProperty(target, kBind, { value: bind, configurable: true, writable: true });
  Object.defineProperty(target, ASYNC_DISPOSE, { configurable: true, get: asyncDisposeOf });
  Object.defineProperty(target, DISPOSE, { configurable: true, get: disposeOf });
}

/** Where {@link disposeByRelease} keeps an object's `bind`. */
const kBind = Symbol('poolguard.disposeBind');

type Disposable = { [kBind]?: (target: object) => BoundRelease };

function asyncDisposeOf(this: Disposable): () => Promise<void> {
  const release = this[kBind]?.(this) ?? nothing;
  // As mysql2's promise connections do: released at once, resolved after.
  return async function asyncDispose(): Promise<void> {
    release();
  };
}

function disposeOf(this: Disposable): () => void {
  return this[kBind]?.(this) ?? nothing;
}

/**
 * Gives an object handed out new at each checkout (postgres.js's `sql.reserve()`) the disposal
 * `release`, which is that one lease's for the object's life: no getter is needed to bind the
 * lease held when the declaration runs. Plain stores, as postgres.js 4 gives its reserved sql its
 * own: `disposeByRelease` costs every checkout three property definitions (two of them turning
 * postgres.js 4's data properties into accessors). `release` must do nothing once its lease is
 * released (a disposal after the holder's own `release()` is no second release).
 */
export function disposeOnce(target: object, release: () => void): void {
  const t = target as Record<symbol, unknown>;
  t[DISPOSE] = release;
  // As mysql2's promise connections do: released at once, resolved after.
  t[ASYNC_DISPOSE] = async function asyncDispose(): Promise<void> {
    release();
  };
}

/**
 * {@link disposeByRelease} for the usual case: the object's lease is its record's (`record.lease`,
 * kept by the core), and `release(target)` is what its holder calls, read when the declaration
 * runs. The disposal calls it only while that same lease is still held, so it goes through the
 * adapter's own release path (dirty-release checks, recycling) exactly as a `release()` by hand does.
 * `record` is the record itself, or how to find it (for an object registered after this call).
 *
 * ```ts
 * // in the adapter's register(connection), once per pooled connection:
 * disposeLease(connection, record, (c) => { const release = c.release; return () => release.call(c); });
 * ```
 */
export function disposeLease<T extends object>(target: T, record: ConnectionRecord | ((target: T) => ConnectionRecord | undefined), release: (target: T) => (() => unknown) | undefined): void {
  disposeByRelease(target, (t) => {
    const lease: Lease | undefined = (typeof record === 'function' ? record(t) : record)?.lease;
    if (lease === undefined) return undefined;
    const bound = release(t);
    if (bound === undefined) return undefined;
    return () => {
      if (!lease.released) bound();
    };
  });
}

/**
 * Whether a `release()` of a connection was called by a disposer (`[Symbol.asyncDispose]` or
 * `[Symbol.dispose]`, as a library's own disposal calls it): the end of an `await using` scope
 * whose holder released the connection already, so a second release is no double release.
 * `above` is the release function itself (frames above it are not read). It reads the stack, so
 * call it only on the rare path (a second release). It recognises a disposer defined as a method
 * with the symbol as its key (mysql2's classes), which V8 names `[Symbol.asyncDispose]` (or
 * `[nodejs.asyncDispose]` where Node 20 and 22 stand in for the missing symbol); an arrow function
 * assigned to the symbol (the MariaDB connector's `conn[Symbol.asyncDispose] = () => conn.release()`)
 * has no such name: replace that one with {@link disposeLease} instead.
 */
export function releasedByDisposer(above: Function): boolean {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 3;
  try {
    Error.captureStackTrace(holder, above);
  } finally {
    Error.stackTraceLimit = limit;
  }
  return /\[(?:Symbol|nodejs)\.(?:asyncDispose|dispose)\] \(/.test(holder.stack ?? '');
}

/**
 * Leased objects that release themselves at the end of an `await using` (or `using`) scope.
 * Shared by the adapters whose leased objects are poolguard's to extend.
 */

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
 * Set once per pooled object, so a checkout costs nothing more.
 */
export function disposeByRelease<T extends object>(target: T, bind: (target: T) => BoundRelease): void {
  Object.defineProperty(target, ASYNC_DISPOSE, {
    configurable: true,
    get(this: T) {
      const release = bind(this) ?? nothing;
      // As mysql2's promise connections do: released at once, resolved after.
      return async function asyncDispose(): Promise<void> {
        release();
      };
    },
  });
  Object.defineProperty(target, DISPOSE, {
    configurable: true,
    get(this: T) {
      return bind(this) ?? nothing;
    },
  });
}

/**
 * Whether this runtime runs `await using` itself, so that a report can advise it: V8 ships the
 * syntax together with its own well-known `Symbol.asyncDispose` and `AsyncDisposableStack` (Node
 * 24 and later). Node 20 and 22 define `Symbol.asyncDispose` too, but as the registered
 * `Symbol.for('nodejs.asyncDispose')` for their own objects, without the syntax; a polyfill
 * (core-js) defines the symbol and the stack without the syntax either, and its stack is not
 * native code. Read once: the answer cannot change while the process runs.
 */
export const NATIVE_AWAIT_USING: boolean = detect();

function detect(): boolean {
  const symbol: unknown = (Symbol as { asyncDispose?: unknown }).asyncDispose;
  if (typeof symbol !== 'symbol' || Symbol.keyFor(symbol) !== undefined) return false;
  const stack: unknown = (globalThis as { AsyncDisposableStack?: unknown }).AsyncDisposableStack;
  return typeof stack === 'function' && /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(stack));
}

import type { CapturedStack } from '../core/stack.js';

/**
 * How poolguard sees calls on mysql2's objects without giving them own methods: mysql2 promises
 * that `pool.getConnection` is `BasePool.prototype.getConnection` (its own contract test checks
 * it), and instrumentation that wraps a prototype method later (an APM agent loaded late, a test
 * spy) must still see guarded pools. So the method on the prototype that defines it is replaced,
 * once per prototype, by a dispatcher of the same name: an object without routes (a pool nobody
 * guards, a plain connection) goes straight to the original; a guarded one to its route, which
 * calls the original itself.
 *
 * Why not mysql2's `diagnostics_channel` tracing (`mysql2:pool:connect`, lib/tracing.js)? Its
 * context names no pool, and a subscriber can neither hold a caller back (validation before
 * reuse, a replacement for a retired connection) nor answer one early (the acquire timeout mysql2
 * lacks); and mysql2 before 3.16 has no such channel.
 *
 * Routes live on the object under a `Symbol.for` key and get the original and the dispatcher as
 * arguments, so that two copies of poolguard in one process share one dispatcher per prototype.
 */

/**
 * A checkout through a pool cluster, while it runs synchronously from the namespace into the member
 * pool: whether it is a managed statement's, and the caller's stack once the member has taken it.
 */
export interface ClusterCall {
  readonly managed: boolean;
  capture: CapturedStack | undefined;
  /**
   * The namespace's own callback: poolguard's acquire timeout goes straight to it, since mysql2's
   * cluster would count it against the member (and remove a healthy member after a few) and try
   * the next one, making the caller wait the timeout again.
   */
  readonly cb: Function | undefined;
}

/** The cluster checkout in progress, if any (set by a guarded cluster's namespace routes). */
export const clusterCalls: { current: ClusterCall | undefined } = { current: undefined };

/** On a routed object: its routes. On a prototype: the originals replaced there, by name. */
const kRoutes = Symbol.for('poolguard.mysql2.routes.v1');
const kOriginals = Symbol.for('poolguard.mysql2.originals.v1');

/**
 * A route: the object called, the driver's own method (to call it), the dispatcher (the frame
 * above which a stack is the caller's), and the call's arguments.
 */
export type Route = (self: any, original: Function, above: Function, ...args: any[]) => unknown;

/** Where a dispatcher finds the routes for the object it is called on. */
type RoutesOf = (self: any) => Record<string, Route> | undefined;

const own = (self: any): Record<string, Route> | undefined => self?.[kRoutes];

/**
 * Routes `methods` of `target` (an instance) through their prototypes: each is patched once, where
 * it is defined; a dispatcher looks for its route on the object it is called on. Returns the names
 * that could not be routed (the instance's own method, or none).
 */
export function routeMethods(target: object, methods: readonly string[]): string[] {
  const missed: string[] = [];
  for (const name of methods) {
    if (Object.prototype.hasOwnProperty.call(target, name) || !patchPrototype(Object.getPrototypeOf(target), name)) missed.push(name);
  }
  return missed;
}

/** Gives an object its routes (replacing any it had). */
export function setRoutes(target: object, routes: Record<string, Route>): void {
  Object.defineProperty(target, kRoutes, { value: routes, configurable: true, enumerable: false, writable: true });
}

/** The routes an object was given, or `undefined`. */
export function routesOf(target: object | null | undefined): Record<string, Route> | undefined {
  return own(target);
}

/** The driver's own method `name` of `target`: what its prototype had before it was routed. */
export function originalOf(target: object, name: string): Function | undefined {
  if (Object.prototype.hasOwnProperty.call(target, name)) return (target as any)[name];
  let proto = Object.getPrototypeOf(target);
  while (proto !== null && !Object.prototype.hasOwnProperty.call(proto, name)) proto = Object.getPrototypeOf(proto);
  if (proto === null) return undefined;
  const originals = Object.prototype.hasOwnProperty.call(proto, kOriginals) ? (proto as any)[kOriginals] : undefined;
  return originals?.[name] ?? proto[name];
}

/**
 * Patches the prototype in `from`'s chain that defines `name`; false when none does. `routesOf`
 * says where the dispatcher finds routes (a promise wrapper's are on the connection it wraps), and
 * `key` which route it calls.
 */
export function patchPrototype(from: object | null, name: string, routesOf: RoutesOf = own, key = name): boolean {
  let proto = from;
  while (proto !== null && !Object.prototype.hasOwnProperty.call(proto, name)) proto = Object.getPrototypeOf(proto);
  if (proto === null) return false;
  const originals: Record<string, Function> = Object.prototype.hasOwnProperty.call(proto, kOriginals) ? (proto as any)[kOriginals] : {};
  if (originals[name] !== undefined) return true;
  const descriptor = Object.getOwnPropertyDescriptor(proto, name)!;
  const original = descriptor.value;
  if (typeof original !== 'function') return false;
  originals[name] = original;
  if (!Object.prototype.hasOwnProperty.call(proto, kOriginals)) Object.defineProperty(proto, kOriginals, { value: originals });
  Object.defineProperty(proto, name, { ...descriptor, value: dispatcher(name, original, routesOf, key) });
  return true;
}

/**
 * A dispatcher named as the method it replaces (stack traces read as before). The arities of the
 * methods on a checkout's path are spelled out, so that a call allocates nothing: a rest parameter
 * would cost every call on an unguarded pool too.
 */
function dispatcher(name: string, original: Function, routesOf: RoutesOf, key: string): Function {
  let dispatch: Function;
  if (original.length === 0) {
    dispatch = {
      [name](this: any): unknown {
        const route = routesOf(this)?.[key];
        if (arguments.length !== 0) return route === undefined ? original.apply(this, arguments) : route(this, original, dispatch, ...arguments);
        return route === undefined ? original.call(this) : route(this, original, dispatch);
      },
    }[name]!;
  } else if (original.length === 1) {
    dispatch = {
      [name](this: any, a: unknown): unknown {
        const route = routesOf(this)?.[key];
        if (arguments.length > 1) return route === undefined ? original.apply(this, arguments) : route(this, original, dispatch, ...arguments);
        return route === undefined ? original.call(this, a) : route(this, original, dispatch, a);
      },
    }[name]!;
  } else if (original.length <= 3) {
    // query(sql, values, cb), execute(), a cluster's getConnection(pattern, selector, cb): the
    // route gets the call's own arguments, as many as the caller gave, with no rest array and no
    // spread between the caller and mysql2.
    dispatch = {
      [name](this: any, a: unknown, b: unknown, c: unknown): unknown {
        const route = routesOf(this)?.[key];
        if (route === undefined) return original.apply(this, arguments);
        switch (arguments.length) {
          case 3:
            return route(this, original, dispatch, a, b, c);
          case 2:
            return route(this, original, dispatch, a, b);
          case 1:
            return route(this, original, dispatch, a);
          case 0:
            return route(this, original, dispatch);
          default:
            return route(this, original, dispatch, ...arguments);
        }
      },
    }[name]!;
  } else {
    dispatch = {
      [name](this: any, ...args: unknown[]): unknown {
        const route = routesOf(this)?.[key];
        return route === undefined ? original.apply(this, args) : route(this, original, dispatch, ...args);
      },
    }[name]!;
  }
  return dispatch;
}

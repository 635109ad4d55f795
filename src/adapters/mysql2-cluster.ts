import mysql from 'mysql2';
import mysqlPromise from 'mysql2/promise';
import type { PoolCluster as PromisePoolClusterType } from 'mysql2/promise';
import { resolveGuardConfig, type GuardOptions } from '../core/config.js';
import type { PoolGuard } from '../core/guard.js';
import type { GuardEvents, GuardSnapshot } from '../core/types.js';
import { clusterCalls, patchPrototype, routesOf, setRoutes, type ClusterCall, type Route } from './mysql2-dispatch.js';
import { install, mysqlName, type GuardedPoolOptions } from './mysql2.js';
import type { CorePoolLike } from './mysql2-release.js';

/**
 * mysql2's PoolCluster, guarded: each member pool is a guarded pool of its own, named after the
 * cluster and the member (`cluster/replica1`), so reports, timeout errors, snapshots and metrics
 * say which server a connection came from. A checkout through the cluster reaches the member's
 * `getConnection` synchronously (the cluster's frames are mysql2's, which site finding skips), so
 * the site is the line that called `cluster.getConnection(pattern, selector)` or a namespace's
 * `getConnection`/`query`/`execute`; a retry on another member after a failed connect (mysql2's
 * `canRetry`) keeps that site.
 */

/**
 * mysql2's PoolCluster options with poolguard's under `guard`, applied to every member pool
 * (`guard.name` names the cluster; a member is named `<name>/<id>`).
 * @public
 */
export interface GuardedPoolClusterOptions extends mysql.PoolClusterOptions {
  /** poolguard's options for every member pool; never passed on to mysql2. */
  guard?: GuardOptions;
}

/**
 * The options of one member pool (`cluster.add(id, options)`): mysql2's pool options, with
 * `guard` options that override the cluster's for this member.
 * @public
 */
export type GuardedPoolClusterMemberOptions = GuardedPoolOptions;

/**
 * A picture of every member pool of a guarded cluster.
 * @public
 */
export interface ClusterSnapshot {
  /** The cluster's name (`guard.name`, default `cluster`). */
  readonly cluster: string;
  /** When the snapshot was taken (ISO 8601). */
  readonly takenAt: string;
  /** Each member pool's snapshot, by the id given to `add()`; members removed since are kept. */
  readonly members: Readonly<Record<string, GuardSnapshot>>;
}

/**
 * `cluster.guard`: poolguard's handle on a guarded PoolCluster. A listener added here hears every
 * member pool, those added later too; each report's `pool` names the member.
 * @public
 */
export class ClusterGuard {
  readonly #name: string;
  readonly #members = new Map<string, PoolGuard>();
  readonly #listeners: Array<[event: string | symbol, listener: (...args: any[]) => void]> = [];

  /** @internal */
  constructor(name: string) {
    this.#name = name;
  }

  /** The cluster's name; each member pool is named `<name>/<id>`. */
  get name(): string {
    return this.#name;
  }

  /** The guard of each member pool, by the id given to `add()` (members removed since included). */
  get members(): ReadonlyMap<string, PoolGuard> {
    return this.#members;
  }

  /** The guard of one member pool, or `undefined`. */
  member(id: string): PoolGuard | undefined {
    return this.#members.get(id);
  }

  /** Every member pool's snapshot. */
  snapshot(): ClusterSnapshot {
    const members: Record<string, GuardSnapshot> = {};
    for (const [id, guard] of this.#members) members[id] = guard.snapshot();
    return { cluster: this.#name, takenAt: new Date().toISOString(), members };
  }

  /** @internal A member pool was added (or replaced, when an id is added again after its removal). */
  addMember(id: string, guard: PoolGuard): void {
    const before = this.#members.get(id);
    if (before === guard) return;
    if (before !== undefined) for (const [event, listener] of this.#listeners) before.off(event, listener);
    this.#members.set(id, guard);
    for (const [event, listener] of this.#listeners) guard.on(event, listener);
  }

  /** Adds a listener for one of {@link GuardEvents}, on every member pool. */
  on<K extends keyof GuardEvents>(event: K, listener: (...args: GuardEvents[K]) => void): this;
  /** Adds a listener for any event name, on every member pool. */
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this {
    this.#listeners.push([event, listener]);
    for (const guard of this.#members.values()) guard.on(event, listener);
    return this;
  }

  /** Adds a listener called once, for the first such event of any member pool. */
  once<K extends keyof GuardEvents>(event: K, listener: (...args: GuardEvents[K]) => void): this;
  /** Adds a one-time listener for any event name, across the member pools. */
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this {
    const once = (...args: unknown[]): void => {
      this.off(event, once);
      listener(...args);
    };
    return this.on(event, once);
  }

  /** Removes a listener added with `on()` or `once()`. */
  off<K extends keyof GuardEvents>(event: K, listener: (...args: GuardEvents[K]) => void): this;
  /** Removes a listener for any event name. */
  off(event: string | symbol, listener: (...args: any[]) => void): this;
  off(event: string | symbol, listener: (...args: any[]) => void): this {
    const at = this.#listeners.findIndex(([e, l]) => e === event && l === listener);
    if (at !== -1) this.#listeners.splice(at, 1);
    for (const guard of this.#members.values()) guard.off(event, listener);
    return this;
  }
}

/**
 * mysql2's own callback PoolCluster (`instanceof` holds), with poolguard's handle; its members are
 * guarded pools.
 * @public
 */
export type GuardedPoolCluster = mysql.PoolCluster & {
  /** poolguard's handle on the cluster: every member's guard, events and snapshots. */
  readonly guard: ClusterGuard;
};

/**
 * mysql2/promise's PoolCluster over a guarded callback cluster (its `poolCluster`), with the same
 * handle.
 * @public
 */
export type GuardedPromisePoolCluster = PromisePoolClusterType & {
  /** poolguard's handle on the cluster: every member's guard, events and snapshots. */
  readonly guard: ClusterGuard;
};

/** What poolguard reads of mysql2's PoolCluster. */
interface ClusterLike {
  _nodes: Record<string, { pool: CorePoolLike } | undefined>;
  _lastId: number;
  _closed: boolean;
  of(pattern?: string, selector?: string): object;
}

/** A namespace of a cluster (`cluster.of(pattern)`, and what `cluster.getConnection` uses). */
interface NamespaceLike {
  _cluster: ClusterLike;
}

/**
 * Drop-in for mysql2's `createPoolCluster` (callback API): the same options (plus `guard`, for
 * every member). `add(id, options)` takes member options with their own `guard` too.
 * @public
 */
export function createPoolCluster(options?: GuardedPoolClusterOptions): GuardedPoolCluster {
  const { guard: guardOptions, ...clusterOptions } = options ?? {};
  // Checked before mysql2 builds anything; each member's options are checked at its add().
  const clusterName = resolveGuardConfig(guardOptions, 'cluster').name;
  const cluster = mysql.createPoolCluster(clusterOptions) as unknown as ClusterLike & GuardedPoolCluster;
  const handle = new ClusterGuard(clusterName);
  const retries = new WeakMap<Function, ClusterCall>();
  const member = (id: string, memberGuard: GuardOptions | undefined): void => {
    const pool = cluster._nodes[id]?.pool;
    if (pool === undefined || routesOf(pool) !== undefined) return;
    const config = resolveGuardConfig({ ...guardOptions, ...memberGuard, name: memberGuard?.name ?? `${clusterName}/${id}` }, `${clusterName}/${id}`);
    // The user holds the cluster, not the member pool: its guard is reached through the cluster's.
    const state = install(pool, config, `cluster.guard.member('${id.replace(/[\\']/g, (c) => `\\${c}`)}')`);
    state.endCall = () => (cluster._closed ? 'cluster.end()' : 'cluster.remove()');
    handle.addMember(id, state.core.handle);
  };
  const routes: Record<string, Route> = {
    add(self: ClusterLike, original: Function, _above: Function, id: unknown, config: unknown): unknown {
      const byConfig = typeof id === 'object' && id !== null;
      const memberOptions = (byConfig ? id : config) as GuardedPoolClusterMemberOptions | string | undefined;
      let memberGuard: GuardOptions | undefined;
      let poolOptions: unknown = memberOptions;
      if (typeof memberOptions === 'object' && memberOptions !== null && 'guard' in memberOptions) {
        const { guard: own, ...rest } = memberOptions;
        memberGuard = own;
        poolOptions = rest;
      }
      // A member's own guard options are checked before mysql2 adds it.
      if (memberGuard !== undefined) resolveGuardConfig(memberGuard, mysqlName(poolOptions));
      const result = byConfig ? original.call(self, poolOptions) : original.call(self, id, poolOptions);
      member(byConfig ? `CLUSTER::${self._lastId}` : String(id), memberGuard);
      return result;
    },
    // A namespace's checkout: the member it reaches takes the caller's stack from here (see clusterCalls).
    getConnection: namespaceCall(retries, 'getConnection'),
    query: namespaceCall(retries, 'query'),
    execute: namespaceCall(retries, 'execute'),
  };
  setRoutes(cluster, routes);
  patchPrototype(Object.getPrototypeOf(cluster), 'add');
  // PoolNamespace is not exported: one built on a stand-in cluster shows its prototype, and the
  // real cluster's namespace cache stays as mysql2 left it.
  const namespace = Object.getPrototypeOf(cluster.of.call({ _namespaces: {}, _defaultSelector: 'RR' }, '*', 'RR'));
  const ofCluster = (ns: NamespaceLike | null): Record<string, Route> | undefined => routesOf(ns?._cluster);
  for (const name of ['getConnection', 'query', 'execute']) patchPrototype(namespace, name, ofCluster);
  Object.defineProperty(cluster, 'guard', { value: handle, enumerable: false, configurable: true });
  return cluster;
}

/**
 * The route of a namespace's `getConnection`, `query` or `execute` (managed: mysql2 ends the
 * lease when the statement does; its `getConnection` inside keeps the mark). The member's
 * checkout, reached synchronously, keeps the caller's stack in the call; a retry (mysql2 calls
 * `getConnection` again with the same callback after a member failed to connect) hands that
 * stack, and the mark, to the next member.
 */
function namespaceCall(retries: WeakMap<Function, ClusterCall>, method: 'getConnection' | 'query' | 'execute'): Route {
  return (ns: NamespaceLike, original: Function, _above: Function, ...args: unknown[]): unknown => {
    const outer = clusterCalls.current;
    let call: ClusterCall;
    let cb: Function | undefined;
    if (method !== 'getConnection') {
      call = { managed: true, capture: undefined, cb: undefined };
    } else {
      cb = typeof args[0] === 'function' ? (args[0] as Function) : undefined;
      call = (cb === undefined ? undefined : retries.get(cb)) ?? { managed: outer?.managed === true, capture: outer?.capture, cb };
    }
    clusterCalls.current = call;
    try {
      return original.apply(ns, args);
    } finally {
      clusterCalls.current = outer;
      if (cb !== undefined && (call.capture !== undefined || call.managed)) retries.set(cb, call);
    }
  };
}

/** mysql2/promise's PoolCluster class, which it does not export: read once from one it builds. */
let PromisePoolCluster: (new (cluster: unknown, promise: unknown) => object) | undefined;

/**
 * Drop-in for `mysql2/promise`'s `createPoolCluster`: mysql2's own promise cluster over a guarded
 * callback cluster.
 * @public
 */
export function createPromisePoolCluster(options?: GuardedPoolClusterOptions): GuardedPromisePoolCluster {
  const core = createPoolCluster(options);
  PromisePoolCluster ??= mysqlPromise.createPoolCluster().constructor as new (cluster: unknown, promise: unknown) => object;
  const wrapper = new PromisePoolCluster(core, (options as { Promise?: unknown } | undefined)?.Promise ?? Promise);
  Object.defineProperty(wrapper, 'guard', { value: core.guard, enumerable: false, configurable: true });
  return wrapper as GuardedPromisePoolCluster;
}

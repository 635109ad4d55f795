import type { ResolvedGuardConfig } from './config.js';
import type { GuardLogger } from './options.js';
import { stderrLogger } from './logger.js';

/**
 * What every copy of poolguard in a process shares. A service can load poolguard twice — its
 * CommonJS and its ESM build (bundlers, a dependency that requires it while the service imports
 * it), or two versions — and each copy has its own classes and private symbols. So what must be
 * one per pool or per process lives under `Symbol.for` keys, which every copy resolves to the
 * same symbol: the pool's guard handle on the pool, the names in use on `globalThis`. These
 * shapes are kept stable across versions; a change needs a new key.
 */

/** On a guarded pool: its `pool.guard` handle, whichever copy attached it. */
const HANDLE = Symbol.for('poolguard.guard.v1');
/** On `globalThis`: the names in use by live guarded pools. */
const REGISTRY = Symbol.for('poolguard.registry.v1');

interface NameEntry {
  readonly pool: WeakRef<object>;
  readonly closed: () => boolean;
}

interface Registry {
  readonly names: Map<string, NameEntry[]>;
  /** Names already warned about: one warning per name per process. */
  readonly warned: Set<string>;
}

function registry(): Registry {
  const g = globalThis as unknown as Record<symbol, Registry | undefined>;
  let r = g[REGISTRY];
  if (r === undefined) {
    r = { names: new Map(), warned: new Set() };
    Object.defineProperty(globalThis, REGISTRY, { value: r, enumerable: false, configurable: false, writable: false });
  }
  return r;
}

/** The handle of a pool already guarded by any copy of poolguard, or `undefined`. */
export function guardOf<H extends object>(pool: object): H | undefined {
  return (pool as Record<symbol, H | undefined>)[HANDLE];
}

/** Marks a pool as guarded, for every copy: later `guard()` calls return this handle. */
export function markGuarded(pool: object, handle: object): void {
  // Configurable, as is `pool.guard`: another copy must never fail with "Cannot redefine property".
  Object.defineProperty(pool, HANDLE, { value: handle, enumerable: false, configurable: true });
  Object.defineProperty(pool, 'guard', { value: handle, enumerable: false, configurable: true });
}

/**
 * A second `guard()` on a pool already guarded: the first guard stays (one handle, one set of
 * wrappers), and options that differ from the ones in force are said once, not ignored silently.
 * `wanted` is the second call's options, resolved (so bad ones are refused as at the first call).
 */
export function secondGuard(handle: object, options: unknown, wanted: ResolvedGuardConfig): void {
  if (options === undefined || options === null || typeof options !== 'object') return;
  const current = (handle as { resolvedOptions?: Readonly<Record<string, unknown>> }).resolvedOptions;
  const keys = Object.keys(options);
  let differs: string[];
  if (current === undefined || current === null) {
    // Guarded by a copy that does not show its options: nothing to compare with.
    differs = keys;
  } else {
    differs = keys.filter((k) => !sameOption((wanted as unknown as Record<string, unknown>)[k], current[k]));
  }
  if (differs.length === 0) return;
  const name = String((handle as { name?: unknown }).name ?? wanted.name);
  const logger: GuardLogger | undefined = wanted.logger === false ? undefined : (wanted.logger ?? stderrLogger);
  const msg =
    `poolguard[${name}]: guard() was called on a pool that is already guarded, with different options (${differs.map((k) => `guard.${k}`).join(', ')}); ` +
    `the first guard's options stay in force and these were not applied. Guard each pool once, where it is created, with all its options.`;
  try {
    logger?.warn({ pool: name, ignoredOptions: differs }, msg);
  } catch {
    // A broken logger must not break the guard() call.
  }
}

function sameOption(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameOption(x, b[i]));
  if (a instanceof RegExp && b instanceof RegExp) return String(a) === String(b);
  return false;
}

/**
 * Records the name a new guarded pool reports under. Two live pools with one name would merge
 * their metrics (one `db.client.connection.pool.name`) and their log lines: `warn` is called
 * once per name per process, for every copy of poolguard.
 */
export function claimName(name: string, pool: object, closed: () => boolean, warn: (msg: string) => void): void {
  const { names, warned } = registry();
  for (const [key, list] of names) {
    const live = list.filter((e) => {
      const p = e.pool.deref();
      if (p === undefined) return false;
      try {
        return !e.closed();
      } catch {
        return false;
      }
    });
    if (live.length === 0) names.delete(key);
    else if (live.length !== list.length) names.set(key, live);
  }
  const others = (names.get(name) ?? []).filter((e) => e.pool.deref() !== pool);
  if (others.length > 0 && !warned.has(name)) {
    warned.add(name);
    warn(
      `poolguard[${name}]: another live pool is already guarded under the name '${name}': their metrics (db.client.connection.pool.name) and reports would merge. ` +
        `Give each pool its own guard.name.`,
    );
  }
  const list = names.get(name) ?? [];
  list.push({ pool: new WeakRef(pool), closed });
  names.set(name, list);
}

/**
 * The `pool.guard` handles of the guarded pools still alive in this process, from every copy of
 * poolguard, in the order their names were claimed (`poolguard/testing` reads their snapshots at
 * a test's end). A pool that was ended stays listed until the next pool is guarded; its snapshot
 * then shows no lease.
 */
export function guardedHandles(): object[] {
  const handles = new Set<object>();
  for (const list of registry().names.values()) {
    for (const entry of list) {
      const pool = entry.pool.deref();
      const handle = pool === undefined ? undefined : guardOf<object>(pool);
      if (handle !== undefined) handles.add(handle);
    }
  }
  return [...handles];
}

/**
 * What `guard()` was given, when it is not the pool the adapter supports. A guard wraps methods
 * and reads internals of one pool library; on any other pool the same wrapping silently changes
 * its behaviour (sequelize-pool reads `max` from the factory generic-pool's guard wraps: it stopped
 * growing past one connection). So each adapter checks the pool's shape precisely, and refuses
 * anything else with a TypeError that names what it got and what to use.
 */

type Bag = Record<string | symbol, unknown>;

const fn = (o: Bag, ...names: string[]): boolean => names.every((n) => typeof o[n] === 'function');
const has = (o: Bag, ...names: string[]): boolean => names.every((n) => n in o);

/** node-postgres' pg.Pool (pg-pool), from any copy of pg: its documented methods and counters. */
export function isPgPool(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const o = value as Bag;
  return (
    fn(o, 'connect', 'query', 'end', 'on', 'emit', 'listenerCount') &&
    typeof o.totalCount === 'number' &&
    typeof o.idleCount === 'number' &&
    typeof o.waitingCount === 'number' &&
    typeof o.options === 'object' &&
    o.options !== null
  );
}

/** generic-pool's Pool (3.x), from any copy of generic-pool: methods and counters no other pool has together. */
export function isGenericPool(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const o = value as Bag;
  return (
    fn(o, 'acquire', 'release', 'destroy', 'drain', 'clear', 'use', 'isBorrowedResource', 'ready', 'on') &&
    has(o, 'spareResourceCapacity', 'size', 'available', 'borrowed', 'pending', 'max', 'min')
  );
}

/** mysql2's callback Pool (3.x), from any copy of mysql2: its methods and the config mysql2 keeps. */
export function isMysql2Pool(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const o = value as Bag;
  const config = o.config as Bag | null | undefined;
  return fn(o, 'getConnection', 'releaseConnection', 'query', 'execute', 'end', 'on') && typeof config === 'object' && config !== null && typeof config.connectionConfig === 'object';
}

/** mysql2's promise pool (`mysql2/promise`): a wrapper whose `pool` is the callback pool. */
export function isMysql2PromisePool(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const o = value as Bag;
  return fn(o, 'getConnection', 'query', 'end') && isMysql2Pool(o.pool);
}

const MYSQL2_USE = "use guard() from 'poolguard/mysql2' (or 'poolguard/mysql2/promise') for it.";

/** The pools and data layers people pass by mistake, recognised by what only they have. */
function recognise(value: unknown): { what: string; foreign?: string; use?: string } | undefined {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  const o = value as Bag;
  if (isPgPool(o)) return { what: 'a pg.Pool' };
  if (isGenericPool(o)) return { what: 'a generic-pool Pool' };
  if (fn(o, 'acquire', 'release', 'destroyAllNow') && has(o, 'maxSize', 'minSize', 'using')) {
    return { what: "Sequelize's pool (sequelize-pool)", use: "use guardSequelize(sequelize) from 'poolguard/sequelize' on the Sequelize instance that owns it: it guards the pool in place." };
  }
  if (typeof o.connectionManager === 'object' && o.connectionManager !== null && fn(o, 'authenticate', 'define')) {
    return { what: 'a Sequelize instance', use: "use guardSequelize(sequelize) from 'poolguard/sequelize' for it." };
  }
  if (fn(o, 'acquire', 'release', 'numUsed', 'numFree', 'numPendingAcquires')) {
    return { what: 'a tarn pool (the pool Knex uses)', use: "use guardKnex(knex) from 'poolguard/knex' on the Knex instance that owns it (or guard(pool) from 'poolguard/knex' for a tarn pool of your own)." };
  }
  if (typeof value === 'function' && typeof o.client === 'object' && o.client !== null && 'pool' in (o.client as Bag)) {
    return { what: 'a Knex instance', use: "use guardKnex(knex) from 'poolguard/knex' for it." };
  }
  if (isMysql2Pool(o)) return { what: 'a mysql2 pool', use: MYSQL2_USE };
  if (isMysql2PromisePool(o)) return { what: 'a mysql2 promise pool', use: MYSQL2_USE };
  if (fn(o, 'getConnection', 'releaseConnection') || (fn(o, 'getConnection', 'query') && typeof o.config === 'object' && o.config !== null && 'connectionConfig' in (o.config as Bag))) {
    return { what: 'a mysql (or mysql2-like) pool', foreign: 'mysql' };
  }
  if (fn(o, 'connect', 'query', 'end') && 'processID' in o) return { what: 'a pg.Client (one connection, not a pool)' };
  return undefined;
}

/** A short, safe description of any value: its kind and class, never its contents. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value !== 'object' && typeof value !== 'function') return typeof value;
  const known = recognise(value);
  if (known !== undefined) return known.what;
  let name: unknown;
  try {
    name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  } catch {
    name = undefined;
  }
  const kind = typeof value === 'function' ? 'a function' : 'an object';
  return typeof name === 'string' && name !== '' && name !== 'Object' && name !== 'Function' ? `${kind} of class ${name.slice(0, 60)}` : kind;
}

const HOW_TO_MAKE = {
  'poolguard/pg': "new pg.Pool(…), or use Pool from 'poolguard/pg'",
  'poolguard/generic-pool': "generic-pool's createPool(…), or use createPool from 'poolguard/generic-pool'",
  'poolguard/knex': 'knex.client.pool, or use guardKnex(knex)',
  'poolguard/mysql2': "mysql2's createPool(…), or use createPool from 'poolguard/mysql2'",
} as const;

/**
 * The TypeError for a `guard()` that was given something other than its pool. `entry` is the
 * module (`poolguard/pg`), `expected` what it guards (`a pg.Pool`).
 */
export function wrongPool(entry: 'poolguard/pg' | 'poolguard/generic-pool' | 'poolguard/knex' | 'poolguard/mysql2', expected: string, value: unknown): TypeError {
  const got = describeValue(value);
  const known = recognise(value);
  let next: string;
  if (known?.what === 'a pg.Pool') next = "use guard() from 'poolguard/pg' for it.";
  else if (known?.what === 'a generic-pool Pool') next = "use guard() from 'poolguard/generic-pool' for it.";
  else if (known?.use !== undefined) next = known.use;
  else if (known?.foreign !== undefined) {
    next = `poolguard does not guard ${known.foreign} pools yet, and guarding them through this adapter would change how they behave. Pass ${expected} instead (with Knex, Kysely or Drizzle on PostgreSQL, the pg.Pool they were given), or leave this pool unguarded.`;
  } else if (known !== undefined) next = `pass the ${expected === 'a pg.Pool' ? 'pg.Pool it came from' : 'pool itself'} instead.`;
  else next = `pass ${expected} (${HOW_TO_MAKE[entry]}).`;
  return new TypeError(`guard(pool) needs ${expected} for '${entry}', got ${got}: ${next}`);
}

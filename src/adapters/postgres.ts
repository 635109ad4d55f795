import postgresJs from 'postgres';
// The types through a namespace import: postgres.js's declarations are `export =`, which a default
// import in poolguard's own declarations would make need esModuleInterop in every consumer.
import type * as PostgresJs from 'postgres';
import { refusePoolOwnedOptions, resolveGuardConfig, splitGuardOptions, type GuardOptions, type ResolvedGuardConfig } from '../core/config.js';
import type { GuardCore, PoolGuard } from '../core/guard.js';
import type { PoolCounts } from '../core/types.js';
import { describeValue } from '../core/pool-kind.js';
import { defaultName } from './default-name.js';
import { PG_SESSIONS } from './driver-words.js';
import { attachGuard, guardedAlready } from './kit.js';
import { ConnectionBook, Slot } from './postgres-connections.js';
import { reclaim, sessionHooks, transactionOf, watchCloses, watchPoolQuery, wrapMethods } from './postgres-leases.js';
import { waitBoundMs } from './postgres-wait.js';
import type { Session } from './postgres-session.js';
import type { PostgresSqlLike, State } from './postgres-state.js';

/**
 * postgres.js's options with poolguard's under `guard`.
 * @public
 */
export interface GuardedOptions<T extends Record<string, PostgresJs.PostgresType> = {}> extends PostgresJs.Options<T> {
  /** poolguard's own options; never passed on to postgres.js. */
  guard?: GuardOptions;
}

/**
 * postgres.js's own `sql`, with poolguard's handle.
 * @public
 */
export type GuardedSql<TTypes extends Record<string, unknown> = {}> = PostgresJs.Sql<TTypes> & {
  /** poolguard's handle: leak events, `snapshot()`. */
  readonly guard: PoolGuard;
};

/**
 * postgres.js's default export, as either major declares it: 3.4's types are `export =`, so the
 * namespace import is the function itself; 4's are an ES module whose `default` it is.
 * @public
 */
export type PostgresDefault = typeof PostgresJs extends { default: infer D } ? D : typeof PostgresJs;

/**
 * The drop-in for postgres.js's default export: the same call forms, options (plus `guard`) and
 * helpers (`postgres.camel`, `postgres.PostgresError`, …).
 * @public
 */
export interface GuardedPostgres extends Omit<PostgresDefault, never> {
  // The custom types of the options map to the sql's types as in postgres.js's own signatures.
  /** A pool from options alone (or postgres.js's environment variables), as `postgres(options)`. */
  <T extends Record<string, PostgresJs.PostgresType> = {}>(
    options?: GuardedOptions<T>,
  ): GuardedSql<Record<string, PostgresJs.PostgresType> extends T ? {} : { [type in keyof T]: T[type] extends { serialize: (value: infer R) => any; parse: (raw: any) => infer R } ? R : never }>;
  /** A pool from a connection URL and options, as `postgres(url, options)`. */
  <T extends Record<string, PostgresJs.PostgresType> = {}>(
    url: string,
    options?: GuardedOptions<T>,
  ): GuardedSql<Record<string, PostgresJs.PostgresType> extends T ? {} : { [type in keyof T]: T[type] extends { serialize: (value: infer R) => any; parse: (raw: any) => infer R } ? R : never }>;
}

/**
 * Drop-in for postgres.js (3.4 or 4): `import postgres from 'poolguard/postgres'`. The same options
 * (plus `guard`); returns postgres.js's own `sql`, with `reserve`, `begin`, `unsafe`, `file` and
 * `end` wrapped in place and a `guard` handle. With a bound on the wait (`guard.acquireTimeoutMs`,
 * or postgres.js 4's `queue_timeout`), that `sql` is seen through a Proxy, which follows the pool's
 * tagged-template queries to bound their wait too (3.4) or name the holders on 4's timeout error.
 * @public
 */
export const postgres: GuardedPostgres = Object.assign(function postgres(url?: unknown, options?: unknown): unknown {
  // postgres.js's own reading: the options are the second argument when the first is a URL or nothing.
  const inUrl = typeof url === 'string' || url === undefined || url === null || url === '';
  const { pool: rest, guard: guardOptions } = splitGuardOptions<unknown>(inUrl ? options : url);
  // Checked before postgres.js builds the pool, so a bad guard option leaves nothing behind.
  const config = resolve(guardOptions, postgresName(typeof url === 'string' ? url : undefined, rest ?? {}));
  const create = postgresJs as unknown as (...args: unknown[]) => PostgresSqlLike;
  const sql = inUrl ? create(url, rest) : rest === undefined ? create() : create(rest);
  const state = install(sql, config);
  // The pool's own tagged-template queries are followed only to bound their wait (3.4) or to name
  // the holders on postgres.js 4's own timeout error: a Proxy costs every query 6 % of a bare
  // select 1's instructions (benchmarks/instructions-postgres-loop.mjs), so without a bound on the
  // wait the sql returned is postgres.js's own object.
  if (waitBoundMs(state) <= 0) return sql;
  return new Proxy(sql, {
    apply(target, thisArg, args) {
      return watchPoolQuery(state, Reflect.apply(target, thisArg, args));
    },
  });
}, postgresJs) as unknown as GuardedPostgres;

/**
 * Guards a postgres.js `sql` someone else created (a framework's, a data layer's): `reserve()`,
 * `begin()`, `unsafe()`, `file()` and `end()` are wrapped in place and the object gains a `guard`
 * property. Idempotent, even across two copies of poolguard: a second call returns the same
 * handle, and logs the options it did not apply when they differ. The pool's own tagged-template
 * queries cannot be followed on an object already in use: on postgres.js 3.4,
 * `guard.acquireTimeoutMs` bounds `reserve()`, `begin()` and `unsafe()` there (the drop-in bounds
 * every query); on 4 it sets postgres.js's own `queue_timeout`, which bounds them all. Anything but
 * a postgres.js `sql` (3.4 or 4) is refused with a `TypeError`, untouched.
 * @public
 */
export function guard(sql: PostgresJs.Sql<any>, options?: GuardOptions): PoolGuard {
  const target = sql as unknown as PostgresSqlLike;
  refuseUnlessPostgresJs(target);
  const name = postgresName(undefined, target.options);
  return guardedAlready(target, options, (o) => resolve(o, name)) ?? install(target, resolve(options, name)).core.handle;
}

function refuseUnlessPostgresJs(value: unknown): void {
  const v = value as { reserve?: unknown; begin?: unknown; unsafe?: unknown; options?: { max?: unknown } };
  const shaped = typeof value === 'function' && typeof v.reserve === 'function' && typeof v.begin === 'function' && typeof v.unsafe === 'function' && typeof v.options?.max === 'number';
  if (shaped) return;
  throw new TypeError(
    `guard(sql) needs a postgres.js sql (3.4 or 4) for 'poolguard/postgres', got ${describeValue(value)}: pass the sql that postgres() returned (or create it with postgres from 'poolguard/postgres').`,
  );
}

/**
 * postgres.js 4 bounds a wait for a connection itself (`queue_timeout`, seconds): `guard.acquireTimeoutMs`
 * sets it when postgres.js's is not set, so that its own `QUEUE_TIMEOUT` error is what the caller gets
 * (poolguard adds the holders to it). Two different bounds are refused.
 */
function queueTimeout(sql: PostgresSqlLike, config: ResolvedGuardConfig): void {
  const ms = config.acquireTimeoutMs;
  const own = sql.options.queue_timeout ?? 0;
  if (ms <= 0 || own * 1_000 === ms) return;
  if (own > 0) {
    throw new TypeError(
      `guard.acquireTimeoutMs (${ms} ms) differs from postgres.js's own queue_timeout (${own} s) on this pool: postgres.js 4 bounds the wait itself, so set one of them (poolguard names the holders on postgres.js's QUEUE_TIMEOUT error either way).`,
    );
  }
  sql.options.queue_timeout = ms / 1_000;
}

/**
 * poolguard's options for a postgres.js pool. postgres.js opens, ages and closes its connections
 * itself (`max_lifetime`, `idle_timeout`) and hides them in closures: poolguard's recycling and
 * validation could not act on them, so they are refused, naming postgres.js's own setting.
 */
function resolve(options: unknown, name: string): ResolvedGuardConfig {
  const config = resolveGuardConfig(options, name);
  // 'rollback' is carried out here (a ROLLBACK on the reserved connection before its release).
  refusePoolOwnedOptions({ ...config, dirtyRelease: 'destroy' }, 'a postgres.js pool', {
    maxLifetimeMs: "postgres.js's max_lifetime (seconds)",
    maxUses: "postgres.js's max_lifetime (a connection's uses are not counted)",
    validateAfterIdleMs: "postgres.js's idle_timeout and keep_alive",
  });
  return config;
}

/** Attaches a core to `sql` and wraps its methods in place. */
function install(sql: PostgresSqlLike, config: ResolvedGuardConfig): State {
  const options = sql.options;
  const major = 'stats' in sql ? 4 : 3;
  if (major === 4) queueTimeout(sql, config);
  let state!: State;
  const core: GuardCore = attachGuard(sql, config, {
    inFlight: (resource) => (resource as Slot).session?.inFlight(),
    transaction: (resource) => {
      const session = (resource as Slot).session;
      return session === undefined || session.lost ? undefined : transactionOf(session);
    },
    reclaim: (lease, makeError) => reclaim(state, lease.token as Session, makeError),
    counts: (): PoolCounts => {
      const stats = sql.stats;
      // postgres.js 4 counts its own; its waiting are the queries, transactions and reserves queued.
      if (stats !== undefined) return { total: stats.connections, idle: stats.idle, waiting: stats.waiting, max: options.max, min: options.min ?? 0 };
      const total = Math.max(state.book.seen, core.ledger.leased);
      return { total, idle: total - core.ledger.leased, waiting: core.ledger.waiting.size, max: options.max, min: 0 };
    },
    // The holder's `sql` is a Proxy without a get trap: the key is read from postgres.js's own object.
    recordOf: (resource) => (typeof resource === 'function' ? (resource as unknown as Record<symbol, Session | undefined>)[state.sessionKey]?.record : undefined),
    releaseWords: 'release() the reserved sql (or return from the begin() callback)',
    words: {
      library: 'postgres.js',
      connectCall: 'sql.reserve()',
      queryEnds: 'postgres.js ends the lease when the query settles',
      sessions: PG_SESSIONS,
      handle: 'sql.guard',
    },
  }, { dbSystem: 'postgresql', ended: () => state.ended, ending: () => state.ending });
  const book = new ConnectionBook(core, options.max);
  state = {
    major,
    core,
    sql,
    options,
    book,
    hooks: sessionHooks(() => state),
    reserve: sql.reserve,
    begin: sql.begin,
    end: sql.end,
    ending: false,
    ended: false,
    sessionKey: Symbol('poolguard.postgres.session'),
    beginning: undefined,
    lostHeld: 0,
  };
  wrapMethods(state);
  watchCloses(state);
  return state;
}

/**
 * The default `guard.name`: `host:port/database` from the URL's text and the options (postgres.js's
 * parsed `sql.options` for `guard()`: lists of hosts and ports, `path` for a socket). A database
 * named like the user is left out: postgres.js fills it in with the user's name when none is given.
 */
function postgresName(url: string | undefined, options: unknown): string {
  const o = (options ?? {}) as Record<string, unknown>;
  const list = (v: unknown): unknown => (Array.isArray(v) ? v.map(String).join(',') : v);
  const user = o.user ?? o.username;
  const database = o.database ?? o.db;
  const settings = {
    host: list(o.host ?? o.hostname),
    port: list(o.port),
    database: database === user ? undefined : database,
    socketPath: o.path,
    connectionString: url,
  };
  const env = process.env;
  return defaultName(settings, { host: env.PGHOST || 'localhost', port: env.PGPORT || 5432, database: env.PGDATABASE || '(default)' });
}

import pg from 'pg';
import { audit } from '../audit/audit.js';
import { resolveGuardConfig, type GuardOptions } from '../core/config.js';
import { CheckoutTimeoutError, type LeaseReclaimedError } from '../core/errors.js';
import { GuardCore, type PoolGuard } from '../core/guard.js';
import type { ConnectionRecord, Lease } from '../core/ledger.js';

// pg-pool's own messages, matched and kept so that code written against pg keeps working.
const TIMEOUT_MESSAGE = 'timeout exceeded when trying to connect';
const DOUBLE_RELEASE_MESSAGE = 'Release called on client which has already been released to the pool.';

const kState = Symbol('poolguard.pg.state');
const kRecord = Symbol('poolguard.pg.connection');

type Callback = (err: Error | undefined, client?: pg.PoolClient, done?: (release?: unknown) => void) => void;
type ConnectFn = (cb?: Callback) => unknown;
type QueryFn = (text: unknown, values?: unknown, cb?: unknown) => unknown;

/** The structural shape of a pg pool that `guard()` needs: pg.Pool or any copy of it. */
interface PgPoolLike {
  connect: ConnectFn;
  query: QueryFn;
  options?: object;
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  Promise?: PromiseConstructor;
}

interface ClientLike {
  query: (...args: unknown[]) => unknown;
  release?: (err?: unknown) => void;
  processID?: number | null;
  connection?: { on?(event: string, fn: () => void): unknown };
  once?(event: string, fn: () => void): unknown;
  [kRecord]?: ConnectionRecord;
}

interface PgGuardState {
  readonly core: GuardCore;
  readonly connect: ConnectFn;
  readonly query: QueryFn;
  /** Set by `query()` around its synchronous call into `connect()`, so that lease is a `query` lease. */
  inQuery: boolean;
  queryCapture: Lease['capture'];
}

/**
 * A `pg.Pool` with poolguard: the same constructor options (plus `guard`), methods, events and
 * counters, and a `guard` handle for leak reports and snapshots.
 * @public
 */
export interface PoolOptions extends pg.PoolConfig {
  /** poolguard's own options; never passed on to `pg.Client`. */
  guard?: GuardOptions;
}

/**
 * Drop-in replacement for `pg.Pool`: `import { Pool } from 'poolguard/pg'`. It is a `pg.Pool`
 * (`instanceof` holds) and behaves exactly like one for code that releases what it takes.
 * @public
 */
export class Pool extends pg.Pool {
  /** poolguard's handle: leak events, `snapshot()`. */
  declare readonly guard: PoolGuard;

  constructor(options?: PoolOptions) {
    let pgOptions: pg.PoolConfig | undefined = options;
    let guardOptions: unknown;
    if (options != null && typeof options === 'object' && 'guard' in options) {
      // The guard key must not reach pg.Client, which receives the pool's options verbatim.
      const { guard: g, ...rest } = options;
      guardOptions = g;
      pgOptions = rest;
      if ('password' in options) Object.defineProperty(rest, 'password', { value: options.password, enumerable: false, writable: true, configurable: true });
    }
    super(pgOptions);
    const base = Object.getPrototypeOf(Pool.prototype) as PgPoolLike;
    const state = attach(this as unknown as PgPoolLike, guardOptions, base.connect, base.query);
    Object.defineProperty(this, kState, { value: state });
    Object.defineProperty(this, 'guard', { value: state.core.handle, enumerable: false });
  }
}

// Installed on the prototype rather than declared in the class so that the methods keep
// @types/pg's overloads, and so that a subclass of Pool can still override them and call super.
Object.defineProperty(Pool.prototype, 'connect', {
  configurable: true,
  writable: true,
  value: function connect(this: Pool, cb?: Callback): unknown {
    return guardedConnect((this as unknown as { [kState]: PgGuardState })[kState], this as unknown as PgPoolLike, cb, connect);
  },
});
Object.defineProperty(Pool.prototype, 'query', {
  configurable: true,
  writable: true,
  value: function query(this: Pool, text: unknown, values?: unknown, cb?: unknown): unknown {
    return guardedQuery((this as unknown as { [kState]: PgGuardState })[kState], this as unknown as PgPoolLike, text, values, cb, query);
  },
});

/**
 * Guards a pool someone else constructed (an ORM's, a framework's): leak detection, reports and
 * snapshots as with `poolguard/pg`'s `Pool`. Idempotent: a second call returns the same handle.
 * The pool's `connect` and `query` are wrapped in place; it also gains a `guard` property.
 * @public
 */
export function guard(pool: pg.Pool, options?: GuardOptions): PoolGuard {
  const target = pool as unknown as PgPoolLike & { [kState]?: PgGuardState };
  if (target == null || typeof target.connect !== 'function' || typeof target.query !== 'function') {
    throw new TypeError(`guard(pool) needs a pg.Pool (an object with connect() and query()), got ${target === null ? 'null' : typeof target}`);
  }
  const existing = target[kState];
  if (existing !== undefined) return existing.core.handle;
  const state = attach(target, options, target.connect, target.query);
  Object.defineProperty(target, kState, { value: state });
  Object.defineProperty(target, 'guard', { value: state.core.handle, enumerable: false, configurable: true });
  target.connect = function connect(this: PgPoolLike, cb?: Callback): unknown {
    return guardedConnect(state, this, cb, connect);
  };
  target.query = function query(this: PgPoolLike, text: unknown, values?: unknown, cb?: unknown): unknown {
    return guardedQuery(state, this, text, values, cb, query);
  };
  return state.core.handle;
}

function attach(pool: PgPoolLike, options: unknown, connect: ConnectFn, query: QueryFn): PgGuardState {
  const config = resolveGuardConfig(options, defaultName((pool.options ?? {}) as Record<string, unknown>));
  const core = new GuardCore(config, {
    inFlight: queryInFlight,
    reclaim: reclaimClient,
    counts: () => ({
      total: pool.totalCount,
      idle: pool.idleCount,
      waiting: pool.waitingCount,
      max: Number((pool.options as { max?: unknown } | undefined)?.max ?? 10),
    }),
  });
  if (config.auditOnStart) auditOnFirstConnection(pool, core);
  return { core, connect, query, inQuery: false, queryCapture: undefined };
}

/**
 * guard.auditOnStart: once, in the background, when the pool first connects (the service is
 * talking to the server by then), logged once. It never throws or rejects into the service.
 */
function auditOnFirstConnection(pool: PgPoolLike, core: GuardCore): void {
  const name = core.config.name;
  const run = (): void => {
    audit(pool).then(
      (result) => {
        if (result.findings.length === 0) return;
        const { error, warning, info } = result.counts;
        const lines = result.findings.map((f) => `  ${f.severity} ${f.rule}: ${f.message}. Fix: ${f.fix}`);
        const msg = `poolguard[${name}]: configuration audit: ${error} error(s), ${warning} warning(s), ${info} info (npx poolguard audit explains each):\n${lines.join('\n')}`;
        core.log(error + warning > 0 ? 'warn' : 'info', 'audit', result, msg);
      },
      (err: unknown) => {
        core.log('warn', 'audit', { err }, `poolguard[${name}]: the configuration audit (guard.auditOnStart) could not run: ${String((err as Error)?.message ?? err)}. The pool is unaffected; run npx poolguard audit to check the configuration.`);
      },
    );
  };
  if (pool.totalCount > 0) setImmediate(run);
  else (pool as unknown as { once(event: 'connect', fn: () => void): unknown }).once('connect', run);
}

function guardedConnect(state: PgGuardState, pool: PgPoolLike, cb: Callback | undefined, above: Function): unknown {
  const { core } = state;
  let lease: Lease;
  if (state.inQuery) {
    state.inQuery = false;
    lease = core.checkoutRequestedWith('query', state.queryCapture);
    state.queryCapture = undefined;
  } else {
    lease = core.checkoutRequested('connect', above);
  }
  if (typeof cb === 'function') {
    return state.connect.call(pool, (err, client, done) => granted(state, lease, err, client, done, cb));
  }
  // The promise form, built as pg-pool builds it (the pool's Promise, the stack re-captured on
  // error), but resolved from the callback form, so that the checkout costs one promise, as in pg.
  let resolve!: (client: pg.PoolClient) => void;
  let reject!: (err: Error) => void;
  const PromiseImpl = pool.Promise ?? Promise;
  const result = new PromiseImpl<pg.PoolClient>((res, rej) => {
    resolve = res;
    reject = rej;
  }).catch((err: Error) => {
    // A timeout error already carries the caller's stack from the checkout capture.
    if (!(err instanceof CheckoutTimeoutError) || lease.capture === undefined) Error.captureStackTrace(err);
    throw err;
  });
  state.connect.call(pool, (err, client, done) =>
    granted(state, lease, err, client, done, (e, c) => (e ? reject(e) : resolve(c!))),
  );
  return result;
}

function guardedQuery(state: PgGuardState, pool: PgPoolLike, text: unknown, values: unknown, cb: unknown, above: Function): unknown {
  // pg-pool's query() calls this.connect() synchronously; the flag makes that checkout a `query`
  // lease, with the stack (if captured) of query()'s caller rather than pg-pool's frames.
  state.queryCapture = state.core.captureManaged(above);
  state.inQuery = true;
  try {
    return state.query.call(pool, text, values, cb);
  } finally {
    state.inQuery = false;
    state.queryCapture = undefined;
  }
}

function granted(
  state: PgGuardState,
  lease: Lease,
  err: Error | undefined,
  client: pg.PoolClient | undefined,
  done: ((release?: unknown) => void) | undefined,
  cb: Callback,
): void {
  const { core } = state;
  if (err || client === undefined) {
    if (err !== undefined && err.message === TIMEOUT_MESSAGE && client === undefined) {
      return cb(core.checkoutTimedOut(lease, TIMEOUT_MESSAGE, err), undefined, done);
    }
    return cb(err, client, done);
  }
  const c = client as unknown as ClientLike;
  const record = c[kRecord] ?? register(core, c);
  if (record.pid === undefined && typeof c.processID === 'number') record.pid = c.processID;
  core.checkoutGranted(lease, record);
  const pgRelease = client.release;
  lease.token = pgRelease;
  const release = function release(releaseErr?: unknown): void {
    if (!core.released(lease, release, DOUBLE_RELEASE_MESSAGE)) return;
    if (!releaseErr) {
      // pg keeps the transaction status of the last ReadyForQuery: reading it costs no round trip.
      const status = (client as { getTransactionStatus?: () => string | null }).getTransactionStatus?.();
      if (status === 'T' || status === 'E') return releaseDirty(core, lease, client, pgRelease as (e?: unknown) => void, status === 'T' ? 'open' : 'failed', release);
    }
    (pgRelease as (e?: unknown) => void).call(client, releaseErr);
  };
  client.release = release as pg.PoolClient['release'];
  cb(undefined, client, release);
}

function releaseDirty(
  core: GuardCore,
  lease: Lease,
  client: pg.PoolClient,
  pgRelease: (err?: unknown) => void,
  transaction: 'open' | 'failed',
  above: Function,
): void {
  const { action, error } = core.dirtyReleased(lease, transaction, above);
  if (action === 'destroy') return pgRelease.call(client, error);
  // The rollback's outcome decides: a client that cannot even roll back is destroyed.
  client.query('ROLLBACK', (rollbackErr: Error | undefined) => {
    pgRelease.call(client, rollbackErr ? error : undefined);
  });
}

function register(core: GuardCore, client: ClientLike): ConnectionRecord {
  const record = core.connectionOpened(client);
  Object.defineProperty(client, kRecord, { value: record, configurable: true });
  // The end of a query is the only activity signal pg gives without wrapping client.query; the
  // client itself listens to the same message, so this costs one call per query.
  client.connection?.on?.('readyForQuery', () => core.connectionActive(record));
  client.once?.('end', () => core.connectionRemoved(record));
  return record;
}

function defaultName(options: Record<string, unknown>): string {
  const env = process.env;
  let host = options.host as string | undefined;
  let port = options.port as string | number | undefined;
  let database = options.database as string | undefined;
  const cs = options.connectionString;
  if (typeof cs === 'string') {
    try {
      const url = new URL(cs);
      if (url.protocol === 'postgres:' || url.protocol === 'postgresql:') {
        host ??= decodeURIComponent(url.hostname) || url.searchParams.get('host') || undefined;
        port ??= url.port || undefined;
        database ??= decodeURIComponent(url.pathname.slice(1)) || undefined;
      } else {
        host ??= 'socket';
        database ??= url.searchParams.get('db') ?? undefined;
      }
    } catch {
      // Not a URL: pg will say so when it connects; the name does not need it.
    }
  }
  host ??= env.PGHOST || 'localhost';
  port ??= env.PGPORT || 5432;
  database ??= env.PGDATABASE || (options.user as string | undefined) || env.PGUSER || 'postgres';
  return `${host}:${port}/${database}`;
}

/** Whether pg has a query running or queued on the client (private fields, read only when reporting). */
function queryInFlight(resource: object): boolean | undefined {
  const c = resource as Record<string, unknown>;
  if ('_activeQuery' in c) {
    return c._activeQuery != null || lengthOf(c._queryQueue) > 0 || lengthOf(c._sentQueryQueue) > 0;
  }
  if ('activeQuery' in c) return c.activeQuery != null || lengthOf(c.queryQueue) > 0;
  return undefined;
}

function lengthOf(value: unknown): number {
  return Array.isArray(value) ? value.length : 0;
}

/** Destroys a reclaimed lease's client through pg-pool itself (which replaces it for waiters). */
function reclaimClient(lease: Lease, makeError: () => LeaseReclaimedError): void {
  const client = lease.conn?.resource as ClientLike | undefined;
  if (client === undefined) return;
  const connection = client.connection;
  // The holder still has the client: its next query must say what happened, not pg's generic
  // "Client was closed and is not queryable".
  client.query = function reclaimedQuery(config: unknown, values?: unknown, callback?: unknown): unknown {
    const error = makeError();
    const submittable = config as { submit?: unknown; handleError?: (e: Error, c: unknown) => void } | null;
    if (submittable != null && typeof submittable.submit === 'function') {
      process.nextTick(() => submittable.handleError?.(error, connection));
      return submittable;
    }
    const cb = typeof values === 'function' ? values : callback;
    if (typeof cb === 'function') {
      process.nextTick(cb as (e: Error) => void, error);
      return undefined;
    }
    return Promise.reject(error);
  };
  const pgRelease = lease.token as ((err?: unknown) => void) | undefined;
  pgRelease?.call(client, makeError());
}

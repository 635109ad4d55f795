import pg from 'pg';
import { audit } from '../audit/audit.js';
import { resolveGuardConfig, splitGuardOptions, type GuardOptions } from '../core/config.js';
import { CheckoutTimeoutError, type LeaseReclaimedError } from '../core/errors.js';
import { GuardCore, type PoolGuard } from '../core/guard.js';
import { isPgPool, wrongPool } from '../core/pool-kind.js';
import { claimName, guardOf, markGuarded, secondGuard } from '../core/registry.js';
import type { ConnectionRecord, Lease } from '../core/ledger.js';
import type { CapturedStack } from '../core/stack.js';
import { errorReason, type RetireReason } from '../core/recycle-policy.js';
import { useGuardTelemetry } from '../otel/telemetry.js';
import { onQueryDone, queryInFlight, transactionStatus } from './pg-client.js';

// pg-pool's own messages, matched and kept so that code written against pg keeps working.
const TIMEOUT_MESSAGE = 'timeout exceeded when trying to connect';
const DOUBLE_RELEASE_MESSAGE = 'Release called on client which has already been released to the pool.';
const ENDED_MESSAGE = 'Cannot use a pool after calling end on the pool';

const kState = Symbol('poolguard.pg.state');
const kRecord = Symbol('poolguard.pg.connection');

type Done = (release?: unknown) => void;
type Callback = (err: Error | undefined, client?: pg.PoolClient, done?: Done) => void;
type ConnectFn = (cb?: Callback) => unknown;
type QueryFn = (text: unknown, values?: unknown, cb?: unknown) => unknown;
type EmitFn = (event: string | symbol, ...args: unknown[]) => boolean;
type EndFn = (cb?: (err?: Error) => void) => unknown;

/** The structural shape of a pg pool that `guard()` needs: pg.Pool or any copy of it. */
interface PgPoolLike {
  connect: ConnectFn;
  query: QueryFn;
  emit: EmitFn;
  end: EndFn;
  listenerCount(event: string): number;
  options?: object;
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  ending?: boolean;
  Promise?: PromiseConstructor;
}

/**
 * pg-pool internals used only to close an idle connection that the lifetime policy retired, and to
 * open its replacement when `min` asks for one; feature-detected, so a pg-pool without them falls
 * back to retiring the connection at its next checkout.
 */
interface PgPoolInternals {
  _idle?: Array<{ client: unknown }>;
  _remove?: (client: unknown, cb?: () => void) => void;
  _pulseQueue?: () => void;
  _expired?: WeakSet<object>;
  _pendingQueue?: Array<{ callback: Callback }>;
  newClient?: (pending: { callback: Callback }) => void;
}

interface ClientLike {
  query: (...args: unknown[]) => unknown;
  release?: (err?: unknown) => void;
  processID?: number | null;
  connection?: { on?(event: string, fn: () => void): unknown };
  on?(event: string, fn: (err: Error) => void): unknown;
  once?(event: string, fn: () => void): unknown;
  listenerCount?(event: string): number;
  _poolUseCount?: number;
  [kRecord]?: ConnectionRecord;
}

interface PgGuardState {
  readonly core: GuardCore;
  readonly pool: PgPoolLike;
  readonly connect: ConnectFn;
  readonly query: QueryFn;
  readonly emit: EmitFn;
  readonly end: EndFn;
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
    const { pool: pgOptions, guard: guardOptions } = splitGuardOptions<pg.PoolConfig | undefined>(options);
    super(pgOptions);
    const base = Object.getPrototypeOf(Pool.prototype) as PgPoolLike;
    const state = attach(this as unknown as PgPoolLike, guardOptions, base.connect, base.query, base.emit, base.end);
    Object.defineProperty(this, kState, { value: state });
    markGuarded(this, state.core.handle);
  }
}

type WithState = { [kState]: PgGuardState };

const baseEmit = pg.Pool.prototype.emit;

// Installed on the prototype rather than declared in the class so that the methods keep
// @types/pg's overloads, and so that a subclass of Pool can still override them and call super.
Object.defineProperty(Pool.prototype, 'connect', {
  configurable: true,
  writable: true,
  value: function connect(this: Pool, cb?: Callback): unknown {
    const state = (this as unknown as WithState)[kState];
    // Captured in this frame, not in a helper: see GuardCore.prepareCapture.
    const capture = state.core.prepareCapture();
    if (capture !== undefined) Error.captureStackTrace(capture, connect);
    return guardedConnect(state, this as unknown as PgPoolLike, cb, capture);
  },
});
Object.defineProperty(Pool.prototype, 'query', {
  configurable: true,
  writable: true,
  value: function query(this: Pool, text: unknown, values?: unknown, cb?: unknown): unknown {
    const state = (this as unknown as WithState)[kState];
    const capture = state.core.prepareManagedCapture();
    if (capture !== undefined) Error.captureStackTrace(capture, query);
    return guardedQuery(state, this as unknown as PgPoolLike, text, values, cb, capture);
  },
});
Object.defineProperty(Pool.prototype, 'end', {
  configurable: true,
  writable: true,
  value: function end(this: Pool, cb?: (err?: Error) => void): unknown {
    return guardedEnd((this as unknown as WithState)[kState], this as unknown as PgPoolLike, cb);
  },
});
Object.defineProperty(Pool.prototype, 'emit', {
  configurable: true,
  writable: true,
  value: function emit(this: Pool, event: string | symbol, a?: unknown, b?: unknown): boolean {
    // Only 'connect' and 'error' concern poolguard; every other event (two per checkout) goes
    // straight through, arguments untouched.
    if (event === 'connect' || event === 'error') {
      const state = (this as unknown as Partial<WithState>)[kState];
      if (state !== undefined && arguments.length <= 3) return guardedEmit(state, this as unknown as PgPoolLike, arguments.length, event, a, b);
    }
    return baseEmit.apply(this, arguments as unknown as [string]);
  },
});

/**
 * Guards a pool someone else constructed (an ORM's, a framework's): leak detection, reports and
 * snapshots as with `poolguard/pg`'s `Pool`. Idempotent, even across two copies of poolguard (its
 * CommonJS and ESM builds): a second call returns the same handle, and logs the options it did not
 * apply when they differ. The pool's `connect`, `query` and `emit` are wrapped in place; it also
 * gains a `guard` property. Anything but a `pg.Pool` is refused with a `TypeError`, untouched.
 * @public
 */
export function guard(pool: pg.Pool, options?: GuardOptions): PoolGuard {
  const target = pool as unknown as PgPoolLike & { [kState]?: PgGuardState };
  if (!isPgPool(target)) throw wrongPool('poolguard/pg', 'a pg.Pool', target);
  // Guarded already, by this copy of poolguard or another (CommonJS and ESM builds both loaded):
  // one guard per pool, and options that differ are said, not silently dropped.
  const existing = guardOf<PoolGuard>(target);
  if (existing !== undefined) {
    if (options !== undefined) secondGuard(existing, options, resolveGuardConfig(options, defaultName((target.options ?? {}) as Record<string, unknown>)));
    return existing;
  }
  const state = attach(target, options, target.connect, target.query, target.emit, target.end);
  Object.defineProperty(target, kState, { value: state });
  markGuarded(target, state.core.handle);
  target.connect = function connect(this: PgPoolLike, cb?: Callback): unknown {
    const capture = state.core.prepareCapture();
    if (capture !== undefined) Error.captureStackTrace(capture, connect);
    return guardedConnect(state, this, cb, capture);
  };
  target.query = function query(this: PgPoolLike, text: unknown, values?: unknown, cb?: unknown): unknown {
    const capture = state.core.prepareManagedCapture();
    if (capture !== undefined) Error.captureStackTrace(capture, query);
    return guardedQuery(state, this, text, values, cb, capture);
  };
  target.emit = function emit(this: PgPoolLike, event: string | symbol, a?: unknown, b?: unknown): boolean {
    if ((event === 'connect' || event === 'error') && arguments.length <= 3) return guardedEmit(state, this, arguments.length, event, a, b);
    return state.emit.apply(this, arguments as unknown as [string]);
  };
  target.end = function end(this: PgPoolLike, cb?: (err?: Error) => void): unknown {
    return guardedEnd(state, this, cb);
  };
  return state.core.handle;
}

function attach(pool: PgPoolLike, options: unknown, connect: ConnectFn, query: QueryFn, emit: EmitFn, end: EndFn): PgGuardState {
  const config = resolveGuardConfig(options, defaultName((pool.options ?? {}) as Record<string, unknown>));
  const core = new GuardCore(config, {
    inFlight: queryInFlight,
    transaction: transactionStatus,
    reclaim: reclaimClient,
    counts: () => ({
      total: pool.totalCount,
      idle: pool.idleCount,
      waiting: pool.waitingCount,
      max: Number((pool.options as { max?: unknown } | undefined)?.max ?? 10),
      min: Number((pool.options as { min?: unknown } | undefined)?.min ?? 0),
    }),
    retireIdle: (record) => retireIdleClient(pool, record),
    recordOf: (resource) => (resource as ClientLike)[kRecord],
    words: { library: 'pg', reclaimedAtEnd: "(on a pg pool with LeaseReclaimedError, code POOLGUARD_LEASE_RECLAIMED, reason 'end')", sessions: 'pg_stat_activity' },
  });
  useGuardTelemetry(core, 'postgresql', () => (pool as { ended?: boolean }).ended === true, instrumentedByOpenTelemetry(connect));
  claimName(config.name, pool, () => (pool as { ended?: boolean }).ended === true || pool.ending === true, (msg) => core.log('warn', 'name', { pool: config.name }, msg));
  if (config.auditOnStart) auditOnFirstConnection(pool, core);
  return { core, pool, connect, query, emit, end };
}

/**
 * pg-pool's end() resolves only when every client is back, which a leaked one never is: the core
 * reports who holds it up and, at guard.endTimeoutMs, reclaims them. Same forms as pg's: callback
 * (returns undefined) or promise of the pool's Promise class; a second call gets pg's own error.
 */
function guardedEnd(state: PgGuardState, pool: PgPoolLike, cb: ((err?: Error) => void) | undefined): unknown {
  if (pool.ending) return state.end.call(pool, cb);
  state.core.endStarted('pool.end()');
  const finish = (): void => {
    state.core.endFinished();
    failStrandedWaiters(pool);
  };
  if (typeof cb === 'function') {
    return state.end.call(pool, (err) => {
      finish();
      cb(err);
    });
  }
  const PromiseImpl = pool.Promise ?? Promise;
  return new PromiseImpl<void>((resolve, reject) => {
    state.end.call(pool, (err) => {
      finish();
      if (err) reject(err);
      else resolve();
    });
  });
}

/**
 * Callers still queued when pg-pool has ended would wait for ever (or until their own timeout):
 * an ended pool never serves its queue again. They get pg's own error for a pool that has ended,
 * with poolguard's note (see granted()).
 */
function failStrandedWaiters(pool: PgPoolLike): void {
  const queue = (pool as unknown as PgPoolInternals)._pendingQueue;
  if (!Array.isArray(queue)) return;
  for (const item of queue.splice(0)) item.callback(new Error(ENDED_MESSAGE));
}

/**
 * pg's OpenTelemetry instrumentation wraps pg-pool's connect (with shimmer, which marks the
 * wrapper) and records the pool's connection counts itself.
 */
function instrumentedByOpenTelemetry(connect: ConnectFn): boolean {
  const wrapped = connect as ConnectFn & { __wrapped?: unknown; __original?: unknown };
  return wrapped.__wrapped === true || typeof wrapped.__original === 'function';
}

/**
 * pg-pool reports two things only through events: a new connection (`connect`) and an idle
 * connection's error (`error`, which with no listener ends the process). Everything else passes
 * through untouched, with the same arguments.
 */
function guardedEmit(state: PgGuardState, pool: PgPoolLike, argc: number, event: string | symbol, a: unknown, b: unknown): boolean {
  if (event === 'connect') {
    const client = a as ClientLike;
    if (client != null && client[kRecord] === undefined) register(state, client);
  } else if (event === 'error') {
    const record = (b as ClientLike | undefined)?.[kRecord];
    if (record !== undefined) state.core.markRetiring(record, errorReason(a));
    if (pool.listenerCount('error') === 0 && a instanceof Error && state.core.unhandledError(record, a)) return false;
  }
  switch (argc) {
    case 1:
      return state.emit.call(pool, event);
    case 2:
      return state.emit.call(pool, event, a);
    default:
      return state.emit.call(pool, event, a, b);
  }
}

function guardedQuery(state: PgGuardState, pool: PgPoolLike, text: unknown, values: unknown, cb: unknown, capture: CapturedStack | undefined): unknown {
  // pg-pool's query() calls this.connect() synchronously: that checkout becomes a `query` lease,
  // with the stack (if captured) of query()'s caller rather than pg-pool's frames.
  return state.core.runManaged(capture, () => state.query.call(pool, text, values, cb));
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

function guardedConnect(state: PgGuardState, pool: PgPoolLike, cb: Callback | undefined, capture: CapturedStack | undefined): unknown {
  // An idle client and nobody ahead: pg-pool hands it over on its next tick, without a wait.
  const lease = state.core.checkoutRequested('connect', capture, 'query', !pool.ending && pool.idleCount > pool.waitingCount);
  if (typeof cb === 'function') return callConnect(state, pool, lease, cb);
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
  callConnect(state, pool, lease, (e, c) => (e ? reject(e) : resolve(c!)));
  return result;
}

/** pg-pool's own connect, in its callback form, for one lease. */
function callConnect(state: PgGuardState, pool: PgPoolLike, lease: Lease, cb: Callback): unknown {
  const onGrant: Callback = (err, client, done) => granted(state, lease, err, client, done, cb, 0);
  // An idle client: pg-pool builds none, so nothing throws here (and the hot path has no handler).
  if (lease.ready) return state.connect.call(pool, onGrant);
  try {
    return state.connect.call(pool, onGrant);
  } catch (err) {
    // pg-pool throws synchronously when it cannot even build a client (an unparseable
    // connection string), in both forms: the caller gets pg's own throw, and the lease leaves
    // the ledger.
    state.core.checkoutFailed(lease, false);
    throw err;
  }
}

function granted(state: PgGuardState, lease: Lease, err: Error | undefined, client: pg.PoolClient | undefined, done: Done | undefined, cb: Callback, discarded: number): void {
  const { core } = state;
  if (err || client === undefined) {
    if (err !== undefined && (err.message === TIMEOUT_MESSAGE || err.message === ENDED_MESSAGE)) {
      const refused = core.checkoutRefusedAtEnd(lease, err, err.message === TIMEOUT_MESSAGE);
      if (refused !== undefined) return cb(refused, undefined, done);
    }
    if (err !== undefined && err.message === TIMEOUT_MESSAGE && client === undefined) {
      return cb(core.checkoutTimedOut(lease, TIMEOUT_MESSAGE, err), undefined, done);
    }
    core.checkoutFailed(lease, false);
    return cb(err, client, done);
  }
  const c = client as unknown as ClientLike;
  const record = c[kRecord] ?? register(state, c);
  if (record.pid === undefined && typeof c.processID === 'number') record.pid = c.processID;
  const pgRelease = client.release as Done;

  // Fast path: a pool with neither recycling nor validation hands the client straight out.
  if (!core.recycles && !core.validates) return handOut(state, lease, record, client, pgRelease, cb);
  const next = core.admission(lease, record, discarded);
  if (next === 'retire') {
    expire(state, c);
    pgRelease.call(client);
    return retry(state, lease, cb, discarded + 1);
  }
  if (next === 'validate') {
    return core.validateConnection(record, client, () => client.query('SELECT 1'), (validationErr) => {
      if (validationErr === undefined) return handOut(state, lease, record, client, pgRelease, cb);
      pgRelease.call(client, validationErr);
      if (core.validationDiscarded(lease, record, validationErr, discarded + 1)) return cb(validationErr, undefined, () => {});
      retry(state, lease, cb, discarded + 1);
    });
  }
  handOut(state, lease, record, client, pgRelease, cb);
}

function retry(state: PgGuardState, lease: Lease, cb: Callback, discarded: number): void {
  try {
    state.connect.call(state.pool, (err, client, done) => granted(state, lease, err, client, done, cb, discarded));
  } catch (err) {
    // Inside pg-pool's callback: nobody above would catch it, so the caller gets it instead.
    state.core.checkoutFailed(lease, false);
    cb(err instanceof Error ? err : new Error(String(err)), undefined, () => {});
  }
}

function handOut(state: PgGuardState, lease: Lease, record: ConnectionRecord, client: pg.PoolClient, pgRelease: Done, cb: Callback): void {
  state.core.checkoutGranted(lease, record);
  lease.token = pgRelease;
  // One closure per lease (a stale reference must raise the double-release error), kept small:
  // everything else it needs is on the lease.
  const release = function release(releaseErr?: unknown): void {
    releaseLease(state, lease, release, releaseErr);
  };
  client.release = release as pg.PoolClient['release'];
  cb(undefined, client, release);
}

function releaseLease(state: PgGuardState, lease: Lease, release: Done, releaseErr: unknown): void {
  const { core } = state;
  const record = lease.conn!;
  const client = record.resource as pg.PoolClient;
  // pg keeps the transaction status of the last ReadyForQuery: reading it costs no round trip.
  // Read before core.released(), which drops the checkout stack that a dirty release reports.
  const transaction = releaseErr || lease.released || lease.reclaimed ? undefined : transactionStatus(client);
  const dirty = transaction === undefined ? undefined : core.dirtyReleased(lease, transaction, release);
  if (!core.released(lease, release, DOUBLE_RELEASE_MESSAGE)) return;
  const pgRelease = lease.token as Done;
  if (releaseErr) {
    core.markRetiring(record, errorReason(releaseErr));
    return pgRelease.call(client, releaseErr);
  }
  if (dirty !== undefined) return releaseDirty(core, lease, client, pgRelease, dirty);
  if (core.recycles && core.dueForRetirement(record) !== undefined) expire(state, client as ClientLike);
  pgRelease.call(client);
}

/**
 * Makes pg-pool close the client when it comes back, through its own lifetime mechanism, so that
 * its `release` event carries no error for what is routine; a pg-pool without it gets `true`.
 */
function expire(state: PgGuardState, client: ClientLike): void {
  const expired = (state.pool as unknown as PgPoolInternals)._expired;
  if (expired instanceof WeakSet) expired.add(client as object);
  else (client as { _poolUseCount?: number })._poolUseCount = Number.MAX_SAFE_INTEGER;
}

function releaseDirty(core: GuardCore, lease: Lease, client: pg.PoolClient, pgRelease: Done, { action, error }: ReturnType<GuardCore['dirtyReleased']>): void {
  if (action === 'destroy') return pgRelease.call(client, error);
  // The rollback's outcome decides: a client that cannot even roll back is destroyed.
  client.query('ROLLBACK', (rollbackErr: Error | undefined) => {
    if (rollbackErr && lease.conn) core.markRetiring(lease.conn, 'dirty');
    pgRelease.call(client, rollbackErr ? error : undefined);
  });
}

function register(state: PgGuardState, client: ClientLike): ConnectionRecord {
  const { core, pool } = state;
  const record = core.connectionOpened(client);
  if (typeof client.processID === 'number') record.pid = client.processID;
  Object.defineProperty(client, kRecord, { value: record, configurable: true });
  onQueryDone(client, () => core.connectionActive(record));
  client.once?.('end', () => core.connectionRemoved(record, inferredReason(pool, client, record, core.clock.now())));
  // A checked-out client's error goes to the client's own listeners; with none, pg throws and the
  // process ends. This listener is always there, and acts only when it is the only one.
  client.on?.('error', (err: Error) => {
    if ((client.listenerCount?.('error') ?? 0) > 1) return;
    if (!core.unhandledError(record, err)) throw err;
  });
  return record;
}

/** Why pg-pool removed a connection nobody marked: its own policies, read from its options. */
function inferredReason(pool: PgPoolLike, client: ClientLike, record: ConnectionRecord, now: number): RetireReason {
  if (pool.ending) return 'ended';
  const options = (pool.options ?? {}) as { maxUses?: number; maxLifetimeSeconds?: number };
  if (typeof options.maxUses === 'number' && (client._poolUseCount ?? 0) >= options.maxUses) return 'uses';
  if (options.maxLifetimeSeconds && record.lease === undefined && now - record.createdAt >= options.maxLifetimeSeconds * 1_000 - 50) return 'lifetime';
  return record.lease === undefined ? 'idle' : 'error';
}

function retireIdleClient(pool: PgPoolLike, record: ConnectionRecord): boolean {
  const p = pool as unknown as PgPoolInternals & PgPoolLike;
  if (pool.ending || !Array.isArray(p._idle) || typeof p._remove !== 'function') return false;
  const client = record.resource;
  if (!p._idle.some((item) => item.client === client)) return false;
  p._remove(client, () => p._pulseQueue?.());
  const min = Number((pool.options as { min?: unknown } | undefined)?.min ?? 0);
  if (pool.totalCount < min && typeof p.newClient === 'function') {
    // Opened through pg-pool's own path, handed straight back: it lands idle, as pg's min expects.
    p.newClient({ callback: (err, _client, done) => (err ? undefined : done?.()) });
  }
  return true;
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
  const pgRelease = lease.token as Done | undefined;
  pgRelease?.call(client, makeError());
}

/**
 * The open lease of a client that a pool guarded by this copy of poolguard lent out, or
 * `undefined`: for a data layer's adapter that learns its caller's line only once the checkout is
 * made (poolguard/prisma). Not part of the public API.
 */
export function openLeaseOf(client: unknown): Lease | undefined {
  const lease = (client as ClientLike | null | undefined)?.[kRecord]?.lease;
  return lease === undefined || lease.released || lease.reclaimed ? undefined : lease;
}

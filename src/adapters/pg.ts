import pg from 'pg';
import { audit } from '../audit/audit.js';
import { resolveGuardConfig, splitGuardOptions, type GuardOptions } from '../core/config.js';
import { annotate } from '../core/errors.js';
import type { GuardCore, PoolGuard } from '../core/guard.js';
import { isPgPool, wrongPool } from '../core/pool-kind.js';
import type { ConnectionRecord, Lease } from '../core/ledger.js';
import type { CapturedStack } from '../core/stack.js';
import { errorReason } from '../core/recycle-policy.js';
import { defaultName } from './default-name.js';
import { admit, attachGuard, guardedAlready, releaseChecked, removalReason, watchEndCallback, type DirtyRelease } from './kit.js';
import { disposeLease } from './disposal.js';
import { onQueryDone, queryInFlight, transactionStatus } from './pg-client.js';
import { ENDED_MESSAGE, expire, failStrandedWaiters, inferredReason, reclaimClient, retireIdleClient } from './pg-pool-internals.js';
import { PG_SESSIONS } from './driver-words.js';

// pg-pool's own messages, matched to recognise its errors (which reach the caller unchanged).
const TIMEOUT_MESSAGE = 'timeout exceeded when trying to connect';
const DOUBLE_RELEASE_MESSAGE = 'Release called on client which has already been released to the pool.';

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

interface ClientLike {
  query: (...args: unknown[]) => unknown;
  release?: (err?: unknown) => void;
  processID?: number | null;
  connection?: { on?(event: string, fn: () => void): unknown };
  on?(event: string, fn: (err: Error) => void): unknown;
  once?(event: string, fn: () => void): unknown;
  listenerCount?(event: string): number;
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
 * A client checked out of `poolguard/pg`'s `Pool`: pg's `PoolClient`, which also releases itself at
 * the end of an `await using` (or `using`) scope, on every path out of it:
 * `await using client = await pool.connect()`. Its `[Symbol.asyncDispose]()` and
 * `[Symbol.dispose]()` release the lease held when the declaration ran, unless its holder already
 * released it (then they do nothing: no double release). A client left inside a transaction is
 * destroyed or rolled back as any release inside one is (`guard.dirtyRelease`). Clients of a pool
 * guarded with `guard()` dispose the same way, though pg's types do not say so.
 * @public
 */
export interface PoolClient extends pg.PoolClient {
  /** Releases the client (as `release()`), unless its holder already did; resolves at once. */
  [Symbol.asyncDispose](): Promise<void>;
  /** Releases the client (as `release()`), unless its holder already did. */
  [Symbol.dispose](): void;
}

/**
 * `connect()`'s forms, with clients that release themselves at the end of an `await using` scope
 * (see {@link PoolClient}); merged into the {@link (Pool:class)} class.
 * @public
 */
export interface Pool {
  /** Checks a client out; resolves with one that `await using` releases. */
  connect(): Promise<PoolClient>;
  /** Checks a client out and passes it to `callback`, with `done` to release it. */
  connect(callback: (err: Error | undefined, client: PoolClient | undefined, done: (release?: any) => void) => void): void;
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
  const existing = guardedAlready(target, options, (o) => resolveGuardConfig(o, pgName(target)));
  if (existing !== undefined) return existing;
  const state = attach(target, options, target.connect, target.query, target.emit, target.end);
  Object.defineProperty(target, kState, { value: state });
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
  const config = resolveGuardConfig(options, pgName(pool));
  const ended = (): boolean => (pool as { ended?: boolean }).ended === true;
  const core = attachGuard(pool, config, {
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
    words: { library: 'pg', awaitUsing: 'await using client = await pool.connect()', lent: 'client', sessions: PG_SESSIONS },
  }, { dbSystem: 'postgresql', ended, ending: () => ended() || pool.ending === true, countsRecordedElsewhere: instrumentedByOpenTelemetry(connect) });
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
  const end = (done: (err?: Error) => void): unknown => state.end.call(pool, done);
  if (typeof cb === 'function') {
    return watchEndCallback(state.core, 'pool.end()', end, (err) => {
      failStrandedWaiters(pool);
      cb(err);
    });
  }
  const PromiseImpl = pool.Promise ?? Promise;
  return new PromiseImpl<void>((resolve, reject) => {
    watchEndCallback(state.core, 'pool.end()', end, (err) => {
      failStrandedWaiters(pool);
      if (err) reject(err);
      else resolve();
    });
  });
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
  if (typeof cb === 'function' || typeof values === 'function' || typeof text === 'function') {
    return state.core.runManaged(capture, () => state.query.call(pool, text, values, cb));
  }
  // The promise form, built as pg-pool builds it (the pool's Promise, the stack re-captured on
  // error) but around pg-pool's callback form: pg-pool's own re-capture would drop what poolguard
  // wrote into the stack, and putting it back behind pg-pool's promise cost every query a second
  // promise and a microtask.
  let resolve!: (result: unknown) => void;
  let reject!: (err: Error) => void;
  const PromiseImpl = pool.Promise ?? Promise;
  const result = new PromiseImpl<unknown>((res, rej) => {
    resolve = res;
    reject = rej;
  }).catch(recaptured);
  state.core.runManaged(capture, () => state.query.call(pool, text, values, (err: Error | undefined, res?: unknown) => (err ? reject(err) : resolve(res))));
  return result;
}

/** A failed `pool.query()` promise: its stack re-captured here, as pg-pool does, keeping poolguard's lines. */
function recaptured(err: Error): never {
  Error.captureStackTrace(err);
  keepAdded(err);
}

/** Writes back into a re-captured stack what poolguard had written into it (`err.poolguard`). */
function keepAdded(err: unknown): never {
  const added = (err as { poolguard?: unknown } | null)?.poolguard;
  if (typeof added === 'string' && err instanceof Error && typeof err.stack === 'string' && !err.stack.includes(added)) annotate(err, added, {});
  throw err;
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
    // A timeout error already carries the caller's stack from the checkout capture. Any other
    // keeps what poolguard wrote into its stack (the pool is ending) in the one re-captured here.
    if (typeof (err as { poolguard?: unknown }).poolguard === 'string' && err.message === TIMEOUT_MESSAGE && lease.capture !== undefined) throw err;
    Error.captureStackTrace(err);
    keepAdded(err);
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
    // pg-pool's own error, unchanged but for fields and its stack: who holds the connections, or
    // that the pool is ending.
    if (err !== undefined && err.message === TIMEOUT_MESSAGE && client === undefined) return cb(core.poolTimedOut(lease, err), undefined, done);
    if (err !== undefined && err.message === ENDED_MESSAGE) {
      const refused = core.checkoutRefusedAtEnd(lease, err, false);
      if (refused !== undefined) return cb(refused, undefined, done);
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
  admitClient(state, lease, record, client, pgRelease, cb, discarded);
}

/**
 * The admission loop's steps for pg. A function of its own: closures in granted() would make
 * every checkout allocate their context, recycling or not.
 */
function admitClient(state: PgGuardState, lease: Lease, record: ConnectionRecord, client: pg.PoolClient, pgRelease: Done, cb: Callback, discarded: number): void {
  admit(state.core, lease, record, client, discarded, {
    handOut: () => handOut(state, lease, record, client, pgRelease, cb),
    discard: (err) => {
      // A retired client goes back through pg-pool's own lifetime mechanism; a failed one with its error.
      if (err === undefined) expire(state.pool, client);
      pgRelease.call(client, err);
    },
    retry: (n) => retry(state, lease, cb, n),
    check: () => client.query('SELECT 1'),
    fail: (err) => cb(err, undefined, () => {}),
  });
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
  const client = lease.conn!.resource as pg.PoolClient;
  // pg keeps the transaction status of the last ReadyForQuery: reading it costs no round trip. A
  // release with an error closes the client anyway.
  if (lease.released) return doubleReleased(core, lease, release);
  const transaction = releaseErr || lease.reclaimed ? undefined : transactionStatus(client);
  const outcome = releaseChecked(core, lease, transaction, release, DOUBLE_RELEASE_MESSAGE);
  if (outcome === false) return;
  const pgRelease = lease.token as Done;
  if (outcome === true && !releaseErr && !core.recycles) return void pgRelease.call(client);
  releaseOtherwise(state, lease, client, pgRelease, releaseErr, outcome);
}

/**
 * A second release(): pg's own error, its class and message as pg-pool throws them, with what
 * poolguard knows (where the lease was taken and first released) in its stack, `err.poolguard` and
 * fields (`checkoutSite`, `firstReleaseSite`, `firstReleaseStack`, `pool`).
 */
function doubleReleased(core: GuardCore, lease: Lease, release: Done): never {
  const known = core.doubleReleased(lease, DOUBLE_RELEASE_MESSAGE);
  const err = new Error(DOUBLE_RELEASE_MESSAGE);
  Error.captureStackTrace(err, release);
  const { pool, checkoutSite, firstReleaseSite, firstReleaseStack } = known;
  throw annotate(err, known.message.slice(DOUBLE_RELEASE_MESSAGE.length + 1), { pool, checkoutSite, firstReleaseSite, firstReleaseStack });
}

/**
 * A release with an error, inside a transaction, or in a pool that recycles. Apart from the
 * routine release so that V8 inlines that one whole into the caller's loop: with these branches
 * inline, pg's checkout+release measured 80 instructions more (benchmarks/instructions.sh).
 */
function releaseOtherwise(state: PgGuardState, lease: Lease, client: pg.PoolClient, pgRelease: Done, releaseErr: unknown, outcome: DirtyRelease | true): void {
  const { core } = state;
  const record = lease.conn!;
  if (releaseErr) {
    core.markRetiring(record, errorReason(releaseErr));
    return pgRelease.call(client, releaseErr);
  }
  if (outcome !== true) return releaseDirty(core, lease, client, pgRelease, outcome);
  if (core.recycles && core.dueForRetirement(record) !== undefined) expire(state.pool, client);
  pgRelease.call(client);
}

function releaseDirty(core: GuardCore, lease: Lease, client: pg.PoolClient, pgRelease: Done, { action, error }: DirtyRelease): void {
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
  // `await using client = await pool.connect()`: the lease held at the declaration is released.
  // pg-pool gives each checkout its own release(): the one read at the declaration is that lease's.
  disposeLease(client, record, (c) => {
    const release = c.release;
    return release === undefined ? undefined : () => release.call(c);
  });
  client.once?.('end', () => core.connectionRemoved(record, inferredReason(pool, client, record, core.clock.now())));
  // A checked-out client's error goes to the client's own listeners; with none, pg throws and the
  // process ends. This listener is always there, and acts only when it is the only one.
  client.on?.('error', (err: Error) => {
    if ((client.listenerCount?.('error') ?? 0) > 1) return;
    if (!core.unhandledError(record, err)) throw err;
  });
  return record;
}

/**
 * `host:port/database`, as pg reads them (its options, then its connection string, then the
 * PG* environment); pg's default database is the user's name, which a name never shows.
 */
function pgName(pool: PgPoolLike): string {
  const env = process.env;
  return defaultName(pool.options ?? {}, { host: env.PGHOST || 'localhost', port: env.PGPORT || 5432, database: env.PGDATABASE || '(default)' });
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

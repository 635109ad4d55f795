import type { GuardOptions, ResolvedGuardConfig } from '../core/config.js';
import { resolveGuardConfig, splitGuardOptions } from '../core/config.js';
import type { LeaseReclaimedError } from '../core/errors.js';
import type { GuardCore, PoolGuard } from '../core/guard.js';
import type { ConnectionRecord, Lease } from '../core/ledger.js';
import { describeValue } from '../core/pool-kind.js';
import { errorReason } from '../core/recycle-policy.js';
import { defaultName } from './default-name.js';
import { MYSQL_SESSIONS } from './driver-words.js';
import { attachGuard, guardedAlready, logDoubleRelease, releaseChecked, removalReason, watchEnd, watchEndCallback } from './kit.js';
import { isMariadbConnection, mariadbInFlight, mariadbTransaction, onMariadbCommandDone, type MariadbBaseConnection } from './mariadb-connection.js';

// The connector takes a second release() as a release of the connection, whoever holds it now; poolguard keeps that and says where.
const DOUBLE_RELEASE_MESSAGE = 'release() was called on a connection that was already released; poolguard passed it on to the MariaDB connector, as it was.';
// The connector's own acquire timeout (ER_GET_CONNECTION_TIMEOUT): kept as it is, holders added.
const TIMEOUT_ERRNO = 45028;

const kRecord = Symbol('poolguard.mariadb.connection');
// The wrapper a connection was last handed out in, for the reclaim to refuse its calls.
const kHeld = Symbol('poolguard.mariadb.held');
// Puts the wrapper that grants a queued managed call at the connection's next command (see `register`).
const kArm = Symbol('poolguard.mariadb.arm');

/** The connector's pool (promise `Pool` or callback `Pool`): its public methods and events only. */
export interface MariadbPoolLike {
  getConnection(...args: unknown[]): unknown;
  query(...args: unknown[]): unknown;
  execute(...args: unknown[]): unknown;
  batch(...args: unknown[]): unknown;
  end(...args: unknown[]): unknown;
  on(event: string, listener: (...args: any[]) => void): unknown;
  activeConnections(): number;
  idleConnections(): number;
  totalConnections(): number;
  taskQueueSize(): number;
  readonly closed: boolean;
}

/** A connection as the connector's pool hands it to a holder (promise or callback wrapper). */
interface HandedConnection {
  readonly threadId: number | null;
  release(...args: unknown[]): unknown;
  destroy(): void;
  [method: string]: unknown;
}

type BaseConnection = MariadbBaseConnection & {
  destroy(): void;
  forceEnd?: (...args: unknown[]) => unknown;
  on(event: string, listener: () => void): unknown;
  prependListener(event: string, listener: (err: unknown) => void): unknown;
  [kRecord]?: ConnectionRecord;
  [kHeld]?: HandedConnection;
  [kArm]?: () => void;
};

/** What the adapter needs of the pool's options, read once (the connector keeps them private). */
export interface MariadbPoolSettings {
  readonly connectionLimit: number;
  readonly minimumIdle: number;
  /** The connector rolls a released connection back itself unless this is set. */
  readonly noControlAfterUse: boolean;
}

interface State {
  readonly core: GuardCore;
  readonly pool: MariadbPoolLike;
  readonly settings: MariadbPoolSettings;
  readonly callbackApi: boolean;
  /** The connections the connector has lent at least once, by thread id, as its 'acquire' event names them. */
  readonly lent: Map<number, BaseConnection>;
  /** pool.query()/execute()/batch() leases waiting for their connection, oldest first. */
  readonly managed: ManagedQueue;
  /** The lease of the pool.query()/execute()/batch() call running now, until the connector returns. */
  current: Lease | undefined;
  /** The connection the connector just lent while managed calls wait, until its next command. */
  acquired: BaseConnection | undefined;
  /** Asks the core for a managed call's lease (one function for every call: nothing allocated per call). */
  readonly requestManaged: () => Lease;
  ending: boolean;
}

/** The settings the adapter reads, from the options given to the connector's `createPool`. */
export function mariadbSettings(options: unknown): MariadbPoolSettings {
  const o = (options !== null && typeof options === 'object' ? options : {}) as Record<string, unknown>;
  const limit = Number(o.connectionLimit ?? 10);
  const connectionLimit = Number.isFinite(limit) ? limit : 10;
  return {
    connectionLimit,
    minimumIdle: o.minimumIdle === undefined ? connectionLimit : Math.min(Number(o.minimumIdle), connectionLimit),
    noControlAfterUse: Boolean(o.noControlAfterUse),
  };
}

/**
 * Splits poolguard's options from the connector's and refuses the one the connector has its own
 * of: its `acquireTimeout` (default 10 s) bounds the wait for a connection, and its error is kept.
 */
export function splitMariadbOptions<T>(options: T): { pool: T; guard: GuardOptions | undefined } {
  const { pool, guard } = splitGuardOptions(options);
  const acquire = (guard as GuardOptions | undefined)?.acquireTimeoutMs;
  if (acquire !== undefined) {
    throw new TypeError(`guard.acquireTimeoutMs (${String(acquire)}) does not apply to the MariaDB connector: set its own acquireTimeout option (default 10000 ms); poolguard adds the holders to its timeout error.`);
  }
  return { pool, guard: guard as GuardOptions | undefined };
}

/** The default name: `host:port/database` of the options or URL, never the user or password. */
export function mariadbName(options: unknown): string {
  return defaultName(options, { host: 'localhost', port: 3306, database: '(none)' });
}

/**
 * Guards a connector pool someone else built (promise or callback API): in place, once, even
 * across two copies of poolguard. `settings` come from its options when known.
 */
export function guardMariadbPool(pool: unknown, options: GuardOptions | undefined, entry: string): PoolGuard {
  if (!isMariadbPool(pool)) throw new TypeError(`guard(pool) needs a MariaDB connector pool (mariadb's createPool(…), or createPool from '${entry}') for '${entry}', got ${describeValue(pool)}.`);
  const name = `mariadb pool`;
  const existing = guardedAlready(pool, options, (o) => resolveGuardConfig(o, name));
  if (existing !== undefined) return existing;
  const { guard } = splitMariadbOptions({ guard: options });
  // The connector keeps its options private: the limit is read from the pool's own counters later.
  return installMariadb(pool, resolveGuardConfig(guard, name), mariadbSettings({ connectionLimit: Infinity, minimumIdle: 0 })).handle;
}

function isMariadbPool(value: unknown): value is MariadbPoolLike {
  if (value === null || typeof value !== 'object') return false;
  const o = value as Partial<MariadbPoolLike>;
  return ['getConnection', 'query', 'execute', 'batch', 'end', 'on', 'activeConnections', 'idleConnections', 'totalConnections', 'taskQueueSize'].every((m) => typeof (o as Record<string, unknown>)[m] === 'function') && 'closed' in o;
}

/** Attaches the guard to a connector pool and wraps its checkout methods. */
export function installMariadb(pool: MariadbPoolLike, config: ResolvedGuardConfig, settings: MariadbPoolSettings): GuardCore {
  let state: State | undefined;
  const system: { value: 'mariadb' | 'mysql' | undefined } = { value: undefined };
  const core = attachGuard(
    pool,
    config,
    {
      inFlight: mariadbInFlight,
      transaction: mariadbTransaction,
      reclaim: (lease, makeError) => reclaim(state!, lease, makeError),
      counts: () => ({
        total: pool.totalConnections(),
        idle: pool.idleConnections(),
        waiting: pool.taskQueueSize(),
        max: settings.connectionLimit,
        min: settings.minimumIdle,
      }),
      recordOf: (resource) => (resource as BaseConnection | null)?.[kRecord],
      words: {
        library: 'the MariaDB connector',
        connectCall: 'getConnection()',
        sessions: MYSQL_SESSIONS,
        // The connector pings a connection idle for longer than minDelayValidation before lending it.
        noLease: 'the MariaDB connector could not open a connection in time, nor get an answer to the ping it sends before lending one idle for over minDelayValidation (is the server reachable, and does it answer?)',
      },
    },
    { dbSystem: () => system.value, ended: () => pool.closed },
  );
  const callbackApi = pool.getConnection.length === 1;
  // Ready: a call that finds an idle connection is granted before the connector returns, timed by
  // its request's clock reading; one that has to wait is put on the waiting queue then (`managed`).
  const requestManaged = (): Lease => core.checkoutRequested('query', undefined, 'query', true);
  const s: State = { core, pool, settings, callbackApi, lent: new Map(), managed: new ManagedQueue(), current: undefined, acquired: undefined, requestManaged, ending: false };
  state = s;
  // Every checkout, the pool's own query() as much as getConnection(), ends in 'acquire' with the
  // connector's base connection, just before the connection is handed over.
  pool.on('acquire', (base: BaseConnection) => {
    const record = base[kRecord] ?? register(s, base);
    if (system.value === undefined && typeof base.info?.isMariaDB === 'function') system.value = base.info.isMariaDB() ? 'mariadb' : 'mysql';
    // A pool.query() that found an idle connection is handed it within its own call: its lease,
    // and no other, is the one being granted.
    const current = s.current;
    if (current !== undefined) {
      s.current = undefined;
      core.checkoutGranted(current, record);
      return;
    }
    // A queued pool.query() sends its command in the same turn as this; a getConnection() caller
    // gets the connection a few ticks later, and its lease is granted before it can send one: the
    // next command on this connection says which it was (see `register`), when a query waits.
    if (s.managed.waiting) {
      s.acquired = base;
      base[kArm]!();
    }
  });
  // The connector gives a connection back through its pool's release, which says so unless the
  // connection is closing (then its forceEnd, followed in `register`, ends the lease): a managed
  // call's lease ends there, before the caller's promise or callback hears of it.
  pool.on('release', function releasedByPool(base: BaseConnection): void {
    if (s.acquired === base) s.acquired = undefined;
    const lease = base?.[kRecord]?.lease;
    if (lease !== undefined && lease.managed) core.released(lease, releasedByPool, DOUBLE_RELEASE_MESSAGE);
  });
  const target = pool as MariadbPoolLike & Record<string, unknown>;
  const getConnection = pool.getConnection;
  if (callbackApi) {
    target.getConnection = function getConnectionGuarded(this: MariadbPoolLike, cb: (err: Error | null, conn?: HandedConnection) => void): unknown {
      if (typeof cb !== 'function') return getConnection.call(this, cb);
      const capture = core.prepareCapture();
      if (capture !== undefined) Error.captureStackTrace(capture, getConnectionGuarded);
      const lease = core.checkoutRequested('connect', capture);
      return getConnection.call(this, (err: Error | null, conn?: HandedConnection) => {
        if (err || conn === undefined) return cb(failed(s, lease, err));
        cb(null, granted(s, lease, conn));
      });
    };
  } else {
    target.getConnection = function getConnectionGuarded(this: MariadbPoolLike): Promise<HandedConnection> {
      const capture = core.prepareCapture();
      if (capture !== undefined) Error.captureStackTrace(capture, getConnectionGuarded);
      // Ready, as a managed call's: a connection found idle (and used within minDelayValidation)
      // is lent within the connector's call, its 'acquire' granting this lease (`current`) with
      // the request's clock reading; one that waits (for a ping, or a connection) is granted when
      // the caller gets it.
      const lease = core.checkoutRequested('connect', capture, undefined, true);
      const outer = s.current;
      s.current = lease;
      let promise: Promise<HandedConnection>;
      try {
        promise = getConnection.call(this) as Promise<HandedConnection>;
      } finally {
        s.current = outer;
      }
      if (lease.acquiredAt < 0) core.checkoutWaits(lease);
      // The caller gets a promise of poolguard's, settled once the connection is the lease's (its
      // release watched) or with the connector's own error object (its holders added by
      // `failed`). Not the connector's promise with a reaction on it: that reaction would mark
      // the connector's rejection handled, and a caller who never handles it would get no
      // 'unhandledRejection', where the bare pool's caller does (test/mariadb/lifecycle).
      return promise.then(
        (conn) => granted(s, lease, conn),
        (err: Error) => {
          throw failed(s, lease, err);
        },
      );
    };
  }
  for (const method of ['query', 'execute', 'batch'] as const) {
    const call = pool[method] as (...args: unknown[]) => unknown;
    if (callbackApi) {
      target[method] = function managedCall(this: MariadbPoolLike, ...args: unknown[]): unknown {
        const capture = core.prepareManagedCapture();
        if (capture !== undefined) Error.captureStackTrace(capture, managedCall);
        return managedCallback(s, capture, call, this, args);
      };
      continue;
    }
    // The promise API's call passes its `arguments` through: no rest array and no copy per call
    // (a pool.query() is a GET's whole checkout).
    target[method] = function managedCall(this: MariadbPoolLike): unknown {
      const capture = core.prepareManagedCapture();
      if (capture !== undefined) Error.captureStackTrace(capture, managedCall);
      // runManaged's steps in this frame: its call is not inlined here, a frame and a call per query.
      core.enterManaged(capture);
      let lease: Lease;
      try {
        lease = requestManaged();
      } finally {
        core.leaveManaged();
      }
      const result = callLent(s, lease, call, this, arguments, managedCall);
      // Granted within the call (its promise is the connector's own), or failed within it.
      if (lease.acquiredAt >= 0 || !lease.ready) return result;
      return managedWaits(s, lease, result as Promise<unknown>);
    };
  }
  const end = pool.end;
  target.end = function endGuarded(this: MariadbPoolLike, ...args: unknown[]): unknown {
    if (this.closed) return end.apply(this, args);
    s.ending = true;
    if (!callbackApi) return watchEnd(core, 'pool.end()', () => end.apply(this, args) as Promise<void>);
    const cb = args[0];
    return watchEndCallback(core, 'pool.end()', (finished: (err: Error | null) => void) => end.call(this, finished), (err: Error | null) => {
      if (typeof cb === 'function') cb(err);
    });
  };
  return core;
}

/**
 * The managed leases still waiting for a connection, in request order: a ring that doubles when
 * full (a power of two, so that a slot is found with a mask). A pool under load holds thousands (the connector's own tests queue 10,000 queries), and an
 * array's shift() or splice() would make each checkout cost as much as the queue is long; a ring
 * never changes its array's length, whose store (emptying a queue with a moving head) is a call
 * into V8's runtime at each checkout that waited. A lease that failed or timed out while waiting
 * is skipped when its turn comes.
 */
class ManagedQueue {
  #items: Array<Lease | undefined> = new Array(16).fill(undefined);
  #head = 0;
  #count = 0;

  /** Whether any lease may still be waiting (some may have failed or timed out since). */
  get waiting(): boolean {
    return this.#count > 0;
  }

  push(lease: Lease): void {
    const items = this.#items;
    if (this.#count === items.length) {
      // Full: unrolled into a ring twice the size, the oldest first.
      const grown: Array<Lease | undefined> = new Array(items.length * 2).fill(undefined);
      for (let i = 0; i < this.#count; i++) grown[i] = items[(this.#head + i) & (items.length - 1)];
      this.#items = grown;
      this.#head = 0;
    }
    this.#items[(this.#head + this.#count) & (this.#items.length - 1)] = lease;
    this.#count++;
  }

  /**
   * The oldest lease still waiting (not granted, not failed), taken off the queue. A slot taken is
   * emptied: the queue is long-lived, and a lease it kept would outlive its request into the old
   * generation, for a major collection to find.
   */
  next(): Lease | undefined {
    const items = this.#items;
    while (this.#count > 0) {
      const lease = items[this.#head]!;
      items[this.#head] = undefined;
      this.#head = (this.#head + 1) & (items.length - 1);
      this.#count--;
      if (lease.acquiredAt < 0 && lease.list !== undefined) return lease;
    }
    return undefined;
  }
}

/**
 * A pool.query()/execute()/batch(): a `query` lease, granted at its 'acquire', ended at the
 * connector's release of its connection. A call that found an idle connection is granted within
 * the connector's call; one that waits is queued, and its promise (`managedWaits`) or callback
 * (here) also says when it failed or timed out before a connection came.
 */
function managedCallback(state: State, capture: Parameters<GuardCore['runManaged']>[0], call: (...args: unknown[]) => unknown, pool: MariadbPoolLike, args: unknown[]): unknown {
  const lease = state.core.runManaged(capture, state.requestManaged);
  const at = args.findIndex((a) => typeof a === 'function');
  if (at !== -1) {
    const cb = args[at] as (err: unknown, ...rest: unknown[]) => unknown;
    args[at] = function settled(this: unknown, err: unknown, ...rest: unknown[]): unknown {
      settleManaged(state, lease, err ?? undefined, settled);
      return cb.call(this, err, ...rest);
    };
  }
  const result = callLent(state, lease, call, pool, args, managedCallback);
  // Granted within the call, or failed within it (a callback told at once).
  if (lease.acquiredAt >= 0 || !lease.ready) return result;
  state.core.checkoutWaits(lease);
  state.managed.push(lease);
  return result;
}

/**
 * Calls the connector for a managed lease: `current` names the lease for the 'acquire' the call
 * emits when it finds an idle connection. A call that throws ends its lease there.
 */
function callLent(state: State, lease: Lease, call: (...args: unknown[]) => unknown, pool: MariadbPoolLike, args: ArrayLike<unknown>, above: Function): unknown {
  const outer = state.current;
  state.current = lease;
  try {
    return call.apply(pool, args as unknown[]);
  } catch (err) {
    settleManaged(state, lease, err, above);
    throw err;
  } finally {
    state.current = outer;
  }
}

/** A promise-API managed call that has to wait for a connection: queued, its failure followed. */
function managedWaits(state: State, lease: Lease, result: Promise<unknown>): Promise<unknown> {
  state.core.checkoutWaits(lease);
  state.managed.push(lease);
  return result.then(
    function settledValue(value: unknown) {
      settleManaged(state, lease, undefined, settledValue);
      return value;
    },
    function settledError(err: unknown) {
      settleManaged(state, lease, err, settledError);
      throw err;
    },
  );
}

/**
 * A managed call's promise or callback settled: a lease still waiting failed (or timed out, with
 * the holders added to the connector's error); a granted one ends here unless the pool's release
 * ended it already.
 */
function settleManaged(state: State, lease: Lease, err: unknown, above: Function): void {
  const { core } = state;
  if (lease.acquiredAt < 0) {
    if (err !== undefined && isTimeout(err)) core.poolTimedOut(lease, err as Error);
    else core.checkoutFailed(lease, false);
  } else if (!lease.released) core.released(lease, above, DOUBLE_RELEASE_MESSAGE);
}

function isTimeout(err: unknown): boolean {
  return (err as { errno?: unknown } | null)?.errno === TIMEOUT_ERRNO;
}

function failed(state: State, lease: Lease, err: Error | null): Error | null {
  // The connector's error unchanged (class, code, message); the holders in its fields, its stack and the log.
  if (err != null && isTimeout(err)) state.core.poolTimedOut(lease, err);
  else {
    state.core.checkoutFailed(lease, false);
    // The connector's error for a closed pool stays as it is; why it is closed goes in its fields, its stack and the log.
    if (err != null && state.pool.closed) state.core.noteRefusedAtEnd(err);
  }
  return err;
}

/** Answers a callback-API call that poolguard settled itself, as the connector would: on a later tick. */
function callLater(cb: unknown): undefined {
  if (typeof cb === 'function') process.nextTick(cb as () => void);
  return undefined;
}

/**
 * A getConnection() caller gets its connection: the lease is granted (unless its 'acquire' did,
 * within the call) and its release watched.
 */
function granted<C extends HandedConnection>(state: State, lease: Lease, conn: C): C {
  const { core } = state;
  const lentAlready = lease.acquiredAt >= 0;
  const base = lentAlready ? (lease.conn!.resource as BaseConnection) : conn.threadId === null ? undefined : state.lent.get(conn.threadId);
  const record = base?.[kRecord];
  if (base === undefined || record === undefined) {
    core.checkoutFailed(lease, false);
    return conn;
  }
  if (!lentAlready) {
    core.checkoutGranted(lease, record);
    if (state.acquired === base) state.acquired = undefined;
  }
  const release = conn.release;
  const destroy = conn.destroy;
  // One parameter, not a rest array: the connector's release takes a callback at most (the
  // callback API's) or nothing, and a rest array and an apply() cost every release.
  const guardedRelease = function release_(this: unknown, cb?: unknown): unknown {
    const given = arguments.length;
    if (lease.released || lease.reclaimed) {
      // Reclaimed, or ended with its connection (closed, killed): the late release is harmless.
      if (lease.reclaimed || !base.isValid()) return passOn(release, conn, given, cb);
      logDoubleRelease(core, lease, release_, DOUBLE_RELEASE_MESSAGE);
      const current = record.lease;
      if (current !== undefined) {
        // Lent again by now: the connector takes it back from its new holder all the same (rolling
        // back whatever that holder had begun), so that holder's lease ends here, as in the pool.
        core.log('warn', `stale release ${current.id}`, { pool: core.config.name, leaseId: current.id, staleLeaseId: lease.id }, `poolguard[${core.config.name}]: the second release() above took connection #${record.id} back from lease #${current.id} (checked out at ${core.snapshot().leases.find((l) => l.id === current.id)?.where ?? 'an unknown site'}), which still holds it: its queries now run on a connection the pool may lend to someone else.`);
        core.released(current, release_, DOUBLE_RELEASE_MESSAGE);
      }
      return passOn(release, conn, given, cb);
    }
    const result = releaseChecked(core, lease, mariadbTransaction(base), release_, DOUBLE_RELEASE_MESSAGE);
    if (typeof result !== 'object' && !core.recycles) return passOn(release, conn, given, cb);
    return releaseOtherwise(state, record, conn, release, destroy, given, cb, typeof result === 'object' ? result.action : undefined);
  };
  // end() and close() are the same release (the connector assigns them so, own properties of each
  // connection it hands out); so is `await using`. Each property is stored by name, in a store of
  // its own: one keyed store for them all saw four keys, a megamorphic miss at every checkout.
  // destroy() is followed on the connector's connection beneath (see `register`), once for all its
  // holders: redefining it on each one handed out was a call into V8's runtime at every checkout.
  const c = conn as unknown as Record<string | symbol, unknown>;
  if (hasOwn.call(conn, 'release')) c.release = guardedRelease;
  else shadowMethod(conn, 'release', guardedRelease);
  if (conn.end === release) c.end = guardedRelease;
  if (conn.close === release) c.close = guardedRelease;
  if (typeof Symbol.asyncDispose === 'symbol') {
    const dispose = (): unknown => guardedRelease();
    if (hasOwn.call(conn, Symbol.asyncDispose)) c[Symbol.asyncDispose] = dispose;
    else if (c[Symbol.asyncDispose] !== undefined) shadowMethod(conn, Symbol.asyncDispose, dispose);
  }
  base[kHeld] = conn;
  return conn;
}

/** The connector's release, given what the holder gave: nothing, or its callback. */
function passOn(release: (...a: unknown[]) => unknown, conn: HandedConnection, given: number, cb: unknown): unknown {
  return given === 0 ? release.call(conn) : release.call(conn, cb);
}

/**
 * A release inside a transaction (the connection closed, or rolled back first), or in a pool that
 * retires connections (closed when due).
 */
function releaseOtherwise(state: State, record: ConnectionRecord, conn: HandedConnection, release: (...a: unknown[]) => unknown, destroy: () => void, given: number, cb: unknown, dirty: string | undefined): unknown {
  if (dirty === 'destroy') {
    destroy.call(conn);
    return state.callbackApi ? callLater(cb) : Promise.resolve();
  }
  if (dirty === 'rollback' && state.settings.noControlAfterUse) {
    // The connector rolls back at release itself unless noControlAfterUse is set.
    const rollback = conn.rollback as (...a: unknown[]) => unknown;
    const handBack = (): unknown => passOn(release, conn, given, cb);
    if (state.callbackApi) return rollback.call(conn, handBack);
    return (rollback.call(conn) as Promise<unknown>).then(handBack, () => destroy.call(conn));
  }
  if (state.core.recycles && state.core.dueForRetirement(record) !== undefined) {
    destroy.call(conn);
    return state.callbackApi ? undefined : Promise.resolve();
  }
  return passOn(release, conn, given, cb);
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Puts `value` in place of a method a handed-out connection has from its class: a non-enumerable
 * own property shadows it. (The connector's own per-connection methods are replaced by stores,
 * which keep them as they are and cost a checkout far less than a redefinition.)
 */
function shadowMethod(conn: HandedConnection, key: string | symbol, value: unknown): void {
  Object.defineProperty(conn, key, { value, writable: true, configurable: true });
}

/**
 * A connection seen for the first time. Its removal is followed where the connector ends it: its
 * `forceEnd` (idle reaping, a failed reset, the pool's end), its `destroy`, and its 'end' event
 * (a fatal error: the server killed it, the network failed).
 */
function register(state: State, base: BaseConnection): ConnectionRecord {
  const { core } = state;
  const record = core.connectionOpened(base);
  if (typeof base.threadId === 'number') {
    record.pid = base.threadId;
    state.lent.set(base.threadId, base);
  }
  Object.defineProperty(base, kRecord, { value: record, configurable: true });
  Object.defineProperty(base, kHeld, { value: undefined, writable: true, configurable: true });
  // A command's end tells when a holder last used its connection (the idle time of a lease
  // report); a pool.query()'s lease ends with its one command, and a connection nobody holds has
  // no holder to report on: their commands' ends are not told (no clock read).
  onMariadbCommandDone(
    base,
    () => core.connectionActive(record),
    () => record.lease !== undefined && !record.lease.managed,
  );
  // The first command after a lending that no getConnection() caller took is a queued managed
  // call's, sent in the same turn; the oldest waiting one is the one the connector served. The
  // wrapper that sees it goes on addCommand at such a lending only (`kArm`, from 'acquire'), and
  // takes itself off at the next command: a getConnection() holder's commands pass through one
  // wrapper (the hook's), not two.
  let below: BaseConnection['addCommand'] = base.addCommand;
  let armed = false;
  const grantAtCommand = function addCommandGranting(this: BaseConnection, cmd: Parameters<BaseConnection['addCommand']>[0], expectResponse?: boolean): unknown {
    const add = below;
    // No longer on top (the connector swapped addCommand as it closed, or a hook went on top):
    // left where it is, looking at every command from then on.
    if (base.addCommand === addCommandGranting) {
      base.addCommand = add;
      armed = false;
    }
    if (state.acquired === base) {
      state.acquired = undefined;
      if (record.lease === undefined) {
        const lease = state.managed.next();
        if (lease !== undefined) core.checkoutGranted(lease, record);
      }
    }
    return add.call(this, cmd, expectResponse);
  };
  Object.defineProperty(base, kArm, {
    value: (): void => {
      if (armed) return;
      armed = true;
      below = base.addCommand;
      base.addCommand = grantAtCommand;
    },
    configurable: true,
  });
  let gone = false;
  let failure: unknown;
  // `above`: the frame a holder's own destroy() is captured below, when release stacks are kept.
  const removed = (above: Function): void => {
    if (gone) return;
    gone = true;
    if (state.acquired === base) state.acquired = undefined;
    if (typeof base.threadId === 'number' && state.lent.get(base.threadId) === base) state.lent.delete(base.threadId);
    const lease = record.lease;
    // The error that ended the connection says how: the server closing the socket is `terminated`.
    const failed = failure === undefined ? 'error' : (failure as { code?: unknown }).code === 'ER_SOCKET_UNEXPECTED_CLOSE' ? 'terminated' : errorReason(failure);
    if (lease !== undefined && !lease.released && !lease.reclaimed) {
      if (!state.ending) core.markRetiring(record, failed);
      core.released(lease, above, DOUBLE_RELEASE_MESSAGE);
    }
    const ending = state.ending || state.pool.closed;
    core.connectionRemoved(record, !ending && failure !== undefined ? failed : removalReason(ending, lease !== undefined));
  };
  const forceEnd = base.forceEnd;
  if (typeof forceEnd === 'function') {
    base.forceEnd = function forceEndWatched(this: BaseConnection, ...args: unknown[]): unknown {
      removed(forceEndWatched);
      return forceEnd.apply(this, args);
    };
  }
  // A holder's destroy() on the connection it was handed comes here too (the wrapper's destroy is
  // the connector's connection's): its lease ends as the connection closes.
  const destroy = base.destroy;
  base.destroy = function destroyWatched(this: BaseConnection): void {
    removed(destroyWatched);
    destroy.call(this);
  };
  // Before the pool's own listener, which is there from the start (so none is added where none was).
  base.prependListener('error', (err: unknown) => {
    failure ??= err;
  });
  base.on('end', function endWatched(): void {
    removed(endWatched);
  });
  return record;
}

/**
 * Destroys a reclaimed lease's connection (the connector removes it and opens another) and makes
 * the holder's later calls fail with the reclaim error. The connector's destroy() kills a command
 * still running from a second connection, so a lease cut at the end deadline does not hold it.
 */
function reclaim(state: State, lease: Lease, makeError: () => LeaseReclaimedError): void {
  const record = lease.conn;
  const base = record?.resource as BaseConnection | undefined;
  if (record === undefined || base === undefined || !isMariadbConnection(base)) return;
  const conn = base[kHeld];
  if (conn !== undefined) {
    for (const method of ['query', 'execute', 'batch', 'queryStream', 'beginTransaction', 'commit', 'rollback', 'ping', 'prepare', 'reset', 'changeUser', 'importFile']) {
      if (typeof conn[method] !== 'function') continue;
      Object.defineProperty(conn, method, {
        configurable: true,
        writable: true,
        value: (...args: unknown[]): unknown => {
          const error = makeError();
          if (!state.callbackApi) return Promise.reject(error);
          const cb = args.filter((a) => typeof a === 'function').pop() as ((e: Error) => void) | undefined;
          if (cb !== undefined) process.nextTick(cb, error);
          return undefined;
        },
      });
    }
  }
  base.destroy();
}

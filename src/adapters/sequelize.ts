import { refusePoolOwnedOptions, resolveGuardConfig, type GuardOptions, type ResolvedGuardConfig } from '../core/config.js';
import type { GuardCore, PoolGuard } from '../core/guard.js';
import type { ConnectionRecord, Lease, LeaseKind } from '../core/ledger.js';
import type { LeaseReclaimedError } from '../core/errors.js';
import { guardOf } from '../core/registry.js';
import { defaultName } from './default-name.js';
import { driverInFlight, driverRecord, driverTransaction } from './driver-client.js';
import { attachGuard, guardedAlready, releaseChecked, resourceRemoved, watchEnd, watchFactory } from './kit.js';
import { driverWords } from './driver-words.js';

const kState = Symbol('poolguard.sequelize-pool.state');
const kManager = Symbol('poolguard.sequelize.state');
// Never shown (Sequelize releases each connection once): the first words of a double release's error.
const RELEASE_MESSAGE = 'sequelize-pool: release';

/**
 * The structural shape of a Sequelize instance (`new Sequelize(…)`) that `guardSequelize` needs.
 * @public
 */
export interface SequelizeLike {
  /** Sequelize's connection manager: its pools are guarded, its `getConnection` records who asked. */
  readonly connectionManager: object;
}

/** sequelize-pool's `Pool` (7.x under Sequelize 6, 8.x standalone): what poolguard reads and wraps. */
interface SequelizePoolLike {
  acquire(): Promise<unknown>;
  release(resource: unknown): void;
  destroy(resource: unknown): Promise<void>;
  readonly size: number;
  readonly available: number;
  readonly using: number;
  readonly waiting: number;
  readonly maxSize: number;
  readonly minSize: number;
  drain?: () => Promise<unknown>;
  _factory?: { create(): Promise<unknown>; destroy(resource: unknown): Promise<unknown> | unknown };
  _draining?: boolean;
  _inUseObjects?: Array<{ resource: unknown }>;
  [kState]?: PoolState;
  guard?: PoolGuard;
}

interface ConnectionManagerLike {
  pool?: SequelizePoolLike | { read?: SequelizePoolLike; write?: SequelizePoolLike };
  getConnection(options?: { uuid?: unknown; type?: unknown; useMaster?: unknown }): Promise<unknown>;
  releaseConnection(connection: unknown): unknown;
  destroyConnection(connection: unknown): Promise<unknown>;
  dialectName?: string;
  config?: Record<string, unknown>;
  [kManager]?: { read: PoolState | undefined; write: PoolState };
}

interface PoolState {
  readonly core: GuardCore;
  readonly pool: SequelizePoolLike;
  readonly records: Map<unknown, ConnectionRecord>;
}

/**
 * Guards the pools a Sequelize instance owns (sequelize-pool; with `replication`, the write pool
 * and the read pool, each under its own name), in place: a `sequelize.transaction()` never
 * committed is reported at your line, every query's connection is tracked (its line with
 * `guard.captureStacks: 'all'`), and `ConnectionAcquireTimeoutError` names the holders by call
 * site. Every pool setting (`max`, `min`, `acquire`, `idle`, `evict`, `maxUses`, `validate`) keeps
 * working: Sequelize's pool does the pooling. Returns the handle of the write pool (the only pool
 * without replication); the read pool's handle is `sequelize.connectionManager.pool.read.guard`.
 * Idempotent.
 * @public
 */
export function guardSequelize(sequelize: SequelizeLike, options?: GuardOptions): PoolGuard {
  const cm = (sequelize as { connectionManager?: unknown } | null | undefined)?.connectionManager as ConnectionManagerLike | undefined;
  if (cm == null || typeof cm.getConnection !== 'function' || typeof cm.releaseConnection !== 'function') {
    throw new TypeError(`guardSequelize(sequelize) needs a Sequelize instance (new Sequelize(…)), got ${sequelize === null ? 'null' : typeof sequelize}`);
  }
  const existing = cm[kManager];
  const base = sequelizeName(cm);
  if (existing !== undefined) {
    // With replication the first call named the write pool `<name>:write`: the same options say so too.
    const wanted = options === undefined || existing.read === undefined ? options : { ...options, name: `${options.name ?? base}:write` };
    return guardedAlready(existing.write.pool, wanted, (o) => resolveConfig(o, base))!;
  }
  const pool = cm.pool;
  // Guarded by another copy of poolguard: that copy's guard stays.
  const other = guardOf<PoolGuard>((isSequelizePool(pool) ? pool : (pool as { write?: object } | undefined)?.write) ?? {});
  if (other !== undefined) return other;
  let states: { read: PoolState | undefined; write: PoolState };
  if (isSequelizePool(pool)) {
    states = { read: undefined, write: attach(pool, resolveConfig(options, base), cm.dialectName, 'sequelize.connectionManager.pool.guard') };
  } else if (pool != null && isSequelizePool((pool as { write?: unknown }).write) && isSequelizePool((pool as { read?: unknown }).read)) {
    const name = options?.name ?? base;
    const p = pool as { read: SequelizePoolLike; write: SequelizePoolLike };
    states = {
      write: attach(p.write, resolveConfig({ ...options, name: `${name}:write` }, base), cm.dialectName, 'sequelize.connectionManager.pool.write.guard'),
      read: attach(p.read, resolveConfig({ ...options, name: `${name}:read` }, base), cm.dialectName, 'sequelize.connectionManager.pool.read.guard'),
    };
  } else {
    throw new TypeError('guardSequelize(sequelize): its connection manager has no sequelize-pool (closed, or a dialect without a pool). Guard it right after new Sequelize(…).');
  }
  Object.defineProperty(cm, kManager, { value: states, configurable: true });
  wrapManager(cm, states);
  return states.write.core.handle;
}

function isSequelizePool(pool: unknown): pool is SequelizePoolLike {
  const p = pool as Partial<SequelizePoolLike> | null | undefined;
  return p != null && typeof p.acquire === 'function' && typeof p.release === 'function' && typeof p.destroy === 'function' && typeof p.using === 'number' && typeof p.maxSize === 'number';
}

function resolveConfig(options: GuardOptions | undefined, name: string): ResolvedGuardConfig {
  return refusePoolOwnedOptions(resolveGuardConfig(options, name), 'a Sequelize pool', {
    maxLifetimeMs: "Sequelize's pool.maxUses or pool.idle",
    maxUses: "Sequelize's pool.maxUses",
    validateAfterIdleMs: "Sequelize's pool.validate",
  });
}

/** The words of a Sequelize pool's reports, by its dialect (`postgres` talks through pg, `mysql` through mysql2). */
function sequelizeWords(dialect: string | undefined, handle: string) {
  const server = dialect === 'postgres' ? 'postgres' : dialect === 'mysql' || dialect === 'mariadb' ? 'mysql' : undefined;
  const driver = dialect === 'postgres' ? 'pg' : dialect === 'mysql' ? 'mysql2' : undefined;
  return { ...driverWords({ server, driver }), releaseCall: 'sequelize.connectionManager.releaseConnection(connection)', transactionCall: 'sequelize.transaction()', handle };
}

/** `handle`: where the user reaches this pool's guard from the Sequelize instance (see `PoolWords.handle`). */
function attach(pool: SequelizePoolLike, config: ResolvedGuardConfig, dialect: string | undefined, handle: string): PoolState {
  const existing = pool[kState];
  if (existing !== undefined) return existing;
  const records = new Map<unknown, ConnectionRecord>();
  const draining = (): boolean => pool._draining === true;
  const core = attachGuard(pool, config, {
    inFlight: driverInFlight,
    transaction: driverTransaction,
    reclaim: (lease, makeError) => reclaimConnection(state, lease, makeError),
    counts: () => ({ total: pool.size, idle: pool.available, waiting: pool.waiting, max: pool.maxSize, min: pool.minSize }),
    recordOf: (resource) => records.get(resource),
    words: sequelizeWords(dialect, handle),
  }, { dbSystem: undefined, ended: () => draining() && pool.size === 0, ending: draining });
  const state: PoolState = { core, pool, records };
  // Every connection the pool opens or closes passes its factory: the lifecycle's choke point.
  const factory = pool._factory;
  if (factory !== undefined) {
    watchFactory(factory, factory, core.clock, (resource, createMs) => recordFor(state, resource, createMs), (resource) => resourceRemoved(core, records, resource, draining()));
  }
  // sequelize.close() drains the pool (see watchEnd).
  const drain = pool.drain;
  if (typeof drain === 'function') {
    pool.drain = function guardedDrain(this: unknown): Promise<unknown> {
      return watchEnd(core, 'sequelize.close()', () => drain.call(this));
    };
  }
  Object.defineProperty(pool, kState, { value: state, configurable: true });
  return state;
}

function recordFor(state: PoolState, resource: unknown, createMs?: number): ConnectionRecord {
  return driverRecord(state.core, state.records, resource, createMs);
}

/**
 * The connection manager is where a Sequelize call asks for a connection, synchronously from the
 * application's call (`sequelize.transaction()`, a model query through its async functions): the
 * stack captured there names the application's line. sequelize-pool itself is reached only after
 * Sequelize's hooks have run, asynchronously.
 */
function wrapManager(cm: ConnectionManagerLike, states: { read: PoolState | undefined; write: PoolState }): void {
  const getConnection = cm.getConnection;
  const releaseConnection = cm.releaseConnection;
  const destroyConnection = cm.destroyConnection;
  const stateFor = (options: { type?: unknown; useMaster?: unknown } | undefined): PoolState =>
    // Sequelize's own routing: a SELECT goes to the read pool unless useMaster.
    states.read !== undefined && options?.type === 'SELECT' && !options.useMaster ? states.read : states.write;
  const stateOf = (connection: unknown): PoolState | undefined => {
    if (states.write.records.has(connection)) return states.write;
    if (states.read?.records.has(connection)) return states.read;
    return undefined;
  };

  cm.getConnection = function guardedGetConnection(this: ConnectionManagerLike, options?: { uuid?: unknown; type?: unknown; useMaster?: unknown }): Promise<unknown> {
    const state = stateFor(options);
    const { core } = state;
    // Sequelize's Transaction asks with its id; a query asks without one.
    const kind: LeaseKind = options?.uuid !== undefined ? 'transaction' : 'statement';
    const capture = kind === 'transaction' ? core.prepareCapture() : core.prepareManagedCapture();
    if (capture !== undefined) {
      Error.captureStackTrace(capture, guardedGetConnection);
      core.captureTaken(kind === 'statement');
    }
    const lease = core.checkoutRequested(kind, capture);
    return getConnection.call(this, options).then(
      (connection) => {
        core.checkoutGranted(lease, recordFor(state, connection));
        return connection;
      },
      (err: unknown) => {
        if (err instanceof Error && err.name === 'SequelizeConnectionAcquireTimeoutError') throw core.poolTimedOut(lease, err);
        core.checkoutFailed(lease, false);
        throw err;
      },
    );
  };

  cm.releaseConnection = function guardedReleaseConnection(this: ConnectionManagerLike, connection: unknown): unknown {
    const state = stateOf(connection);
    const lease = state?.records.get(connection)?.lease;
    // Sequelize releases each connection once; a second call is sequelize-pool's to log.
    const transaction = lease === undefined || lease.released || lease.reclaimed ? undefined : driverTransaction(connection as object);
    const outcome = lease === undefined || lease.released ? true : releaseChecked(state!.core, lease, transaction, guardedReleaseConnection, RELEASE_MESSAGE);
    // A connection released inside a transaction (a raw BEGIN through sequelize.query()) is closed,
    // never handed to the next caller; Sequelize's destroyConnection replaces it.
    if (typeof outcome === 'object') return destroyConnection.call(this, connection).catch(() => {});
    return releaseConnection.call(this, connection);
  };

  cm.destroyConnection = function guardedDestroyConnection(this: ConnectionManagerLike, connection: unknown): Promise<unknown> {
    const state = stateOf(connection);
    const record = endLease(state, connection, guardedDestroyConnection);
    if (record !== undefined) state!.core.markRetiring(record, 'error');
    return destroyConnection.call(this, connection);
  };
}

function endLease(state: PoolState | undefined, connection: unknown, above: Function): ConnectionRecord | undefined {
  const record = state?.records.get(connection);
  const lease = record?.lease;
  // Sequelize releases each connection once; a second call is sequelize-pool's to log.
  if (lease === undefined || lease.released) return record;
  state!.core.released(lease, above, RELEASE_MESSAGE);
  return record;
}

/**
 * Takes the connection out of the pool through sequelize-pool's own destroy (which closes it, so
 * the server rolls back its transaction, and opens a replacement for waiters). The holder's late
 * commit fails with the driver's closed-connection error; its release is ignored by the pool.
 */
function reclaimConnection(state: PoolState, lease: Lease, _makeError: () => LeaseReclaimedError): void {
  const resource = lease.conn?.resource;
  if (resource === undefined) return;
  Promise.resolve(state.pool.destroy(resource)).catch(() => {});
}

/** `sequelize:dialect host:port/database` from the connection settings Sequelize kept. */
function sequelizeName(cm: ConnectionManagerLike): string {
  const config = cm.config ?? {};
  // With replication, the top-level host is Sequelize's default, not the server: the write pool's is.
  const write = (config.replication as { write?: object } | false | undefined) || undefined;
  return defaultName(write?.write === undefined ? config : { ...config, ...write.write }, { prefix: `sequelize:${cm.dialectName ?? 'sequelize'} `, host: 'localhost', database: '' });
}

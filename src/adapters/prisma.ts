import type { GuardOptions, ResolvedGuardConfig } from '../core/config.js';
import type { PoolGuard } from '../core/guard.js';
import { isPgPool } from '../core/pool-kind.js';
import { makeCapturePlan, type CapturedStack, type CapturePlan } from '../core/stack.js';
import { guard as guardPgPool, openLeaseOf } from './pg.js';

/**
 * Why this adapter exists: Prisma 7 opens an interactive transaction several promise steps after
 * the application's `prisma.$transaction(cb)` call (its engine, then the driver adapter's
 * `startTransaction`, which calls `pool.connect()`), so the stack captured at that checkout holds
 * the application's line only through V8's async stack trace, and only when every caller up to it
 * awaited. A service function that returns `prisma.$transaction(…)` without `await`, called by a
 * route that does not await it either, leaves the report at "an unknown site inside
 * @prisma/client". The application's line is on the synchronous stack at one moment only: the
 * `$transaction` call itself. It is captured there and given to the checkout that this call
 * causes, found without any per-promise bookkeeping (see `RUNNER`).
 */

const kPool = Symbol('poolguard.prisma.pool');
const kClient = Symbol('poolguard.prisma.client');

/**
 * Every `$transaction(cb)` call runs Prisma's own `$transaction` inside an async function named
 * `RUNNER + <pool token>_<call id>`, created for the call, which awaits it. When the driver adapter
 * then calls `pool.connect()`, V8's async stack trace at that moment leads from
 * `startTransaction` back through Prisma's awaits to the innermost such function: its name says
 * which call the checkout belongs to, exactly, whatever else runs concurrently. The alternative,
 * an `AsyncLocalStorage` around the call, costs every promise in the process an async hook on
 * Node 20 and 22 (2–2.5x on a promise-bound loop here); this costs one structured stack capture per
 * checkout made while such a call waits for its connection, and nothing otherwise. The name shows
 * in the async frames of errors created inside a transaction (`at async poolguard_prisma_…`).
 */
const RUNNER = 'poolguard_prisma_transaction_';

/**
 * Frames read at such a checkout. In Prisma 7.10 the runner is the seventh above `pool.connect()`
 * (the adapter's `startTransaction`, its transaction manager twice, the engine's `transaction`,
 * `_transactionWithCallback`), with or without Prisma's tracing: room for about twice that, and no
 * more, since V8 builds an object for every frame read.
 */
const CHAIN_FRAMES = 12;

/**
 * The shape of a Prisma client that `guardPrisma` needs: a `PrismaClient` (Prisma 7) built on
 * `@prisma/adapter-pg`, or a client extended from one with `$extends`.
 * @public
 */
export interface PrismaClientLike {
  /** Prisma's own `$transaction`; `guardPrisma` wraps it in place so that it records its caller's line. */
  $transaction(...args: any[]): unknown;
}

/** Prisma 7 internals read once, at `guardPrisma()`; feature-detected, with an error that says what is missing. */
interface PrismaInternals {
  _originalClient?: object;
  _engineConfig?: { adapter?: { adapterName?: unknown; externalPool?: unknown } | null };
  [kClient]?: true;
}

interface PgPoolHook {
  connect: (...args: unknown[]) => unknown;
  [kPool]?: PoolState;
}

/** Per guarded pool, shared by every Prisma client built on it. */
interface PoolState {
  /** `false` with guard.captureStacks 'none': `$transaction` is left as Prisma's. */
  readonly captures: boolean;
  readonly plan: CapturePlan;
  /** This pool's runners are named `prefix + id`. */
  readonly prefix: string;
  /**
   * Interactive `$transaction` calls whose connection has not been checked out yet, by id, with
   * the caller's stack (`undefined`: sampled out by `guard.stackSampleRate`). Emptied as each
   * checkout is made or the call settles without one (a nested transaction uses a savepoint).
   */
  readonly pending: Map<number, CapturedStack | undefined>;
  next: number;
}

/**
 * Names the line of every `prisma.$transaction(…)` whose transaction is held too long: the
 * stack at the call is captured and given to the connection that the transaction then checks out,
 * so that leak reports, snapshots and the holders a checkout timeout lists name that line however
 * the application's functions await (or return) the call, at first use and after any traffic.
 *
 * Call it once, right after `new PrismaClient({ adapter: new PrismaPg(pool) })`. The pool must be
 * a `pg.Pool` given to `PrismaPg`: one from `poolguard/pg` keeps its own options; a plain
 * `pg.Pool` is guarded in place with `options`. Returns the pool's guard (`pool.guard`).
 * Idempotent. Prisma's behaviour, results and errors are unchanged. Throws a `TypeError` for a
 * client that is not built on `@prisma/adapter-pg` with a pool.
 * @public
 */
export function guardPrisma(prisma: PrismaClientLike, options?: GuardOptions): PoolGuard {
  if (prisma === null || typeof prisma !== 'object' || typeof prisma.$transaction !== 'function') {
    throw new TypeError(`guardPrisma(prisma) needs a PrismaClient (Prisma 7), got ${prisma === null ? 'null' : typeof prisma}`);
  }
  const internals = prisma as unknown as PrismaInternals;
  const adapter = internals._engineConfig?.adapter;
  if (adapter == null || adapter.adapterName !== '@prisma/adapter-pg') {
    const name = adapter == null ? 'no driver adapter' : `the driver adapter ${String(adapter.adapterName)}`;
    throw new TypeError(
      `guardPrisma(prisma): this PrismaClient has ${name}; poolguard guards Prisma 7 clients built on @prisma/adapter-pg with a pool: new PrismaClient({ adapter: new PrismaPg(pool) }), pool from 'poolguard/pg'.`,
    );
  }
  const pool = adapter.externalPool;
  if (!isPgPool(pool)) {
    throw new TypeError(
      "guardPrisma(prisma): this PrismaClient's PrismaPg adapter was given connection settings, not a pool (or its pool was disposed), so the pg.Pool it uses is made inside Prisma where poolguard cannot see it. " +
        "Give PrismaPg a pool from 'poolguard/pg': new PrismaPg(new Pool({ connectionString, guard: { name: 'orders-db' } })).",
    );
  }
  const handle = guardPgPool(pool as never, options);
  const state = hookPool(pool as unknown as PgPoolHook, handle);
  // Patched on the client object itself, under Prisma's proxies: clients made from it by $extends
  // (Object.create of it) and the transaction client handed to a callback read it from there.
  const client = (internals._originalClient ?? internals) as PrismaInternals & { $transaction: Function };
  if (client[kClient] !== true) {
    Object.defineProperty(client, kClient, { value: true, configurable: true });
    Object.defineProperty(client, '$transaction', { value: wrapTransaction(state, client.$transaction), writable: true, configurable: true, enumerable: false });
  }
  return handle;
}

function hookPool(pool: PgPoolHook, handle: PoolGuard): PoolState {
  const existing = pool[kPool];
  if (existing !== undefined) return existing;
  const config = (handle as unknown as { resolvedOptions?: Partial<ResolvedGuardConfig> }).resolvedOptions ?? {};
  const state: PoolState = {
    captures: config.captureStacks !== 'none',
    // As guard.captureStacks 'connect' does for pool.connect(): every call, not the 'adaptive'
    // default's 1 in 64 after the first 1,000 checkouts, so that the first leak is named too. What
    // guardPrisma adds (this capture, the runner, the call-site read at the checkout) measured
    // 119,000 instructions per transaction beside Prisma's own 1.9–2.5 million, about 6 %
    // (benchmarks/instructions-prisma.sh).
    plan: makeCapturePlan(config.captureStacks !== 'none', {
      sampleRate: config.stackSampleRate ?? 1,
      depth: config.stackDepth ?? 30,
      asyncCallers: config.asyncCallers === true,
    }),
    prefix: `${RUNNER}${Math.random().toString(36).slice(2, 8)}_`,
    pending: new Map(),
    next: 0,
  };
  Object.defineProperty(pool, kPool, { value: state, configurable: true });
  if (!state.captures) return state;
  const connect = pool.connect;
  // An own property over whichever connect the pool has (poolguard's, or an instrumentation's):
  // every other checkout passes through at the cost of one size check.
  pool.connect = function connectForPrisma(this: unknown, ...args: unknown[]): unknown {
    if (state.pending.size === 0 || typeof args[0] === 'function') return connect.apply(this, args);
    const id = transactionStarting(state, connectForPrisma);
    const result = connect.apply(this, args);
    if (id === undefined) return result;
    const capture = state.pending.get(id);
    state.pending.delete(id);
    if (capture === undefined || typeof (result as Promise<unknown> | undefined)?.then !== 'function') return result;
    // Given once pg hands the client over, before Prisma's BEGIN: long before any threshold.
    return (result as Promise<unknown>).then((client) => {
      const lease = openLeaseOf(client);
      if (lease !== undefined) lease.capture = capture;
      return client;
    });
  };
  return state;
}

function wrapTransaction(state: PoolState, original: Function): Function {
  if (!state.captures) return original;
  return function $transaction(this: unknown, input: unknown, options?: unknown): unknown {
    // The batch form's queries reach the pool from a process.nextTick of Prisma's (its request
    // batching), where no async stack leads back here: nothing to match, so nothing is captured.
    if (typeof input !== 'function') return original.call(this, input, options);
    const capture = state.plan.prepare();
    if (capture !== undefined) {
      Error.captureStackTrace(capture, $transaction);
      state.plan.finish();
    }
    const id = ++state.next;
    state.pending.set(id, capture);
    const self = this;
    // A function per call, for its name (see RUNNER); an arrow's name comes from the computed key.
    const name = state.prefix + id;
    const run = {
      [name]: async (): Promise<unknown> => {
        try {
          return await original.call(self, input, options);
        } finally {
          state.pending.delete(id);
        }
      },
    }[name]!;
    return run();
  };
}

/**
 * The id of the `$transaction` call whose start makes this checkout, if the caller of
 * `pool.connect()` is a driver adapter's `startTransaction` and the async stack leads from there
 * to one of this pool's runners. The innermost runner decides: a transaction started inside
 * another's callback belongs to its own call, never to the outer one.
 */
function transactionStarting(state: PoolState, above: Function): number | undefined {
  const sites = callSites(above);
  if (sites === undefined || sites[0]?.getFunctionName() !== 'startTransaction') return undefined;
  for (const site of sites) {
    const name = site.getFunctionName();
    if (name === null || !name.startsWith(RUNNER)) continue;
    if (!name.startsWith(state.prefix)) return undefined;
    const id = Number(name.slice(state.prefix.length));
    return state.pending.has(id) ? id : undefined;
  }
  return undefined;
}

/** V8's call sites above `above`, unformatted (no file reads, no source maps), async frames included. */
function callSites(above: Function): NodeJS.CallSite[] | undefined {
  // Put back by assignment, never deleted: a property added and removed at every call would churn
  // the shape of `Error`, whose stackTraceLimit every checkout's capture reads and writes.
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  const holder: { stack?: unknown } = {};
  let sites: unknown;
  try {
    Error.prepareStackTrace = structured;
    Error.stackTraceLimit = CHAIN_FRAMES;
    Error.captureStackTrace(holder, above);
    // Read now: V8 calls prepareStackTrace when the stack is first read.
    sites = holder.stack;
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
  return Array.isArray(sites) ? (sites as NodeJS.CallSite[]) : undefined;
}

function structured(_error: Error, sites: NodeJS.CallSite[]): NodeJS.CallSite[] {
  return sites;
}

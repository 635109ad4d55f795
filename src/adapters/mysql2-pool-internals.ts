/**
 * What the mysql2 adapter does through mysql2's own bookkeeping rather than its public methods:
 * find a connection in the pool's free list, close an idle connection the lifetime policy retired,
 * and cut a reclaimed connection off from its holder, answering the commands it still has.
 */
import type { LeaseReclaimedError } from '../core/errors.js';
import type { ConnectionRecord, Lease } from '../core/ledger.js';

/** mysql2's RingQueue (`_allConnections`, `_freeConnections`, `_connectionQueue`). */
export interface RingQueue<T> {
  readonly length: number;
  get(index: number): T;
  removeOne?(index: number): unknown;
}

/** What these functions read of mysql2's callback pool. */
export interface Mysql2PoolState {
  _freeConnections?: RingQueue<unknown>;
  _closed?: boolean;
}

interface QueryCommand {
  onResult?: (err: Error) => void;
  emit(event: string, err: Error): boolean;
}

/** What a reclaim reads and replaces on one of mysql2's PoolConnections. */
interface ReclaimedConnection {
  _command?: unknown;
  _commands?: { readonly length: number; shift?(): unknown };
  stream?: { destroy?(): void };
  config?: unknown;
  constructor: { createQuery?(sql: unknown, values: unknown, cb: unknown, config: unknown): QueryCommand };
  destroy(): void;
  query(...args: unknown[]): unknown;
  execute(...args: unknown[]): unknown;
}

/** Whether the connection sits in the pool's free list (released, not lent out). */
export function inFreeList(pool: Mysql2PoolState, connection: object): boolean {
  const free = pool._freeConnections;
  if (free === undefined) return false;
  for (let i = 0; i < free.length; i++) if (free.get(i) === connection) return true;
  return false;
}

/** Closes an idle connection the policy retired, through mysql2's own removal. */
export function retireIdleConnection(pool: Mysql2PoolState, record: ConnectionRecord): boolean {
  const connection = record.resource as ReclaimedConnection;
  if (pool._closed || record.lease !== undefined || !inFreeList(pool, connection)) return false;
  connection.destroy();
  return true;
}

/**
 * Destroys a reclaimed lease's connection (mysql2 opens another for its queue) and makes the
 * holder's next query or execute fail with the reclaim error instead of mysql2's closed-state one.
 */
export function reclaimConnection(lease: Lease, makeError: () => LeaseReclaimedError): void {
  const connection = lease.conn?.resource as ReclaimedConnection | undefined;
  if (connection === undefined) return;
  const refuse = function reclaimedCall(this: ReclaimedConnection, sql: unknown, values?: unknown, cb?: unknown): unknown {
    const error = makeError();
    const callback = typeof values === 'function' ? values : cb;
    const command = connection.constructor.createQuery?.(typeof sql === 'function' ? '' : sql, typeof values === 'function' ? undefined : values, callback, connection.config);
    process.nextTick(() => {
      if (typeof command?.onResult === 'function') command.onResult(error);
      else if (command !== undefined) command.emit('error', error);
      else if (typeof callback === 'function') (callback as (e: Error) => void)(error);
    });
    return command;
  };
  connection.query = refuse;
  connection.execute = refuse;
  // mysql2's destroy() only half-closes the socket and answers nobody: a query still running (a
  // lease cut at the end deadline) would hold its caller, and pool.end(), until the server replies.
  connection.destroy();
  const cut = makeError();
  const running = connection._command as QueryCommand | null | undefined;
  connection._command = null;
  const queued: QueryCommand[] = [];
  for (let next = connection._commands?.shift?.(); next != null; next = connection._commands?.shift?.()) queued.push(next as QueryCommand);
  connection.stream?.destroy?.();
  running?.onResult?.(cut);
  for (const command of queued) {
    // pool.end() queued a Quit behind the running query: with the socket gone, it is done.
    if ((command as { constructor?: { name?: string } }).constructor?.name === 'Quit') (command.onResult as (() => void) | undefined)?.();
    else command.onResult?.(cut);
  }
}

/**
 * What poolguard reads of a MariaDB connector connection without importing the connector: its
 * command queue (busy), the server status the connector itself keeps from every OK/EOF packet
 * (`info.status`, the transaction), and the end of each command (activity). Shared by the mariadb
 * adapter and by Sequelize's `mariadb` dialect, whose connections are the connector's.
 */
import { SERVER_STATUS_IN_TRANS } from './mysql2-connection.js';

// Global, so that two copies of poolguard (or a pool and a data layer) share one hook per connection.
const kHook = Symbol.for('poolguard.mariadb.commandHook');

interface CommandLike {
  onPacketReceive: unknown;
  on(event: 'end', listener: () => void): unknown;
}

/** The connector's own Connection (`lib/connection.js`), the object its pool lends. */
export interface MariadbBaseConnection {
  info: { status: number | null; threadId: number; isMariaDB?(): boolean } | null;
  receiveQueue: { readonly length: number; peekAt(index: number): CommandLike | undefined };
  addCommand: (cmd: CommandLike, expectResponse?: boolean) => unknown;
  isValid(): boolean;
  readonly threadId: number | null;
  [kHook]?: Listeners;
}

/**
 * The listeners of a connection's hook. `conditions` holds the predicates of those that follow
 * commands only sometimes (a listener pushed without one, by another copy of poolguard too,
 * makes the hook follow every command).
 */
type Listeners = Array<() => void> & { conditions?: Array<() => boolean> };

/** Whether `resource` is the connector's base connection. */
export function isMariadbConnection(resource: object): resource is MariadbBaseConnection {
  const c = resource as Partial<MariadbBaseConnection>;
  return typeof c.addCommand === 'function' && typeof c.isValid === 'function' && typeof c.receiveQueue?.peekAt === 'function';
}

/**
 * A command waiting for the server's answer on a connector connection (the connector keeps
 * answered ones at the head of its queue until the next command: those do not count).
 * `undefined` for anything else.
 */
export function mariadbInFlight(resource: object): boolean | undefined {
  if (!isMariadbConnection(resource)) return undefined;
  const queue = resource.receiveQueue;
  for (let i = 0; i < queue.length; i++) if (queue.peekAt(i)?.onPacketReceive != null) return true;
  return false;
}

/**
 * The transaction of a connector connection's session, from the server status the connector keeps
 * (`info.status`, SERVER_STATUS_IN_TRANS, updated by every OK and EOF packet): no round trip.
 * `undefined` outside one, or once the connection is closed (its last status is stale then).
 * Works on the connector's base connection and on its promise and callback wrappers (`info`).
 */
export function mariadbTransaction(resource: object): 'open' | undefined {
  const c = resource as { info?: { status?: unknown } | null; isValid?: () => unknown };
  const status = c.info?.status;
  if (typeof status !== 'number' || typeof c.isValid !== 'function') return undefined;
  if (isMariadbConnection(resource) && !resource.isValid()) return undefined;
  return (status & SERVER_STATUS_IN_TRANS) !== 0 ? 'open' : undefined;
}

/**
 * Calls `onActive` each time a command ends on a connector connection, by following every command
 * it queues. One hook per connection, whoever asks. With `wanted`, only the commands queued while
 * it answers true are followed (when no other listener wants them all). Returns false, doing
 * nothing, for anything else.
 */
export function onMariadbCommandDone(resource: object, onActive: () => void, wanted?: () => boolean): boolean {
  if (!isMariadbConnection(resource)) return false;
  const existing = resource[kHook];
  if (existing !== undefined) {
    existing.push(onActive);
    if (wanted !== undefined) (existing.conditions ??= []).push(wanted);
    return true;
  }
  const listeners: Listeners = [onActive];
  if (wanted !== undefined) listeners.conditions = [wanted];
  Object.defineProperty(resource, kHook, { value: listeners, configurable: true });
  const done = (): void => {
    for (const listener of listeners) listener();
  };
  // The connector swaps addCommand only when it closes (to refuse commands): the hook lives as
  // long as the connection can run anything.
  const add = resource.addCommand;
  resource.addCommand = function addCommand(this: MariadbBaseConnection, cmd: CommandLike, expectResponse?: boolean): unknown {
    // on(), not once(): a command ends once and is dropped, and once() would allocate a wrapper per command.
    // Not followed when no listener wants it: the listener and its 'end' are paid per command.
    if (cmd !== null && typeof cmd === 'object' && typeof cmd.on === 'function' && follows(listeners)) cmd.on('end', done);
    return add.call(this, cmd, expectResponse);
  };
  return true;
}

function follows(listeners: Listeners): boolean {
  const conditions = listeners.conditions;
  if (conditions === undefined || listeners.length > conditions.length) return true;
  for (const wanted of conditions) if (wanted()) return true;
  return false;
}

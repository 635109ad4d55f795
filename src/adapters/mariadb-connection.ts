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

interface DataSource {
  on(event: 'data', listener: (chunk: unknown) => void): unknown;
  listeners(event: 'data'): unknown[];
  removeListener(event: 'data', listener: (chunk: unknown) => void): unknown;
}

/** The connector's own Connection (`lib/connection.js`), the object its pool lends. */
export interface MariadbBaseConnection {
  info: { status: number | null; threadId: number; isMariaDB?(): boolean } | null;
  receiveQueue: { readonly length: number; peekAt(index: number): CommandLike | undefined };
  /** The socket the server's packets come on (a TLS socket once upgraded, or the `stream` option's). */
  socket?: DataSource | null;
  opts?: { permitRedirect?: unknown } | null;
  addCommand: (cmd: CommandLike, expectResponse?: boolean) => unknown;
  isValid(): boolean;
  readonly threadId: number | null;
  [kHook]?: Listeners;
}

/**
 * The listeners of a connection's hook. `conditions` holds the predicates of those that want
 * only some ends (a listener pushed without one, by another copy of poolguard too, makes the hook
 * tell every end).
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
 * Calls `onActive` each time a command ends on a connector connection. One hook per connection,
 * whoever asks. With `wanted`, an end is told only while it answers true (or while another
 * listener wants every end). Returns false, doing nothing, for anything else.
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
  const socket = resource.socket;
  // A redirect the server asks for (permitRedirect) ends its command once a new connection is
  // open, outside any packet's handling, and moves the connection to another socket: such a
  // connection's commands are followed one by one.
  if (resource.opts?.permitRedirect !== true && socket != null && typeof socket.on === 'function' && typeof socket.listeners === 'function' && typeof socket.removeListener === 'function') followAnswers(resource, socket, listeners);
  else followCommands(resource, listeners);
  return true;
}

/**
 * Follows a connection's commands by their answers, with no listener per command (the listener
 * added and emitted per command was most of what following a transaction's commands cost: see
 * benchmarks/RESULTS.md, the MariaDB connector). The
 * connector ends a command only while it handles the server's packets, or within `addCommand`
 * (refused, or sent with no answer expected), but for a redirect and a connection's failure (see
 * `onMariadbCommandDone`); it answers commands in the order they were queued, so the oldest one
 * not ended is the first to end. After each chunk of packets the socket brings, that command is
 * looked at: the connector has handled the whole chunk then, in the same turn, before any
 * caller's callback or promise hears of the end. (Its `receiveQueue` would not tell: the
 * connector's row fast path ends some commands without taking them off the queue, which it does
 * only when the next packet comes.)
 */
function followAnswers(resource: MariadbBaseConnection, socket: DataSource, listeners: Listeners): void {
  const queue = resource.receiveQueue;
  // The oldest command not ended; null when none is, or when which one is not known yet (after
  // one of several in flight ended, until the next chunk or command).
  let oldest: CommandLike | null = null;
  const add = resource.addCommand;
  resource.addCommand = function addCommand(this: MariadbBaseConnection, cmd: CommandLike, expectResponse?: boolean): unknown {
    const result = add.call(this, cmd, expectResponse);
    if (cmd !== null && typeof cmd === 'object') {
      if (endedWithinAdd(cmd, expectResponse)) {
        if (follows(listeners)) tell(listeners);
        // Alone on the queue (one command at a time): the oldest; else an older one may still wait.
      } else if (oldest === null) oldest = queue.length <= 1 ? cmd : waiting();
    }
    return result;
  };
  // The oldest command still waiting on the queue (one queued but not yet sent has no handler yet,
  // `undefined`; an ended one's is null): looked for only while several are in flight.
  function waiting(): CommandLike | null {
    for (let i = 0; i < queue.length; i++) {
      const next = queue.peekAt(i);
      if (next !== undefined && next.onPacketReceive !== null) return next;
    }
    return null;
  }
  // In the connector's own listener's place when it is the only one: an event with two listeners
  // copies their array at every chunk. Either way the connector's runs first, with the same chunk.
  const own = socket.listeners('data');
  if (own.length === 1 && typeof own[0] === 'function') {
    const onData = own[0] as (chunk: unknown) => void;
    socket.removeListener('data', onData);
    socket.on('data', function dataThenAnswered(this: unknown, chunk: unknown): void {
      // The command to end first, known before the chunk is handled: when commands run one at a
      // time, the one addCommand saw (no look at the queue here); after one of several in flight
      // ended, the next still waiting.
      const cmd = oldest ?? (oldest = waiting());
      onData.call(this, chunk);
      if (cmd === null || cmd.onPacketReceive !== null) return;
      oldest = null;
      if (follows(listeners)) tell(listeners);
    });
  } else {
    // After the connector's listener: the next command still waiting is looked for as soon as
    // one ends, before a later chunk can end it.
    socket.on('data', function answered(): void {
      const cmd = oldest;
      if (cmd === null || cmd.onPacketReceive !== null) return;
      oldest = waiting();
      if (follows(listeners)) tell(listeners);
    });
  }
}

/** Follows each command by a listener on its 'end' (see `followAnswers` for when). */
function followCommands(resource: MariadbBaseConnection, listeners: Listeners): void {
  const done = (): void => tell(listeners);
  // The connector swaps addCommand only when it closes (to refuse commands): the hook lives as
  // long as the connection can run anything.
  const add = resource.addCommand;
  resource.addCommand = function addCommand(this: MariadbBaseConnection, cmd: CommandLike, expectResponse?: boolean): unknown {
    const result = add.call(this, cmd, expectResponse);
    // Not followed when no listener wants it: the listener and its 'end' are paid per command.
    if (cmd !== null && typeof cmd === 'object' && follows(listeners)) {
      // Followed once the connector has sent it: its own once('send_end') is gone by then, and
      // removing it no longer deletes a key from the command's events beside ours (V8 then made
      // each command's events a dictionary).
      if (endedWithinAdd(cmd, expectResponse)) done();
      // on(), not once(): a command ends once and is dropped, and once() would allocate a wrapper per command.
      else if (typeof cmd.on === 'function') cmd.on('end', done);
    }
    return result;
  };
}

/** A command with no answer (a statement's close), or refused before it was sent, has ended within `addCommand`. */
function endedWithinAdd(cmd: CommandLike, expectResponse: boolean | undefined): boolean {
  return cmd.onPacketReceive === null || expectResponse === false;
}

// One listener (one copy of poolguard) is the case of every chunk: told without a loop. A second
// copy pushes its listener, with its condition if any, onto the same arrays, so the length says.
function tell(listeners: Listeners): void {
  if (listeners.length === 1) listeners[0]!();
  else for (const listener of listeners) listener();
}

function follows(listeners: Listeners): boolean {
  const conditions = listeners.conditions;
  if (conditions === undefined || listeners.length > conditions.length) return true;
  if (conditions.length === 1) return conditions[0]!();
  for (const wanted of conditions) if (wanted()) return true;
  return false;
}

/**
 * What poolguard reads of a `mysql` (mysqljs) connection without importing mysql: shared by the
 * mysql adapter and by Knex's `mysql` client, whose connections are mysql's own.
 *
 * mysql keeps each connection's commands ("sequences") in `_protocol._queue`: the head is running,
 * the rest wait. Its parser hands each packet to `_protocol._parsePacket` through `_onPacket`,
 * which is where the server's status flags (in every final OK or EOF packet) can be read without
 * a round trip, as the mysql2 adapter reads them.
 */
import { packetStatus, SERVER_STATUS_IN_TRANS } from './mysql2-connection.js';

// Global, so that two copies of poolguard (or a pool and a data layer) share one hook per connection.
const kHook = Symbol.for('poolguard.mysql.packetHook');

interface ParserLike {
  _onPacket: (header: unknown) => void;
  _buffer: Buffer;
  _offset: number;
  _packetEnd: number | null;
}

interface SequenceLike {
  _ended?: boolean;
}

interface ProtocolLike {
  _queue: SequenceLike[];
  _parser: ParserLike;
  _fatalError: unknown;
  _quitSequence: unknown;
  _destroyed: boolean;
}

interface Hook {
  /** The status flags of the last command's final OK/EOF packet. */
  status: number;
  /** A command of the pool's own (see `commandIsThePools`): its end is nobody's activity. */
  poolsCommand: SequenceLike | undefined;
  readonly listeners: Array<() => void>;
}

interface MysqlConnectionLike {
  _protocol?: ProtocolLike;
  state?: string;
  [kHook]?: Hook;
}

function protocolOf(resource: object): ProtocolLike | undefined {
  const protocol = (resource as MysqlConnectionLike)._protocol;
  return protocol !== null && typeof protocol === 'object' && Array.isArray(protocol._queue) && typeof protocol._parser?._onPacket === 'function' ? protocol : undefined;
}

/**
 * A command running or queued on a mysql connection (its protocol's queue), read without a round
 * trip. `undefined` when the resource is not a mysql connection.
 */
export function mysqlInFlight(resource: object): boolean | undefined {
  const protocol = protocolOf(resource);
  return protocol === undefined ? undefined : protocol._queue.length > 0;
}

/**
 * The transaction a mysql connection's session is in, as of the server's last final OK/EOF packet
 * (SERVER_STATUS_IN_TRANS), read by the hook `onMysqlCommandDone` installs. `undefined` outside a
 * transaction, before the hook, or once the connection has quit, failed or been destroyed (its
 * last flags are stale then).
 */
export function mysqlTransaction(resource: object): 'open' | undefined {
  const hook = (resource as MysqlConnectionLike)[kHook];
  const protocol = protocolOf(resource);
  if (hook === undefined || protocol === undefined) return undefined;
  if (protocol._fatalError != null || protocol._quitSequence != null || protocol._destroyed || (resource as MysqlConnectionLike).state === 'disconnected') return undefined;
  return (hook.status & SERVER_STATUS_IN_TRANS) !== 0 ? 'open' : undefined;
}

/**
 * Calls `onActive` each time a mysql connection finishes a command on a packet from the server,
 * and keeps that packet's status flags for `mysqlTransaction`. One hook per connection, whoever
 * asks; each caller adds a listener. Returns false, doing nothing, for anything else.
 */
export function onMysqlCommandDone(resource: object, onActive: () => void): boolean {
  const protocol = protocolOf(resource);
  if (protocol === undefined) return false;
  const c = resource as MysqlConnectionLike;
  const existing = c[kHook];
  if (existing !== undefined) {
    existing.listeners.push(onActive);
    return true;
  }
  const hook: Hook = { status: 0, poolsCommand: undefined, listeners: [onActive] };
  Object.defineProperty(c, kHook, { value: hook, configurable: true });
  const parser = protocol._parser;
  const handle = parser._onPacket;
  // The flags are read before mysql handles the packet (a pool's query() releases the connection
  // from inside that call) and put back when the packet did not end the command: a row of a text
  // result can start with the same byte as an OK packet.
  parser._onPacket = function onPacket(this: ParserLike, header: unknown): void {
    const command = protocol._queue[0];
    if (command === undefined) return handle.call(this, header);
    const end = this._packetEnd ?? this._buffer.length;
    const status = packetStatus({ buffer: this._buffer, start: this._offset - 4, end });
    const before = hook.status;
    if (status !== undefined) hook.status = status;
    try {
      handle.call(this, header);
    } finally {
      // A command that ends leaves the head of the queue (mysql's _dequeue), except after a fatal
      // error, when the queue stays as it is. Read so rather than from `command._ended`: commands
      // of every kind pass here, and a read of theirs is megamorphic (an inline-cache miss, about
      // 260 instructions, on every packet).
      if (protocol._queue[0] !== command || (protocol._fatalError != null && command._ended === true)) {
        if (command === hook.poolsCommand) hook.poolsCommand = undefined;
        else for (const listener of hook.listeners) listener();
      } else if (status !== undefined) {
        hook.status = before;
      }
    }
  };
  return true;
}

/**
 * Called as a connection is handed out: the command at the head of its queue then, if any, is the
 * pool's own, not the new holder's, who has queued nothing yet. mysql pings a free connection
 * before handing it out, from inside the ping's last packet, so the ping ends just after the
 * hand-out: its end is no query of the holder's, and a report must not say "its last query
 * finished" of a lease that ran none.
 */
export function commandIsThePools(resource: object): void {
  const c = resource as MysqlConnectionLike;
  const hook = c[kHook];
  if (hook !== undefined) hook.poolsCommand = c._protocol?._queue[0];
}

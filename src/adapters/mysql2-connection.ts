/**
 * What poolguard reads of a mysql2 connection without importing mysql2: shared by the mysql2
 * adapter and by the Knex and Sequelize adapters, whose MySQL/MariaDB connections are mysql2's.
 */

// SERVER_STATUS_IN_TRANS, in the status flags of every OK and EOF packet.
const SERVER_STATUS_IN_TRANS = 1;

// Registered globally so that two copies of poolguard (or two guards of one connection) share one
// hook instead of each wrapping handlePacket again.
const kHook = Symbol.for('poolguard.mysql2.packetHook');

interface PacketLike {
  buffer: Buffer;
  start: number;
  end: number;
}

/** What the packet hook keeps on a connection. */
interface Hook {
  /** The status flags of the last command's final OK/EOF packet. */
  status: number;
  readonly listeners: Array<() => void>;
}

interface Mysql2ConnectionLike {
  _command?: unknown;
  _commands?: { readonly length: number };
  _closing?: unknown;
  _fatalError?: unknown;
  _protocolError?: unknown;
  stream?: { readonly readableEnded?: boolean };
  handlePacket?: (this: Mysql2ConnectionLike, packet?: PacketLike) => void;
  [kHook]?: Hook;
}

/** Whether the resource is a mysql2 connection (its command queue is what tells). */
function isMysql2Connection(resource: object): resource is Mysql2ConnectionLike {
  return '_command' in resource && '_commands' in resource && typeof (resource as Mysql2ConnectionLike).handlePacket === 'function';
}

/**
 * A command running or queued on a mysql2 connection: mysql2's own command queue, read without a
 * round trip. `undefined` when the resource is not a mysql2 connection.
 */
export function commandInFlight(resource: object): boolean | undefined {
  if (!isMysql2Connection(resource)) return undefined;
  return resource._command != null || (resource._commands?.length ?? 0) > 0;
}

/**
 * The error that ended a mysql2 connection: a network error (`_fatalError`) or the server closing
 * it (`_protocolError`, PROTOCOL_CONNECTION_LOST); `undefined` while it is alive or when it was
 * closed on purpose.
 */
export function connectionFailure(resource: object): unknown {
  const c = resource as Mysql2ConnectionLike;
  const failure = c._fatalError ?? c._protocolError;
  if (failure != null) return failure;
  // mysql2 emits 'end' (on which its pool removes the connection) before it records the server's
  // close as PROTOCOL_CONNECTION_LOST: a socket that ended while nobody was closing it is that.
  if (c._closing !== true && c.stream?.readableEnded === true) return SERVER_CLOSED;
  return undefined;
}

/**
 * Calls `onClosed` when the server closes a mysql2 connection's socket (a KILL, a restart, a
 * wait_timeout) while nobody was closing it. mysql2 emits 'end' for it, and tells the command
 * that runs next only "Can't add new command" or EPIPE. Does nothing for a resource that is not a
 * mysql2 connection.
 */
export function onServerClose(resource: object, onClosed: (err: unknown) => void): void {
  if (!isMysql2Connection(resource)) return;
  const c = resource as Mysql2ConnectionLike & { on?(event: string, fn: () => void): unknown };
  c.on?.('end', () => {
    if (c._closing !== true) onClosed(c._fatalError ?? c._protocolError ?? SERVER_CLOSED);
  });
}

/** mysql2's own words for a socket the server closed, for a connection removed before it says them. */
const SERVER_CLOSED = Object.freeze({ code: 'PROTOCOL_CONNECTION_LOST', message: 'Connection lost: The server closed the connection.' });

/**
 * The transaction a mysql2 connection's session is in, as of the server's last OK/EOF packet
 * (SERVER_STATUS_IN_TRANS), read by the hook `onCommandDone` installs. `undefined` outside a
 * transaction, before the hook is installed, or once the connection is closing or has failed
 * (its last flags are stale then). MySQL has no failed-transaction state to report.
 */
export function serverTransaction(resource: object): 'open' | undefined {
  const c = resource as Mysql2ConnectionLike;
  const hook = c[kHook];
  if (hook === undefined || c._closing === true || c._fatalError != null) return undefined;
  return (hook.status & SERVER_STATUS_IN_TRANS) !== 0 ? 'open' : undefined;
}

/**
 * Calls `onActive` each time a mysql2 connection finishes a command (the packet after which mysql2
 * moves to its next command), and keeps that packet's status flags for `serverTransaction`. The
 * hook is installed once per connection, whoever asks; each caller adds a listener. Returns false,
 * doing nothing, for a resource that is not a mysql2 connection.
 */
export function onCommandDone(resource: object, onActive: () => void): boolean {
  if (!isMysql2Connection(resource)) return false;
  const existing = resource[kHook];
  if (existing !== undefined) {
    existing.listeners.push(onActive);
    return true;
  }
  const hook: Hook = { status: 0, listeners: [onActive] };
  Object.defineProperty(resource, kHook, { value: hook, configurable: true });
  // Each command ends on a packet that carries the server's status flags (OK or EOF; an ERR
  // packet carries none and leaves the last ones): read there, without a round trip. They are
  // read before mysql2 handles the packet, since a pool's own query() releases the connection
  // from inside that call, and put back if the packet turns out not to end the command (a row).
  const handle = resource.handlePacket!;
  resource.handlePacket = function handlePacket(this: Mysql2ConnectionLike, packet?: PacketLike): void {
    const command = this._command;
    if (packet == null) return handle.call(this, packet);
    const before = hook.status;
    // A prepared statement's OK packet has the same first byte but no status flags.
    const status = (command as { constructor?: { name?: string } } | null)?.constructor?.name === 'Prepare' ? undefined : statusFlags(packet);
    if (status !== undefined) hook.status = status;
    handle.call(this, packet);
    if (this._command === command) {
      if (status !== undefined) hook.status = before;
      return;
    }
    if (command == null) return;
    for (const listener of hook.listeners) listener();
  };
  return true;
}

/** The status flags of an OK or EOF packet, or `undefined` for any other packet. */
function statusFlags(packet: PacketLike): number | undefined {
  const buf = packet.buffer;
  let at = packet.start + 4;
  const end = packet.end;
  const first = buf[at];
  if (first === 0xfe && end - at < 9) return end - at >= 5 ? buf.readUInt16LE(at + 3) : undefined;
  if (first !== 0x00 && first !== 0xfe) return undefined;
  at = skipLengthEncoded(buf, skipLengthEncoded(buf, at + 1));
  return at + 2 <= end ? buf.readUInt16LE(at) : undefined;
}

function skipLengthEncoded(buf: Buffer, at: number): number {
  const first = buf[at];
  if (first === undefined) return buf.length;
  if (first < 0xfb) return at + 1;
  if (first === 0xfc) return at + 3;
  if (first === 0xfd) return at + 4;
  return at + 9;
}

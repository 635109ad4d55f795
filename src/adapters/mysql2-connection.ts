/**
 * What poolguard reads of a mysql2 connection without importing mysql2: shared by the mysql2
 * adapter and by the Knex and Sequelize adapters, whose MySQL/MariaDB connections are mysql2's.
 */

// The server's status flags, in every OK and EOF packet: SERVER_STATUS_IN_TRANS, and
// SERVER_STATUS_AUTOCOMMIT, whose absence means that "the session always has a transaction open"
// (MySQL's manual, on autocommit = 0).
export const SERVER_STATUS_IN_TRANS = 1;
const SERVER_STATUS_AUTOCOMMIT = 2;

// Registered globally so that two copies of poolguard (or two guards of one connection) share one
// hook instead of each wrapping handlePacket again.
const kHook = Symbol.for('poolguard.mysql2.packetHook');

export interface PacketLike {
  buffer: Buffer;
  start: number;
  end: number;
}

/**
 * A mysql2 command: the state function that reads its next packet, and the states that read a
 * row or a column definition (Query, Execute, Prepare) and a prepared statement's reply (Prepare).
 */
interface CommandLike {
  next?: unknown;
  row?: unknown;
  readField?: unknown;
  prepareHeader?: unknown;
}

/** What the packet hook keeps on a connection. */
interface Hook {
  /** The status flags of the last OK/EOF packet, whichever command and result it ended. */
  status: number;
  /** Whether the session began in autocommit mode (the handshake's flags); `undefined`: unknown. */
  readonly autocommit: boolean | undefined;
  /**
   * While mysql2 handles a packet of the connection's running command: 1, or 2 for an ERR packet
   * (a small integer: no write barrier on this per-packet store); else 0.
   */
  handling: 0 | 1 | 2;
  /**
   * The command running when the hook was installed: mysql2 hands a new connection over from
   * inside its handshake's last packet, which the hook did not see arrive.
   */
  readonly first: CommandLike | null | undefined;
  readonly listeners: Array<() => void>;
  /** Called once when the connection has no command running or queued (see `whenCommandsDone`). */
  readonly idle: Array<() => void>;
}

interface Mysql2ConnectionLike {
  _command?: CommandLike | null;
  _commands?: { readonly length: number };
  _closing?: unknown;
  _fatalError?: unknown;
  _protocolError?: unknown;
  stream?: { readonly readableEnded?: boolean };
  _handshakePacket?: { statusFlags?: number } | null;
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
 * Whether a command other than the one ending right now is running or queued: a pool's own
 * query() releases its connection from inside the handling of the command's last packet (its
 * 'end' event, or its callback on an error), when that command is done in all but name.
 */
export function commandsPending(resource: object): boolean {
  const c = resource as Mysql2ConnectionLike;
  const hook = c[kHook];
  // Only a mysql2 connection gets the hook: with it, the shape needs no second look (every release).
  if (hook === undefined && !isMysql2Connection(resource)) return false;
  if ((c._commands?.length ?? 0) > 0) return true;
  const command = c._command;
  if (command == null) return false;
  if (hook === undefined) return true;
  if (command === hook.first) return false;
  // Inside the handling of one of its packets: the success path clears `next` before 'end', the
  // error path ends on an ERR packet.
  if (hook.handling === 0) return true;
  return command.next != null && hook.handling !== 2;
}

/**
 * Calls `done` once no command is running or queued on the connection (at once if none is), as
 * read by the hook `onCommandDone` installs. Returns false, doing nothing, when the hook is not
 * installed: the caller decides without waiting.
 */
export function whenCommandsDone(resource: object, done: () => void): boolean {
  const hook = (resource as Mysql2ConnectionLike)[kHook];
  if (hook === undefined) return false;
  if (!commandsPending(resource)) done();
  else hook.idle.push(done);
  return true;
}

/**
 * The transaction a mysql2 connection's session is in, as of the server's last OK/EOF packet
 * (read by the hook `onCommandDone` installs): `'open'` inside a transaction, and also once
 * autocommit has been turned off in a session that began with it on (MySQL: "the session always
 * has a transaction open"). `undefined` outside a transaction, before the hook is installed, or
 * once the connection is closing or has failed (its last flags are stale then). An ERR packet
 * carries no flags, so a statement that fails inside a transaction leaves it read as open, as the
 * server leaves it. MySQL has no failed-transaction state to report.
 */
export function serverTransaction(resource: object): 'open' | undefined {
  const c = resource as Mysql2ConnectionLike;
  const hook = c[kHook];
  if (hook === undefined || c._closing === true || c._fatalError != null) return undefined;
  const status = hook.status;
  if ((status & SERVER_STATUS_IN_TRANS) !== 0) return 'open';
  return hook.autocommit === true && (status & SERVER_STATUS_AUTOCOMMIT) === 0 ? 'open' : undefined;
}

/**
 * Calls `onActive` each time a mysql2 connection finishes a command (the packet after which mysql2
 * moves to its next command), and keeps the status flags of every OK/EOF packet for
 * `serverTransaction`. The hook is installed once per connection, whoever asks; each caller adds a
 * listener. Returns false, doing nothing, for a resource that is not a mysql2 connection.
 */
export function onCommandDone(resource: object, onActive: () => void): boolean {
  if (!isMysql2Connection(resource)) return false;
  const existing = resource[kHook];
  if (existing !== undefined) {
    existing.listeners.push(onActive);
    return true;
  }
  const greeting = resource._handshakePacket?.statusFlags;
  const hook: Hook = {
    // Until the first reply, the handshake's flags: the session's autocommit as it began.
    status: typeof greeting === 'number' ? greeting : 0,
    autocommit: typeof greeting === 'number' ? (greeting & SERVER_STATUS_AUTOCOMMIT) !== 0 : undefined,
    handling: 0,
    first: resource._command,
    listeners: [onActive],
    idle: [],
  };
  Object.defineProperty(resource, kHook, { value: hook, configurable: true });
  // Every OK and EOF packet carries the server's flags: a multi-statement's intermediate results,
  // a result set's last EOF, a procedure's results. An ERR packet carries none and leaves the last
  // ones, as the server leaves the transaction. Read before mysql2 handles the packet, since a
  // pool's own query() releases the connection from inside that call.
  const handle = resource.handlePacket!;
  resource.handlePacket = function handlePacket(this: Mysql2ConnectionLike, packet?: PacketLike): void {
    const command = this._command;
    if (packet == null) {
      // A command starting (addCommand); one that sends and expects nothing ends here.
      handle.call(this, packet);
      if (this._command == null && hook.idle.length > 0) drained(hook);
      return;
    }
    // The packet's first byte, read once: only an OK (0x00) or EOF (0xfe) packet carries flags, and
    // most of a result's packets (column definitions, rows) are neither.
    const first = packet.buffer[packet.start + 4];
    if (command != null && (first === 0x00 || first === 0xfe)) {
      const status = statusFlags(packet, command, first);
      if (status !== undefined) hook.status = status;
    }
    hook.handling = first === 0xff ? 2 : 1;
    handle.call(this, packet);
    hook.handling = 0;
    if (this._command === command || command == null) return;
    for (const listener of hook.listeners) listener();
    if (this._command == null && hook.idle.length > 0) drained(hook);
  };
  return true;
}

function drained(hook: Hook): void {
  for (const done of hook.idle.splice(0)) done();
}

/**
 * The status flags of an OK or EOF packet, or `undefined` for any other packet. What a packet is
 * depends on what the command expects: a row (text or binary) or a column definition can start
 * with 0x00 like an OK packet, and a prepared statement's OK packet carries no flags.
 */
function statusFlags(packet: PacketLike, command: CommandLike, first: number): number | undefined {
  if (first === 0x00) {
    // Compared by identity, not by function name. The state that reads a command's first reply
    // (mysql2's resultsetHeader, shared by Query and Execute) is met at nearly every OK packet: once
    // known to read an OK there, it is not looked at again. Each look is three loads that see every
    // kind of command mysql2 has, so V8 can only cache them megamorphically (about 1,000
    // instructions per five-statement transaction). A state of a Prepare is never remembered: mysql2
    // gives Prepare states of its own, so a remembered state is never a Prepare's.
    const state = command.next;
    if (state !== okState) {
      if (state === command.row || state === command.readField || command.prepareHeader !== undefined) return undefined;
      okState = state;
    }
  }
  return packetStatus(packet);
}

/** The last command state found to read an OK packet (see `statusFlags`). */
let okState: unknown = Symbol('none yet');

/**
 * The status flags of a packet read as an OK or EOF packet (`undefined` for any other first byte),
 * whatever the command expects: the caller tells a row that starts with 0x00 from an OK packet
 * (also read by the mysql adapter, whose packets have the same layout).
 */
export function packetStatus(packet: PacketLike): number | undefined {
  const buf = packet.buffer;
  let at = packet.start + 4;
  const end = packet.end;
  const first = buf[at];
  // The flags read byte by byte: Buffer's readUInt16LE is a call with its own checks, and the
  // bounds are checked here already.
  if (first === 0xfe) return end - at < 9 && end - at >= 5 ? buf[at + 3]! | (buf[at + 4]! << 8) : undefined;
  if (first !== 0x00) return undefined;
  at = skipLengthEncoded(buf, skipLengthEncoded(buf, at + 1));
  return at + 2 <= end ? buf[at]! | (buf[at + 1]! << 8) : undefined;
}

function skipLengthEncoded(buf: Buffer, at: number): number {
  const first = buf[at];
  if (first === undefined) return buf.length;
  if (first < 0xfb) return at + 1;
  if (first === 0xfc) return at + 3;
  if (first === 0xfd) return at + 4;
  return at + 9;
}

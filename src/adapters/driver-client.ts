/**
 * What poolguard reads of a data layer's driver connection without importing the driver: a pg
 * client (see pg-client.ts) or a mysql2 connection. Knex and Sequelize pool the driver's own
 * connection objects, so their adapters read the same state as the drivers' own adapters.
 */
import { onQueryDone, queryInFlight, transactionStatus } from './pg-client.js';

interface Mysql2ConnectionLike {
  _command?: unknown;
  _commands?: { readonly length: number };
  handlePacket?: (this: Mysql2ConnectionLike, packet?: unknown) => void;
}

/** A query in flight on a pg client, or a command running or queued on a mysql2 connection. */
export function driverInFlight(resource: object): boolean | undefined {
  const pg = queryInFlight(resource);
  if (pg !== undefined) return pg;
  const c = resource as Mysql2ConnectionLike;
  if (!('_command' in c) || !('_commands' in c)) return undefined;
  return c._command != null || (c._commands?.length ?? 0) > 0;
}

/**
 * The open or failed transaction of a live pg client's session (mysql2 keeps no such state to
 * read). A connection that has ended or failed has no session left: its last status byte is stale.
 */
export function driverTransaction(resource: object): 'open' | 'failed' | undefined {
  const c = resource as { _queryable?: unknown; _ending?: unknown; _fatalError?: unknown; _closing?: unknown };
  if (c._queryable === false || c._ending === true || c._fatalError != null || c._closing === true) return undefined;
  return transactionStatus(resource);
}

/**
 * Calls `onActive` each time the connection finishes something: a pg client's ReadyForQuery, or
 * the end of a mysql2 command (the packet after which mysql2 moves to its next command).
 */
export function onDriverActivity(resource: object, onActive: () => void): void {
  onQueryDone(resource, onActive);
  const c = resource as Mysql2ConnectionLike;
  const handle = c.handlePacket;
  if (typeof handle !== 'function' || !('_command' in c)) return;
  c.handlePacket = function handlePacket(this: Mysql2ConnectionLike, packet?: unknown): void {
    const command = this._command;
    handle.call(this, packet);
    if (command != null && this._command !== command) onActive();
  };
}

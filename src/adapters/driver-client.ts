/**
 * What poolguard reads of a data layer's driver connection without importing the driver: a pg
 * client (see pg-client.ts), a mysql2 connection (see mysql2-connection.ts), a mysql one (Knex's
 * `mysql` client, mysql-connection.ts) or a MariaDB connector one (Sequelize's `mariadb` dialect,
 * mariadb-connection.ts). Knex and Sequelize
 * pool the driver's own connection objects, so their adapters read the same state as the drivers'
 * own adapters.
 */
import { mariadbInFlight, mariadbTransaction, onMariadbCommandDone } from './mariadb-connection.js';
import { mysqlInFlight, mysqlTransaction, onMysqlCommandDone } from './mysql-connection.js';
import { commandInFlight, onCommandDone, onServerClose, serverTransaction } from './mysql2-connection.js';
import { onQueryDone, onSessionEnded, queryInFlight, transactionStatus } from './pg-client.js';
import type { GuardCore } from '../core/guard.js';
import type { ConnectionRecord } from '../core/ledger.js';
import { errorReason } from '../core/recycle-policy.js';
import { recordOnSight } from './kit.js';

/** A query in flight on a pg client, or a command running or queued on a mysql2 connection. */
export function driverInFlight(resource: object): boolean | undefined {
  return queryInFlight(resource) ?? commandInFlight(resource) ?? mysqlInFlight(resource) ?? mariadbInFlight(resource);
}

/**
 * The open or failed transaction of a live pg client's session, or the open transaction of a
 * mysql2 connection's. A connection that has ended or failed has no session left: its last status
 * is stale.
 */
export function driverTransaction(resource: object): 'open' | 'failed' | undefined {
  const c = resource as { _queryable?: unknown; _ending?: unknown; _fatalError?: unknown; _closing?: unknown };
  if (c._queryable === false || c._ending === true || c._fatalError != null || c._closing === true) return undefined;
  return transactionStatus(resource) ?? serverTransaction(resource) ?? mysqlTransaction(resource) ?? mariadbTransaction(resource);
}

/**
 * Calls `onActive` each time the connection finishes something: a pg client's ReadyForQuery, or
 * the end of a mysql2 command (the packet after which mysql2 moves to its next command).
 */
export function onDriverActivity(resource: object, onActive: () => void): void {
  onQueryDone(resource, onActive);
  // Each returns false for a connection of another driver; the first that recognises it hooks it.
  void (onCommandDone(resource, onActive) || onMysqlCommandDone(resource, onActive) || onMariadbCommandDone(resource, onActive));
}

/**
 * The record of a driver connection a data layer's pool lends, opened on first sight: its backend
 * id (pg's `processID`, mysql2's `threadId`) and its activity (the end of each query or command).
 */
export function driverRecord(core: GuardCore, records: Map<unknown, ConnectionRecord>, resource: unknown, createMs?: number): ConnectionRecord {
  return recordOnSight(core, records, resource, createMs, (object, record) => {
    const pid = (object as { processID?: unknown }).processID ?? (object as { threadId?: unknown }).threadId;
    if (typeof pid === 'number') record.pid = pid;
    onDriverActivity(object, () => core.connectionActive(record));
    retireOnError(core, object, record);
  });
}

/**
 * What ends a driver connection says why it retires (the server ending the session is
 * `terminated`), which the data layer's removal does not tell: it removes the connection when its
 * holder's next statement fails, or at the next acquire. Heard as the driver hears it, before the
 * data layer acts: the server's FATAL message (pg), the socket the server closed (mysql2), and the
 * connection's error, ahead of the data layer's own listener (added only beside one, so that an
 * error nobody handled still reaches the process as before).
 */
function retireOnError(core: GuardCore, connection: object, record: ConnectionRecord): void {
  const retire = (err: unknown): void => core.markRetiring(record, errorReason(err));
  onSessionEnded(connection, retire);
  onServerClose(connection, retire);
  const c = connection as { listenerCount?(event: string): number; prependListener?(event: string, fn: (err: unknown) => void): unknown };
  if (typeof c.prependListener !== 'function' || typeof c.listenerCount !== 'function' || c.listenerCount('error') === 0) return;
  c.prependListener('error', retire);
}

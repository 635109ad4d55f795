import type { PoolWords } from '../core/hooks.js';

// The words of the drivers a data layer's pool lends, for the reports of the pools that lend them
// (Knex's, Sequelize's) and of the drivers' own adapters: where the server lists its sessions, and
// what a holder gets from a connection poolguard closed under it (read from the drivers: pg's
// Client#query, mysql2's Connection#addCommand).

/** Where PostgreSQL lists its sessions, for a timeout error whose holders were all busy (the core names the snapshot). */
export const PG_SESSIONS = 'pg_stat_activity for the pids in';

/** Where MySQL and MariaDB list theirs: a connection's thread id is the pid in the snapshot. */
export const MYSQL_SESSIONS = 'SHOW PROCESSLIST or information_schema.PROCESSLIST, whose Id is the pid in';

/** What a mysql2 connection that has closed answers a query with (its `Connection#addCommand`). */
export const MYSQL2_CLOSED_ERROR = `mysql2's error "Can't add new command when connection is in closed state"`;

/** The server family a data layer talks to, and the driver it talks through (`pg`, `mysql2`). */
export type DriverKind = { readonly server: 'postgres' | 'mysql' | undefined; readonly driver: string | undefined };

/**
 * The words for a data layer's pool of driver connections: poolguard closes a reclaimed
 * connection, and its holder's queries fail with the driver's own error for a closed one.
 */
export function driverWords({ server, driver }: DriverKind): PoolWords {
  return {
    sessions: server === 'postgres' ? PG_SESSIONS : server === 'mysql' ? MYSQL_SESSIONS : undefined,
    cutError:
      driver === 'pg'
        ? `pg's error "Client was closed and is not queryable"`
        : driver === 'mysql2'
          ? MYSQL2_CLOSED_ERROR
          : "the driver's own error for a closed connection",
  };
}

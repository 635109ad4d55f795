/**
 * Names from the OpenTelemetry semantic conventions for database client connection pools
 * (https://opentelemetry.io/docs/specs/semconv/database/database-metrics/, "Connection pools"),
 * copied as constants: they are still incubating, and the conventions package ships them only
 * from its incubating entry point, which is not meant to be a runtime dependency.
 */

/** The number of connections that are currently in state described by the `state` attribute. UpDownCounter, `{connection}`. */
export const METRIC_CONNECTION_COUNT = 'db.client.connection.count';
/** The maximum number of idle open connections allowed. UpDownCounter, `{connection}`. */
export const METRIC_CONNECTION_IDLE_MAX = 'db.client.connection.idle.max';
/** The minimum number of idle open connections allowed. UpDownCounter, `{connection}`. */
export const METRIC_CONNECTION_IDLE_MIN = 'db.client.connection.idle.min';
/** The maximum number of open connections allowed (replaces the deprecated `db.client.connection.max`). UpDownCounter, `{connection}`. */
export const METRIC_CONNECTION_LIMIT = 'db.client.connection.limit';
/** The number of current pending requests for an open connection. UpDownCounter, `{request}`. */
export const METRIC_CONNECTION_PENDING_REQUESTS = 'db.client.connection.pending_requests';
/** The number of connection timeouts that have occurred trying to obtain a connection from the pool. Counter, `{timeout}`. */
export const METRIC_CONNECTION_TIMEOUTS = 'db.client.connection.timeouts';
/** The time it took to create a new connection. Histogram, `s`. */
export const METRIC_CONNECTION_CREATE_TIME = 'db.client.connection.create_time';
/** The time it took to obtain an open connection from the pool. Histogram, `s`. */
export const METRIC_CONNECTION_WAIT_TIME = 'db.client.connection.wait_time';
/** The time between borrowing a connection and returning it to the pool. Histogram, `s`. */
export const METRIC_CONNECTION_USE_TIME = 'db.client.connection.use_time';

/** The name of the connection pool; unique within the instrumented application. */
export const ATTR_POOL_NAME = 'db.client.connection.pool.name';
/** The state of a connection in the pool: `idle` or `used`. */
export const ATTR_CONNECTION_STATE = 'db.client.connection.state';
/** The database management system, e.g. `postgresql`. */
export const ATTR_DB_SYSTEM_NAME = 'db.system.name';
/** The class of error an operation ended with. */
export const ATTR_ERROR_TYPE = 'error.type';

// poolguard's own signals, under its own namespace as the conventions ask of non-standard names.
export const METRIC_LEAKS = 'poolguard.lease.leaks';
export const METRIC_LEAKS_RESOLVED = 'poolguard.lease.leaks_resolved';
export const METRIC_RECLAIMS = 'poolguard.lease.reclaims';
export const METRIC_DIRTY_RELEASES = 'poolguard.lease.dirty_releases';
export const METRIC_RETIREMENTS = 'poolguard.connection.retirements';
/**
 * `db.client.connection.count` and `pending_requests` under poolguard's own names, recorded in every
 * mode: in `auto` mode the conventional two are left to pg's instrumentation, which names a pool by
 * its host, port and database (`unknown_host:unknown_port/unknown_database` for a connection
 * string), so a dashboard filtered on `guard.name` reads these.
 */
export const METRIC_POOL_CONNECTIONS = 'poolguard.connection.count';
export const METRIC_POOL_PENDING = 'poolguard.request.pending';
export const METRIC_OLDEST_LEASE = 'poolguard.lease.oldest_age';
export const METRIC_OLDEST_WAITER = 'poolguard.request.oldest_wait';
export const METRIC_EVENT_LOOP_STALLS = 'poolguard.event_loop.stalls';
export const ATTR_RETIRE_REASON = 'poolguard.retire.reason';
export const ATTR_LEASE_SITE = 'poolguard.lease.site';
export const ATTR_LEASE_STATE = 'poolguard.lease.state';
export const ATTR_LEASE_KIND = 'poolguard.lease.kind';
export const ATTR_LEASE_HELD = 'poolguard.lease.held_ms';

/**
 * Histogram boundaries, in seconds, from a tenth of a millisecond (a warm checkout) to a minute (a
 * request stuck behind a drained pool), dense where pools usually live.
 */
export const DURATION_BUCKETS_S = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
]);

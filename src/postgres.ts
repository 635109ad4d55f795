/**
 * `poolguard/postgres`: the guard for postgres.js (the `postgres` package, 3.4 and 4). Change
 * `import postgres from 'postgres'` to `import postgres from 'poolguard/postgres'`; or guard a
 * `sql` you did not create with `guard()`.
 *
 * @packageDocumentation
 */
import { postgres } from './adapters/postgres.js';

export { postgres, guard, type GuardedOptions, type GuardedPostgres, type GuardedSql, type PostgresDefault } from './adapters/postgres.js';
export * from './index.js';
export default postgres;

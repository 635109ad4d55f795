/**
 * `poolguard/mariadb/callback`: the guard for the MariaDB connector's callback API. Change
 * `import mariadb from 'mariadb/callback'`'s `mariadb.createPool(…)` to `createPool(…)` from
 * `poolguard/mariadb/callback`; or guard a pool you did not create with `guard()`.
 *
 * @packageDocumentation
 */
export { createCallbackPool as createPool, guardCallbackPool as guard, type GuardedCallbackPool, type GuardedCallbackPoolOptions } from './adapters/mariadb-callback.js';
export * from './index.js';

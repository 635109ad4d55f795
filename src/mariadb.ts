/**
 * `poolguard/mariadb`: the guard for the MariaDB connector (`mariadb`, promise API). Change
 * `import mariadb from 'mariadb'`'s `mariadb.createPool(…)` to `createPool(…)` from
 * `poolguard/mariadb`; or guard a pool you did not create with `guard()`. The connector's callback
 * API is `poolguard/mariadb/callback`.
 *
 * @packageDocumentation
 */
export { createPool, guard, type GuardedPool, type GuardedPoolOptions } from './adapters/mariadb-promise.js';
export { auditMysql, type MysqlAuditInput, type MysqlAuditResult, type MysqlDriver, type MysqlServerSummary } from './audit/mysql.js';
export * from './index.js';

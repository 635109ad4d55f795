/**
 * `poolguard/mysql`: the guard for the `mysql` driver (mysqljs). Change `import mysql from 'mysql'`'s
 * `mysql.createPool(…)` to `createPool(…)` from `poolguard/mysql`; or guard a pool you did not
 * create with `guard()`. The audit (`auditMysql`, `npx poolguard audit`) reads mysql's pool options.
 *
 * @packageDocumentation
 */
export { createPool, guard, type GuardedPool, type GuardedPoolOptions } from './adapters/mysql.js';
export { auditMysql, type MysqlAuditInput, type MysqlAuditResult, type MysqlDriver, type MysqlServerSummary } from './audit/mysql.js';
export * from './index.js';

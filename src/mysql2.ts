/**
 * `poolguard/mysql2`: the guard for mysql2's callback API. Change `import mysql from 'mysql2'`'s
 * `mysql.createPool(…)` to `createPool(…)` from `poolguard/mysql2`; or guard a pool you did not
 * create with `guard()`. The promise API is `poolguard/mysql2/promise`.
 *
 * @packageDocumentation
 */
export { createPool, guard, type GuardedPool, type GuardedPoolOptions } from './adapters/mysql2.js';
export {
  createPoolCluster,
  ClusterGuard,
  type ClusterSnapshot,
  type GuardedPoolCluster,
  type GuardedPoolClusterOptions,
  type GuardedPoolClusterMemberOptions,
} from './adapters/mysql2-cluster.js';
export { auditMysql, type MysqlAuditInput, type MysqlAuditResult, type MysqlDriver, type MysqlServerSummary } from './audit/mysql.js';
export * from './index.js';

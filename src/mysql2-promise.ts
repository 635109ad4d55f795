/**
 * `poolguard/mysql2/promise`: the guard for mysql2's promise API. Change
 * `import { createPool } from 'mysql2/promise'` to `import { createPool } from 'poolguard/mysql2/promise'`;
 * or guard a promise pool you did not create with `guard()`.
 *
 * @packageDocumentation
 */
export { createPromisePool as createPool, guard, type GuardedPromisePool, type GuardedPoolOptions } from './adapters/mysql2.js';
export {
  createPromisePoolCluster as createPoolCluster,
  ClusterGuard,
  type ClusterSnapshot,
  type GuardedPromisePoolCluster,
  type GuardedPoolClusterOptions,
  type GuardedPoolClusterMemberOptions,
} from './adapters/mysql2-cluster.js';
export * from './index.js';

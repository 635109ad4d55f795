/**
 * `poolguard/generic-pool`: the same guard for any resource. Change
 * `import { createPool } from 'generic-pool'` to `import { createPool } from 'poolguard/generic-pool'`;
 * or guard a pool you did not create with `guard()`.
 *
 * @packageDocumentation
 */
export { createPool, guard, type GuardedPool, type GuardedPoolOptions } from './adapters/generic-pool.js';
export type { DisposableLease, GenericPoolGuard } from './adapters/generic-pool-lease.js';
export * from './index.js';

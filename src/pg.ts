/**
 * `poolguard/pg`: the pg drop-in. Change `import { Pool } from 'pg'` to
 * `import { Pool } from 'poolguard/pg'`; or guard a pool you did not construct with `guard()`.
 *
 * @packageDocumentation
 */
export { Pool, guard, type PoolClient, type PoolOptions } from './adapters/pg.js';
export * from './index.js';

import * as mariadb from 'mariadb/callback';
import type { GuardOptions } from '../core/config.js';
import { resolveGuardConfig } from '../core/config.js';
import type { PoolGuard } from '../core/guard.js';
import { guardMariadbPool, installMariadb, mariadbName, mariadbSettings, splitMariadbOptions } from './mariadb.js';

/**
 * The MariaDB connector's pool options (callback API) with poolguard's under `guard`.
 * @public
 */
export interface GuardedCallbackPoolOptions extends mariadb.PoolConfig {
  /**
   * poolguard's own options; never passed on to the connector. `acquireTimeoutMs` is refused: the
   * connector's own `acquireTimeout` bounds the wait, and poolguard adds the holders to its error.
   */
  guard?: GuardOptions;
}

/**
 * The connector's own callback `Pool`, with poolguard's handle.
 * @public
 */
export type GuardedCallbackPool = mariadb.Pool & {
  /** poolguard's handle: leak events, `snapshot()`. */
  readonly guard: PoolGuard;
};

/**
 * Drop-in for `mariadb/callback`'s `createPool`: the same options (plus `guard`), or a connection
 * URL. Returns the connector's own callback pool, guarded.
 * @public
 */
export function createCallbackPool(options: GuardedCallbackPoolOptions | string): GuardedCallbackPool {
  const { pool: poolOptions, guard } = splitMariadbOptions<mariadb.PoolConfig | string>(options);
  const config = resolveGuardConfig(guard, mariadbName(poolOptions));
  const pool = mariadb.createPool(poolOptions);
  installMariadb(pool as never, config, mariadbSettings(poolOptions));
  return pool as GuardedCallbackPool;
}

/**
 * Guards a MariaDB connector pool someone else built (callback or promise API), in place; see
 * `guard` of `poolguard/mariadb`.
 * @public
 */
export function guardCallbackPool(pool: mariadb.Pool | object, options?: GuardOptions): PoolGuard {
  return guardMariadbPool(pool, options, 'poolguard/mariadb/callback');
}

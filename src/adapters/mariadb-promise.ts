import * as mariadb from 'mariadb';
import type { GuardOptions } from '../core/config.js';
import { resolveGuardConfig } from '../core/config.js';
import type { PoolGuard } from '../core/guard.js';
import { guardMariadbPool, installMariadb, mariadbName, mariadbSettings, splitMariadbOptions } from './mariadb.js';

/**
 * The MariaDB connector's pool options with poolguard's under `guard`.
 * @public
 */
export interface GuardedPoolOptions extends mariadb.PoolConfig {
  /**
   * poolguard's own options; never passed on to the connector. `acquireTimeoutMs` is refused: the
   * connector's own `acquireTimeout` bounds the wait, and poolguard adds the holders to its error.
   */
  guard?: GuardOptions;
}

/**
 * The connector's own promise `Pool`, with poolguard's handle.
 * @public
 */
export type GuardedPool = mariadb.Pool & {
  /** poolguard's handle: leak events, `snapshot()`. */
  readonly guard: PoolGuard;
};

/**
 * Drop-in for the MariaDB connector's `createPool` (promise API): the same options (plus `guard`),
 * or a connection URL. Returns the connector's own pool, guarded.
 * @public
 */
export function createPool(options: GuardedPoolOptions | string): GuardedPool {
  const { pool: poolOptions, guard } = splitMariadbOptions<mariadb.PoolConfig | string>(options);
  // Checked before the connector builds the pool, which opens its minimumIdle connections at once.
  const config = resolveGuardConfig(guard, mariadbName(poolOptions));
  const pool = mariadb.createPool(poolOptions);
  installMariadb(pool as never, config, mariadbSettings(poolOptions));
  return pool as GuardedPool;
}

/**
 * Guards a MariaDB connector pool someone else built (promise or callback API), in place. Its
 * options are private to the connector: give `guard.name`, or the name is `mariadb pool`.
 * Idempotent, even across two copies of poolguard. Anything else is refused with a `TypeError`.
 * @public
 */
export function guard(pool: mariadb.Pool | object, options?: GuardOptions): PoolGuard {
  return guardMariadbPool(pool, options, 'poolguard/mariadb');
}

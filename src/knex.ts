/**
 * `poolguard/knex`: guards the tarn pool a Knex instance owns, in place. Add one line after
 * `const knex = knexFactory(config)`: `guardKnex(knex, { name: 'orders-db' })`.
 *
 * @packageDocumentation
 */
export { guardKnex, guard, type KnexLike, type TarnPoolLike } from './adapters/knex.js';
export * from './index.js';

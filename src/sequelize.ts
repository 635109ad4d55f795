/**
 * `poolguard/sequelize`: guards the pools a Sequelize instance owns, in place. Add one line after
 * `const sequelize = new Sequelize(…)`: `guardSequelize(sequelize, { name: 'orders-db' })`.
 *
 * @packageDocumentation
 */
export { guardSequelize, type SequelizeLike } from './adapters/sequelize.js';
export * from './index.js';

import { Sequelize } from 'sequelize';
import { guardSequelize } from 'poolguard/sequelize';

export const sequelize = new Sequelize(process.env.DATABASE_URL, { logging: false, pool: { max: 2, acquire: 1_000 } });
export const handle = guardSequelize(sequelize, { name: 'refunds-db', leakThresholdMs: 1_000 });

export async function refund(orderId) {
  const t = await sequelize.transaction();
  await sequelize.query('SELECT 1', { transaction: t });
  if (orderId % 2 === 1) return; // the bug: neither commit() nor rollback() on this path
  await t.commit();
}

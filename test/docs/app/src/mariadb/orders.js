import { createPool } from 'poolguard/mariadb';

export const pool = createPool({ host: '127.0.0.1', user: 'root', database: 'test', connectionLimit: 2, minimumIdle: 0, acquireTimeout: 2_000, guard: { name: 'orders', leakThresholdMs: 1_000 } });

export async function getOrder(id) {
  // The bug: conn.release() only on the happy path.
  // (Line 8 is the checkout the reports name.)
  const conn = await pool.getConnection();
  const rows = await conn.query('SELECT ? AS id', [id]);
  if (rows.length === 0 || id % 2 === 1) return null;
  conn.release();
  return rows[0];
}

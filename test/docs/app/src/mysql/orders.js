import { createPool } from 'poolguard/mysql2/promise';

export const pool = createPool({ uri: process.env.MYSQL_URL, connectionLimit: 2, guard: { name: 'orders', leakThresholdMs: 1_000, acquireTimeoutMs: 2_000 } });

export async function getOrder(id) {
  // The bug: conn.release() only on the happy path.
  // (Line 8 is the checkout the reports name.)
  const conn = await pool.getConnection();
  const [rows] = await conn.query('SELECT ? AS id', [id]);
  if (rows.length === 0 || id % 2 === 1) return null;
  conn.release();
  return rows[0];
}

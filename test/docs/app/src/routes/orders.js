import { pool } from '../db.js';

export async function listOrders() {
  // pool.query() checks out and releases by itself.
  const { rows } = await pool.query('SELECT pg_sleep($1), 1 AS id', [Number(process.env.SLOW_QUERY_S ?? 0)]);
  return rows;
}

// The bug behind the samples: an early return skips release().
// (Line 13 is the checkout that the leak report names.)

export async function getOrder(id) {
  const client = await pool.connect();
  const { rows } = await client.query('SELECT $1::int AS id', [id]);
  if (id % 2 === 1) return null; // returns with the client still checked out
  client.release();
  return rows[0];
}

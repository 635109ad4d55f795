import { pool } from '../db.js';

export async function refund(id) {
  const client = await pool.connect();
  await client.query('BEGIN');
  await client.query('SELECT $1::int AS id', [id]);
  client.release(); // the bug: released inside the transaction, without COMMIT
}

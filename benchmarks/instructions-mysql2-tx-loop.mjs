// instructions-tx-loop.mjs for mysql2/promise: one variant, n iterations on a warm pool of one
// connection, one at a time: getConnection, START TRANSACTION, three statements, COMMIT, release
// (the HTTP benchmark's POST /order); ROUTE=query: one pool.query() (its GET /item/:id). Without the
// HTTP server around it, poolguard's per-query and per-lease work shows.
// Run: npm run build && ROUTE=query DRIVER=mysql2 bash benchmarks/instructions-tx.sh [N] [variants]
import mysql from 'mysql2/promise';
const { createPool } = await import(process.env.POOLGUARD_MYSQL2_PROMISE ?? 'poolguard/mysql2/promise');
const [variant, n] = [process.argv[2], Number(process.argv[3])];
const options = { uri: process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test', connectionLimit: 1 };
const captureStacks = { off: 'none', connect: 'connect' }[variant];
const pool = variant === 'bare' ? mysql.createPool(options) : createPool({ ...options, guard: { logger: false, ...(captureStacks ? { captureStacks } : {}) } });
const read = process.env.ROUTE === 'query';
async function loop(k) {
  for (let i = 0; i < k; i++) {
    if (read) {
      await pool.query('SELECT ? AS id', [i]);
      continue;
    }
    const c = await pool.getConnection();
    try {
      await c.query('START TRANSACTION');
      await c.query('SELECT ? AS id', [i]);
      await c.query('SELECT 1 AS updated');
      await c.query('SELECT 2 AS inserted');
      await c.query('COMMIT');
    } finally {
      c.release();
    }
  }
}
await loop(Number(process.env.WARM ?? 3_000)); // warm: the connection, and tiering done before the measured loop
await loop(n);
await pool.end();

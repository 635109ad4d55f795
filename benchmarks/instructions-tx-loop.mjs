// instructions-loop.mjs for the write path of a service: one variant, n transactions on a warm pool
// of one connection, one at a time: connect, BEGIN, four statements, COMMIT, release (the statement
// count of the HTTP benchmark's POST /order; no tables, poolguard never reads the SQL). Without the
// HTTP server around it the count repeats, so that poolguard's per-query and per-lease work shows.
// Run under valgrind by `bash benchmarks/instructions-tx.sh [N]` (`ROUTE=query` for the read path;
// `DRIVER=mysql2`: mysql2/promise's pool over MariaDB/MySQL, MYSQL_URL, beside poolguard/mysql2/promise).
const [variant, n] = [process.argv[2], Number(process.argv[3])];
// 'defaults': no guard option but logger; 'off', 'connect': captureStacks 'none' and 'connect'.
const captureStacks = { off: 'none', connect: 'connect' }[variant];
const guard = { logger: false, ...(captureStacks ? { captureStacks } : {}) };
const mysql2 = process.env.DRIVER === 'mysql2';
let pool;
if (mysql2) {
  const options = { uri: process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test', connectionLimit: 1 };
  const { createPool } = variant === 'bare' ? await import('mysql2/promise') : await import(process.env.POOLGUARD_MYSQL2_PROMISE ?? 'poolguard/mysql2/promise');
  pool = createPool(variant === 'bare' ? options : { ...options, guard });
} else {
  const pg = (await import('pg')).default;
  const { Pool } = await import(process.env.POOLGUARD_PG ?? 'poolguard/pg');
  const options = { connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', max: 1, application_name: 'perf2_tx' };
  pool = variant === 'bare' ? new pg.Pool(options) : new Pool({ ...options, guard });
}
const [begin, param] = mysql2 ? ['START TRANSACTION', 'SELECT ? AS id'] : ['BEGIN', 'SELECT $1::int AS id'];
const connect = mysql2 ? () => pool.getConnection() : () => pool.connect();
// ROUTE=query: the read path instead (the HTTP benchmark's GET /item/:id: one pool.query()).
const read = process.env.ROUTE === 'query';
async function loop(k) {
  for (let i = 0; i < k; i++) {
    if (read) {
      await pool.query(param, [i]);
      continue;
    }
    const c = await connect();
    try {
      await c.query(begin);
      await c.query(param, [i]);
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

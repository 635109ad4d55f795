// instructions-loop.mjs for the write path of a service: one variant, n transactions on a warm pool
// of one connection, one at a time: connect, BEGIN, four statements, COMMIT, release (the statement
// count of the HTTP benchmark's POST /order; no tables, poolguard never reads the SQL). Without the
// HTTP server around it the count repeats, so that poolguard's per-query and per-lease work shows.
// Run under valgrind by `bash benchmarks/instructions-tx.sh [N]` (`ROUTE=query` for the read path).
import pg from 'pg';
const { Pool } = await import(process.env.POOLGUARD_PG ?? 'poolguard/pg');
const [variant, n] = [process.argv[2], Number(process.argv[3])];
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const options = { connectionString: url, max: 1, application_name: 'perf2_tx' };
// 'defaults': no guard option but logger; 'off', 'connect': captureStacks 'none' and 'connect'.
const captureStacks = { off: 'none', connect: 'connect' }[variant];
const pool = variant === 'bare' ? new pg.Pool(options) : new Pool({ ...options, guard: { logger: false, ...(captureStacks ? { captureStacks } : {}) } });
// ROUTE=query: the read path instead (the HTTP benchmark's GET /item/:id: one pool.query()).
const read = process.env.ROUTE === 'query';
async function loop(k) {
  for (let i = 0; i < k; i++) {
    if (read) {
      await pool.query('SELECT $1::int AS id', [i]);
      continue;
    }
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT $1::int AS id', [i]);
      await c.query('SELECT 1 AS updated');
      await c.query('SELECT 2 AS inserted');
      await c.query('COMMIT');
    } finally {
      c.release();
    }
  }
}
await loop(3_000); // warm: the connection, and tiering done before the measured loop
await loop(n);
await pool.end();

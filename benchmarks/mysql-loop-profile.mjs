// A callgrind profile of mysql's pool without the HTTP server around it, at steady state: `warm`
// iterations one at a time, uninstrumented (valgrind's --instr-atstart=no), then the process switches
// instrumentation on and zeroes its own counters (callgrind_control -i on, -z; run asynchronously,
// so that valgrind can answer) and runs `n` more; Collected / n is one iteration
// past the optimising compiler. Routes: `query` (pool.query with one parameter, the HTTP GET's
// call), `tx` (getConnection, START TRANSACTION, three statements, COMMIT, release: the POST's),
// `checkout` (getConnection + release, no statement). Variants: bare mysql, poolguard/mysql with
// defaults (`guard`) or stacks off (`guard-off`).
// Run: npm run build && valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/<v>.out node --predictable \
//        benchmarks/mysql-loop-profile.mjs <bare|guard|guard-off> <warm> <n> [query|tx|checkout]
//      then callgrind_annotate --threshold=100 /tmp/<v>.out (self costs; guard minus bare).
import { execFile } from 'node:child_process';
import mysql from 'mysql';

const [variant, warm, n, route = 'query'] = process.argv.slice(2);
const options = { host: '127.0.0.1', user: 'root', database: 'test', connectionLimit: 1, connectTimeout: 120_000, acquireTimeout: 120_000 };
let pool;
if (variant === 'bare') pool = mysql.createPool(options);
else {
  const { createPool } = await import(process.env.POOLGUARD_MYSQL ?? 'poolguard/mysql');
  pool = createPool({ ...options, guard: { logger: false, ...(variant === 'guard-off' ? { captureStacks: 'none' } : {}) } });
}
const query = (on, sql, values) => new Promise((resolve, reject) => on.query(sql, values, (err, rows) => (err ? reject(err) : resolve(rows))));
const getConnection = () => new Promise((resolve, reject) => pool.getConnection((err, c) => (err ? reject(err) : resolve(c))));

async function once(i) {
  if (route === 'query') return query(pool, 'SELECT ? AS id', [i]);
  const conn = await getConnection();
  try {
    if (route === 'checkout') return;
    await query(conn, 'START TRANSACTION');
    await query(conn, 'SELECT ? AS id', [i]);
    await query(conn, 'SELECT 1 AS updated');
    await query(conn, 'SELECT 2 AS inserted');
    await query(conn, 'COMMIT');
  } finally {
    conn.release();
  }
}
async function loop(k) {
  for (let i = 0; i < k; i++) await once(i);
}
await loop(Number(warm));
const control = (...args) => new Promise((resolve, reject) => execFile('callgrind_control', [...args, String(process.pid)], (err) => (err ? reject(err) : resolve())));
await control('-i', 'on');
await control('-z');
await loop(Number(n));
await new Promise((resolve) => pool.end(resolve));

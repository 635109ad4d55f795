// A callgrind profile of `pool.query('SELECT 1')` at concurrency 32 on a pool of 10, the SELECT 1
// throughput benchmark's path (benchmarks/mysql-drivers.mjs), counted instead of timed: on a shared
// machine a rate swings with the load, a count does not. `warm` queries uninstrumented
// (--instr-atstart=no), then the process switches instrumentation on and zeroes its counters
// (callgrind_control, run asynchronously so that valgrind can answer), then `n` queries;
// Collected / n is one query, the client's side only. Drivers: mysql, mariadb, pg (pg.Pool's pool.query). Variants: bare,
// guard (poolguard with defaults; POOLGUARD_MODULE points it at another build's dist/esm/mysql.js, mariadb.js or pg.js).
// Run: npm run build && valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/<v>.out node --predictable \
//        benchmarks/select1-profile.mjs <mysql|mariadb|pg> <bare|guard> <warm> <n>
import { execFile } from 'node:child_process';

const [driver, variant, warm, n] = process.argv.slice(2);
const options = { host: '127.0.0.1', user: 'root', database: 'test', connectionLimit: 10, connectTimeout: 120_000, acquireTimeout: 120_000 };
let query;
let end;
if (driver === 'mysql') {
  const mysql = (await import('mysql')).default;
  const pool = variant === 'bare' ? mysql.createPool(options) : (await import(process.env.POOLGUARD_MODULE ?? 'poolguard/mysql')).createPool({ ...options, guard: { logger: false } });
  query = () => new Promise((resolve, reject) => pool.query('SELECT 1', (err) => (err ? reject(err) : resolve())));
  end = () => new Promise((resolve) => pool.end(resolve));
} else if (driver === 'mariadb') {
  const mariadb = await import('mariadb');
  const pool = variant === 'bare' ? mariadb.createPool(options) : (await import(process.env.POOLGUARD_MODULE ?? 'poolguard/mariadb')).createPool({ ...options, guard: { logger: false } });
  query = () => pool.query('SELECT 1');
  end = () => pool.end();
} else if (driver === 'pg') {
  const pg = (await import('pg')).default;
  const pgOptions = { connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', max: 10 };
  const pool = variant === 'bare' ? new pg.Pool(pgOptions) : new (await import(process.env.POOLGUARD_MODULE ?? 'poolguard/pg')).Pool({ ...pgOptions, guard: { logger: false } });
  query = () => pool.query('SELECT 1');
  end = () => pool.end();
} else throw new Error(`driver: mysql, mariadb or pg, got ${driver}`);

async function run(total) {
  let started = 0;
  const worker = async () => {
    while (started < total) {
      started++;
      await query();
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}
await run(Number(warm));
const control = (...args) => new Promise((resolve, reject) => execFile('callgrind_control', [...args, String(process.pid)], (err) => (err ? reject(err) : resolve())));
await control('-i', 'on');
await control('-z');
await run(Number(n));
await end();

// The heap a process holds at start, before any traffic: bare mysql2/promise beside poolguard/mysql2/promise
// (or pg beside poolguard/pg), the pool created and one query run, heapUsed after full collections.
// V8's allocation-site pretenuring reads survival rates, so what is resident decides how a request's
// objects are collected (benchmarks/RESULTS.md, "mysql2 HTTP GET/POST: the heap state").
// Run: npm run build && node --expose-gc benchmarks/start-heap.mjs <bare|guard> [mysql2|pg]
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const [variant = 'guard', driver = 'mysql2'] = process.argv.slice(2);
const used = () => {
  for (let i = 0; i < 4; i++) globalThis.gc();
  return process.memoryUsage().heapUsed;
};
const start = used();
let pool;
if (driver === 'mysql2') {
  const options = { uri: process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test', connectionLimit: 10 };
  pool = variant === 'bare' ? require('mysql2/promise').createPool(options) : (await import('poolguard/mysql2/promise')).createPool({ ...options, guard: { name: 'bench', logger: false } });
} else {
  const options = { connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', max: 10 };
  pool = variant === 'bare' ? new (require('pg').Pool)(options) : new (await import('poolguard/pg')).Pool({ ...options, guard: { name: 'bench', logger: false } });
}
await pool.query('SELECT 1');
const loaded = used();
await pool.end();
const modules = Object.keys(require.cache).length;
console.log(`${driver} ${variant}: heapUsed ${(loaded / 1e6).toFixed(2)} MB after the pool's first query (${((loaded - start) / 1e6).toFixed(2)} MB over node's own ${(start / 1e6).toFixed(2)}); ${modules} CommonJS modules`);

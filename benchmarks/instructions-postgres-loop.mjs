// One variant, n operations after a warm-up, for valgrind (see instructions.sh): postgres.js's
// sql`select 1` one at a time (the pool's own queries), or reserve() + release() on a warm pool.
// (bash benchmarks/instructions-postgres.sh runs every variant.)
// Run: valgrind --tool=callgrind --callgrind-out-file=/dev/null node --predictable benchmarks/instructions-postgres-loop.mjs <bare|defaults|off|bounded> <query|reserve> <n>
import plain from 'postgres';
import postgres from 'poolguard/postgres';
const [variant, op, n] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const options = { max: 2, onnotice: () => {} };
const sql = variant === 'bare' ? plain(url, options) : postgres(url, { ...options, guard: { logger: false, captureStacks: variant === 'off' ? 'none' : 'adaptive', acquireTimeoutMs: variant === 'bounded' ? 5_000 : 0 } });
async function loop(k) {
  if (op === 'query') for (let i = 0; i < k; i++) await sql`select 1`;
  else for (let i = 0; i < k; i++) (await sql.reserve()).release();
}
await loop(3_000);
await loop(n);
await sql.end({ timeout: 1 });

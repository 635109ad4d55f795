// One stack-depth variant under callgrind (instructions-depth.sh): n checkouts at a data layer's
// call depth after an await, as in stack-depth.mjs (40 async callers, one await, 15 synchronous
// frames), so that a capture of 50 frames finds 50. Variants: bare, none (captureStacks 'none'),
// a depth (10, 30, 50…). POOLGUARD_PG points at another build's pg entry (an older build, for the
// default it had: follow the process's Error.stackTraceLimit, never set it).
import pg from 'pg';
const { Pool } = await import(process.env.POOLGUARD_PG ?? 'poolguard/pg');
const [variant, n] = [process.argv[2], Number(process.argv[3])];
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const guard = variant === 'none' ? { captureStacks: 'none' } : variant === 'default' ? {} : { stackDepth: Number(variant) };
const pool = variant === 'bare' ? new pg.Pool({ connectionString: url, max: 2 }) : new Pool({ connectionString: url, max: 2, guard: { logger: false, ...guard } });
function dataLayer(n) {
  return n === 0 ? pool.connect() : dataLayer(n - 1);
}
async function handler() {
  await null;
  const client = await dataLayer(15);
  client.release();
}
async function caller(n) {
  if (n === 0) return await handler();
  await caller(n - 1);
}
async function loop(k) {
  for (let i = 0; i < k; i++) await caller(40);
}
await loop(5_000);
await loop(n);
await pool.end();

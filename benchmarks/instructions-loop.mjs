// One variant, n checkouts after a warm-up: run under valgrind by instructions.sh, which turns the
// difference between two runs into instructions per checkout+release: a count, not a time, so it
// barely moves on a busy machine. The loop is an async function, as in a service: V8 optimises it,
// and what a stack capture costs depends on the optimised frames it walks (at module top level the
// same capture measured 25 times cheaper).
// POOLGUARD_PG points at another build's pg entry, to count an older build the same way.
import pg from 'pg';
import { BoundPool } from './lib.mjs';
const { Pool } = await import(process.env.POOLGUARD_PG ?? 'poolguard/pg');
const [variant, n] = [process.argv[2], Number(process.argv[3])];
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const bare = variant === 'bare' || variant === 'bound';
// The physical bound: bare pg.Pool plus one capture in a `connect` standing where poolguard's does.
const pool = bare ? new (variant === 'bound' ? BoundPool : pg.Pool)({ connectionString: url, max: 2 }) : new Pool({ connectionString: url, max: 2, guard: { logger: false, captureStacks: variant === 'off' ? 'none' : variant === 'adaptive' ? 'adaptive' : 'connect' } });
async function loop(k) {
  for (let i = 0; i < k; i++) {
    const c = await pool.connect();
    c.release();
  }
}
await loop(20_000); // warm: the connection, and tiering done before the measured loop
await loop(n);
await pool.end();

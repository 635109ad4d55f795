// One variant, n checkouts after a warm-up: run under valgrind by instructions.sh, which turns the
// difference between two runs into instructions per checkout+release: a count, not a time, so it
// is the same on a busy machine.
import pg from 'pg';
import { Pool } from 'poolguard/pg';
const [variant, n] = [process.argv[2], Number(process.argv[3])];
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const pool = variant === 'bare' ? new pg.Pool({ connectionString: url, max: 2 }) : new Pool({ connectionString: url, max: 2, guard: { logger: false, captureStacks: variant === 'off' ? 'none' : 'connect' } });
for (let i = 0; i < 2000; i++) { const c = await pool.connect(); c.release(); } // warm: JIT and connection
for (let i = 0; i < n; i++) { const c = await pool.connect(); c.release(); }
await pool.end();

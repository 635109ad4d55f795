// One variant, n checkouts after a warm-up: run under valgrind by instructions.sh, which turns the
// difference between two runs into instructions per checkout+release: a count, not a time, so it
// barely moves on a busy machine. The loop is an async function, as in a service: V8 optimises it,
// and what a stack capture costs depends on the optimised frames it walks (at module top level the
// same capture measured 25 times cheaper).
// POOLGUARD_PG points at another build's pg entry, to count an older build the same way.
import pg from 'pg';
const { Pool } = await import(process.env.POOLGUARD_PG ?? 'poolguard/pg');
const [variant, n] = [process.argv[2], Number(process.argv[3])];
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const bare = variant === 'bare' || variant === 'bound';
// The physical bound: a bare pg.Pool whose `connect` stands where poolguard's does (a method on the
// pool's prototype, called by the loop), captures the stack skipping its own frame as poolguard's
// does, then runs pg-pool's connect: the capture walks the same frames as poolguard's.
const bareConnect = pg.Pool.prototype.connect;
let lastCapture; // kept until the next checkout, as poolguard keeps its capture until release
class BoundPool extends pg.Pool {}
Object.defineProperty(BoundPool.prototype, 'connect', {
  configurable: true,
  writable: true,
  value: function connect(cb) {
    const holder = {};
    Error.captureStackTrace(holder, connect);
    lastCapture = holder;
    return bareConnect.call(this, cb);
  },
});
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

// A graceful shutdown with a leak still open: on SIGTERM stop taking work, let the requests in
// flight finish, end the pool, and print the final snapshot, taken after end(): the numbers to keep
// from a dying instance. One route below forgets release() on an early return, inside a
// transaction; pg's own end() would then wait for ever, until the orchestrator's kill. poolguard
// says who holds the pool up a second in, and at guard.endTimeoutMs reclaims it so end() resolves.
// Run: node examples/graceful-shutdown.mjs   (needs PostgreSQL; DATABASE_URL overrides)
import { Pool } from 'poolguard/pg';

const pool = new Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  max: 4,
  connectionTimeoutMillis: 2_000,
  // Kubernetes kills 30 s after SIGTERM (terminationGracePeriodSeconds): keep the pool's deadline
  // well inside it. Short here so the demo ends quickly.
  guard: { name: 'orders-db', endTimeoutMs: Number(process.env.END_TIMEOUT_MS ?? 2_000) },
});

async function handleRequest(i) {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_sleep($1)', [0.05 + (i % 3) * 0.05]);
  } finally {
    client.release();
  }
}

// The bug: the early return skips release(), and the transaction stays open.
async function handleRefund(orderId) {
  const client = await pool.connect(); // LINE 29
  await client.query('BEGIN');
  if (orderId % 2 === 1) return 'refund refused: odd order id';
  await client.query('COMMIT');
  client.release();
  return 'refunded';
}

// Stand-in for an HTTP server: requests keep arriving until shutdown starts.
let accepting = true;
const inFlight = new Set();
let i = 0;
function serve(work) {
  const p = work().catch((err) => console.log(`request failed: ${err.message.split('\n')[0]}`)).finally(() => inFlight.delete(p));
  inFlight.add(p);
}
// For the demo (and its smoke test), stop ourselves after a moment of traffic: SHUTDOWN_AFTER_MS,
// and not before the first ten requests (the refund among them) however slow the machine is.
let stopAfterMs = Number(process.env.SHUTDOWN_AFTER_MS ?? 400);
const startedAt = Date.now();
const traffic = setInterval(() => {
  if (!accepting) return;
  const n = i++;
  serve(() => (n === 3 ? handleRefund(7) : handleRequest(n)));
  if (stopAfterMs > 0 && n >= 9 && Date.now() - startedAt >= stopAfterMs) {
    stopAfterMs = 0;
    process.kill(process.pid, 'SIGTERM');
  }
}, 10);

pool.guard.on('endForced', (report) => {
  const cut = report.leases.map((l) => `${l.site} (held ${l.heldMs} ms${l.transaction === 'open' ? ', open transaction' : ''})`);
  console.log(`cut at shutdown: ${cut.join('; ')}`);
});

async function shutdown(signal) {
  accepting = false;
  clearInterval(traffic);
  // As server.close() does: no new requests, and the ones in flight finish.
  console.log(`${signal}: no new work; ${inFlight.size} request(s) in flight`);
  await Promise.allSettled([...inFlight]);
  const started = Date.now();
  await pool.end();
  console.log(`pool.end() resolved after ${Date.now() - started} ms`);
  const final = pool.guard.snapshot();
  console.log('final snapshot:', JSON.stringify({ pool: final.pool, counts: final.counts, totals: final.totals, leases: final.leases }));
  process.exit(0);
}

process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
console.log(`serving; send SIGTERM to ${process.pid} to stop`);

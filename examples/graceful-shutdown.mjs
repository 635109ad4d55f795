// A graceful shutdown: on SIGTERM stop taking work, wait (bounded) for the leases in flight to come
// back, end the pool, and print the final snapshot — the numbers to keep from a dying instance.
// Run: node examples/graceful-shutdown.mjs   (needs PostgreSQL; DATABASE_URL overrides)
import { Pool } from 'poolguard/pg';

const pool = new Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  max: 4,
  connectionTimeoutMillis: 2_000,
  guard: { name: 'orders-db' },
});

let accepting = true;
async function handleRequest(i) {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_sleep($1)', [0.05 + (i % 3) * 0.05]);
  } finally {
    client.release();
  }
}

// Stand-in for an HTTP server: requests keep arriving until shutdown starts.
const inFlight = new Set();
let i = 0;
const traffic = setInterval(() => {
  if (!accepting) return;
  const p = handleRequest(i++).finally(() => inFlight.delete(p));
  inFlight.add(p);
}, 10);

async function shutdown(signal, drainMs = 5_000) {
  console.log(`${signal}: no new work; waiting up to ${drainMs} ms for ${pool.guard.snapshot().counts.leased} lease(s) in flight`);
  accepting = false;
  clearInterval(traffic);
  const deadline = Date.now() + drainMs;
  while (pool.guard.snapshot().counts.leased > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const final = pool.guard.snapshot();
  if (final.counts.leased > 0) {
    // Whoever still holds a connection is named here, with the line that took it.
    console.log('still held at shutdown:', JSON.stringify(final.leases.map((l) => ({ site: l.site, heldMs: l.heldMs, state: l.state }))));
  }
  await pool.end();
  console.log('final snapshot:', JSON.stringify({ pool: final.pool, counts: final.counts, totals: final.totals }));
  process.exit(0);
}

process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
console.log(`serving; send SIGTERM to ${process.pid} to stop`);
// For the demo (and its smoke test), stop ourselves after a moment of traffic.
if (process.env.SHUTDOWN_AFTER_MS !== '0') setTimeout(() => process.kill(process.pid, 'SIGTERM'), Number(process.env.SHUTDOWN_AFTER_MS ?? 400));

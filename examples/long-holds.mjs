// Connections held on purpose, done right: a LISTEN client (held for the life of the process) and a
// long report transaction, both exempt from leak detection — one per lease, one per call site —
// while everything else is still watched.
// Run: node examples/long-holds.mjs   (needs PostgreSQL; DATABASE_URL overrides)
import { Pool } from 'poolguard/pg';

const pool = new Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  max: 4,
  connectionTimeoutMillis: 2_000,
  guard: {
    name: 'orders-db',
    leakThresholdMs: 200, // short for the demo; production: seconds
    idleAfterMs: 50,
    // Per call site: every lease taken in nightlyReport() below is held on purpose.
    exemptSites: ['examples/long-holds.mjs:29:'],
  },
});
pool.guard.on('leak', (r) => console.log(`leak reported at ${r.site}`));

// Per lease: the LISTEN client lives as long as the process.
const listener = pool.guard.exempt(await pool.connect(), 'LISTEN order_events');
listener.on('notification', (n) => console.log(`notification: ${n.payload}`));
await listener.query('LISTEN order_events');

async function nightlyReport() {
  // A consistent view across many statements: one transaction, held for as long as it takes.
  // The call site below is listed in guard.exemptSites (line 29).
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await new Promise((r) => setTimeout(r, 400)); // stands for minutes of reporting work
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

const report = nightlyReport();
await new Promise((r) => setTimeout(r, 300));
console.log('leases while held:', JSON.stringify(pool.guard.snapshot().leases.map((l) => ({ site: l.site, exempt: l.exempt, reported: l.reported }))));
await pool.query(`NOTIFY order_events, 'order 42 shipped'`);
await report;
await new Promise((r) => setTimeout(r, 50));
console.log(`leaks reported: ${pool.guard.snapshot().totals.leaks}`);
await listener.query('UNLISTEN *');
listener.release();
await pool.end();

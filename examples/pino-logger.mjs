// poolguard's leak reports through pino: one JSON line per report, with every report field
// (site, state, heldMs, leaseId, trace…) as structured data next to the readable message.
// Run: node examples/pino-logger.mjs   (needs PostgreSQL; DATABASE_URL overrides)
import pino from 'pino';
import { Pool } from 'poolguard/pg';

const logger = pino({ level: 'info', base: { service: 'orders' } });

const pool = new Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  max: 2,
  connectionTimeoutMillis: 2_000,
  // Any pino-style logger works: poolguard calls logger.warn(obj, msg) and logger.info(obj, msg).
  guard: { name: 'orders-db', leakThresholdMs: 200, idleAfterMs: 50, logger: logger.child({ component: 'poolguard' }) },
});

async function exportOrders() {
  const client = await pool.connect();
  await client.query('SELECT 1');
  return client; // the bug: the caller never releases it
}

const client = await exportOrders();
await new Promise((resolve) => pool.guard.once('leak', resolve));
client.release(); // late: poolguard logs the "resolved" line at info level
await pool.end();

// The smallest poolguard program: a handler that forgets release() on one path, and what
// poolguard says about it. Run: npm run example  (needs PostgreSQL; DATABASE_URL overrides).
import { Pool } from 'poolguard/pg'; // was: import { Pool } from 'pg'

const pool = new Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  max: 2,
  connectionTimeoutMillis: 1_000,
  guard: { name: 'orders-db', leakThresholdMs: 300, idleAfterMs: 100 },
});

async function getOrder(id) {
  const client = await pool.connect();
  const { rows } = await client.query('SELECT $1::int AS id', [id]);
  if (id % 2 === 1) return null; // the bug: this early return skips release()
  client.release();
  return rows[0];
}

const leaked = new Promise((resolve) => pool.guard.once('leak', resolve));
await getOrder(2);
await getOrder(1);
const report = await leaked; // poolguard has already written the warning to stderr
console.log(`\nleak event: site=${report.site} state=${report.state} heldMs=${report.heldMs}`);

await getOrder(3); // the second leak: now the pool is empty
try {
  await pool.connect();
} catch (err) {
  // pg's own error, message unchanged; poolguard wrote who holds the connections into its stack
  // (what console.error(err) and loggers print) and err.holders.
  console.log(`\ncheckout failed, and the error says why:\n${err.stack.split('\n    at ')[0]}`);
}
console.log('\nsnapshot:', JSON.stringify(pool.guard.snapshot().totals));
process.exit(0);

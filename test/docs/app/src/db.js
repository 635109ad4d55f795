// The pool of the small application whose real output the docs show (test/docs/samples.test.ts).
import { Pool } from 'poolguard/pg';

export const pool = new Pool({
  connectionString: process.env.DATABASE_URL,
  max: 10,
  connectionTimeoutMillis: Number(process.env.CONNECTION_TIMEOUT_MS ?? 5_000),
  guard: { name: 'orders-db', leakThresholdMs: Number(process.env.LEAK_THRESHOLD_MS ?? 10_000) },
});

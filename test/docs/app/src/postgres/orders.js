import postgres from 'poolguard/postgres';

export const sql = postgres(process.env.DATABASE_URL, { max: 2, onnotice: () => {}, guard: { name: 'orders', leakThresholdMs: 1_000, acquireTimeoutMs: 2_000 } });

export async function getOrder(id) {
  // The bug: reserved.release() only on the happy path.
  // (Line 8 is the reserve() the reports name.)
  const reserved = await sql.reserve();
  const [row] = await reserved`SELECT ${id}::int AS id`;
  if (id % 2 === 1) return null;
  reserved.release();
  return row;
}

// Linted (never run) by scripts/ci-package.sh with poolguard's ESLint plugin from the packed
// tarball: the early return below leaves the client checked out, and the rule must say so.
export async function getOrder(pool, id) {
  const client = await pool.connect();
  const { rows } = await client.query('SELECT $1::int AS id', [id]);
  if (rows.length === 0) return null;
  client.release();
  return rows[0];
}

export async function getOrderFixed(pool, id) {
  const client = await pool.connect();
  try {
    const { rows } = await client.query('SELECT $1::int AS id', [id]);
    return rows[0] ?? null;
  } finally {
    client.release();
  }
}

'use strict';
// Run by scripts/ci-package.sh in a scratch project that installed the packed tarball: the package
// as a CommonJS user loads it, against the real server.
const assert = require('node:assert/strict');
const pg = require('pg');
const { Pool } = require('poolguard/pg');
const { createPool } = require('poolguard/generic-pool');
const { CheckoutTimeoutError } = require('poolguard');

async function main() {
  const connectionString = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const pool = new Pool({ connectionString, max: 2, application_name: 'pkgci-cjs', guard: { name: 'pkgci-cjs', logger: false } });
  assert.ok(pool instanceof pg.Pool, "poolguard/pg's Pool is the consumer's own pg.Pool");
  const client = await pool.connect();
  const { rows } = await client.query("select current_setting('application_name') as app, 1 + 1 as two");
  assert.deepEqual(rows, [{ app: 'pkgci-cjs', two: 2 }]);
  assert.equal(pool.guard.snapshot().counts.leased, 1);
  client.release();
  assert.equal(pool.guard.snapshot().totals.checkouts, 1);
  await pool.end();

  const resources = createPool({ create: async () => ({ id: 7 }), destroy: async () => {} }, { max: 1, guard: { logger: false } });
  const resource = await resources.acquire();
  assert.equal(resource.id, 7);
  assert.equal(resources.guard.snapshot().counts.leased, 1);
  await resources.release(resource);
  await resources.drain();
  await resources.clear();
  assert.equal(typeof CheckoutTimeoutError, 'function');
  console.log('cjs: ok');
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});

// Run by scripts/ci-package.sh in a scratch project that installed the packed tarball: the package
// as an ESM user loads it, against the real server.
import assert from 'node:assert/strict';
import pg from 'pg';
import { Pool } from 'poolguard/pg';
import { createPool } from 'poolguard/generic-pool';
import { CheckoutTimeoutError } from 'poolguard';

const connectionString = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const pool = new Pool({ connectionString, max: 2, application_name: 'pkgci-esm', guard: { name: 'pkgci-esm', logger: false } });
assert.ok(pool instanceof pg.Pool, "poolguard/pg's Pool is the consumer's own pg.Pool");
const client = await pool.connect();
const { rows } = await client.query("select current_setting('application_name') as app, 1 + 1 as two");
assert.deepEqual(rows, [{ app: 'pkgci-esm', two: 2 }]);
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
console.log('esm: ok');

'use strict';
// The checks run.mjs (ESM) and run.cjs (CommonJS) make on the package they loaded, in a scratch
// project that installed the packed tarball (scripts/ci-package.sh), against the real server.
const assert = require('node:assert/strict');
const { existsSync } = require('node:fs');
const { once } = require('node:events');

/** Every frame of poolguard's in `stack` names a file the installed package has: maps resolve. */
function assertFramesExist(stack) {
  const frames = [...stack.matchAll(/\(?((?:file:\/\/)?\/[^():]*node_modules\/poolguard\/[^():]+):\d+:\d+\)?$/gm)];
  assert.ok(frames.length > 0, `no poolguard frame in:\n${stack}`);
  for (const [, file] of frames) assert.ok(existsSync(file.replace(/^file:\/\//, '')), `a frame names ${file}, which the package does not ship`);
  return frames.map(([, file]) => file);
}

module.exports = async function check(label, { pg, Pool, createPool, DoubleReleaseError, testing }) {
  const connectionString = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const app = `pkgci-${label}`;
  const pool = new Pool({ connectionString, max: 2, application_name: app, guard: { name: app, logger: false, leakThresholdMs: 100 } });
  assert.ok(pool instanceof pg.Pool, "poolguard/pg's Pool is the consumer's own pg.Pool");
  const leak = once(pool.guard, 'leak');
  const since = testing.leakCheckpoint();
  const client = await pool.connect();
  const { rows } = await client.query("select current_setting('application_name') as app, 1 + 1 as two");
  assert.deepEqual(rows, [{ app, two: 2 }]);
  assert.equal(pool.guard.snapshot().counts.leased, 1);

  // The leak site is this file, not a frame inside the installed package or the driver.
  const [report] = await leak;
  assert.match(report.site, /checks\.cjs:\d+:\d+$/, `leak site: ${report.site}`);
  // poolguard/testing: the same lease, as a test's end would see it.
  const [finding, ...others] = (await testing.checkOpenLeases({ since, settleMs: 0 })).filter((f) => f.pool === app);
  assert.deepEqual(others, []);
  assert.equal(finding.fails, true);
  assert.equal(finding.lease.site, report.site);
  client.release();
  await testing.assertNoOpenLeases({ since, settleMs: 0 }).catch((err) => assert.fail(`after release: ${err.message}`));
  // A second release throws pg's own error, class and message unchanged (DoubleReleaseError is mysql2's).
  assert.throws(
    () => client.release(),
    (err) => err.constructor === Error && !(err instanceof DoubleReleaseError) && err.message === 'Release called on client which has already been released to the pool.',
  );
  // An option refused at construction: its frames are poolguard's own.
  let error;
  try {
    new Pool({ connectionString, guard: { leakThresholdMs: -5 } });
  } catch (err) {
    error = err;
  }
  assert.ok(error instanceof RangeError && error.message === 'guard.leakThresholdMs must be ≥ 0, got -5', String(error));
  // With --enable-source-maps the frames are the shipped src/*.ts; without, dist/*.js.
  const files = assertFramesExist(error.stack);
  const mapped = process.execArgv.includes('--enable-source-maps');
  assert.ok(files.every((f) => f.includes(mapped ? '/poolguard/src/' : '/poolguard/dist/')), files.join('\n'));
  assert.equal(pool.guard.snapshot().totals.checkouts, 1);
  await pool.end();

  const resources = createPool({ create: async () => ({ id: 7 }), destroy: async () => {} }, { max: 1, guard: { logger: false } });
  const resource = await resources.acquire();
  assert.equal(resource.id, 7);
  assert.equal(resources.guard.snapshot().counts.leased, 1);
  await resources.release(resource);
  await resources.drain();
  await resources.clear();
  console.log(`${label}: ok${mapped ? ' (source maps)' : ''}`);
};

'use strict';
// poolguard/postgres as a CommonJS user loads it (see postgres-run.mjs).
const assert = require('node:assert/strict');
const { postgres } = require('poolguard/postgres');

(async () => {
  const sql = postgres(process.env.DATABASE_URL, { max: 1, guard: { logger: false, leakThresholdMs: 50, captureStacks: 'connect' } });
  const leak = new Promise((resolve) => sql.guard.on('leak', resolve));
  const reserved = await sql.reserve(); // LINE 9
  assert.equal((await reserved`select 1 as one`)[0].one, 1);
  const report = await leak;
  assert.match(report.site, /postgres-run\.cjs:9:\d+$/);
  reserved.release();
  await sql.end();
  console.log('cjs poolguard/postgres: ok');
})().catch((err) => {
  console.error(err);
  process.exit(1);
});

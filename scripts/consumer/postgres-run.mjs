// poolguard/postgres as an ESM user loads it: postgres.js's sql, guarded, on the real server; a
// reserve() left open is reported at this file's line.
import postgres from 'poolguard/postgres';
import assert from 'node:assert/strict';

const sql = postgres(process.env.DATABASE_URL, { max: 1, guard: { logger: false, leakThresholdMs: 50, captureStacks: 'connect' } });
const leak = new Promise((resolve) => sql.guard.on('leak', resolve));
const reserved = await sql.reserve(); // LINE 8
assert.equal((await reserved`select 1 as one`)[0].one, 1);
const report = await leak;
assert.match(report.site, /postgres-run\.mjs:8:\d+$/);
reserved.release();
await sql.end();
console.log('esm poolguard/postgres: ok');

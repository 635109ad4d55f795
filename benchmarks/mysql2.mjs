// 3. mysql2 beside bare mysql2, in one process: pool.query('SELECT 1') at concurrency 32, and
// getConnection + release on a warm pool (no query), with stacks off and with the defaults, beside
// the physical bound of one stack capture per checkout. Needs MariaDB or MySQL at MYSQL_URL.
// Run: npm run build && node --expose-gc benchmarks/mysql2.mjs [--rounds 5] [--seconds 2] [--checkouts 50000]
import mysql from 'mysql2';
import { createPool } from 'poolguard/mysql2';
import { SMOKE, arg, interleaved, median, table, throughput } from './lib.mjs';

const url = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const rounds = SMOKE ? 1 : arg('rounds', 5);
const seconds = SMOKE ? 0.2 : arg('seconds', 2);
const checkouts = SMOKE ? 500 : arg('checkouts', 50_000);
const BARE = 'bare mysql2';
const BOUND = 'bare + one stack capture (the bound)';
// The same capture taken where poolguard takes it: in the frame that calls getConnection, inside the
// promise executor, two frames (the executor, the Promise constructor) deeper than the loop's.
const BOUND_SITE = 'bare + one stack capture at the getConnection call';
const CLOCK = 'bare + one clock read (what stacks off cannot skip)';
let clockSink = 0;

function captureHere() {
  const holder = {};
  Error.captureStackTrace(holder, captureHere);
  return holder;
}

function pools() {
  const base = { uri: url, connectionLimit: 10 };
  const list = [
    { name: BARE, pool: mysql.createPool(base) },
    { name: 'poolguard, defaults, no SDK', pool: createPool({ ...base, guard: { logger: false, name: 'bench-defaults' } }) },
    { name: 'poolguard, stacks off', pool: createPool({ ...base, guard: { logger: false, name: 'bench-stacks-off', captureStacks: 'none' } }) },
  ];
  return { list, end: () => Promise.all(list.map((v) => new Promise((r) => v.pool.end(r)))) };
}

/** µs per getConnection + release on a warm pool, one caller at a time (mysql2 answers on its next tick). */
async function checkoutRelease(pool, capture, clock, captureAtCall = false) {
  const get = () =>
    new Promise((resolve, reject) => {
      if (captureAtCall) captureHere();
      pool.getConnection((err, c) => (err ? reject(err) : resolve(c)));
    });
  const start = performance.now();
  for (let i = 0; i < checkouts; i++) {
    if (capture) captureHere();
    // The one clock reading a leak detector makes per checkout (when the lease was taken).
    if (clock) clockSink += performance.now();
    (await get()).release();
  }
  return ((performance.now() - start) * 1_000) / checkouts;
}

async function version() {
  const c = mysql.createConnection({ uri: url });
  const [rows] = await c.promise().query('SELECT @@version AS v');
  c.destroy();
  return rows[0].v;
}

export async function run() {
  const parts = [`Server: ${await version()}; pool connectionLimit 10; variants interleaved in one process.`];
  {
    const v = pools();
    const results = await interleaved(v.list, (x) => throughput(() => new Promise((resolve, reject) => x.pool.query('SELECT 1', (err) => (err ? reject(err) : resolve()))), 32, seconds), { rounds });
    await v.end();
    parts.push(`pool.query('SELECT 1') at concurrency 32: queries per second (higher is better), ${rounds} rounds × ${seconds} s. Target ≥ 0.95× of bare.\n\n${table(results, { unit: 'q/s', baseline: BARE, higherIsBetter: true, digits: 0 })}`);
  }
  {
    const v = pools();
    const list = [...v.list, { name: BOUND, pool: v.list[0].pool, capture: true }, { name: BOUND_SITE, pool: v.list[0].pool, captureAtCall: true }, { name: CLOCK, pool: v.list[0].pool, clock: true }];
    const results = await interleaved(list, (x) => checkoutRelease(x.pool, x.capture === true, x.clock === true, x.captureAtCall === true), { rounds });
    await v.end();
    const bare = median(results.get(BARE));
    const bound = bare / median(results.get(BOUND));
    const boundSite = bare / median(results.get(BOUND_SITE));
    const defaults = bare / median(results.get('poolguard, defaults, no SDK'));
    const extra = {
      'poolguard, stacks off': `(target ≥ 0.8×; ${((bare / median(results.get('poolguard, stacks off')) / (bare / median(results.get(CLOCK)))) * 100).toFixed(0)} % of bare + one clock read)`,
      'poolguard, defaults, no SDK': `(${((defaults / bound) * 100).toFixed(0)} % of the bound; ${((defaults / boundSite) * 100).toFixed(0)} % of the bound at the call site)`,
    };
    parts.push(`getConnection + release on a warm pool (no query): ${rounds} rounds × ${checkouts} checkouts, µs per checkout+release (lower is better).\n\n${table(results, { unit: 'µs', baseline: BARE, extra })}`);
  }
  if (clockSink === 0) parts.push('');
  return { title: 'mysql2 beside bare mysql2 (MariaDB)', body: parts.join('\n\n') };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await run()).body);

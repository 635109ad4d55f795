// postgres.js beside bare postgres.js, in one process: sql`select 1` at concurrency 32 (the pool's
// own queries, which poolguard follows through the drop-in's Proxy), and reserve() + release() on a
// warm pool (no query), with stacks off and with the defaults, beside the physical bound of one
// stack capture per reserve. Needs PostgreSQL at DATABASE_URL.
// Run: npm run build && node --expose-gc benchmarks/postgres.mjs [--rounds 5] [--seconds 2] [--checkouts 20000]
import plain from 'postgres';
import postgres from 'poolguard/postgres';
import { SMOKE, arg, interleaved, median, table, throughput, url } from './lib.mjs';

const BARE = 'bare postgres.js';
const BOUND = 'bare + one stack capture (the bound)';
const [rounds, seconds, checkouts] = SMOKE ? [1, 0.2, 500] : [arg('rounds', 5), arg('seconds', 2), arg('checkouts', 20_000)];

function captureHere() {
  const holder = {};
  Error.captureStackTrace(holder, captureHere);
  return holder;
}

function pools() {
  const base = { max: 10, onnotice: () => {} };
  const list = [
    { name: BARE, sql: plain(url, base) },
    { name: 'poolguard, defaults, no SDK', sql: postgres(url, { ...base, guard: { logger: false, name: 'bench-pgjs-defaults' } }) },
    { name: 'poolguard, stacks off', sql: postgres(url, { ...base, guard: { logger: false, name: 'bench-pgjs-stacks-off', captureStacks: 'none' } }) },
    { name: 'poolguard, acquireTimeoutMs 5000', sql: postgres(url, { ...base, guard: { logger: false, name: 'bench-pgjs-timeout', acquireTimeoutMs: 5_000 } }) },
  ];
  return { list, end: () => Promise.all(list.map((v) => v.sql.end({ timeout: 1 }))) };
}

/** µs per reserve() + release() on a warm pool, one caller at a time. */
async function reserveRelease(sql, capture) {
  const start = performance.now();
  for (let i = 0; i < checkouts; i++) {
    if (capture) captureHere();
    (await sql.reserve()).release();
  }
  return ((performance.now() - start) * 1_000) / checkouts;
}

export async function run() {
  const parts = [];
  {
    const v = pools();
    const [{ version }] = await v.list[0].sql`select current_setting('server_version') as version`;
    parts.push(`Server: PostgreSQL ${version}; postgres.js 3.4, max 10; variants interleaved in one process.`);
    // Warm every connection of every pool first: the first queries open them.
    await Promise.all(v.list.map((x) => Promise.all(Array.from({ length: 10 }, () => x.sql`select 1`))));
    const results = await interleaved(v.list, (x) => throughput(() => x.sql`select 1`, 32, seconds), { rounds });
    await v.end();
    parts.push(`sql\`select 1\` at concurrency 32: queries per second (higher is better), ${rounds} rounds × ${seconds} s. Target ≥ 0.95× of bare.\n\n${table(results, { unit: 'q/s', baseline: BARE, higherIsBetter: true, digits: 0 })}`);
  }
  {
    const v = pools();
    await Promise.all(v.list.map((x) => Promise.all(Array.from({ length: 10 }, () => x.sql`select 1`))));
    const list = [...v.list.slice(0, 3), { name: BOUND, sql: v.list[0].sql, capture: true }];
    const results = await interleaved(list, (x) => reserveRelease(x.sql, x.capture === true), { rounds });
    await v.end();
    const bare = median(results.get(BARE));
    const bound = bare / median(results.get(BOUND));
    const defaults = bare / median(results.get('poolguard, defaults, no SDK'));
    const extra = { 'poolguard, defaults, no SDK': `(${((defaults / bound) * 100).toFixed(0)} % of the bound)` };
    parts.push(`reserve() + release() on a warm pool (no query): ${rounds} rounds × ${checkouts} reserves, µs per reserve+release (lower is better).\n\n${table(results, { unit: 'µs', baseline: BARE, extra })}`);
  }
  {
    // Memory: a million reserve() + release() on one guarded pool (defaults), heap after GC.
    const total = SMOKE ? 2_000 : arg('memory', 1_000_000);
    const sql = postgres(url, { max: 10, onnotice: () => {}, guard: { logger: false, name: 'bench-pgjs-memory' } });
    await sql`select 1`;
    const heap = () => {
      globalThis.gc?.();
      return (process.memoryUsage().heapUsed / 1e6).toFixed(1);
    };
    const rows = [`| reserves | heap MB after GC |`, `|---|---|`, `| 0 | ${heap()} |`];
    for (let done = 0; done < total; ) {
      const step = total / 4;
      for (let i = 0; i < step; i++) (await sql.reserve()).release();
      done += step;
      rows.push(`| ${done.toLocaleString('en')} | ${heap()} |`);
    }
    await sql.end({ timeout: 1 });
    parts.push(`Memory over ${total.toLocaleString('en')} reserve() + release() on one guarded pool (defaults; node --expose-gc):\n\n${rows.join('\n')}`);
  }
  return { title: 'postgres.js beside bare postgres.js', body: parts.join('\n\n') };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await run()).body);

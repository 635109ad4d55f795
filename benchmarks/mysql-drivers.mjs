// mysql and the MariaDB connector beside their bare pools, in one process per driver:
// pool.query('SELECT 1') at concurrency 32 (variants interleaved, medians of rounds), and the heap
// after GC over a million getConnection + release on a guarded pool (ten callers at a time).
// Needs MariaDB or MySQL on 127.0.0.1:3306 (root, no password, database test).
// Run: npm run build && node --expose-gc benchmarks/mysql-drivers.mjs [--rounds 7] [--seconds 2] [--checkouts 1000000] [--only mysql|mariadb]
import mysql from 'mysql';
import * as mariadb from 'mariadb';
import { createPool as guardedMysql } from 'poolguard/mysql';
import { createPool as guardedMariadb } from 'poolguard/mariadb';
import { SMOKE, arg, interleaved, rateAndCpu, table } from './lib.mjs';

const rounds = SMOKE ? 1 : arg('rounds', 7);
const seconds = SMOKE ? 0.2 : arg('seconds', 2);
const checkouts = SMOKE ? 2_000 : arg('checkouts', 1_000_000);
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
// Connect and acquire timeouts far above the drivers' defaults (1 s / 10 s): on a loaded machine a
// connect can take longer than a second, the pool then stays below its limit, and a caller queued
// behind ones that take the freed connection first gives up (seen at load 25, in bare as in guarded).
const server = { host: '127.0.0.1', user: 'root', database: 'test', connectionLimit: 10, connectTimeout: 60_000, acquireTimeout: 120_000 };

const DRIVERS = {
  mysql: {
    bare: () => mysql.createPool(server),
    guarded: (guard) => guardedMysql({ ...server, guard: { logger: false, ...guard } }),
    query: (pool) => new Promise((resolve, reject) => pool.query('SELECT 1', (err) => (err ? reject(err) : resolve()))),
    checkout: (pool) => new Promise((resolve, reject) => pool.getConnection((err, c) => (err ? reject(err) : resolve(c)))),
    end: (pool) => new Promise((resolve) => pool.end(resolve)),
  },
  mariadb: {
    bare: () => mariadb.createPool(server),
    guarded: (guard) => guardedMariadb({ ...server, guard: { logger: false, ...guard } }),
    query: (pool) => pool.query('SELECT 1'),
    checkout: (pool) => pool.getConnection(),
    end: (pool) => pool.end(),
  },
};

const heapMb = () => {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};

async function memory(d) {
  const pool = d.guarded({ name: 'bench-memory' });
  const marks = [];
  let done = 0;
  const step = checkouts / 4;
  const worker = async (limit) => {
    while (done < limit) {
      done++;
      const c = await d.checkout(pool);
      await c.release();
    }
  };
  for (let i = 0; i <= 4; i++) {
    if (i > 0) await Promise.all(Array.from({ length: 10 }, () => worker(step * i)));
    marks.push(`${(step * i).toLocaleString('en')}: ${heapMb().toFixed(1)} MB`);
  }
  const leased = pool.guard.snapshot().counts.leased;
  await d.end(pool);
  return `heap after GC over ${checkouts.toLocaleString('en')} getConnection + release (guarded, defaults, 10 callers): ${marks.join(', ')}; leases open at the end: ${leased}.`;
}

export async function run() {
  const parts = [];
  for (const [name, d] of Object.entries(DRIVERS)) {
    if (only !== undefined && only !== name) continue;
    const list = [
      { name: `bare ${name}`, pool: d.bare() },
      { name: `poolguard/${name}, defaults`, pool: d.guarded({ name: `bench-${name}` }) },
    ];
    const both = await interleaved(list, (x) => rateAndCpu(() => d.query(x.pool), 32, seconds), { rounds });
    await Promise.all(list.map((x) => d.end(x.pool)));
    const pick = (key) => new Map([...both].map(([variant, xs]) => [variant, xs.map((x) => x[key])]));
    parts.push(`**${name}**: pool.query('SELECT 1') at concurrency 32, pool of 10: queries per second (higher is better), ${rounds} rounds × ${seconds} s. Target ≥ 0.95× of bare.\n\n${table(pick('rate'), { unit: 'q/s', baseline: `bare ${name}`, higherIsBetter: true, digits: 0 })}`);
    parts.push(`**${name}**: the same rounds, this process's CPU per query (µs, lower is better; the server's time is not in it, and a busy machine moves it far less than the rate).\n\n${table(pick('cpu'), { unit: 'µs', baseline: `bare ${name}`, digits: 1 })}`);
    parts.push(`**${name}**: ${await memory(d)}`);
  }
  return { title: 'mysql and the MariaDB connector beside their bare pools (MariaDB)', body: parts.join('\n\n') };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await run()).body);

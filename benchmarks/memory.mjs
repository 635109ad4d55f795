// 3. Memory: heap after garbage collection every 250,000 checkouts up to 1,000,000, with no leaks,
// and with a steady number of reported leaks held open, for pg and for mysql2 (MariaDB at
// MYSQL_URL). It must stay flat. Then the bytes poolguard keeps per held lease: generic-pool (in
// memory, no driver) and mysql2.
// Run: npm run build && node --expose-gc benchmarks/memory.mjs [--checkouts 1000000] [--held 40]
import genericPool from 'generic-pool';
import mysql from 'mysql2';
import { createPool as createGenericPool } from 'poolguard/generic-pool';
import { Pool } from 'poolguard/pg';
import { createPool } from 'poolguard/mysql2';
import { SMOKE, arg, url } from './lib.mjs';

const mysqlUrl = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const heldCount = SMOKE ? 5 : arg('held', 25);

const total = SMOKE ? 2_000 : arg('checkouts', 1_000_000);
const step = total / 4;
const gc = globalThis.gc ?? (() => {
  throw new Error('run with node --expose-gc');
});

const heapMB = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
/** mysql2's callback getConnection as a promise (the pg pool's connect() already is one). */
const getConnection = (pool) => new Promise((resolve, reject) => pool.getConnection((err, c) => (err ? reject(err) : resolve(c))));
const checkout = (pool) => (typeof pool.connect === 'function' ? pool.connect() : getConnection(pool));
const endPool = (pool) => new Promise((resolve, reject) => (typeof pool.connect === 'function' ? pool.end().then(resolve, reject) : pool.end((err) => (err ? reject(err) : resolve()))));

async function heapCurve(pool, label) {
  const points = [heapMB()];
  for (let done = 0; done < total; done += step) {
    for (let i = 0; i < step; i++) {
      const c = await checkout(pool);
      c.release();
    }
    points.push(heapMB());
  }
  return `| ${label} | ${points.map((p) => p.toFixed(2)).join(' | ')} | ${(points.at(-1) - points[1]).toFixed(2)} MB |`;
}

async function curves(makePool, driver) {
  const plain = makePool({ logger: false, name: `memory-${driver}` });
  const rowA = await heapCurve(plain, `${driver}, no leaks`);
  await endPool(plain);

  const leaky = makePool({ logger: false, name: `memory-${driver}-leaky`, leakThresholdMs: 20 });
  const held = [];
  for (let i = 0; i < 5; i++) held.push(await checkout(leaky));
  await new Promise((r) => setTimeout(r, 100));
  const reported = leaky.guard.snapshot().totals.leaks;
  const rowB = await heapCurve(leaky, `${driver}, 5 reported leaks held open (${reported} reported)`);
  held.forEach((c) => c.release());
  await endPool(leaky);
  return [rowA, rowB];
}

/**
 * Heap grown by leasing all `heldCount` connections of a warm pool (each already opened, leased and
 * released once), from the same connections idle: for poolguard, one lease and its captured stack
 * each; bare mysql2 beside it, in the same process, as the control.
 */
async function heldGrowth(pool) {
  const held = [];
  const idle = heapMB();
  for (let i = 0; i < heldCount; i++) held.push(await getConnection(pool));
  const whileHeld = heapMB();
  held.forEach((c) => c.release());
  await new Promise((r) => setTimeout(r, 10));
  return ((whileHeld - idle) * 2 ** 20) / heldCount;
}

/**
 * Bytes of heap per lease held open, on generic-pool with an in-memory factory (no driver): the
 * lease record, its capture (live frames until formatted), and the pool's own bookkeeping.
 */
async function bytesPerHeldLease(make, held) {
  const factory = { create: async () => ({}), destroy: async () => {} };
  const pool = make(factory, { max: held, min: 0 });
  // Every resource created once, so that the measured step holds leases, not new resources.
  const warm = [];
  for (let i = 0; i < held; i++) warm.push(await pool.acquire());
  for (const r of warm) await pool.release(r);
  const take = async () => pool.acquire();
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const leases = [];
  for (let i = 0; i < held; i++) leases.push(await take());
  // Leases past the threshold are reported once, and keep only their formatted stacks from then on.
  if (pool.guard?.snapshot) await new Promise((r) => setTimeout(r, 150));
  gc();
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / held;
  for (const r of leases) await pool.release(r);
  await pool.drain();
  await pool.clear();
  return bytes;
}

async function heldLeaseTable() {
  const held = SMOKE ? 200 : 2_000;
  const rows = [
    ['bare generic-pool', (f, o) => genericPool.createPool(f, o)],
    ['poolguard defaults (held, unreported: live capture)', (f, o) => createGenericPool(f, { ...o, guard: { logger: false } })],
    ['poolguard, stacks off', (f, o) => createGenericPool(f, { ...o, guard: { logger: false, captureStacks: 'none' } })],
    ['poolguard defaults, reported (formatted stack kept)', (f, o) => createGenericPool(f, { ...o, guard: { logger: false, leakThresholdMs: 50 } })],
  ];
  const lines = [];
  for (const [label, make] of rows) {
    const samples = [];
    for (let i = 0; i < 3; i++) samples.push(await bytesPerHeldLease(make, held));
    samples.sort((a, b) => a - b);
    lines.push(`| ${label} | ${Math.round(samples[1])} |`);
  }
  return `Bytes of heap per held lease (${held} held, generic-pool in-memory factory, median of 3):\n\n| variant | bytes per held lease |\n|---|---|\n${lines.join('\n')}`;
}

export async function run() {
  const genericTable = await heldLeaseTable();
  const pgRows = await curves((guard) => new Pool({ connectionString: url, max: 10, guard }), 'pg');
  const mysqlRows = await curves((guard) => createPool({ uri: mysqlUrl, connectionLimit: 10, guard }), 'mysql2');
  const rounds = SMOKE ? 1 : 5;
  const barePool = mysql.createPool({ uri: mysqlUrl, connectionLimit: heldCount });
  const guardedPool = createPool({ uri: mysqlUrl, connectionLimit: heldCount, guard: { logger: false, name: 'memory-mysql2-held' } });
  const bare = [];
  const guarded = [];
  // Round 0 is warm-up: it opens every connection and builds what mysql2 and V8 build once.
  for (let i = 0; i <= rounds; i++) {
    const b = await heldGrowth(barePool);
    const g = await heldGrowth(guardedPool);
    if (i > 0) bare.push(b), guarded.push(g);
  }
  await Promise.all([endPool(barePool), endPool(guardedPool)]);
  const med = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
  const perLease = `mysql2, all ${heldCount} connections of a warm pool leased, heap after GC grown from the same connections idle, median of ${rounds}: bare mysql2 ${med(bare).toFixed(0)} bytes per held connection; poolguard/mysql2 (defaults: one stack per getConnection) ${med(guarded).toFixed(0)} bytes per held lease.`;

  const cols = [0, 1, 2, 3, 4].map((i) => `${((i * step) / 1_000).toFixed(0)}k`);
  return {
    title: `Memory over ${total.toLocaleString('en')} checkouts (heap MB after GC)`,
    body: `| run | ${cols.join(' | ')} | growth after the first step |\n|---|${cols.map(() => '---|').join('')}---|\n${[...pgRows, ...mysqlRows].join('\n')}\n\n${genericTable}\n\n${perLease}`,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await run()).body);

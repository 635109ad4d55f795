// 3. Memory: heap after garbage collection every 250,000 checkouts up to 1,000,000, with no leaks,
// and with a steady number of reported leaks held open. It must stay flat.
// Run: npm run build && node --expose-gc benchmarks/memory.mjs [--checkouts 1000000]
import genericPool from 'generic-pool';
import { Pool } from 'poolguard/pg';
import { createPool } from 'poolguard/generic-pool';
import { SMOKE, arg, url } from './lib.mjs';

const total = SMOKE ? 2_000 : arg('checkouts', 1_000_000);
const step = total / 4;
const gc = globalThis.gc ?? (() => {
  throw new Error('run with node --expose-gc');
});

async function heapCurve(pool, label) {
  const points = [];
  const sample = () => {
    gc();
    gc();
    points.push(process.memoryUsage().heapUsed / 2 ** 20);
  };
  sample();
  for (let done = 0; done < total; done += step) {
    for (let i = 0; i < step; i++) {
      const c = await pool.connect();
      c.release();
    }
    sample();
  }
  return `| ${label} | ${points.map((p) => p.toFixed(2)).join(' | ')} | ${(points.at(-1) - points[1]).toFixed(2)} MB |`;
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
    ['poolguard defaults (held, unreported: live capture)', (f, o) => createPool(f, { ...o, guard: { logger: false } })],
    ['poolguard, stacks off', (f, o) => createPool(f, { ...o, guard: { logger: false, captureStacks: 'none' } })],
    ['poolguard defaults, reported (formatted stack kept)', (f, o) => createPool(f, { ...o, guard: { logger: false, leakThresholdMs: 50 } })],
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
  const perLease = await heldLeaseTable();
  const plain = new Pool({ connectionString: url, max: 10, guard: { logger: false } });
  const rowA = await heapCurve(plain, 'no leaks');
  await plain.end();

  const leaky = new Pool({ connectionString: url, max: 10, guard: { logger: false, leakThresholdMs: 20 } });
  const held = [];
  for (let i = 0; i < 5; i++) held.push(await leaky.connect());
  await new Promise((r) => setTimeout(r, 100));
  const reported = leaky.guard.snapshot().totals.leaks;
  const rowB = await heapCurve(leaky, `5 reported leaks held open (${reported} reported)`);
  held.forEach((c) => c.release());
  await leaky.end();

  const cols = [0, 1, 2, 3, 4].map((i) => `${((i * step) / 1_000).toFixed(0)}k`);
  return {
    title: `Memory over ${total.toLocaleString('en')} checkouts (heap MB after GC)`,
    body: `| run | ${cols.join(' | ')} | growth after the first step |\n|---|${cols.map(() => '---|').join('')}---|\n${rowA}\n${rowB}\n\n${perLease}`,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await run()).body);

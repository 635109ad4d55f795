// 3. Memory: heap after garbage collection every 250,000 checkouts up to 1,000,000, with no leaks,
// and with a steady number of reported leaks held open. It must stay flat.
// Run: npm run build && node --expose-gc benchmarks/memory.mjs [--checkouts 1000000]
import { Pool } from 'poolguard/pg';
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

export async function run() {
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
    body: `| run | ${cols.join(' | ')} | growth after the first step |\n|---|${cols.map(() => '---|').join('')}---|\n${rowA}\n${rowB}`,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await run()).body);

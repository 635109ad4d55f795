// 2. pool.query('SELECT 1') throughput at concurrency 1 and 32 against the local server, pool max
// 10, with p50/p99 latency.
// Run: npm run build && node benchmarks/query-throughput.mjs [--rounds 5] [--seconds 2]
import { SMOKE, arg, interleaved, median, table } from './lib.mjs';
import { variants } from './variants.mjs';

const rounds = SMOKE ? 1 : arg('rounds', 5);
const seconds = SMOKE ? 0.2 : arg('seconds', 2);

async function throughput(pool, concurrency, latencies) {
  const deadline = performance.now() + seconds * 1_000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      const t = performance.now();
      await pool.query('SELECT 1');
      latencies.push(performance.now() - t);
      done++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done / ((performance.now() - start) / 1_000);
}

const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

export async function run() {
  const parts = [];
  for (const concurrency of [1, 32]) {
    const v = variants({ max: 10 });
    const latencies = new Map(v.list.map((x) => [x.name, []]));
    const results = await interleaved(v.list, (x) => throughput(x.pool, concurrency, latencies.get(x.name)), { rounds });
    await v.end();
    const extra = {};
    for (const [name, xs] of latencies) extra[name] = `(p50 ${percentile(xs, 50).toFixed(3)} ms, p99 ${percentile(xs, 99).toFixed(3)} ms)`;
    if (concurrency === 32) extra['poolguard, defaults + SDK'] += ' (target ≥ 0.95×)';
    parts.push(`Concurrency ${concurrency}: queries per second (higher is better), ${rounds} rounds × ${seconds} s.\n\n${table(results, { unit: 'q/s', baseline: 'bare pg.Pool', higherIsBetter: true, digits: 0, extra })}`);
  }
  return { title: "pool.query('SELECT 1') throughput (max 10)", body: parts.join('\n\n') };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await run()).body);

// 2. pool.query('SELECT 1') throughput at concurrency 1 and 32 against the local server, pool max
// 10, with p50/p99 latency.
// Run: npm run build && node benchmarks/query-throughput.mjs [--rounds 5] [--seconds 2]
import { SMOKE, arg, interleaved, median, table } from './lib.mjs';
import { sdk, variants } from './variants.mjs';

// The two histograms a pooled query records (wait_time at grant, use_time at release), on a real
// SDK meter of their own, around bare pg's pool.query: what any instrumentation that records them
// per query must pay. The SDK's record hashes its attribute set on every call.
const floorTelemetry = sdk();
const floorHistogram = floorTelemetry.meterProvider.getMeter('bound').createHistogram('bound.duration', { unit: 's' });
const floorAttributes = { 'db.client.connection.pool.name': 'bound' };
const BOUND = 'bare + two SDK histogram records per query (the bound with an SDK)';

const rounds = SMOKE ? 1 : arg('rounds', 5);
const seconds = SMOKE ? 0.2 : arg('seconds', 2);

async function throughput(pool, concurrency, latencies, histograms = false) {
  const deadline = performance.now() + seconds * 1_000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      const t = performance.now();
      if (histograms) floorHistogram.record(1e-6, floorAttributes);
      await pool.query('SELECT 1');
      if (histograms) floorHistogram.record(1e-6, floorAttributes);
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
    const list = [...v.list, { name: BOUND, pool: v.list[0].pool, histograms: true }];
    const latencies = new Map(list.map((x) => [x.name, []]));
    const results = await interleaved(list, (x) => throughput(x.pool, concurrency, latencies.get(x.name), x.histograms), { rounds });
    await v.end();
    const extra = {};
    for (const [name, xs] of latencies) extra[name] = `(p50 ${percentile(xs, 50).toFixed(3)} ms, p99 ${percentile(xs, 99).toFixed(3)} ms)`;
    if (concurrency === 32) {
      const bareQps = median(results.get('bare pg.Pool'));
      const boundRatio = median(results.get(BOUND)) / bareQps;
      extra['poolguard, defaults + SDK'] += ` (target ≥ 0.95×; bare + the SDK's two records alone: ${boundRatio.toFixed(2)}×)`;
    }
    parts.push(`Concurrency ${concurrency}: queries per second (higher is better), ${rounds} rounds × ${seconds} s.\n\n${table(results, { unit: 'q/s', baseline: 'bare pg.Pool', higherIsBetter: true, digits: 0, extra })}`);
  }
  await floorTelemetry.shutdown();
  return { title: "pool.query('SELECT 1') throughput (max 10)", body: parts.join('\n\n') };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await run()).body);

// Checkout + release on a warm pool (no query): bare pg.Pool beside poolguard, interleaved in one
// process, median of several rounds, ratios to bare. Also measures one Error.captureStackTrace to
// print the physical bound for "a stack on every checkout": bare ÷ (bare + capture).
// Run: npm run build && node benchmarks/checkout-release.mjs [rounds] [iterations]
import pg from 'pg';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { Pool } from 'poolguard/pg';

// A real SDK meter provider (collected on demand, never exported): the cost of recording.
class Reader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}
const meterProvider = new MeterProvider({ readers: [new Reader()] });

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const rounds = Number(process.argv[2] ?? 7);
const iterations = Number(process.argv[3] ?? 200_000);

const variants = {
  'bare pg.Pool': new pg.Pool({ connectionString: url, max: 10 }),
  'poolguard defaults': new Pool({ connectionString: url, max: 10, guard: { logger: false } }),
  'poolguard, stacks off': new Pool({ connectionString: url, max: 10, guard: { logger: false, captureStacks: 'none' } }),
  'poolguard, telemetry off': new Pool({ connectionString: url, max: 10, guard: { logger: false, telemetry: 'off' } }),
  'poolguard + SDK metrics': new Pool({ connectionString: url, max: 10, guard: { logger: false, meterProvider } }),
};

async function checkoutRelease(pool, n, withCapture = false) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    if (withCapture) {
      // The physical bound measured in place: bare pg.Pool plus one capture, in the same async context.
      const holder = {};
      Error.captureStackTrace(holder, checkoutRelease);
    }
    const c = await pool.connect();
    c.release();
  }
  return Number(process.hrtime.bigint() - start) / n / 1_000; // µs per op
}

function captureCost(n) {
  function caller() {
    const holder = {};
    Error.captureStackTrace(holder, caller);
    return holder;
  }
  let keep;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) keep = caller();
  void keep;
  return Number(process.hrtime.bigint() - start) / n / 1_000;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
const captures = [];

for (const pool of Object.values(variants)) await checkoutRelease(pool, 20_000); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const [name, pool] of Object.entries(variants)) results[name].push(await checkoutRelease(pool, iterations));
  captures.push(captureCost(iterations));
  results['bare + one capture (bound)'] ??= [];
  results['bare + one capture (bound)'].push(await checkoutRelease(variants['bare pg.Pool'], iterations, true));
}

const bare = median(results['bare pg.Pool']);
const capture = median(captures);
const bound = bare / median(results['bare + one capture (bound)']);
console.log(`checkout+release, ${rounds} rounds × ${iterations} ops, Node ${process.version}`);
console.log(`one Error.captureStackTrace in a sync loop: ${capture.toFixed(3)} µs; physical bound measured in place (bare ÷ bare-with-one-capture) = ${bound.toFixed(3)}×`);
for (const [name, xs] of Object.entries(results)) {
  const m = median(xs);
  const ratio = bare / m;
  const spread = `${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}`;
  const vsBound = name === 'poolguard defaults' ? `, ${((ratio / bound) * 100).toFixed(0)} % of bound` : '';
  console.log(`${name.padEnd(24)} ${m.toFixed(3)} µs (spread ${spread})  ${ratio.toFixed(2)}× bare${vsBound}`);
}
await Promise.all(Object.values(variants).map((p) => p.end()));

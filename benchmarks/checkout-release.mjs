// 1. Checkout + release on a warm pool (connect() then release(), no query). Also prints the
// physical bound for "a stack on every checkout": bare ÷ (bare + one Error.captureStackTrace),
// both measured here, the capture inside the same async loop as the checkouts.
// Run: npm run build && node benchmarks/checkout-release.mjs [--rounds 7] [--ops 100000]
import { SMOKE, arg, interleaved, median, table } from './lib.mjs';
import { sdk, variants } from './variants.mjs';

// The two histograms a checkout records (wait_time at grant, use_time at release), on a real SDK
// meter of their own: what any instrumentation that records them per checkout must pay.
const floorTelemetry = sdk();
const floorHistogram = floorTelemetry.meterProvider.getMeter('bound').createHistogram('bound.duration', { unit: 's' });
const floorAttributes = { 'db.client.connection.pool.name': 'bound' };

const rounds = SMOKE ? 1 : arg('rounds', 7);
const ops = SMOKE ? 200 : arg('ops', 100_000);

// One capture from inside a function the loop calls, skipping only that function: the same frames
// (the loop and its async callers) that poolguard captures above its connect().
function captureHere() {
  const holder = {};
  Error.captureStackTrace(holder, captureHere);
  return holder;
}

// The two clock readings any leak detector with wait times makes per checkout (at the request and
// at the grant), as poolguard reads them: on a VM's kvm-clock each costs tens of nanoseconds.
let clockSink = 0;

async function checkoutRelease(pool, n, { capture = false, histograms = false, clock = false } = {}) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    if (capture) captureHere();
    if (clock) clockSink += performance.now();
    const c = await pool.connect();
    if (clock) clockSink += performance.now();
    if (histograms) floorHistogram.record(1e-6, floorAttributes);
    c.release();
    if (histograms) floorHistogram.record(1e-6, floorAttributes);
  }
  return Number(process.hrtime.bigint() - start) / n / 1_000;
}

export async function run() {
  const v = variants({ max: 10 });
  const bare = v.list[0];
  const list = [
    ...v.list,
    { name: 'bare + one stack capture (the bound)', pool: bare.pool, capture: true },
    { name: 'bare + one capture + two SDK histogram records (the bound with an SDK)', pool: bare.pool, capture: true, histograms: true },
    { name: 'bare + two clock reads (what stacks off cannot skip)', pool: bare.pool, clock: true },
  ];
  const results = await interleaved(list, (x) => checkoutRelease(x.pool, ops, x), { rounds });
  await v.end();
  await floorTelemetry.shutdown();
  const bareUs = median(results.get('bare pg.Pool'));
  const bound = bareUs / median(results.get('bare + one stack capture (the bound)'));
  const defaultsSdk = bareUs / median(results.get('poolguard, defaults + SDK'));
  const boundSdk = bareUs / median(results.get('bare + one capture + two SDK histogram records (the bound with an SDK)'));
  const extra = {
    'poolguard, defaults + SDK': `(${((defaultsSdk / bound) * 100).toFixed(0)} % of the bound, target ≥ 85 %; ${((defaultsSdk / boundSdk) * 100).toFixed(0)} % of the bound with an SDK)`,
    'poolguard, defaults, no SDK': `(${(((bareUs / median(results.get('poolguard, defaults, no SDK'))) / bound) * 100).toFixed(0)} % of the bound)`,
    'poolguard, stacks off': `(target ≥ 0.8×; ${((bareUs / median(results.get('poolguard, stacks off')) / (bareUs / median(results.get('bare + two clock reads (what stacks off cannot skip)')))) * 100).toFixed(0)} % of bare + two clock reads)`,
  };
  return {
    title: 'Checkout + release (warm pool, max 10, no query)',
    body: `${rounds} rounds × ${ops} checkouts, µs per checkout+release (lower is better). Physical bound: ${bound.toFixed(3)}×; with an SDK's two histogram records per checkout: ${boundSdk.toFixed(3)}×.\n\n${table(results, { unit: 'µs', baseline: 'bare pg.Pool', extra })}`,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await run()).body);

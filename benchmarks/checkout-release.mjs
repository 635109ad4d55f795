// 1. Checkout + release on a warm pool (connect() then release(), no query). Also prints the
// physical bound for "a stack on every checkout": bare ÷ (bare + one Error.captureStackTrace),
// both measured here, the capture taken where poolguard takes it: in a `connect` that the loop
// calls in place of pg-pool's, skipping that frame (see boundPool).
// Run: npm run build && node benchmarks/checkout-release.mjs [--rounds 7] [--ops 100000]
import { BoundPool, SMOKE, arg, interleaved, median, table, url } from './lib.mjs';
import { sdk, variants } from './variants.mjs';

// The two histograms a checkout records (wait_time at grant, use_time at release), on a real SDK
// meter of their own: what any instrumentation that records them per checkout must pay.
const floorTelemetry = sdk();
const floorHistogram = floorTelemetry.meterProvider.getMeter('bound').createHistogram('bound.duration', { unit: 's' });
const floorAttributes = { 'db.client.connection.pool.name': 'bound' };

const rounds = SMOKE ? 1 : arg('rounds', 7);
const ops = SMOKE ? 200 : arg('ops', 100_000);

// The bound's pool: see BoundPool in lib.mjs.
export function boundPool(options) {
  return new BoundPool({ connectionString: url, max: 10, ...options });
}

// The one clock reading a leak detector must make per checkout (when the lease was taken), as
// poolguard reads it; a checkout that waits for a connection reads it once more, at the grant.
// On a VM's kvm-clock a reading costs 100-200 ns in this loop.
let clockSink = 0;

async function checkoutRelease(pool, n, { histograms = false, clock = false } = {}) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    if (clock) clockSink += performance.now();
    const c = await pool.connect();
    if (histograms) floorHistogram.record(1e-6, floorAttributes);
    c.release();
    if (histograms) floorHistogram.record(1e-6, floorAttributes);
  }
  return Number(process.hrtime.bigint() - start) / n / 1_000;
}

export async function run() {
  // Head to head first, while the process has run no other pool configuration: five
  // configurations side by side make the code they share (pg-pool's, poolguard's) polymorphic, which
  // costs the lightest variant about 3 % (measured: stacks off 0.80x alone against bare, 0.78x
  // beside the SDK variant). A service runs one configuration; the full table follows.
  const pair = variants({ max: 10 }, ['bare pg.Pool', 'poolguard, stacks off']);
  const pairList = [...pair.list, { name: 'bare + one clock read (what stacks off cannot skip)', pool: pair.list[0].pool, clock: true }];
  const head = await interleaved(pairList, (x) => checkoutRelease(x.pool, ops, x), { rounds });
  await pair.end();
  const headBare = median(head.get('bare pg.Pool'));
  const headOff = headBare / median(head.get('poolguard, stacks off'));
  const headClock = headBare / median(head.get('bare + one clock read (what stacks off cannot skip)'));

  const v = variants({ max: 10 });
  const bare = v.list[0];
  const bound1 = boundPool({ max: 10 });
  const list = [
    ...v.list,
    { name: 'bare + one stack capture in its connect (the bound)', pool: bound1 },
    { name: 'bare + one capture + two SDK histogram records (the bound with an SDK)', pool: bound1, histograms: true },
    { name: 'bare + one clock read (what stacks off cannot skip)', pool: bare.pool, clock: true },
  ];
  const results = await interleaved(list, (x) => checkoutRelease(x.pool, ops, x), { rounds });
  await v.end();
  await bound1.end();
  await floorTelemetry.shutdown();
  const bareUs = median(results.get('bare pg.Pool'));
  const bound = bareUs / median(results.get('bare + one stack capture in its connect (the bound)'));
  const defaultsSdk = bareUs / median(results.get('poolguard, defaults + SDK'));
  const boundSdk = bareUs / median(results.get('bare + one capture + two SDK histogram records (the bound with an SDK)'));
  const extra = {
    'poolguard, defaults + SDK': `(${((defaultsSdk / bound) * 100).toFixed(0)} % of the bound, target ≥ 85 %; ${((defaultsSdk / boundSdk) * 100).toFixed(0)} % of the bound with an SDK)`,
    'poolguard, defaults, no SDK': `(${(((bareUs / median(results.get('poolguard, defaults, no SDK'))) / bound) * 100).toFixed(0)} % of the bound)`,
    "poolguard, captureStacks 'connect'": `(${(((bareUs / median(results.get("poolguard, captureStacks 'connect'"))) / bound) * 100).toFixed(0)} % of the bound)`,
    'poolguard, stacks off': `(target ≥ 0.8×: ${headOff.toFixed(2)}× head to head, above; ${((bareUs / median(results.get('poolguard, stacks off')) / (bareUs / median(results.get('bare + one clock read (what stacks off cannot skip)')))) * 100).toFixed(0)} % of bare + one clock read)`,
  };
  return {
    title: 'Checkout + release (warm pool, max 10, no query)',
    body:
      `${rounds} rounds × ${ops} checkouts, µs per checkout+release (lower is better).\n\n` +
      `Head to head, first in the process (one pool configuration, as in a service):\n\n` +
      `${table(head, { unit: 'µs', baseline: 'bare pg.Pool', extra: { 'poolguard, stacks off': `(target ≥ 0.8×; ${((headOff / headClock) * 100).toFixed(0)} % of bare + one clock read)` } })}\n\n` +
      `All variants, interleaved in the same process. Physical bound (bare pg.Pool whose connect takes one capture in its own frame, as poolguard's does): ${bound.toFixed(3)}×; with an SDK's two histogram records per checkout: ${boundSdk.toFixed(3)}×.\n\n` +
      `${table(results, { unit: 'µs', baseline: 'bare pg.Pool', extra })}`,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await run()).body);

// Capture policy: how soon each captureStacks mode names the demo's leaking line, across seeds.
// The demo's traffic is simulated in-process on a virtual clock, through poolguard's real core
// (the same GuardCore the adapters drive): 40 requests/s on a fixed schedule, the demo's route mix
// and product choice from a seeded generator (demo/load.mjs), POST /orders checking out with
// connect() and leaking when the product is out of stock (1 in 8), pool.query() for the other
// routes; pool max 10, guard options as the demo's (leakThresholdMs 1000, idleAfterMs 300,
// reclaimAfterMs 4000). A request that finds no free connection fails (the demo's 1 s timeout).
// Time to culprit: from the first leaked checkout to the first leak or reclaim report that names a
// site. Capture share: stacks captured per explicit checkout (what the policy costs, times the
// capture's 3.4–4.3 µs).
// Run: npm run build && node benchmarks/capture-policy.mjs [--seeds 200] [--seconds 60]
import { GuardCore } from '../dist/esm/core/guard.js';
import { resolveGuardConfig } from '../dist/esm/core/config.js';
import { random, pick } from '../demo/load.mjs';
import { PRODUCTS, isOutOfStock } from '../demo/service.mjs';
import { SMOKE, arg, median } from './lib.mjs';

const SEEDS = SMOKE ? 5 : arg('seeds', 200);
const SECONDS = SMOKE ? 20 : arg('seconds', 60);
const RATE = 40;
const MAX = 10;
/** A virtual clock: the core's scan timer and the simulation's events share one timeline. */
class VirtualClock {
  now_ = 0;
  timers = new Map();
  nextId = 1;
  now() {
    return this.now_;
  }
  wallTime(m) {
    return m;
  }
  setInterval(fn, ms) {
    const id = this.nextId++;
    this.timers.set(id, { fn, every: ms, due: this.now_ + ms });
    return id;
  }
  clearInterval(id) {
    this.timers.delete(id);
  }
  advanceTo(end) {
    for (;;) {
      let next;
      for (const [id, t] of this.timers) if (t.due <= end && (next === undefined || t.due < next.t.due)) next = { id, t };
      if (next === undefined) break;
      this.now_ = next.t.due;
      next.t.due += next.t.every;
      next.t.fn();
    }
    this.now_ = end;
  }
}

function simulate(seed, guardOptions, leaks = true, started = false) {
  const clock = new VirtualClock();
  const free = [];
  const busy = new Set();
  const hooks = {
    recordOf: () => undefined,
    inFlight: () => false,
    reclaim: (lease) => {
      // The pool replaces a reclaimed connection.
      busy.delete(lease.conn);
      free.push(core.connectionOpened({}));
    },
    counts: () => ({ total: MAX, idle: free.length, waiting: 0, max: MAX, min: 0 }),
  };
  const config = resolveGuardConfig({ logger: false, leakThresholdMs: 1_000, idleAfterMs: 300, reclaimAfterMs: 4_000, ...guardOptions }, 'shop-db');
  const core = new GuardCore(config, hooks, clock);
  for (let i = 0; i < MAX; i++) free.push(core.connectionOpened({}));
  let firstLeakAt;
  let namedAt;
  const onReport = (r) => {
    if (namedAt === undefined && r.site !== undefined) namedAt = clock.now();
  };
  core.handle.on('leak', onReport);
  core.handle.on('reclaim', onReport);
  // A service that has run a while: 'adaptive' captures a pool's first 1,000 explicit checkouts
  // (its start), so a leak in a long-running service meets the sampled policy.
  if (started) {
    const record = free.pop();
    for (let i = 0; i < 1_000; i++) {
      const capture = core.prepareCapture();
      if (capture !== undefined) Error.captureStackTrace(capture);
      const lease = core.checkoutRequested('connect', capture);
      core.checkoutGranted(lease, record);
      core.released(lease, simulate, 'released twice');
    }
    free.push(record);
  }
  let explicit = 0;
  let captured = 0;
  const releases = []; // [at, lease], kept sorted by time
  const schedule = (at, lease) => {
    let i = releases.length;
    while (i > 0 && releases[i - 1][0] > at) i--;
    releases.splice(i, 0, [at, lease]);
  };

  // The route's own frame takes the capture, as pg's connect() does for its caller.
  function postOrder(productId) {
    const capture = core.prepareCapture();
    if (capture !== undefined) Error.captureStackTrace(capture, postOrder);
    explicit++;
    if (capture !== undefined) captured++;
    return grant(core.checkoutRequested('connect', capture), leaks && isOutOfStock(productId) ? Infinity : 8);
  }
  function query() {
    return core.runManaged(undefined, () => grant(core.checkoutRequested('connect', undefined, 'query'), 2));
  }
  function grant(lease, holdMs) {
    const record = free.pop();
    if (record === undefined) return core.checkoutFailed(lease, true);
    busy.add(record);
    core.checkoutGranted(lease, record);
    if (holdMs === Infinity) firstLeakAt ??= clock.now();
    else schedule(clock.now() + holdMs, lease);
  }

  const rand = random(seed);
  const interval = 1000 / RATE;
  for (let i = 0; i * interval < SECONDS * 1000; i++) {
    const at = i * interval;
    while (releases.length && releases[0][0] <= at) {
      const [when, lease] = releases.shift();
      clock.advanceTo(when);
      if (!lease.released && !lease.reclaimed) {
        core.released(lease, postOrder, 'released twice');
        busy.delete(lease.conn);
        free.push(lease.conn);
      }
    }
    clock.advanceTo(at);
    const route = pick(rand);
    const productId = 1 + Math.floor(rand() * PRODUCTS);
    if (route === 'POST /orders') postOrder(productId);
    else query();
  }
  return { named: namedAt !== undefined, ms: namedAt === undefined ? Infinity : namedAt - firstLeakAt, share: captured / explicit };
}

const MODES = [
  ['connect (every explicit checkout)', { captureStacks: 'connect' }],
  ["adaptive (the default), a new pool: its first 1,000 checkouts all captured", { captureStacks: 'adaptive' }],
  ['adaptive, past its start (1 in 64, every one after a quarter of the threshold)', { captureStacks: 'adaptive' }, true],
  ['connect, stackSampleRate 1/64 (plain sampling)', { captureStacks: 'connect', stackSampleRate: 1 / 64 }],
];

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};
const sec = (ms) => (ms === Infinity ? 'never' : `${(ms / 1000).toFixed(2)} s`);

export async function run() {
  const rows = [];
  for (const [label, options, started = false] of MODES) {
    const results = [];
    for (let seed = 1; seed <= SEEDS; seed++) results.push(simulate(seed, options, true, started));
    const named = results.filter((r) => r.named);
    const times = results.map((r) => r.ms);
    const mean = named.length ? named.reduce((a, r) => a + r.ms, 0) / named.length : Infinity;
    const share = median(results.map((r) => r.share));
    const healthy = median(Array.from({ length: Math.min(SEEDS, 20) }, (_, i) => simulate(i + 1, options, false, started).share));
    rows.push(
      `| ${label} | ${named.length}/${results.length} | ${sec(mean)} | ${sec(median(times))} | ${sec(pct(times, 0.9))} | ${sec(Math.max(...times))} | ${(share * 100).toFixed(1)} % | ${(healthy * 100).toFixed(1)} % |`,
    );
  }
  return {
    title: `Capture policy: time from the first leak to a report naming its line (demo traffic simulated, ${SEEDS} seeds, ${SECONDS} s each)`,
    body:
      `| captureStacks | named within ${SECONDS} s | mean (named runs) | median | p90 | worst | stacks per explicit checkout, leaking service | same, no leak |\n|---|---|---|---|---|---|---|---|\n` +
      rows.join('\n'),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { title, body } = await run();
  console.log(`${title}\n\n${body}`);
}

// 4. Scale: the cost of one checkout+release with 10, 1,000 and 10,000 leases outstanding
// (in-memory resources through the generic-pool adapter), and the leak scan with 10,000 open
// leases. The per-checkout cost must not grow with open leases.
// Run: npm run build && node benchmarks/scale.mjs
import { createPool as createBarePool } from 'generic-pool';
import { createPool } from 'poolguard/generic-pool';
import { GuardCore } from '../dist/esm/core/guard.js';
import { resolveGuardConfig } from '../dist/esm/core/config.js';
import { SMOKE, arg, interleaved, median } from './lib.mjs';

const ops = SMOKE ? 200 : arg('ops', 50_000);
const rounds = SMOKE ? 1 : arg('rounds', 5);
const factory = { create: async () => ({}), destroy: async () => {} };

async function perCheckout(pool, n) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const r = await pool.acquire();
    await pool.release(r);
  }
  return Number(process.hrtime.bigint() - start) / n / 1_000;
}

function scanCost(leases) {
  const config = resolveGuardConfig({ logger: false, leakThresholdMs: 1, idleAfterMs: 1 }, 'scan');
  let now = 0;
  const clock = { now: () => now, wallTime: (m) => m, setInterval: () => 1, clearInterval: () => {} };
  const core = new GuardCore(config, { inFlight: () => false, reclaim: () => {}, counts: () => ({ total: leases, idle: 0, waiting: 0, max: leases, min: 0 }) }, clock);
  for (let i = 0; i < leases; i++) {
    const record = core.connectionOpened({});
    const lease = core.checkoutRequested('acquire', scanCost);
    core.checkoutGranted(lease, record);
  }
  // Every lease crosses the threshold at once: each scan reports at most 100 (the rest wait for
  // the next scan), so no single scan blocks the event loop for long.
  let scans = 0;
  let longest = 0;
  let total = 0;
  now = 10;
  while (core.ledger.totals.leaks < leases) {
    const t = process.hrtime.bigint();
    core.scan();
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    longest = Math.max(longest, ms);
    total += ms;
    scans++;
    now += 1;
  }
  const t = process.hrtime.bigint();
  core.scan(); // steady state: all reported, nothing to do but walk the suspects
  const steady = Number(process.hrtime.bigint() - t) / 1e6;
  return { scans, longest, total, steady };
}

export async function run() {
  const rows = [];
  for (const open of [10, 1_000, 10_000]) {
    const guarded = createPool(factory, { max: open + 10, guard: { logger: false } });
    const bare = createBarePool(factory, { max: open + 10 });
    const heldG = [];
    const heldB = [];
    for (let i = 0; i < open; i++) {
      heldG.push(await guarded.acquire());
      heldB.push(await bare.acquire());
    }
    const results = await interleaved(
      [
        { name: 'bare', pool: bare },
        { name: 'guarded', pool: guarded },
      ],
      (x) => perCheckout(x.pool, ops),
      { rounds },
    );
    rows.push(`| ${open.toLocaleString('en')} | ${median(results.get('bare')).toFixed(3)} µs | ${median(results.get('guarded')).toFixed(3)} µs |`);
    for (const r of heldG) await guarded.release(r);
    for (const r of heldB) await bare.release(r);
    for (const p of [guarded, bare]) {
      await p.drain();
      await p.clear();
    }
  }
  const scan = scanCost(SMOKE ? 100 : 10_000);
  return {
    title: 'Scale: checkout cost against open leases, and the leak scan',
    body:
      `generic-pool adapter, in-memory resources (captureStacks default), ${rounds} rounds × ${ops} acquire+release, median µs.\n\n| open leases | bare generic-pool | poolguard |\n|---|---|---|\n${rows.join('\n')}\n\n` +
      `Leak scan with ${SMOKE ? 100 : '10,000'} open leases, all crossing the threshold at once: reported over ${scan.scans} scans (at most 100 reports each, stacks formatted), the longest scan ${scan.longest.toFixed(1)} ms, ${scan.total.toFixed(1)} ms in all; once all are reported a scan takes ${scan.steady.toFixed(3)} ms.`,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await run()).body);

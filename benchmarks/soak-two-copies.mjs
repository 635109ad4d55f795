// Soak with both module formats in one process (the dual-package hazard): poolguard's ESM build by
// import and its CommonJS build by require, each guarding and using the same pools, under load
// with leaks reclaimed, checkout timeouts, and checkouts pg fails synchronously. Counts crashes
// (uncaught exceptions, unhandled rejections), callers that never settled, and leases left in
// the ledger at the end.
// Run: npm run build && node --expose-gc benchmarks/soak-two-copies.mjs [--duration 20] [--json]
import { createRequire } from 'node:module';
import pg from 'pg';
import * as esm from 'poolguard/pg';

const require = createRequire(import.meta.url);
const cjs = require('poolguard/pg');

const args = process.argv.slice(2);
const durationS = Number(args[args.indexOf('--duration') + 1] || 20) || 20;
const asJson = args.includes('--json');
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MAX = 4;
const CALLERS = 40;
const guardOptions = { leakThresholdMs: 300, idleAfterMs: 100, reclaimAfterMs: 600, reportBusy: false, logger: false };

const crashes = [];
process.on('uncaughtException', (err) => crashes.push(`uncaughtException: ${String(err?.message ?? err).split('\n')[0]}`));
process.on('unhandledRejection', (err) => crashes.push(`unhandledRejection: ${String(err?.message ?? err).split('\n')[0]}`));

// A bare pg.Pool guarded through both copies (one handle), and a pool built by each copy.
const bare = new pg.Pool({ connectionString: url, max: MAX, connectionTimeoutMillis: 300, application_name: 'poolguard-soak-two-copies' });
const fromCjs = new cjs.Pool({ connectionString: url, max: MAX, connectionTimeoutMillis: 300, guard: { name: 'soak-two-cjs', ...guardOptions } });
const fromEsm = new esm.Pool({ connectionString: url, max: MAX, connectionTimeoutMillis: 300, guard: { name: 'soak-two-esm', ...guardOptions } });
let bareHandle, sameHandle, crossGuarded;
try {
  bareHandle = esm.guard(bare, { name: 'soak-two-bare', ...guardOptions });
  sameHandle = cjs.guard(bare, { name: 'soak-two-bare', ...guardOptions }) === bareHandle;
  crossGuarded = esm.guard(fromCjs) === fromCjs.guard && cjs.guard(fromEsm) === fromEsm.guard;
} catch (err) {
  // What a service with both formats loaded would die of at start-up.
  const result = { setupError: String(err?.message ?? err) };
  process.stdout.write(asJson ? JSON.stringify(result) : `${JSON.stringify(result, null, 2)}\n`);
  await Promise.all([bare, fromCjs, fromEsm].map((p) => p.end().catch(() => {})));
  process.exit(1);
}
// Checkouts pg fails synchronously: every one must leave the ledger.
const unparseable = new esm.Pool({ connectionString: 'postgres://postgres@127.0.0.1:notaport/test', guard: { name: 'soak-two-unparseable', logger: false } });
const pools = [bare, fromCjs, fromEsm];

const stats = { started: 0, settled: 0, ok: 0, leaks: 0, syncThrows: 0, errors: {} };
const timeoutsRecognised = { esm: 0, cjs: 0, total: 0 };
const countError = (err) => {
  if (err?.code === 'POOLGUARD_CHECKOUT_TIMEOUT') {
    timeoutsRecognised.total++;
    if (err instanceof esm.CheckoutTimeoutError) timeoutsRecognised.esm++;
    if (err instanceof cjs.CheckoutTimeoutError) timeoutsRecognised.cjs++;
  }
  const kind = err?.code ?? String(err?.message ?? err).split('\n')[0].slice(0, 60);
  stats.errors[kind] = (stats.errors[kind] ?? 0) + 1;
};

async function oneCall(pool) {
  const r = Math.random();
  if (r < 0.02) {
    // The bug: never released; reclaimed after reclaimAfterMs.
    const client = await pool.connect();
    await client.query('SELECT 1');
    stats.leaks++;
    return;
  }
  if (r < 0.04) {
    try {
      unparseable.connect(() => {});
    } catch {
      stats.syncThrows++;
    }
    return;
  }
  if (r < 0.5) {
    const client = await pool.connect();
    try {
      await client.query('SELECT 1');
    } finally {
      client.release();
    }
    return;
  }
  await pool.query('SELECT 1');
}

const deadline = Date.now() + durationS * 1_000;
const pending = new Set();
async function caller(i) {
  const pool = pools[i % pools.length];
  while (Date.now() < deadline) {
    stats.started++;
    const call = oneCall(pool).then(
      () => stats.ok++,
      (err) => countError(err),
    );
    pending.add(call);
    await call;
    pending.delete(call);
    stats.settled++;
  }
}
const started = Date.now();
await Promise.all(Array.from({ length: CALLERS }, (_, i) => caller(i)));
// Let the last leaks be reclaimed.
await new Promise((r) => setTimeout(r, 1_200));
const ledger = (handle) => {
  const s = handle.snapshot();
  return { leased: s.counts.leased, leases: s.leases.length, reclaims: s.totals.reclaims, leaks: s.totals.leaks };
};
const result = {
  durationS: Math.round((Date.now() - started) / 1_000),
  sameHandle,
  crossGuarded,
  calls: stats.started,
  settled: stats.settled,
  unsettled: stats.started - stats.settled + pending.size,
  ok: stats.ok,
  leaksInjected: stats.leaks,
  syncThrows: stats.syncThrows,
  errors: stats.errors,
  timeoutsRecognised,
  crashes,
  ledgers: {
    bare: ledger(bareHandle),
    cjs: ledger(fromCjs.guard),
    esm: ledger(fromEsm.guard),
    unparseable: ledger(unparseable.guard),
  },
};
await Promise.all(pools.map((p) => p.end().catch(() => {})));
if (asJson) process.stdout.write(JSON.stringify(result));
else console.log(JSON.stringify(result, null, 2));
const leftInLedger = Object.values(result.ledgers).reduce((n, l) => n + l.leased + l.leases, 0);
const reclaims = Object.values(result.ledgers).reduce((n, l) => n + l.reclaims, 0);
const ok =
  result.sameHandle &&
  result.crossGuarded &&
  result.crashes.length === 0 &&
  result.unsettled === 0 &&
  leftInLedger === 0 &&
  reclaims === result.leaksInjected &&
  timeoutsRecognised.esm === timeoutsRecognised.total &&
  timeoutsRecognised.cjs === timeoutsRecognised.total;
process.exit(ok ? 0 : 1);

// Soak: ten times each pool's capacity in concurrent callers against the local server, for a
// bounded time, with a share of callers that leak, some that release inside a transaction, and
// backends killed at random. Two pools, one guarded by the ESM build of poolguard and one by the
// CommonJS build, loaded side by side in this one process (as a bundle or mixed dependencies load
// them); both report to a tracer whose span processor throws at random and a meter whose
// histograms and metrics callback throw at random. Reports throughput, errors by kind, leaks
// injected vs detected, reclaims, crashes (uncaught exceptions and rejections), callers that never
// settled, leases left in the ledger, and heap and handles at start and end.
// Run: npm run build && node benchmarks/soak.mjs [--duration 60] [--json]
import { createRequire } from 'node:module';
import pg from 'pg';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { Pool as EsmPool } from 'poolguard/pg';

const { Pool: CjsPool } = createRequire(import.meta.url)('poolguard/pg');
if (CjsPool === EsmPool) throw new Error('the CommonJS build resolved to the ESM one: the soak would test one copy');

const args = process.argv.slice(2);
const durationS = Number(args[args.indexOf('--duration') + 1] || 60) || 60;
const asJson = args.includes('--json');
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const LEAK_SHARE = 0.01;
const DIRTY_SHARE = 0.02;
/** How often each broken telemetry call throws. */
const THROW_SHARE = 0.2;
const appName = `poolguard-soak-${process.pid}`;

// Crashes: what would have ended a service. Counted rather than fatal, so that the run reports.
const crashes = [];
process.on('uncaughtException', (err) => crashes.push(`uncaught: ${String(err?.stack ?? err).split('\n').slice(0, 2).join(' ')}`));
process.on('unhandledRejection', (err) => crashes.push(`unhandled rejection: ${String(err?.stack ?? err).split('\n').slice(0, 2).join(' ')}`));

// Telemetry that throws at random: a real SDK whose span processor fails in onStart, whose
// histograms fail in record(), and whose batch-callback results fail in observe().
const sometimes = (where) => {
  if (Math.random() < THROW_SHARE) throw new Error(`soak: ${where} failed on purpose`);
};
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [{ onStart: () => sometimes('onStart'), onEnd() {}, forceFlush: async () => {}, shutdown: async () => {} }],
});
class Reader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}
const reader = new Reader();
const sdkMeters = new MeterProvider({ readers: [reader] });
const meterProvider = {
  getMeter(...a) {
    const meter = sdkMeters.getMeter(...a);
    return Object.assign(Object.create(meter), {
      createHistogram(...h) {
        const histogram = meter.createHistogram(...h);
        return { record: (...r) => (sometimes('histogram.record'), histogram.record(...r)) };
      },
      addBatchObservableCallback(callback, observables) {
        meter.addBatchObservableCallback((result) => callback({ observe: (...o) => (sometimes('observe'), result.observe(...o)) }), observables);
      },
    });
  },
};
const collector = setInterval(() => reader.collect().catch(() => {}), 250);

/** One guarded pool under load: `Pool` is the ESM or the CommonJS copy's. */
function load(Pool, name, max, connectionTimeoutMillis) {
  const telemetryLines = [];
  const pool = new Pool({
    connectionString: url,
    application_name: `${appName}-${name}`,
    max,
    connectionTimeoutMillis,
    guard: {
      name,
      leakThresholdMs: 500,
      idleAfterMs: 200,
      reclaimAfterMs: 1_000,
      reportBusy: false,
      meterProvider,
      tracerProvider,
      // Only the telemetry failure lines are kept: which part failed, once per part if all is well.
      logger: { warn: (_obj, msg) => msg.includes('OpenTelemetry failed in') && telemetryLines.push(/OpenTelemetry failed in (the \w+( callback)?)/.exec(msg)[1]) },
    },
  });
  const stats = { ok: 0, started: 0, settled: 0, errors: {}, leaksInjected: 0, dirtyInjected: 0 };
  const detected = new Set();
  const invented = [];
  pool.guard.on('leak', (r) => {
    if (r.site && r.site.includes('soak.mjs') && r.stack.includes('leakyCaller')) detected.add(r.leaseId);
    else invented.push({ site: r.site, state: r.state, heldMs: r.heldMs });
  });
  const countError = (err) => {
    const kind = err.code === 'POOLGUARD_CHECKOUT_TIMEOUT' ? 'checkout timeout' : String(err.message).split('\n')[0].slice(0, 60);
    stats.errors[kind] = (stats.errors[kind] ?? 0) + 1;
  };

  async function leakyCaller() {
    const client = await pool.connect();
    stats.leaksInjected++;
    await client.query('SELECT 1');
    // the bug: never released (poolguard reclaims it after reclaimAfterMs)
  }

  async function dirtyCaller() {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1');
    } catch (err) {
      // A killed backend fails the statement: released with the error, as correct code does, so
      // that the only leaks in the soak are the injected ones (without this, a kill landing here
      // left a real leak, which poolguard rightly reported and the soak counted as invented).
      client.release(err);
      throw err;
    }
    stats.dirtyInjected++;
    client.release(); // the bug: released inside the transaction
  }

  async function caller(deadline) {
    while (Date.now() < deadline) {
      const r = Math.random();
      stats.started++;
      try {
        if (r < LEAK_SHARE) await leakyCaller();
        else if (r < LEAK_SHARE + DIRTY_SHARE) await dirtyCaller();
        else await pool.query('SELECT 1');
        stats.ok++;
      } catch (err) {
        countError(err);
      } finally {
        stats.settled++;
      }
    }
  }

  return {
    pool,
    stats,
    run: (deadline) => Promise.all(Array.from({ length: max * 10 }, () => caller(deadline))),
    result() {
      const snapshot = pool.guard.snapshot();
      return {
        callers: max * 10,
        max,
        ok: stats.ok,
        errors: stats.errors,
        unsettled: stats.started - stats.settled,
        timeouts: snapshot.totals.timeouts,
        leaksInjected: stats.leaksInjected,
        leaksDetected: detected.size,
        leaksInvented: invented.length,
        inventedSample: invented.slice(0, 3),
        reclaims: snapshot.totals.reclaims,
        dirtyInjected: stats.dirtyInjected,
        dirtyDetected: snapshot.totals.dirtyReleases,
        retired: snapshot.totals.retired,
        unhandledErrors: snapshot.totals.unhandledErrors,
        leasesLeft: snapshot.leases.length,
        telemetryFailuresLogged: telemetryLines,
        finalCounts: { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, leased: snapshot.counts.leased, ledgerConnections: snapshot.connections.length },
      };
    },
  };
}

const admin = new pg.Client({ connectionString: url });
await admin.connect();
// The second pool's short timeout makes callers time out while leaks hold its connections, so that
// the checkout-timeout path meets the broken tracer too.
const loads = [load(EsmPool, 'soak-esm', 10, 2_000), load(CjsPool, 'soak-cjs', 5, 300)];

const gc = globalThis.gc ?? (() => {});
gc();
const heapStart = process.memoryUsage().heapUsed;
const handlesStart = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
const started = Date.now();
const deadline = started + durationS * 1_000;
let killed = 0;

// Kill a random backend of either pool every 500 ms.
const killer = setInterval(async () => {
  try {
    const { rows } = await admin.query('SELECT pid FROM pg_stat_activity WHERE application_name LIKE $1 ORDER BY random() LIMIT 1', [`${appName}-%`]);
    if (rows[0]) {
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
      killed++;
    }
  } catch {
    // the admin connection is not under test
  }
}, 500);

const progress = asJson
  ? undefined
  : setInterval(() => {
      const line = loads.map(({ pool, stats }) => {
        const s = pool.guard.snapshot();
        return `${pool.guard.name} ${stats.ok} ok, ${s.counts.leased} leased, ${s.counts.waiting} waiting, ${s.totals.reclaims} reclaims`;
      });
      process.stderr.write(`soak: ${Math.round((Date.now() - started) / 1000)} s: ${line.join('; ')}\n`);
    }, 5_000);

// Every caller must settle: a checkout lost to a telemetry failure would hang here, so the wait is
// bounded (the last calls end within the checkout timeout) and what is left is counted.
const all = Promise.all(loads.map((l) => l.run(deadline)));
await Promise.race([all, new Promise((r) => setTimeout(r, durationS * 1_000 + 2_000 + 5_000).unref())]);
clearInterval(killer);
clearInterval(progress);
// Let the last injected leaks cross the threshold and be reclaimed.
await new Promise((r) => setTimeout(r, 1_500));
const elapsed = (Date.now() - started) / 1_000;
gc();
const heapEnd = process.memoryUsage().heapUsed;
const pools = Object.fromEntries(loads.map((l) => [l.pool.guard.name, l.result()]));
const sum = (key) => Object.values(pools).reduce((n, p) => n + p[key], 0);
const result = {
  durationS: Math.round(elapsed),
  throughputPerS: Math.round(sum('ok') / elapsed),
  backendsKilled: killed,
  crashes: crashes.length,
  crashSample: crashes.slice(0, 3),
  unsettled: sum('unsettled'),
  leasesLeft: sum('leasesLeft'),
  pools,
  heapStartMB: +(heapStart / 2 ** 20).toFixed(1),
  heapEndMB: +(heapEnd / 2 ** 20).toFixed(1),
  handlesStart,
  handlesEnd: -1,
};
await admin.end();
// Bounded: pg's end() waits for every checked-out client, so a lease left behind would hang here.
const ended = await Promise.race([
  Promise.all(loads.map((l) => l.pool.end().catch(() => {}))).then(() => true),
  new Promise((r) => setTimeout(r, 5_000, false).unref()),
]);
result.endedCleanly = ended;
clearInterval(collector);
await sdkMeters.shutdown();
await new Promise((r) => setTimeout(r, 100));
// Open sockets and timers after every pool closed: what the soak left behind.
result.handlesEnd = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
clearInterval(killer);
if (asJson) process.stdout.write(JSON.stringify(result));
else console.log(JSON.stringify(result, null, 2));
const each = Object.values(pools).every(
  (p) => p.leaksDetected === p.leaksInjected && p.leaksInvented === 0 && p.dirtyDetected === p.dirtyInjected && p.telemetryFailuresLogged.length <= 3,
);
const ok = each && ended && result.crashes === 0 && result.unsettled === 0 && result.leasesLeft === 0 && result.handlesEnd <= result.handlesStart;
process.exit(ok ? 0 : 1);

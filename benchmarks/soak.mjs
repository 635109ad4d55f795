// Soak: ten times each pool's capacity in concurrent callers against the local server, for a
// bounded time, with a share of callers that leak, some that release inside a transaction, and
// backends killed at random. Two pools, one guarded by the ESM build of poolguard and one by the
// CommonJS build, loaded side by side in this one process (as a bundle or mixed dependencies load
// them); both report to a tracer whose span processor throws at random and a meter whose
// histograms and metrics callback throw at random. Reports throughput, errors by kind, leaks
// injected vs detected, reclaims, crashes (uncaught exceptions and rejections), callers that never
// settled, leases left in the ledger, and heap and handles at start and end.
// Run: npm run build && node benchmarks/soak.mjs [--duration 60] [--cjs-timeout 300] [--json]
import { createRequire } from 'node:module';
import pg from 'pg';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { Pool as EsmPool } from 'poolguard/pg';

const { Pool: CjsPool } = createRequire(import.meta.url)('poolguard/pg');
if (CjsPool === EsmPool) throw new Error('the CommonJS build resolved to the ESM one: the soak would test one copy');

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) || fallback : fallback);
const durationS = option('--duration', 60);
// The CommonJS pool's connectionTimeoutMillis. 300 ms makes its callers time out while leaks hold its
// connections, so that the checkout-timeout path meets the broken tracer too; on a loaded machine it
// also fails every connect and every call (ten callers queue for each connection), so a run that
// must complete calls there gives it more.
const cjsTimeoutMs = option('--cjs-timeout', 300);
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
  // A connection error nobody listened for, which pg would have thrown out of the process and
  // poolguard reports instead (totals.unhandledErrors): a killed backend that was idle (the pool has
  // no 'error' listener) or held between queries (leakyCaller's and dirtyCaller's clients listen for
  // none). Counted by kind, so that an error of any other kind shows.
  const unhandled = [];
  const unhandledKinds = {};
  pool.guard.on('unhandledError', (r) => {
    const error = String(r.error?.message ?? r.error).split('\n')[0];
    const kind = `${r.leased ? 'leased' : 'idle'}: ${r.error?.code ?? error}`;
    unhandledKinds[kind] = (unhandledKinds[kind] ?? 0) + 1;
    unhandled.push({ leased: r.leased, site: r.site, error });
  });
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

  // The first caller injects a leak and the second a dirty release until one of each is in, then
  // both draw at random like the others: on a loaded machine a short run makes few calls (the
  // CommonJS pool's 300 ms timeout fails most of them), and a share of 1 % of 100 calls is no leak
  // at all a third of the time.
  async function caller(deadline, index) {
    while (Date.now() < deadline) {
      const r = Math.random();
      const leak = index === 0 ? stats.leaksInjected === 0 || r < LEAK_SHARE : r < LEAK_SHARE;
      const dirty = !leak && (index === 1 ? stats.dirtyInjected === 0 || r < LEAK_SHARE + DIRTY_SHARE : r < LEAK_SHARE + DIRTY_SHARE);
      stats.started++;
      try {
        if (leak) await leakyCaller();
        else if (dirty) await dirtyCaller();
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
    run: (deadline) => Promise.all(Array.from({ length: max * 10 }, (_, i) => caller(deadline, i))),
    /** Every injected leak reported and reclaimed: nothing left for the scan to find. */
    // and every connection pg dropped gone from the ledger too: pg stops counting a client when it
    // starts ending it, the ledger when its socket has closed (the server closes its side first,
    // which takes a while on a loaded machine).
    settled: () => {
      const snapshot = pool.guard.snapshot();
      return detected.size >= stats.leaksInjected && snapshot.leases.length === 0 && snapshot.connections.length === pool.totalCount;
    },
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
        unhandledKinds,
        unhandledSample: unhandled.slice(0, 3),
        leasesLeft: snapshot.leases.length,
        telemetryFailuresLogged: telemetryLines,
        finalCounts: { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, leased: snapshot.counts.leased, ledgerConnections: snapshot.connections.length },
      };
    },
  };
}

const admin = new pg.Client({ connectionString: url });
await admin.connect();
const loads = [load(EsmPool, 'soak-esm', 10, 2_000), load(CjsPool, 'soak-cjs', 5, cjsTimeoutMs)];

const gc = globalThis.gc ?? (() => {});
gc();
const heapStart = process.memoryUsage().heapUsed;
const handlesStart = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
const started = Date.now();
const deadline = started + durationS * 1_000;
let killed = 0;

// Kill a random backend of either pool every 500 ms (one kill at a time: on a loaded machine a kill
// can take longer than that).
let killing = false;
const killer = setInterval(async () => {
  if (killing) return;
  killing = true;
  try {
    const { rows } = await admin.query('SELECT pid FROM pg_stat_activity WHERE application_name LIKE $1 ORDER BY random() LIMIT 1', [`${appName}-%`]);
    if (rows[0]) {
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
      killed++;
    }
  } catch {
    // the admin connection is not under test
  } finally {
    killing = false;
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
// Let the last injected leaks cross the threshold and be reclaimed: waited for, not timed, since on
// a loaded machine the scan runs late (and decides nothing on a late run). The bound only ends a
// run in which a leak is never found, which the result then shows.
const until = async (done, boundMs) => {
  const giveUp = Date.now() + boundMs;
  while (!done() && Date.now() < giveUp) await new Promise((r) => setTimeout(r, 20));
};
await until(() => loads.every((l) => l.settled()), 15_000);
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
// Open sockets and timers after every pool closed: what the soak left behind. pg's end() resolves
// once it has asked each client to end, not once their sockets closed (each waits for the server to
// close its side, which takes a while on a loaded machine): waited for, bounded, so that only a
// socket that never closes is counted.
const handles = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
const endedAt = Date.now();
await until(() => handles().length <= handlesStart, 5_000);
const handlesLeft = handles();
result.handlesClosedAfterMs = Date.now() - endedAt;
result.handlesEnd = handlesLeft.length;
result.handlesEndKinds = handlesLeft;
clearInterval(killer);
if (asJson) process.stdout.write(JSON.stringify(result));
else console.log(JSON.stringify(result, null, 2));
const each = Object.values(pools).every(
  (p) => p.leaksDetected === p.leaksInjected && p.leaksInvented === 0 && p.dirtyDetected === p.dirtyInjected && p.telemetryFailuresLogged.length <= 3,
);
const ok = each && ended && result.crashes === 0 && result.unsettled === 0 && result.leasesLeft === 0 && result.handlesEnd <= result.handlesStart;
process.exit(ok ? 0 : 1);

// Soak: ten times the pool's capacity in concurrent callers against the local server, for a bounded
// time, with a share of callers that leak, some that release inside a transaction, and backends
// killed at random. Reports throughput, errors by kind, leaks injected vs detected, reclaims, and
// heap and handles at start and end.
// Run: npm run build && node benchmarks/soak.mjs [--duration 60] [--json]
import pg from 'pg';
import { Pool } from 'poolguard/pg';

const args = process.argv.slice(2);
const durationS = Number(args[args.indexOf('--duration') + 1] || 60) || 60;
const asJson = args.includes('--json');
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MAX = 10;
const CALLERS = MAX * 10;
const LEAK_SHARE = 0.01;
const DIRTY_SHARE = 0.02;
const appName = `poolguard-soak-${process.pid}`;

const pool = new Pool({
  connectionString: url,
  application_name: appName,
  max: MAX,
  connectionTimeoutMillis: 2_000,
  guard: { name: 'soak', leakThresholdMs: 500, idleAfterMs: 200, reclaimAfterMs: 1_000, reportBusy: false, logger: false },
});
const admin = new pg.Client({ connectionString: url });
await admin.connect();

const stats = { ok: 0, errors: {}, leaksInjected: 0, dirtyInjected: 0, killed: 0 };
const detected = new Set();
const invented = [];
pool.guard.on('leak', (r) => {
  if (r.site && r.site.includes('soak.mjs') && r.stack.includes('leakyCaller')) detected.add(r.leaseId);
  else invented.push({ site: r.site, state: r.state, heldMs: r.heldMs });
});
const injectedIds = new Set();
const countError = (err) => {
  const kind = err.code === 'POOLGUARD_CHECKOUT_TIMEOUT' ? 'checkout timeout' : String(err.message).split('\n')[0].slice(0, 60);
  stats.errors[kind] = (stats.errors[kind] ?? 0) + 1;
};

async function leakyCaller() {
  const client = await pool.connect();
  stats.leaksInjected++;
  injectedIds.add(pool.guard.snapshot().leases.at(-1)?.id);
  await client.query('SELECT 1');
  // the bug: never released (poolguard reclaims it after reclaimAfterMs)
}

async function dirtyCaller() {
  const client = await pool.connect();
  await client.query('BEGIN');
  await client.query('SELECT 1');
  stats.dirtyInjected++;
  client.release(); // the bug: released inside the transaction
}

async function goodCaller() {
  const client = await pool.connect();
  try {
    await client.query('SELECT $1::int AS n', [1]);
  } finally {
    client.release();
  }
}

const gc = globalThis.gc ?? (() => {});
gc();
const heapStart = process.memoryUsage().heapUsed;
const handlesStart = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
const started = Date.now();
const deadline = started + durationS * 1_000;

// Kill a random backend of this pool every 500 ms.
const killer = setInterval(async () => {
  try {
    const { rows } = await admin.query("SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY random() LIMIT 1", [appName]);
    if (rows[0]) {
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
      stats.killed++;
    }
  } catch {
    // the admin connection is not under test
  }
}, 500);

let progressAt = Date.now();
async function caller() {
  while (Date.now() < deadline) {
    const r = Math.random();
    try {
      if (r < LEAK_SHARE) await leakyCaller();
      else if (r < LEAK_SHARE + DIRTY_SHARE) await dirtyCaller();
      else await pool.query('SELECT 1');
      stats.ok++;
    } catch (err) {
      countError(err);
    }
    if (!asJson && Date.now() - progressAt > 5_000) {
      progressAt = Date.now();
      const s = pool.guard.snapshot();
      process.stderr.write(`soak: ${Math.round((Date.now() - started) / 1000)} s, ${stats.ok} ok, ${s.counts.leased} leased, ${s.counts.waiting} waiting, ${s.totals.reclaims} reclaims\n`);
    }
  }
}
await Promise.all(Array.from({ length: CALLERS }, caller));
clearInterval(killer);
// Let the last injected leaks cross the threshold and be reclaimed.
await new Promise((r) => setTimeout(r, 1_500));
const elapsed = (Date.now() - started) / 1_000;
gc();
const heapEnd = process.memoryUsage().heapUsed;
const snapshot = pool.guard.snapshot();
const result = {
  durationS: Math.round(elapsed),
  callers: CALLERS,
  max: MAX,
  throughputPerS: Math.round(stats.ok / elapsed),
  ok: stats.ok,
  errors: stats.errors,
  leaksInjected: stats.leaksInjected,
  leaksDetected: detected.size,
  leaksInvented: invented.length,
  inventedSample: invented.slice(0, 3),
  reclaims: snapshot.totals.reclaims,
  dirtyInjected: stats.dirtyInjected,
  dirtyDetected: snapshot.totals.dirtyReleases,
  backendsKilled: stats.killed,
  retired: snapshot.totals.retired,
  unhandledErrors: snapshot.totals.unhandledErrors,
  heapStartMB: +(heapStart / 2 ** 20).toFixed(1),
  heapEndMB: +(heapEnd / 2 ** 20).toFixed(1),
  handlesStart,
  handlesEnd: -1,
  finalCounts: { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, leased: snapshot.counts.leased, ledgerConnections: snapshot.connections.length },
};
await admin.end();
await pool.end().catch(() => {});
await new Promise((r) => setTimeout(r, 100));
// Open sockets and timers after both pools closed: what the soak left behind.
result.handlesEnd = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
if (asJson) process.stdout.write(JSON.stringify(result));
else console.log(JSON.stringify(result, null, 2));
const ok = result.leaksDetected === result.leaksInjected && result.leaksInvented === 0 && result.dirtyDetected === result.dirtyInjected && result.handlesEnd <= result.handlesStart;
process.exit(ok ? 0 : 1);

// The demo: the outage replayed twice, once with plain pg.Pool and once with poolguard, against
// the same service and the same traffic. Run: npm run demo  (DATABASE_URL: use that server instead
// of the embedded one; --help for the options).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DemoError, createEmbeddedPostgres } from './embedded-db.mjs';
import { runLoad } from './load.mjs';
import { seconds, writeReport } from './report.mjs';
import { SCHEMA, createService, dropSchema, setupSchema } from './service.mjs';

const TIMEOUT_MESSAGE = 'timeout exceeded when trying to connect';
export const DEFAULT_REPORT = 'demo-report/poolguard-demo.html';

/** Connection strings print without their password: postgres://user:***@host/db. */
export const redactUrl = (url) => String(url).replace(/(\/\/[^:@/]*):[^@/]*@/, '$1:***@');

const RUNS = [
  { db: 'blind', title: 'Run 1: plain pg.Pool', importLine: "import { Pool } from 'pg'" },
  { db: 'guarded', title: 'Run 2: poolguard', importLine: "import { Pool } from 'poolguard/pg'" },
];

// ---- output ---------------------------------------------------------------------------------------

/**
 * Where the demo talks. On a terminal one status line is rewritten in place; elsewhere (a pipe, a
 * CI log) a status line is printed every two seconds. Colour only on a terminal, never with NO_COLOR.
 */
export function createOutput({ stream = process.stdout, env = process.env, silent = false } = {}) {
  let muted = silent;
  const live = Boolean(stream.isTTY) && !env.CI;
  const color = live && !('NO_COLOR' in env && env.NO_COLOR !== '');
  const paint = (code) => (text) => (color ? `\x1b[${code}m${text}\x1b[0m` : String(text));
  let statusShown = false;
  let lastStatusAt = 0;
  const clear = () => {
    if (statusShown) stream.write('\r\x1b[2K');
    statusShown = false;
  };
  return {
    live,
    red: paint('31'),
    green: paint('32'),
    yellow: paint('33'),
    bold: paint('1'),
    dim: paint('2'),
    line(text = '') {
      if (muted) return;
      clear();
      stream.write(`${text}\n`);
    },
    status(text, force = false) {
      if (muted) return;
      if (live) {
        const width = stream.columns ? stream.columns - 1 : 120;
        stream.write(`\r\x1b[2K${text.length > width ? text.slice(0, width) : text}`);
        statusShown = true;
      } else if (force || performance.now() - lastStatusAt >= 2_000) {
        lastStatusAt = performance.now();
        stream.write(`${text}\n`);
      }
    },
    endStatus: clear,
    /** Leaves the last status line on screen as an ordinary line. */
    keepStatus() {
      if (statusShown) stream.write('\n');
      statusShown = false;
    },
    /** Says `text` and nothing after it: the process is on its way out. */
    last(text) {
      if (muted) return;
      clear();
      stream.write(`${text}\n`);
      muted = true;
    },
  };
}

// ---- numbers --------------------------------------------------------------------------------------

function percentile(sorted, p) {
  if (!sorted.length) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summarise(run, load, durationMs) {
  const results = load.results;
  const ok = results.filter((r) => r.ok).length;
  const failed = results.length - ok + load.unanswered;
  // Latency of the requests that were answered; a failed request's time is how long it took to
  // fail (mostly connectionTimeoutMillis), counted apart so that it does not pass for service time.
  const latencies = results.filter((r) => r.ok).map((r) => r.ms).sort((a, b) => a - b);
  const failedLatencies = results.filter((r) => !r.ok).map((r) => r.ms).sort((a, b) => a - b);
  // Counted when the failure happened, so the last requests' answers (after the load stopped)
  // fall in seconds of their own instead of piling onto the run's last second.
  const endMs = Math.max(durationMs, ...results.map((r) => r.doneAt));
  const failuresPerSecond = Array.from({ length: Math.ceil(endMs / 1000) }, () => 0);
  for (const r of results) if (!r.ok) failuresPerSecond[Math.floor(r.doneAt / 1000)]++;
  const firstFailure = results.filter((r) => !r.ok).sort((a, b) => a.doneAt - b.doneAt)[0];
  return {
    ...run,
    durationMs,
    endMs,
    total: results.length + load.unanswered,
    ok,
    failed,
    successRate: results.length + load.unanswered ? ok / (results.length + load.unanswered) : 0,
    timeouts: results.filter((r) => r.error?.startsWith(TIMEOUT_MESSAGE)).length,
    firstFailureMs: firstFailure?.doneAt,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    failedP50: percentile(failedLatencies, 50),
    failuresPerSecond,
    unanswered: load.unansweredRequests,
  };
}

// Every connection the demo has open, so that an interrupt can stop the database under them
// without their 'terminating connection' errors crashing the process on the way out.
const openClients = new Set();
function quietOpenClients() {
  for (const client of openClients) client.on('error', () => {});
}

// ---- one run --------------------------------------------------------------------------------------

async function runOnce(run, { poolOptions, durationMs, ratePerSecond, sampleEveryMs, out }) {
  const service = await createService({ db: run.db, poolOptions });
  const { pool } = service;
  const guarded = typeof pool.guard?.snapshot === 'function';
  // Every connection the run opened, so that teardown can close the ones a leak never returned
  // (pg's pool.end() waits for them forever).
  const clients = new Set();
  pool.on('connect', (client) => {
    clients.add(client);
    openClients.add(client);
  });

  const t0 = performance.now();
  const since = () => performance.now() - t0;
  const leakReports = [];
  let reclaims = 0;
  let culprit;
  const onLeak = (report) => {
    const entry = { atMs: since(), site: report.site, heldMs: report.heldMs, state: report.state, message: report.message, stack: report.stack };
    leakReports.push(entry);
    if (!culprit) {
      culprit = { atMs: entry.atMs, site: report.site };
      out.line(`  ${out.yellow('▲')} ${(entry.atMs / 1000).toFixed(1)} s  poolguard names the culprit: ${out.bold(report.site)}`);
      out.line(out.dim(indent(report.message, 4)));
    }
  };
  const onReclaim = () => reclaims++;
  if (guarded) {
    pool.guard.on('leak', onLeak);
    pool.guard.on('reclaim', onReclaim);
  }

  const samples = [];
  const sample = () => {
    const point = { t: Math.round(since()), total: pool.totalCount, idle: pool.idleCount, used: pool.totalCount - pool.idleCount, waiting: pool.waitingCount };
    if (guarded) point.leased = pool.guard.snapshot().counts.leased;
    samples.push(point);
    return point;
  };
  let okCount = 0;
  let failCount = 0;
  const errorSamples = [];
  const errorShapes = new Set();
  const showStatus = (force) => {
    const p = samples[samples.length - 1] ?? sample();
    const elapsed = `${(Math.min(since(), durationMs) / 1000).toFixed(1).padStart(4)} s of ${durationMs / 1000} s`;
    out.status(
      `  ${run.db === 'blind' ? 'run 1 (pg)       ' : 'run 2 (poolguard)'}  ${elapsed}  pool: ${p.used} used, ${p.idle} idle, ${p.waiting} waiting  requests: ${out.green(`${okCount} ok`)}, ${failCount ? out.red(`${failCount} failed`) : '0 failed'}`,
      force,
    );
  };

  const baseUrl = await service.listen();
  out.line(`${out.bold(run.title)}  (${run.importLine})`);
  const sampler = setInterval(sample, sampleEveryMs);
  const ticker = setInterval(showStatus, out.live ? 250 : 500);
  sample();
  const load = await runLoad({
    baseUrl,
    durationMs,
    ratePerSecond,
    onResult: (r) => {
      if (r.ok) return void okCount++;
      failCount++;
      // Keep a few distinct messages; ones that differ only in their numbers count as one.
      const shape = String(r.error).replace(/\d+(\.\d+)?/g, '#');
      if (errorSamples.length < 3 && !errorShapes.has(shape)) {
        errorShapes.add(shape);
        errorSamples.push(r.error);
        if (errorSamples.length === 1) {
          out.line(`  ${out.red('✗')} ${seconds(r.doneAt)}  first failed request (${r.route}), ${guarded ? 'and what it was told:' : 'and all it was told (nothing says who holds the connections):'}`);
          out.line(out.dim(indent(r.error, 4)));
        }
      }
    },
  });
  clearInterval(sampler);
  clearInterval(ticker);
  sample();
  showStatus(true);
  out.keepStatus();

  await service.close();
  // One moment for every number of the run: poolguard's own totals (checkouts, leaks, reclaims,
  // connections retired by reason) and the leak and reclaim events counted above. Leases the bug
  // still holds go on being reported while the pool closes; those are not part of the run.
  const totals = guarded ? pool.guard.snapshot().totals : undefined;
  if (guarded) {
    pool.guard.off('leak', onLeak);
    pool.guard.off('reclaim', onReclaim);
  }
  // pool.end() closes idle connections; a leaked one is closed directly, with a listener for the
  // error its end may cause, or the process would crash on an unhandled 'error'.
  pool.end().catch(() => {});
  await Promise.all(
    [...clients].map((client) => {
      client.on('error', () => {});
      openClients.delete(client);
      return Promise.race([client.end().catch(() => {}), new Promise((r) => setTimeout(r, 2_000).unref())]);
    }),
  );

  const summary = summarise(run, load, durationMs);
  return { ...summary, guarded, samples, culprit, leakReports, leaks: leakReports.length, reclaims, errorSamples, totals };
}

const indent = (text, n) => String(text).split('\n').map((l) => ' '.repeat(n) + l).join('\n');

// ---- the scenario ---------------------------------------------------------------------------------

async function runAudit(poolOptions, databaseUrl) {
  let mod;
  try {
    mod = await import('poolguard');
  } catch {
    return { available: false };
  }
  if (typeof mod.audit !== 'function') return { available: false };
  try {
    const result = await mod.audit({ options: poolOptions, server: databaseUrl });
    const findings = (result?.findings ?? []).map((f) => ({ severity: f.severity, rule: f.rule, message: f.message, why: f.why, fix: f.fix }));
    return { available: true, findings };
  } catch (err) {
    return { available: true, findings: [], error: redactUrl(err.message) };
  }
}

/**
 * Runs both runs against `databaseUrl` and writes the report. Returns everything the report shows.
 * Throws DemoError for problems the user can fix.
 */
export async function runScenario({
  databaseUrl,
  databaseLabel = redactUrl(databaseUrl),
  durationMs = 15_000,
  ratePerSecond = 40,
  sampleEveryMs = 200,
  reportPath = DEFAULT_REPORT,
  out = createOutput({ silent: true }),
}) {
  try {
    await import('poolguard/pg');
  } catch (err) {
    throw new DemoError(`poolguard is not built (${err.code ?? err.message}). Run \`npm run demo\`, which builds first, or \`npm run build\`.`);
  }

  let pg;
  try {
    ({ default: pg } = await import('pg'));
  } catch (err) {
    throw new DemoError(`the pg package is missing (${err.code ?? err.message}). Run \`npm ci\` in the repository.`);
  }
  const admin = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  openClients.add(admin);
  try {
    await admin.connect();
    await setupSchema(admin);
  } catch (err) {
    await admin.end().catch(() => {});
    throw new DemoError(
      `the database at ${redactUrl(databaseUrl)} could not be prepared: ${redactUrl(err.message)}. ` +
        'Check that the server is running and that the user may create a schema, or unset DATABASE_URL to use the embedded database.',
    );
  }

  const guardLog = [];
  const poolOptions = {
    connectionString: databaseUrl,
    max: 10,
    connectionTimeoutMillis: 1_000,
    idleTimeoutMillis: 10_000,
    options: `-c search_path=${SCHEMA}`,
    // Plain pg ignores this key (pg.Client reads only the settings it knows), so both runs get
    // this same object.
    guard: {
      name: 'shop-db',
      leakThresholdMs: 1_000,
      idleAfterMs: 300,
      // Long enough that a burst of leaks can still empty the pool for a moment, so the timeout
      // error with its holders shows; short enough that the service recovers. Measured at 40
      // requests/s: 3 s left no timeout at all (100 %), 4 s about 96 %, 5 s about 93 % answered.
      reclaimAfterMs: 4_000,
      // Leak reports are printed by the demo itself (between status lines) and go to the report.
      logger: { warn: (_obj, message) => guardLog.push(message), info: (_obj, message) => guardLog.push(message) },
    },
  };

  try {
    const audit = await runAudit(poolOptions, databaseUrl);
    if (!audit.available) out.line(out.dim('audit: not available in this build'));
    else if (audit.error) out.line(`audit: could not run (${audit.error})`);
    else out.line(`audit: ${audit.findings.length ? audit.findings.map((f) => `${f.severity} ${f.rule}`).join(', ') : 'no finding'} (details in the report)`);

    const runs = [];
    for (const run of RUNS) {
      runs.push(await runOnce(run, { poolOptions, durationMs, ratePerSecond, sampleEveryMs, out }));
      out.line();
    }

    const { logger: _logger, ...guardShown } = poolOptions.guard;
    const data = {
      meta: {
        startedAt: new Date().toISOString(),
        database: databaseLabel,
        durationMs,
        ratePerSecond,
        max: poolOptions.max,
        connectionTimeoutMillis: poolOptions.connectionTimeoutMillis,
        poolOptions: { ...poolOptions, connectionString: redactUrl(databaseUrl), guard: guardShown },
      },
      runs,
      audit,
      guardLog: guardLog.slice(0, 20),
    };
    writeReport(reportPath, data);
    return data;
  } finally {
    await dropSchema(admin).catch(() => {});
    await admin.end().catch(() => {});
    openClients.delete(admin);
  }
}

// ---- the command line -----------------------------------------------------------------------------

function printSummary(out, data, reportPath) {
  const [blind, guarded] = data.runs;
  const rows = [
    ['', 'plain pg.Pool', 'poolguard'],
    ['requests answered without error', ...data.runs.map((r) => `${(r.successRate * 100).toFixed(1)} % (${r.ok}/${r.total})`)],
    ['latency p50 / p99 (answered)', ...data.runs.map((r) => (r.p50 === undefined ? '–' : `${Math.round(r.p50)} / ${Math.round(r.p99)} ms`))],
    ['failed after (p50 of failed)', ...data.runs.map((r) => (r.failedP50 === undefined ? '–' : `${Math.round(r.failedP50)} ms`))],
    ['first failure', ...data.runs.map((r) => (r.firstFailureMs === undefined ? 'none' : seconds(r.firstFailureMs)))],
    ['culprit named after', ...data.runs.map((r) => (r.culprit ? `${(r.culprit.atMs / 1000).toFixed(1)} s` : 'never'))],
    ['culprit', ...data.runs.map((r) => r.culprit?.site ?? '–')],
    ['leaks reported / reclaimed', ...data.runs.map((r) => (r.guarded ? `${r.leaks} / ${r.reclaims}` : '–'))],
  ];
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length)));
  out.line(out.bold('Summary'));
  for (const r of rows) out.line(`  ${r[0].padEnd(widths[0])}   ${r[1].padEnd(widths[1])}   ${r[2]}`);
  out.line();
  if (guarded.culprit) {
    out.line(
      `The fix: release the client on every path in the handler that checks it out at ${out.bold(guarded.culprit.site)}: ` +
        'with try/finally, as demo/orders-fixed.mjs does, or with await using (Node 24+), as demo/orders-fixed-await-using.mjs does.',
    );
  } else {
    out.line(out.yellow('poolguard named no culprit in this run: the run may have been too short for a lease to cross guard.leakThresholdMs (try --duration 15).'));
  }
  if (blind.failed === 0) {
    out.line(
      out.yellow(
        `The plain run did not fail: ${data.meta.durationMs / 1000} s at ${data.meta.ratePerSecond} requests/s leaked too few connections to empty the pool ` +
          '(at the defaults, 40 requests/s, it takes about 7 s). Run longer or faster: --duration 15, --rate 60.',
      ),
    );
  }
  out.line(`Report (charts, leak reports, timeout errors, audit): ${pathToFileURL(resolve(reportPath)).href}`);
}

const HELP = `npm run demo [-- options]

The outage replayed twice against the same small HTTP service and the same traffic: once with
plain pg.Pool, once with poolguard (one import changed). Prints a summary and writes an HTML report.

  --duration <s>   seconds per run (default 15)
  --rate <n>       requests per second (default 40)
  --report <path>  where the HTML report goes (default ${DEFAULT_REPORT})
  --help           this text

Database: an embedded PostgreSQL started for the demo and removed afterwards, or the server in
DATABASE_URL when it is set (the demo creates and drops its own schema, ${SCHEMA}, there).`;

async function main() {
  const out = createOutput();
  let args;
  try {
    ({ values: args } = parseArgs({ options: { duration: { type: 'string' }, rate: { type: 'string' }, report: { type: 'string' }, help: { type: 'boolean' } } }));
  } catch (err) {
    process.stderr.write(`demo: ${err.message}\n\n${HELP}\n`);
    return 2;
  }
  if (args.help) {
    out.line(HELP);
    return 0;
  }
  const durationS = Number(args.duration ?? 15);
  const rate = Number(args.rate ?? 40);
  if (!(durationS >= 2 && durationS <= 120)) throw new DemoError(`--duration must be between 2 and 120 seconds, got ${args.duration}`);
  if (!(rate >= 1 && rate <= 500)) throw new DemoError(`--rate must be between 1 and 500 requests per second, got ${args.rate}`);

  let databaseUrl = process.env.DATABASE_URL;
  let databaseLabel;
  const embedded = databaseUrl ? undefined : createEmbeddedPostgres();
  let stopping = false;
  const interrupted = (signal) => {
    stopping = true;
    quietOpenClients();
    out.last(`\n${signal}: stopping${embedded ? ' the embedded database and removing its files' : ''}; no report was written.`);
    if (embedded) embedded.stop().finally(() => process.exit(130));
    else process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  // A crash outside the awaited path (an event listener that throws) still stops the embedded
  // database and removes its files before the process ends.
  const crashed = (err) => {
    // Once stopping on a signal, the connections the server closes under the demo fail as expected.
    if (stopping) return;
    stopping = true;
    quietOpenClients();
    out.last('');
    process.stderr.write(`demo: unexpected failure (a bug in the demo; please report it with this output):\n${err?.stack ?? err}\n`);
    if (embedded) embedded.stop().finally(() => process.exit(1));
    else process.exit(1);
  };
  process.on('uncaughtException', crashed);
  process.on('unhandledRejection', crashed);

  if (embedded) {
    out.status('Starting an embedded PostgreSQL (no DATABASE_URL set)…', true);
    const started = await embedded.start();
    databaseUrl = started.url;
    const copied =
      started.copyMs === undefined
        ? ''
        : `, ${(started.copyMs / 1000).toFixed(1)} s of it ${started.copied === 'linked' ? 'linking' : 'copying'} the server binaries where the postgres user can reach them`;
    databaseLabel = `embedded ${started.version} (started in ${(started.startMs / 1000).toFixed(1)} s${copied}; removed on exit)`;
  } else {
    databaseLabel = `PostgreSQL at ${redactUrl(databaseUrl)} (DATABASE_URL)`;
  }
  out.line(`Database: ${databaseLabel}`);
  out.line(`Traffic: ${rate} requests/s for ${durationS} s per run; POST /orders leaks its connection when an item is out of stock.\n`);
  try {
    const reportPath = args.report ?? DEFAULT_REPORT;
    const data = await runScenario({ databaseUrl, databaseLabel, durationMs: durationS * 1000, ratePerSecond: rate, reportPath, out });
    printSummary(out, data, reportPath);
  } finally {
    if (embedded) await embedded.stop();
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      if (process.stdout.isTTY) process.stdout.write('\r\x1b[2K');
      if (err instanceof DemoError) {
        process.stderr.write(`demo: ${err.message}\n`);
        process.exit(1);
      }
      process.stderr.write(`demo: unexpected failure (a bug in the demo; please report it with this output):\n${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}

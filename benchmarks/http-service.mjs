// What a service pays: a Node http server with two routes over PostgreSQL, under a load generator at
// concurrency 32, for each variant side by side (interleaved rounds, each round in a new order).
//   GET /item/:id  one indexed pool.query
//   POST /order    connect, BEGIN, SELECT … FOR UPDATE, UPDATE, INSERT, COMMIT, release
// Each variant's server runs in a child process of its own (one pool configuration per process, as
// in a service; the SDK variants register the SDK before pg loads, as users do). Reported per route:
// requests/s and p99 as the load generator sees them, and the server's CPU time per request
// (process.cpuUsage() in the server around the window), which the machine's noise disturbs far less.
// With --instructions, each variant's server also runs under callgrind, twice (n and 3n requests
// after the same warm-up): instructions per request, a count that barely moves on a busy machine.
// n and the warm-up default to 1,500 requests each: with 300 and 600 the difference still carried
// V8's tiering and a GC or two, and a request read 850,000 to 1,200,000 instructions instead of
// 200,000 to 320,000, with variants apart by ±6 % where their code paths were the same.
// Run: npm run build && node benchmarks/http-service.mjs [--rounds 5] [--seconds 3] [--instructions]
// --driver mysql2: the same service over MariaDB/MySQL (MYSQL_URL) with mysql2/promise's pool,
// bare beside poolguard/mysql2/promise (no SDK variants). --driver mysql: mysql's callback pool
// beside poolguard/mysql; --driver mariadb: the MariaDB connector's promise pool beside
// poolguard/mariadb (the tables are made with mysql2 in each case). --driver postgres: the same
// service over postgres.js (a sql`` query for GET, sql.begin() for POST), bare beside poolguard/postgres.
// Server only: PERF_HTTP_PREFIX=perf_http_x node benchmarks/http-service.mjs --setup, then --serve
// <variant>, then --drop, with the same PERF_HTTP_PREFIX
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { Agent, request } from 'node:http';
import { SMOKE, arg, median, url } from './lib.mjs';

const require = createRequire(import.meta.url);
// Tables of one run (the driver's pid, handed to its servers): two runs at once must not drop each
// other's tables.
const PREFIX = process.env.PERF_HTTP_PREFIX ?? `perf_http_${process.pid}`;
const ITEMS = 10_000;

// pg, or mysql2 (--driver mysql2; the servers get it through the environment).
const DRIVER = process.argv.includes('--driver') ? process.argv[process.argv.indexOf('--driver') + 1] : (process.env.PERF_HTTP_DRIVER ?? 'pg');
const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

export const POSTGRES_VARIANTS = [
  ['bare', 'bare postgres.js'],
  ['guard', 'poolguard/postgres, defaults'],
  ['guard-off', 'poolguard/postgres, stacks off'],
  ['guard-connect', "poolguard/postgres, captureStacks 'connect' (a stack per reserve() and begin())"],
];

export const MYSQL_VARIANTS = [
  ['bare', 'bare mysql2 (mysql2/promise)'],
  ['guard', 'poolguard/mysql2, defaults'],
  ['guard-off', 'poolguard/mysql2, stacks off'],
  ['guard-connect', "poolguard/mysql2, captureStacks 'connect' (a stack per getConnection)"],
];

/** The variants of the other MySQL-family drivers: the bare driver and poolguard's defaults. */
const otherMysqlVariants = (driver, entry) => [
  ['bare', `bare ${driver}`],
  ['guard', `${entry}, defaults`],
  ['guard-off', `${entry}, stacks off`],
];
const VARIANTS_BY_DRIVER = { mysql2: MYSQL_VARIANTS, mysql: otherMysqlVariants('mysql', 'poolguard/mysql'), mariadb: otherMysqlVariants('mariadb (promise)', 'poolguard/mariadb') };
const MYSQL_FAMILY = DRIVER in VARIANTS_BY_DRIVER;

export const VARIANTS = [
  ['bare', 'bare pg.Pool'],
  ['guard', 'poolguard, defaults'],
  ['guard-off', 'poolguard, stacks off'],
  ['guard-connect', "poolguard, captureStacks 'connect' (a stack per connect)"],
  ['bare-sdk', 'bare + SDK'],
  ['guard-sdk', 'poolguard defaults + SDK'],
  ['instr-sdk', 'instrumentation-pg + SDK'],
];

// ---- the server (child process) ---------------------------------------------------------------

/**
 * The SDK as users register it: NodeSDK (AsyncLocalStorage context manager, batch span processor,
 * global providers), HTTP instrumentation, a periodic metric reader; in-memory exporters emptied
 * every second. The same for every SDK variant; instrumentation-pg only in its own.
 */
async function startSdk(withPg) {
  const { NodeSDK } = require('@opentelemetry/sdk-node');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
  const { InMemorySpanExporter, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
  const { InMemoryMetricExporter, AggregationTemporality, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
  const spans = new InMemorySpanExporter();
  const metrics = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const instrumentations = [new HttpInstrumentation()];
  if (withPg) {
    const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg');
    instrumentations.push(new PgInstrumentation());
  }
  const counts = { spans: 0 };
  // Counts ended spans, so that a run can show the SDK variants really trace.
  const counter = { onStart() {}, onEnd: () => void counts.spans++, forceFlush: async () => {}, shutdown: async () => {} };
  const sdk = new NodeSDK({
    spanProcessors: [new BatchSpanProcessor(spans), counter],
    metricReader: new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 1_000 }),
    instrumentations,
  });
  sdk.start();
  setInterval(() => {
    spans.reset();
    metrics.reset();
  }, 1_000).unref();
  return counts;
}

/**
 * PERF_HTTP_APP_HEAP_MB: resident application state, the same in every variant, as a real service
 * has (its modules, caches, sessions: tens of MB). V8's allocation-site pretenuring decides from the
 * survival rate of what a collection finds, so the request's count depends on the heap around it;
 * this gives bare and guarded the same heap around the request. Plain objects and strings, about
 * the size asked (heapUsed after a full GC, measured with --expose-gc).
 */
function appState(mb) {
  const records = [];
  // About 200 bytes per record: an object with a few fields, a short string and a small array.
  for (let i = 0; i < mb * 5_000; i++) records.push({ id: i, name: `customer ${i}`, tags: [i & 7, i & 15], score: i / 3, active: (i & 1) === 0 });
  return records;
}
let appStateKept;

async function serve(variant) {
  appStateKept = appState(Number(process.env.PERF_HTTP_APP_HEAP_MB ?? 0));
  if (DRIVER === 'mysql2') return listen(await mysqlService(variant));
  if (DRIVER === 'postgres') return listen(await postgresService(variant));
  if (DRIVER === 'mysql') return listen(await mysqljsService(variant));
  if (DRIVER === 'mariadb') return listen(await mariadbService(variant));
  const sdk = variant.endsWith('-sdk') ? await startSdk(variant === 'instr-sdk') : undefined;
  // Loaded after the SDK, through require, so that the instrumentations' hooks see them.
  const pg = require('pg');
  const options = { connectionString: url, max: 10, application_name: `${PREFIX}_${variant}` };
  let pool;
  if (variant === 'bare' || variant === 'bare-sdk' || variant === 'instr-sdk') pool = new pg.Pool(options);
  else {
    const { Pool } = await import(process.env.POOLGUARD_PG ?? 'poolguard/pg');
    // The defaults ('guard') are captureStacks 'adaptive': every connect() for the pool's first 1,000, then 1 in 64.
    pool = new Pool({ ...options, guard: guardOptions(variant) });
  }
  return listen({
    sdk,
    end: () => pool.end(),
    async item(id) {
      const { rows } = await pool.query(`SELECT id, name, stock FROM ${PREFIX}_items WHERE id = $1`, [id]);
      return rows[0] ?? null;
    },
    async order(id) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`SELECT stock FROM ${PREFIX}_items WHERE id = $1 FOR UPDATE`, [id]);
        await client.query(`UPDATE ${PREFIX}_items SET stock = stock - 1 WHERE id = $1`, [id]);
        const { rows } = await client.query(`INSERT INTO ${PREFIX}_orders (item_id) VALUES ($1) RETURNING id`, [id]);
        await client.query('COMMIT');
        return rows[0].id;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
  });
}

/** The guard options of a guarded variant: defaults, stacks off (`guard-off`) or every stack (`guard-connect`). */
function guardOptions(variant) {
  const captureStacks = variant === 'guard-off' ? 'none' : variant === 'guard-connect' ? 'connect' : undefined;
  return { name: 'bench', logger: false, ...(captureStacks ? { captureStacks } : {}) };
}

/** The same service over mysql2/promise's pool: one pool.query for GET, a transaction for POST. */
async function mysqlService(variant) {
  const options = { uri: MYSQL_URL, connectionLimit: 10 };
  let pool;
  if (variant === 'bare') pool = require('mysql2/promise').createPool(options);
  else {
    // POOLGUARD_MYSQL2: another build's dist/esm/mysql2-promise.js, to count two builds side by side.
    const { createPool } = await import(process.env.POOLGUARD_MYSQL2 ?? 'poolguard/mysql2/promise');
    pool = createPool({ ...options, guard: guardOptions(variant) });
  }
  return {
    end: () => pool.end(),
    async item(id) {
      const [rows] = await pool.query(`SELECT id, name, stock FROM ${PREFIX}_items WHERE id = ?`, [id]);
      return rows[0] ?? null;
    },
    async order(id) {
      const conn = await pool.getConnection();
      try {
        await conn.query('START TRANSACTION');
        await conn.query(`SELECT stock FROM ${PREFIX}_items WHERE id = ? FOR UPDATE`, [id]);
        await conn.query(`UPDATE ${PREFIX}_items SET stock = stock - 1 WHERE id = ?`, [id]);
        const [result] = await conn.query(`INSERT INTO ${PREFIX}_orders (item_id) VALUES (?)`, [id]);
        await conn.query('COMMIT');
        return result.insertId;
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        conn.release();
      }
    },
  };
}

/** The same service over postgres.js: a tagged-template query for GET, sql.begin() for POST. */
async function postgresService(variant) {
  const options = { max: 10, onnotice: () => {}, connection: { application_name: `${PREFIX}_${variant}` } };
  let sql;
  // import(), as poolguard/postgres imports it: the same module (ESM build) for both variants, and
  // the one benchmarks/use-postgres4.mjs redirects to postgres.js 4 (a require() it does not see).
  if (variant === 'bare') sql = (await import('postgres')).default(url, options);
  else {
    const { default: postgres } = await import('poolguard/postgres');
    sql = postgres(url, { ...options, guard: guardOptions(variant) });
  }
  const items = sql(`${PREFIX}_items`);
  const orders = sql(`${PREFIX}_orders`);
  return {
    end: () => sql.end({ timeout: 1 }),
    async item(id) {
      const rows = await sql`SELECT id, name, stock FROM ${items} WHERE id = ${id}`;
      return rows[0] ?? null;
    },
    order: (id) =>
      sql.begin(async (tx) => {
        await tx`SELECT stock FROM ${items} WHERE id = ${id} FOR UPDATE`;
        await tx`UPDATE ${items} SET stock = stock - 1 WHERE id = ${id}`;
        const [row] = await tx`INSERT INTO ${orders} (item_id) VALUES (${id}) RETURNING id`;
        return row.id;
      }),
  };
}

/** The same service over mysql's callback pool (each call made a promise the way a service would). */
async function mysqljsService(variant) {
  const { promisify } = require('node:util');
  // Timeouts far above mysql's 10 s defaults: under callgrind a connect or a ping is 50 times slower.
  // PERF_HTTP_MYSQL_TRACE=false turns off mysql's long stack traces (on by default) in every variant:
  // to count what their captures cost beside what poolguard's own code does.
  const trace = process.env.PERF_HTTP_MYSQL_TRACE !== 'false';
  const options = { host: '127.0.0.1', user: 'root', database: 'test', connectionLimit: 10, connectTimeout: 120_000, acquireTimeout: 120_000, trace };
  let pool;
  if (variant === 'bare') pool = require('mysql').createPool(options);
  else {
    const { createPool } = await import('poolguard/mysql');
    pool = createPool({ ...options, guard: guardOptions(variant) });
  }
  const query = (on, sql, values) => new Promise((resolve, reject) => on.query(sql, values, (err, rows) => (err ? reject(err) : resolve(rows))));
  const getConnection = promisify(pool.getConnection.bind(pool));
  return {
    end: () => new Promise((resolve) => pool.end(resolve)),
    async item(id) {
      const rows = await query(pool, `SELECT id, name, stock FROM ${PREFIX}_items WHERE id = ?`, [id]);
      return rows[0] ?? null;
    },
    async order(id) {
      const conn = await getConnection();
      try {
        await query(conn, 'START TRANSACTION');
        await query(conn, `SELECT stock FROM ${PREFIX}_items WHERE id = ? FOR UPDATE`, [id]);
        await query(conn, `UPDATE ${PREFIX}_items SET stock = stock - 1 WHERE id = ?`, [id]);
        const result = await query(conn, `INSERT INTO ${PREFIX}_orders (item_id) VALUES (?)`, [id]);
        await query(conn, 'COMMIT');
        return result.insertId;
      } catch (err) {
        await query(conn, 'ROLLBACK').catch(() => {});
        throw err;
      } finally {
        conn.release();
      }
    },
  };
}

/** The same service over the MariaDB connector's promise pool. */
async function mariadbService(variant) {
  // Timeouts far above the connector's defaults: under callgrind a connect is 50 times slower.
  // The connector's own default is `trace: false` (mysql's is true): PERF_HTTP_MYSQL_TRACE=true turns
  // its stack captures on in every variant (a stack per command and per getConnection).
  const trace = process.env.PERF_HTTP_MYSQL_TRACE === 'true';
  const options = { host: '127.0.0.1', user: 'root', database: 'test', connectionLimit: 10, connectTimeout: 120_000, acquireTimeout: 120_000, trace };
  let pool;
  // import(), as poolguard/mariadb imports it: the connector's ESM sources (lib/) for both variants;
  // a require() would load its minified CommonJS bundle (dist/promise.cjs), other code to compare.
  if (variant === 'bare') pool = (await import('mariadb')).createPool(options);
  else {
    const { createPool } = await import('poolguard/mariadb');
    pool = createPool({ ...options, guard: guardOptions(variant) });
  }
  return {
    end: () => pool.end(),
    async item(id) {
      const rows = await pool.query(`SELECT id, name, stock FROM ${PREFIX}_items WHERE id = ?`, [id]);
      const row = rows[0];
      return row === undefined ? null : { ...row, stock: Number(row.stock) };
    },
    async order(id) {
      const conn = await pool.getConnection();
      try {
        await conn.query('START TRANSACTION');
        await conn.query(`SELECT stock FROM ${PREFIX}_items WHERE id = ? FOR UPDATE`, [id]);
        await conn.query(`UPDATE ${PREFIX}_items SET stock = stock - 1 WHERE id = ?`, [id]);
        const result = await conn.query(`INSERT INTO ${PREFIX}_orders (item_id) VALUES (?)`, [id]);
        await conn.query('COMMIT');
        return Number(result.insertId);
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        conn.release();
      }
    },
  };
}

/** The HTTP server around a service's two routes (and the driver's statistics route). */
function listen({ sdk, end, item, order }) {
  const { createServer } = require('http');
  let served = 0;
  const server = createServer(async (req, res) => {
    try {
      if (req.method === 'GET' && req.url.startsWith('/item/')) {
        const row = await item(Number(req.url.slice(6)));
        served++;
        return send(res, 200, row);
      }
      if (req.method === 'POST' && req.url.startsWith('/order/')) {
        const id = await order(Number(req.url.slice(7)));
        served++;
        return send(res, 201, { order: id });
      }
      if (req.url === '/__stats') return send(res, 200, { cpu: process.cpuUsage(), served, spans: sdk?.spans });
      send(res, 404, { error: 'no route' });
    } catch (err) {
      send(res, 503, { error: err.message });
    }
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
  process.on('SIGTERM', () => {
    server.close();
    end().finally(() => process.exit(0));
  });
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

// ---- the driver ---------------------------------------------------------------------------------

async function setupSchema() {
  if (MYSQL_FAMILY) {
    const conn = await require('mysql2/promise').createConnection({ uri: MYSQL_URL });
    await conn.query(`DROP TABLE IF EXISTS ${PREFIX}_orders, ${PREFIX}_items`);
    await conn.query(`CREATE TABLE ${PREFIX}_items (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, stock BIGINT NOT NULL) ENGINE=InnoDB`);
    await conn.query(`INSERT INTO ${PREFIX}_items SELECT seq, CONCAT('item ', seq), 1000000000 FROM seq_1_to_${ITEMS}`);
    await conn.query(`CREATE TABLE ${PREFIX}_orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, item_id INT NOT NULL, at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB`);
    return conn.end();
  }
  const pg = require('pg');
  const client = new pg.Client({ connectionString: url, application_name: `${PREFIX}_setup` });
  await client.connect();
  await client.query(`DROP TABLE IF EXISTS ${PREFIX}_orders, ${PREFIX}_items`);
  await client.query(`CREATE TABLE ${PREFIX}_items (id int PRIMARY KEY, name text NOT NULL, stock bigint NOT NULL)`);
  await client.query(`INSERT INTO ${PREFIX}_items SELECT i, 'item ' || i, 1000000000 FROM generate_series(1, $1) i`, [ITEMS]);
  await client.query(`CREATE TABLE ${PREFIX}_orders (id bigserial PRIMARY KEY, item_id int NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
  await client.end();
}

async function dropSchema() {
  if (MYSQL_FAMILY) {
    const conn = await require('mysql2/promise').createConnection({ uri: MYSQL_URL });
    await conn.query(`DROP TABLE IF EXISTS ${PREFIX}_orders, ${PREFIX}_items`);
    return conn.end();
  }
  const pg = require('pg');
  const client = new pg.Client({ connectionString: url, application_name: `${PREFIX}_setup` });
  await client.connect();
  await client.query(`DROP TABLE IF EXISTS ${PREFIX}_orders, ${PREFIX}_items`);
  await client.end();
}

/** Starts a variant's server; under callgrind with `instructions`. */
function startServer(variant, instructions = false) {
  const script = new URL(import.meta.url).pathname;
  const argv = instructions
    ? ['valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--predictable', script, '--serve', variant]]
    : [process.execPath, [script, '--serve', variant]];
  const child = spawn(argv[0], argv[1], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DATABASE_URL: url, PERF_HTTP_PREFIX: PREFIX, PERF_HTTP_DRIVER: DRIVER } });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]), stderr: () => err });
    });
    child.on('exit', (code) => reject(new Error(`server ${variant} exited (${code}): ${err}`)));
  });
}

function stop(server) {
  return new Promise((resolve) => {
    server.child.removeAllListeners('exit');
    server.child.on('exit', resolve);
    server.child.kill('SIGTERM');
  });
}

function call(agent, port, method, path) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => (res.statusCode < 300 ? resolve(body) : reject(new Error(`${method} ${path}: ${res.statusCode} ${body}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

let nextId = 1;
const pathFor = (route) => {
  nextId = (nextId * 7919 + 13) % ITEMS;
  return route === 'GET' ? `/item/${nextId + 1}` : `/order/${nextId + 1}`;
};

/** Concurrency 32 for `ms` (or until `count` requests): requests/s, p99 (ms), CPU µs per request. */
async function load(port, route, { ms = Infinity, count = Infinity, concurrency = 32 } = {}) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const method = route === 'GET' ? 'GET' : 'POST';
  const before = JSON.parse(await call(agent, port, 'GET', '/__stats'));
  const latencies = [];
  const start = performance.now();
  let sent = 0;
  const worker = async () => {
    while (performance.now() - start < ms && sent < count) {
      sent++;
      const t = performance.now();
      await call(agent, port, method, pathFor(route));
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = performance.now() - start;
  const after = JSON.parse(await call(agent, port, 'GET', '/__stats'));
  agent.destroy();
  const served = after.served - before.served;
  const cpu = after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system;
  latencies.sort((a, b) => a - b);
  return { rps: (served / elapsed) * 1000, p99: latencies[Math.floor(latencies.length * 0.99)], cpuUs: cpu / served, served };
}

/**
 * Callgrind: instructions per request for one variant and route. Two whole runs of the server under
 * callgrind, each with the same start-up and warm-up, then `n` or `3n` requests; the difference of
 * the two totals divided by `2n` is one request, start-up and compilation cancelling out (as in
 * instructions.sh). Requests one at a time (concurrency 1), unlike the timed rounds. Switching the count on and off around a window of a running server
 * (callgrind_control) gave totals that went backwards: not used.
 */
async function instructionsPer(variant, route, n) {
  const total = async (count) => {
    const server = await startServer(variant, true);
    // One request at a time: at concurrency 32 a valgrind-slowed server takes requests in batches
    // whose size varies from run to run, and per-batch work (writev, GC) made the count wander.
    // --load-concurrency 32: the timed rounds' load, where most checkouts wait for a connection.
    const concurrency = arg('load-concurrency', 1);
    await load(server.port, route, { count: SMOKE ? 50 : arg('warm', 1_500), concurrency });
    await load(server.port, route, { count, concurrency });
    await stop(server);
    const m = /Collected : (\d+)/.exec(server.stderr());
    if (!m) throw new Error(`no instruction count from callgrind: ${server.stderr().slice(-500)}`);
    return Number(m[1]);
  };
  const a = await total(n);
  const b = await total(3 * n);
  return Math.round((b - a) / (2 * n));
}

export async function run() {
  const rounds = SMOKE ? 1 : arg('rounds', 5);
  const seconds = SMOKE ? 0.5 : arg('seconds', 3);
  const only = process.argv.includes('--variants') ? process.argv[process.argv.indexOf('--variants') + 1].split(',') : undefined;
  const all = DRIVER === 'postgres' ? POSTGRES_VARIANTS : (VARIANTS_BY_DRIVER[DRIVER] ?? VARIANTS);
  const variants = only ? all.filter(([v]) => only.includes(v)) : all;
  await setupSchema();
  const results = new Map();
  for (const [v] of variants) for (const route of ['GET', 'POST']) results.set(`${v} ${route}`, []);
  try {
    for (let r = -1; r < rounds; r++) {
      // Round -1 warms every variant up (JIT, connections); each round starts one variant later.
      for (let i = 0; i < variants.length; i++) {
        const [v] = variants[(Math.max(r, 0) + i) % variants.length];
        const server = await startServer(v);
        try {
          for (const route of r % 2 ? ['GET', 'POST'] : ['POST', 'GET']) {
            await load(server.port, route, { ms: Math.min(1_000, seconds * 1_000) }); // warm this process
            const m = await load(server.port, route, { ms: seconds * 1_000 });
            if (r >= 0) results.get(`${v} ${route}`).push(m);
          }
        } finally {
          await stop(server);
        }
      }
    }
    const instructions = new Map();
    if (process.argv.includes('--instructions')) {
      const n = SMOKE ? 50 : arg('requests', 1_500);
      for (const [v] of variants) for (const route of ['GET', 'POST']) instructions.set(`${v} ${route}`, await instructionsPer(v, route, n));
    }
    return { title: `HTTP service${MYSQL_FAMILY ? ` (${DRIVER}, MariaDB)` : DRIVER === 'postgres' ? ' (postgres.js)' : ''}: GET /item/:id and POST /order at concurrency 32 (${rounds} rounds × ${seconds} s per route)`, body: tableOf(variants, results, instructions, rounds) };
  } finally {
    await dropSchema();
  }
}

function tableOf(variants, results, instructions, rounds) {
  const lines = [];
  for (const route of ['GET', 'POST']) {
    const base = results.get(`bare ${route}`) ?? [];
    const med = (xs, k) => median(xs.map((x) => x[k]));
    const bareRps = med(base, 'rps');
    const bareCpu = med(base, 'cpuUs');
    const bareIns = instructions.get(`bare ${route}`);
    lines.push(`\n${route === 'GET' ? 'GET /item/:id (one pool.query)' : 'POST /order (connect, BEGIN, SELECT … FOR UPDATE, UPDATE, INSERT, COMMIT, release)'}:\n`);
    lines.push('| variant | req/s (median) | ×bare | p99 ms | server CPU µs per request (median, min–max) | ×bare | instructions per request | ×bare |');
    lines.push('|---|---|---|---|---|---|---|---|');
    for (const [v, label] of variants) {
      const xs = results.get(`${v} ${route}`);
      const cpus = xs.map((x) => x.cpuUs);
      const ins = instructions.get(`${v} ${route}`);
      lines.push(
        `| ${label} | ${med(xs, 'rps').toFixed(0)} | ${(med(xs, 'rps') / bareRps).toFixed(2)} | ${med(xs, 'p99').toFixed(1)} | ${median(cpus).toFixed(0)} (${Math.min(...cpus).toFixed(0)}–${Math.max(...cpus).toFixed(0)}) | ${(median(cpus) / bareCpu).toFixed(3)} | ${ins === undefined ? '–' : ins.toLocaleString('en')} | ${ins === undefined || bareIns === undefined ? '–' : (ins / bareIns).toFixed(3)} |`,
      );
    }
  }
  return `${rounds} interleaved rounds; CPU ratios above 1 cost more than bare.\n${lines.join('\n')}`;
}

if (process.argv.includes('--setup')) {
  // For profiling a server by hand: creates the tables (--drop removes them).
  await setupSchema();
} else if (process.argv.includes('--drop')) {
  await dropSchema();
} else if (process.argv.includes('--serve')) {
  await serve(process.argv[process.argv.indexOf('--serve') + 1]);
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const { title, body } = await run();
  console.log(`${title}\n\n${body}`);
}

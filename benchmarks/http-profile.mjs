// A callgrind profile of one variant's HTTP server (benchmarks/http-service.mjs --serve) at steady
// state: `warm` requests one at a time, then instrumentation switched on and the counters zeroed
// (callgrind_control -i on, -z), then `n` requests, the profile written when the server ends. The
// warm-up runs uninstrumented (--instr-atstart=no): several times faster, with the same V8 tiering
// and heap, which do not see valgrind's instrumentation. Collected / n is the instructions per
// request past the optimising compiler, with no second process to subtract (whose JIT may differ
// from the first's). The requests are GETs, or POST /order/:id with --post (the transaction route).
// PERF_HTTP_DRIVER picks the service's driver as for http-service.mjs (pg, mysql2, mysql, mariadb,
// postgres). --perf adds node's --perf-basic-prof and --interpreted-frames-native-stack: /tmp/perf-<pid>.map
// then names the JIT code callgrind shows as bare addresses (look each address up in the map).
// --settle=N runs N requests instrumented before the counters are zeroed (see below).
// --gc runs the server without valgrind under node's --trace-gc-nvp instead, and prints what the
// collector saw in the window of `n` requests: scavenges, mark-compacts, bytes allocated and
// promoted per request (`out` is not written).
// PERF_HTTP_SERVER_LOG=<file>: the server's stdout and stderr written there (with V8's traces, e.g.
// PERF_HTTP_NODE_FLAGS='--trace-pretenuring --trace-gc-nvp'), the warm-up's and the window's, the
// window marked by a line of its own.
// Run (the tables first, with the same PERF_HTTP_PREFIX):
//   PERF_HTTP_PREFIX=perf_http_x PERF_HTTP_DRIVER=mysql2 node benchmarks/http-service.mjs --setup
//   PERF_HTTP_PREFIX=perf_http_x PERF_HTTP_DRIVER=mysql2 node benchmarks/http-profile.mjs guard 8000 2000 /tmp/guard.out [--perf] [--post]
//   callgrind_annotate --threshold=100 --inclusive=yes /tmp/guard.out
//   PERF_HTTP_PREFIX=perf_http_x PERF_HTTP_DRIVER=mysql2 node benchmarks/http-profile.mjs guard 8000 20000 - --gc
import { spawn, execFileSync } from 'node:child_process';
import { Agent, request } from 'node:http';
import { writeFileSync } from 'node:fs';

const [variant, warm, n, out] = process.argv.slice(2);
const script = new URL('./http-service.mjs', import.meta.url).pathname;
const perf = process.argv.includes('--perf') ? ['--perf-basic-prof', '--interpreted-frames-native-stack'] : [];
const gc = process.argv.includes('--gc');
const order = process.argv.includes('--post');
const settle = Number(process.argv.find((a) => a.startsWith('--settle='))?.slice(9) ?? 0);
// PERF_HTTP_NODE_FLAGS: more node/V8 flags for the server (e.g. --no-allocation-site-pretenuring).
const extra = (process.env.PERF_HTTP_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const node = [process.execPath, '--predictable', ...extra, ...(gc ? ['--trace-gc-nvp'] : perf), script, '--serve', variant];
const child = gc ? spawn(node[0], node.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}`, ...node], { stdio: ['ignore', 'pipe', 'pipe'] });
let err = '';
let o = '';
child.stderr.on('data', (d) => (err += d));
const port = await new Promise((resolve, reject) => {
  child.stdout.on('data', (d) => {
    o += d;
    const m = /listening (\d+)/.exec(o);
    if (m) resolve(Number(m[1]));
  });
  child.on('exit', () => reject(new Error(err)));
});
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const call = (path) => new Promise((resolve, reject) => {
  const req = request({ host: '127.0.0.1', port, path, agent, method: order ? 'POST' : 'GET' }, (res) => {
    if (res.statusCode >= 300) reject(new Error(`${path}: ${res.statusCode}`));
    res.resume();
    res.on('end', resolve);
  });
  req.on('error', reject);
  req.end();
});
let id = 1;
const requests = async (count) => {
  for (let i = 0; i < count; i++) {
    id = (id * 7919 + 13) % 10_000;
    await call(order ? `/order/${id + 1}` : `/item/${id + 1}`);
  }
};
await requests(Number(warm));
if (!gc) {
  execFileSync('callgrind_control', ['-i', 'on', String(child.pid)]);
  // --settle=N: N more requests instrumented, not counted. A request under instrumentation is many
  // times slower, and a driver that acts on time (the MariaDB connector pings a connection idle
  // for more than 500 ms before lending it) takes paths the uninstrumented warm-up never took:
  // their first runs (new type feedback, deoptimisations, V8 recompiling) then fall in the window.
  if (settle > 0) await requests(settle);
  execFileSync('callgrind_control', ['-z', String(child.pid)]);
}
// The window's first line in the server's log (PERF_HTTP_SERVER_LOG).
o += `---- window of ${n} requests begins after ${warm} ----\n`;
const windowFrom = o.length;
await requests(Number(n));
const to = o.length;
agent.destroy();
child.removeAllListeners('exit');
const exited = new Promise((resolve) => child.on('exit', resolve));
child.kill('SIGTERM');
await exited;
if (process.env.PERF_HTTP_SERVER_LOG) writeFileSync(process.env.PERF_HTTP_SERVER_LOG, `${o}\n---- stderr ----\n${err}`);
const what = order ? 'POSTs' : 'GETs';
if (gc) {
  const lines = o.slice(windowFrom, to).split('\n').filter((line) => line.includes(' gc='));
  const field = (line, name) => Number(new RegExp(` ${name}=(\\S+)`).exec(line)?.[1] ?? 0);
  const sum = (name) => lines.reduce((s, line) => s + field(line, name), 0);
  // V8's own `allocated=` counts from the end of the last mark-compact, not of the last collection:
  // summed over scavenges it counts again, at each one, whatever was promoted since that
  // mark-compact (it made guarded postgres.js 4 look like 98 KB per POST, against 43 KB allocated).
  // What was allocated between two collections is the heap before the second minus the heap after
  // the first (the window's first collection is measured from the last one before the window).
  const before = o.slice(0, windowFrom).split('\n').filter((line) => line.includes(' gc='));
  let after = before.length > 0 ? field(before[before.length - 1], 'total_size_after') : undefined;
  let allocated = 0;
  for (const line of lines) {
    if (after !== undefined) allocated += field(line, 'total_size_before') - after;
    after = field(line, 'total_size_after');
  }
  const kinds = {};
  for (const line of lines) kinds[field(line, 'gc') || / gc=(\S+)/.exec(line)[1]] = (kinds[/ gc=(\S+)/.exec(line)[1]] ?? 0) + 1;
  const per = (x) => Math.round(x / Number(n));
  console.log(`${variant}: ${n} ${what}: collections ${JSON.stringify(kinds)}, allocated ${per(allocated)} B (V8's allocated= summed: ${per(sum('allocated'))} B), promoted ${per(sum('promoted'))} B, new-space survived ${per(sum('new_space_survived'))} B per request (sums over the window's collections)`);
} else {
  const collected = Number(/Collected : (\d+)/.exec(err)?.[1]);
  console.log(`${variant}: pid ${child.pid}, ${collected} instructions over ${n} ${what}, ${Math.round(collected / Number(n))} per request`);
}

// A callgrind profile of one variant's HTTP server (benchmarks/http-service.mjs --serve) at steady
// state: `warm` GETs one at a time, then instrumentation switched on and the counters zeroed
// (callgrind_control -i on, -z), then `n` GETs, the profile written when the server ends. The
// warm-up runs uninstrumented (--instr-atstart=no): several times faster, and
// the same V8 tiering and heap, which do not see valgrind's instrumentation. Collected / n is the instructions per GET past the
// optimising compiler, with no second process to subtract (whose JIT may differ from the first's).
// --post: the same with POST /order/:id (a transaction on a checked-out connection) instead of GET.
// PERF_HTTP_DRIVER picks the service's driver as for http-service.mjs (pg, mysql2, mysql, mariadb,
// postgres). --perf adds node's --perf-basic-prof and --interpreted-frames-native-stack: /tmp/perf-<pid>.map
// then names the JIT code callgrind shows as bare addresses (look each address up in the map).
// Run (the tables first, with the same PERF_HTTP_PREFIX):
//   PERF_HTTP_PREFIX=perf_http_x PERF_HTTP_DRIVER=mysql2 node benchmarks/http-service.mjs --setup
//   PERF_HTTP_PREFIX=perf_http_x PERF_HTTP_DRIVER=mysql2 node benchmarks/http-profile.mjs guard 8000 2000 /tmp/guard.out [--perf]
//   callgrind_annotate --threshold=100 --inclusive=yes /tmp/guard.out
import { spawn, execFileSync } from 'node:child_process';
import { Agent, request } from 'node:http';

const [variant, warm, n, out] = process.argv.slice(2);
const script = new URL('./http-service.mjs', import.meta.url).pathname;
const perf = process.argv.includes('--perf') ? ['--perf-basic-prof', '--interpreted-frames-native-stack'] : [];
const child = spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}`, process.execPath, '--predictable', ...perf, script, '--serve', variant], { stdio: ['ignore', 'pipe', 'pipe'] });
let err = '';
child.stderr.on('data', (d) => (err += d));
const port = await new Promise((resolve, reject) => {
  let o = '';
  child.stdout.on('data', (d) => {
    o += d;
    const m = /listening (\d+)/.exec(o);
    if (m) resolve(Number(m[1]));
  });
  child.on('exit', () => reject(new Error(err)));
});
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const post = process.argv.includes('--post');
const route = post ? 'POST' : 'GET';
const call = (path) => new Promise((resolve, reject) => {
  const req = request({ host: '127.0.0.1', port, path, agent, method: route }, (res) => {
    if (res.statusCode >= 300) reject(new Error(`${route} ${path}: ${res.statusCode}`));
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
    await call(post ? `/order/${id + 1}` : `/item/${id + 1}`);
  }
};
await requests(Number(warm));
execFileSync('callgrind_control', ['-i', 'on', String(child.pid)]);
execFileSync('callgrind_control', ['-z', String(child.pid)]);
await requests(Number(n));
agent.destroy();
child.removeAllListeners('exit');
const exited = new Promise((resolve) => child.on('exit', resolve));
child.kill('SIGTERM');
await exited;
const collected = Number(/Collected : (\d+)/.exec(err)?.[1]);
console.log(`${variant}: pid ${child.pid}, ${collected} instructions over ${n} ${route}s, ${Math.round(collected / Number(n))} per ${route}`);

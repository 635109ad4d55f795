// What the collector sees per sql.begin() transaction (the HTTP service's POST /order: SELECT … FOR
// UPDATE, UPDATE, INSERT … RETURNING), without HTTP: bare postgres.js, poolguard/postgres, and
// `weakmap`, bare postgres.js with one WeakMap entry per transaction whose value reaches the
// transaction's `sql` (what poolguard/postgres did before it kept its lease on that `sql` instead).
// Under --trace-gc-nvp the window is marked by two lines of its own; per transaction, the bytes
// that survived scavenges are the sum of the window's new_space_survived= over its length:
//   node --trace-gc-nvp [--import ./benchmarks/use-postgres4.mjs] benchmarks/tx-alloc.mjs <bare|guard|weakmap> [warm] [n] > log
// Without it, with a new space large enough that no collection falls in the window, the growth of
// heapUsed over the window is what was allocated (a window with a collection is said to be one):
//   node --max-semi-space-size=256 --min-semi-space-size=256 … benchmarks/tx-alloc.mjs <variant> 3000 1000
// --survivors=<file>: the inspector's sampling heap profile of the window, keeping the objects a
// mark-compact collected and dropping those a scavenge did: by allocating function, what survived.
// Tables: PERF_HTTP_PREFIX's, made by http-service.mjs --setup (PERF_HTTP_DRIVER=postgres).
import { PerformanceObserver } from 'node:perf_hooks';
import { url } from './lib.mjs';

const [variant = 'guard', warm = '3000', n = '500'] = process.argv.slice(2);
const PREFIX = process.env.PERF_HTTP_PREFIX ?? 'perf_http';
const options = { max: 10, onnotice: () => {} };
let sql;
if (variant === 'guard') {
  const { default: postgres } = await import('poolguard/postgres');
  sql = postgres(url, { ...options, guard: { name: 'bench', logger: false } });
} else {
  sql = (await import('postgres')).default(url, options);
}
let begin = (fn) => sql.begin(fn);
if (variant === 'weakmap') {
  const leases = new WeakMap();
  begin = (fn) => sql.begin((tx) => {
    leases.set(tx, { tx });
    return fn(tx);
  });
}
const items = sql(`${PREFIX}_items`);
const orders = sql(`${PREFIX}_orders`);
const order = (id) =>
  begin(async (tx) => {
    await tx`SELECT stock FROM ${items} WHERE id = ${id} FOR UPDATE`;
    await tx`UPDATE ${items} SET stock = stock - 1 WHERE id = ${id}`;
    const [row] = await tx`INSERT INTO ${orders} (item_id) VALUES (${id}) RETURNING id`;
    return row.id;
  });
let id = 1;
const run = async (count) => {
  for (let i = 0; i < count; i++) {
    id = (id * 7919 + 13) % 10_000;
    await order(id + 1);
  }
};
await run(Number(warm));
const survivors = process.argv.find((a) => a.startsWith('--survivors='))?.slice(12);
let inspector;
if (survivors) {
  const { Session } = await import('node:inspector/promises');
  inspector = new Session();
  inspector.connect();
  await inspector.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false });
}
let gcs = 0;
const observer = new PerformanceObserver((list) => (gcs += list.getEntries().length));
observer.observe({ entryTypes: ['gc'] });
const before = process.memoryUsage().heapUsed;
console.log('---- window begins ----');
await run(Number(n));
console.log('---- window ends ----');
const after = process.memoryUsage().heapUsed;
if (inspector) {
  const { profile } = await inspector.post('HeapProfiler.getSamplingProfile');
  await inspector.post('HeapProfiler.stopSampling');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(survivors, JSON.stringify(profile));
}
// The observer hears of a collection after it happened: let it.
await new Promise((resolve) => setTimeout(resolve, 50));
observer.disconnect();
console.log(`${variant}: ${gcs ? `${gcs} collections in the window (heapUsed's growth is no count)` : `${Math.round((after - before) / Number(n))} B allocated per transaction over ${n}`}`);
await sql.end({ timeout: 1 });

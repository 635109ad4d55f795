// 6. Stack depth: what a deeper capture costs per checkout where depth matters, that is at a data
// layer's real call depth, after an await (V8 then walks async frames too). Each checkout comes
// from a handler that awaits once (its authentication), then calls down a synchronous chain of
// `layer` frames (an ORM's find() → query builder → query runner → driver takes 10–15), under
// `outer` async callers (router, middleware, framework) awaiting each other. With the defaults
// (layer 15, outer 40) more than 50 frames are there to capture, so each depth captures all it may.
// Run: npm run build && node benchmarks/stack-depth.mjs [--ops N] [--rounds N] [--layer N] [--outer N]
import pg from 'pg';
import { Pool } from 'poolguard/pg';
import { SMOKE, arg, interleaved, table, url } from './lib.mjs';

const ops = SMOKE ? 200 : arg('ops', 50_000);
const rounds = SMOKE ? 1 : arg('rounds', 5);
const layer = arg('layer', 15);
const outer = arg('outer', 40);

/** The data layer: synchronous frames between the handler's call and pool.connect(). */
function dataLayer(pool, n) {
  return n === 0 ? pool.connect() : dataLayer(pool, n - 1);
}

async function handler(pool) {
  await null; // the handler's earlier await: what follows runs from a microtask, with async frames
  const client = await dataLayer(pool, layer);
  client.release();
}

/** The framework above the handler: async functions awaiting each other. */
async function caller(pool, n) {
  if (n === 0) return await handler(pool);
  await caller(pool, n - 1);
}

async function loop(pool, n) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await caller(pool, outer);
  return Number(process.hrtime.bigint() - start) / n / 1_000;
}

export async function run() {
  const mk = (guard) => new Pool({ connectionString: url, max: 10, guard: { logger: false, ...guard } });
  const depths = (process.env.STACK_DEPTHS ?? '10,25,50').split(',').map(Number);
  const list = [
    { name: 'bare pg.Pool', pool: new pg.Pool({ connectionString: url, max: 10 }) },
    { name: "captureStacks 'none'", pool: mk({ captureStacks: 'none' }) },
    ...depths.map((d) => ({ name: `stackDepth ${d}`, pool: mk({ stackDepth: d }) })),
  ];
  const results = await interleaved(list, (x) => loop(x.pool, ops), { rounds });
  await Promise.all(list.map((x) => x.pool.end()));
  return {
    title: 'Stack depth at a data layer’s call depth, after an await (checkout + release, µs)',
    body: `${rounds} rounds × ${ops} checkouts; each through ${outer} async callers, one await, ${layer} synchronous data-layer frames.\n\n${table(results, { unit: 'µs', baseline: 'bare pg.Pool' })}`,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await run()).body);

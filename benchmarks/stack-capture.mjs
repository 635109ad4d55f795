// 5. Stack capture: what each capture mode costs per checkout (explicit connect()), and what
// captureStacks 'all' adds to pool.query().
// Run: npm run build && node benchmarks/stack-capture.mjs
import pg from 'pg';
import { Pool } from 'poolguard/pg';
import { SMOKE, arg, interleaved, table, url } from './lib.mjs';

const ops = SMOKE ? 200 : arg('ops', 100_000);
const rounds = SMOKE ? 1 : arg('rounds', 5);

async function checkoutRelease(pool, n) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const c = await pool.connect();
    c.release();
  }
  return Number(process.hrtime.bigint() - start) / n / 1_000;
}

export async function run() {
  const mk = (guard) => new Pool({ connectionString: url, max: 10, guard: { logger: false, ...guard } });
  const list = [
    { name: 'bare pg.Pool', pool: new pg.Pool({ connectionString: url, max: 10 }) },
    { name: "captureStacks 'none'", pool: mk({ captureStacks: 'none' }) },
    { name: "'connect', stackDepth 1", pool: mk({ stackDepth: 1 }) },
    { name: "'connect', stackDepth 10", pool: mk({ stackDepth: 10 }) },
    { name: "'connect', stackDepth 30 (default)", pool: mk({}) },
    { name: "'connect', stackDepth 50", pool: mk({ stackDepth: 50 }) },
    { name: "'connect', stackSampleRate 0.1", pool: mk({ stackSampleRate: 0.1 }) },
  ];
  const results = await interleaved(list, (x) => checkoutRelease(x.pool, ops), { rounds });
  await Promise.all(list.map((x) => x.pool.end()));
  return {
    title: 'Stack capture modes (checkout + release, µs)',
    body: `${rounds} rounds × ${ops} checkouts.\n\n${table(results, { unit: 'µs', baseline: 'bare pg.Pool' })}`,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await run()).body);

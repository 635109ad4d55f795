// connect() + a transaction + release(): the path a service's writes take, which pool.query()
// benchmarks do not exercise (an explicit checkout: the stack capture, the dirty-release check at
// release). Concurrency 32 on a pool of 10: connect, BEGIN, SELECT 1, COMMIT, release. Measured as
// this process's CPU time per transaction (process.cpuUsage), which a busy machine disturbs far
// less than throughput; the server's time is not in it.
// Run: npm run build && node benchmarks/transaction.mjs [--rounds 5] [--seconds 2]
import { SMOKE, arg, cpuPerCall, interleaved, table } from './lib.mjs';
import { variants } from './variants.mjs';

const rounds = SMOKE ? 1 : arg('rounds', 5);
const seconds = SMOKE ? 0.2 : arg('seconds', 2);

/** connect, BEGIN, SELECT 1, COMMIT, release. */
async function transaction(pool) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT 1');
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

export async function run() {
  const v = variants({ max: 10 });
  const results = await interleaved(v.list, (x) => cpuPerCall(() => transaction(x.pool), 32, seconds), { rounds });
  await v.end();
  return {
    title: 'connect() + BEGIN + SELECT 1 + COMMIT + release() (concurrency 32, max 10)',
    body: `Client CPU µs per transaction (lower is better), ${rounds} rounds × ${seconds} s.\n\n${table(results, { unit: 'µs', baseline: 'bare pg.Pool', digits: 1 })}`,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await run()).body);

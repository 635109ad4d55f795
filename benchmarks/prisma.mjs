// Prisma 7 interactive transactions (@prisma/adapter-pg) on a poolguard pool, with and without
// guardPrisma(prisma), beside Prisma on a bare pg.Pool: what the $transaction line costs. Each
// transaction is `prisma.$transaction(async (tx) => tx.order.count())` (BEGIN, SELECT, COMMIT),
// 16 at a time on a pool of 10, measured as this process's CPU time per transaction (the server's
// time is not in it). The Prisma client is generated first, offline, from the test service's schema.
// Run: npm run build && node benchmarks/prisma.mjs [--rounds 5] [--seconds 2]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { Pool } from 'poolguard/pg';
import { guardPrisma } from 'poolguard/prisma';
import { SMOKE, arg, cpuPerCall, interleaved, table, url } from './lib.mjs';

const rounds = SMOKE ? 1 : arg('rounds', 5);
const seconds = SMOKE ? 0.2 : arg('seconds', 2);
const root = fileURLToPath(new URL('..', import.meta.url));
const TABLE = 'poolguard_prisma_orders';

async function prismaClient() {
  execFileSync(process.execPath, [`${root}node_modules/prisma/build/index.js`, 'generate', '--schema', `${root}test/fixtures/prisma-service/schema.prisma`], {
    cwd: root,
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.execPath, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
    stdio: 'pipe',
  });
  // The generated client is TypeScript: Node loads it through tsx's ESM hooks.
  const { register } = await import('tsx/esm/api');
  const unregister = register();
  try {
    return (await import(`${root}test/fixtures/prisma-service/generated/client.ts`)).PrismaClient;
  } finally {
    await unregister();
  }
}

export async function run() {
  const PrismaClient = await prismaClient();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id serial PRIMARY KEY, item text NOT NULL, qty int NOT NULL)`);
  await admin.end();
  const make = (pool) => ({ pool, prisma: new PrismaClient({ adapter: new PrismaPg(pool) }) });
  const bare = make(new pg.Pool({ connectionString: url, max: 10 }));
  const plain = make(new Pool({ connectionString: url, max: 10, guard: { name: 'bench-prisma', logger: false } }));
  const guarded = make(new Pool({ connectionString: url, max: 10, guard: { name: 'bench-prisma-guarded', logger: false } }));
  guardPrisma(guarded.prisma);
  const list = [
    { name: 'Prisma on bare pg.Pool', ...bare },
    { name: 'Prisma on poolguard Pool', ...plain },
    { name: 'same + guardPrisma(prisma)', ...guarded },
  ];
  const results = await interleaved(list, (x) => cpuPerCall(() => x.prisma.$transaction(async (tx) => tx.order.count()), 16, seconds), { rounds });
  for (const x of list) {
    await x.prisma.$disconnect();
    await x.pool.end();
  }
  return {
    title: 'Prisma 7 interactive $transaction (concurrency 16, max 10)',
    body: `Client CPU µs per transaction (lower is better), ${rounds} rounds × ${seconds} s.\n\n${table(results, { unit: 'µs', baseline: 'Prisma on bare pg.Pool', digits: 1 })}`,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await run()).body);

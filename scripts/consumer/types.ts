// Type-checked (never run) by scripts/ci-package.sh under each moduleResolution, against the packed
// tarball. The @ts-expect-error lines fail the check if a type silently resolves to `any`.
import { Pool, guard, type PoolOptions } from 'poolguard/pg';
import { createPool, type GuardedPool } from 'poolguard/generic-pool';
import { CheckoutTimeoutError, type GuardSnapshot, type LeakReport } from 'poolguard';
import { guardPrisma, type PrismaClientLike } from 'poolguard/prisma';
import { Pool as PgPool, type PoolClient } from 'pg';
import { allowOpenLeases, assertNoOpenLeases, checkOpenLeases, configureLeakCheck, LeakCheckError, leakCheckpoint, type LeakFinding } from 'poolguard/testing';
import { mochaHooks } from 'poolguard/testing/mocha';
import type * as vitestSetup from 'poolguard/testing/vitest';
import type * as jestSetup from 'poolguard/testing/jest';
import type * as nodeTestSetup from 'poolguard/testing/node-test';

const options: PoolOptions = {
  connectionString: 'postgres://postgres@127.0.0.1:5432/postgres',
  max: 2,
  connectionTimeoutMillis: 5_000,
  guard: { name: 'pkgci-types', leakThresholdMs: 30_000 },
};
const pool = new Pool(options);
const asPg: PgPool = pool;
pool.guard.on('leak', (report: LeakReport) => {
  const site: string | undefined = report.site;
  const held: number = report.heldMs;
  void site;
  void held;
});
const snapshot: GuardSnapshot = pool.guard.snapshot();
const leased: number = snapshot.counts.leased;

async function run(): Promise<number> {
  const client: PoolClient = await pool.connect();
  try {
    const result = await client.query<{ one: number }>('select 1 as one');
    const one: number = result.rows[0]!.one;
    return one + pool.totalCount + leased;
  } catch (err) {
    if (err instanceof CheckoutTimeoutError) return -1;
    throw err;
  } finally {
    client.release();
  }
}

guard(new PgPool(), { name: 'pkgci-existing' });

// Structural: a PrismaClient is accepted without Prisma's types in this project.
const prismaLike: PrismaClientLike = { $transaction: async (fn: (tx: unknown) => Promise<number>) => fn(undefined) };
const prismaGuard: GuardSnapshot = guardPrisma(prismaLike, { name: 'pkgci-prisma' }).snapshot();

const resources: GuardedPool<{ id: number }> = createPool(
  { create: async () => ({ id: 1 }), destroy: async () => {} },
  { max: 1, guard: { leakThresholdMs: 10_000 } },
);
resources.guard.snapshot();
resources.acquire().then((resource) => resources.release(resource));

// @ts-expect-error connectionString is a string in @types/pg's PoolConfig
new Pool({ connectionString: 5 });
// @ts-expect-error leakThresholdMs is a number
new Pool({ guard: { leakThresholdMs: 'soon' } });
// @ts-expect-error guardPrisma needs a client with $transaction
guardPrisma({});
// @ts-expect-error a guarded generic-pool has no query()
resources.query('select 1');

async function leakCheck(): Promise<string[]> {
  const since = leakCheckpoint();
  configureLeakCheck({ settleMs: 50, dirtyReleases: true });
  const findings: readonly LeakFinding[] = await checkOpenLeases({ since });
  try {
    await assertNoOpenLeases({ since, testName: 'pkgci' });
  } catch (err) {
    if (err instanceof LeakCheckError) return err.findings.map((f) => f.message);
  }
  const allowed: number = allowOpenLeases('handed over');
  return findings.map((f) => (f.type === 'openLease' ? `${f.lease.where} ${allowed}` : f.message));
}
// `await using`: poolguard/pg's clients and generic-pool's leases dispose by releasing.
async function disposal(): Promise<number> {
  const client = await pool.connect();
  const lease = await resources.guard.lease(1);
  const id: number = lease.resource.id;
  // @ts-expect-error the lease's resource keeps the pool's type
  const wrong: string = lease.resource;
  await lease[Symbol.asyncDispose]();
  await client[Symbol.asyncDispose]();
  client[Symbol.dispose]();
  return id + wrong.length;
}

const hooks: () => Promise<void> = mochaHooks.beforeEach;
type SetUpModules = [typeof vitestSetup, typeof jestSetup, typeof nodeTestSetup];
// @ts-expect-error settleMs is a number
configureLeakCheck({ settleMs: 'soon' });

void asPg;
void prismaGuard;
void run;
void leakCheck;
void disposal;
void hooks;
void (undefined as unknown as SetUpModules);

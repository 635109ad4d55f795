// Type-checked (never run) by scripts/ci-package.sh under each moduleResolution: poolguard/postgres
// as a postgres.js user writes it. The @ts-expect-error lines fail the check if a type silently
// resolves to `any`.
import postgres, { guard, type GuardedSql } from 'poolguard/postgres';
import { CheckoutTimeoutError, type LeakReport } from 'poolguard';

const sql: GuardedSql = postgres('postgres://postgres@127.0.0.1:5432/postgres', {
  max: 2,
  idle_timeout: 20,
  transform: postgres.camel,
  guard: { name: 'pkgci-postgres', acquireTimeoutMs: 5_000 },
});
sql.guard.on('leak', (report: LeakReport) => void report.site);

async function run(): Promise<number> {
  const reserved = await sql.reserve();
  try {
    const rows = await reserved<{ one: number }[]>`select 1 as one`;
    const one: number = rows[0]!.one;
    const inTransaction: number = await sql.begin(async (tx) => (await tx<{ n: number }[]>`select 2 as n`)[0]!.n);
    return one + inTransaction;
  } catch (err) {
    if (err instanceof CheckoutTimeoutError) return -1;
    throw err;
  } finally {
    reserved.release();
  }
}

guard(postgres({ max: 1 }), { name: 'pkgci-postgres-existing' });

// @ts-expect-error max is a number
postgres({ max: 'ten' });
// @ts-expect-error leakThresholdMs is a number
postgres({ guard: { leakThresholdMs: 'soon' } });
// @ts-expect-error a reserved connection's release() takes no argument
sql.reserve().then((r) => r.release(true));

void run;

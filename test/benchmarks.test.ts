import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { root } from './helpers/build.js';
import { DATABASE_URL } from './helpers/db.js';

describe('benchmarks do not rot', () => {
  it('every benchmark runs a handful of iterations and prints its tables', () => {
    const run = spawnSync(process.execPath, ['--expose-gc', 'benchmarks/run.mjs', '--smoke'], { cwd: root, encoding: 'utf8', env: { ...process.env, DATABASE_URL }, timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    for (const title of ['Checkout + release', "pool.query('SELECT 1') throughput", 'Stack capture modes', 'Stack depth at a data layer', 'Scale', 'Memory over', "Data layers' own pools", 'mysql2 beside bare mysql2', 'Prisma 7 interactive $transaction', 'postgres.js beside bare postgres.js']) expect(run.stdout).toContain(title);
    expect(run.stdout).toContain('instrumentation-pg + SDK');
    expect(run.stdout).toContain('the bound with an SDK');
  }, 120_000);
});

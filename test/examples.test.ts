import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_URL } from './helpers/db.js';

const root = join(import.meta.dirname, '..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

// Examples import the package by name, as users do, so they run against the build.
beforeAll(() => {
  const built = join(root, 'dist/esm/pg.js');
  if (!existsSync(built) || statSync(built).mtimeMs < newestMtime(join(root, 'src'))) {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  }
}, 120_000);

describe('examples run', () => {
  it('examples/leak-report.mjs names the leaking line and the holders', () => {
    const run = spawnSync(process.execPath, ['examples/leak-report.mjs'], { cwd: root, encoding: 'utf8', env: { ...process.env, DATABASE_URL }, timeout: 20_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toContain('possible connection leak: a client checked out at examples/leak-report.mjs:13:29');
    expect(run.stdout).toContain('leak event: site=examples/leak-report.mjs:13:29 state=idle');
    expect(run.stdout).toMatch(/timeout exceeded when trying to connect\npoolguard\[orders-db\]: 2 of 2 connections checked out/);
    expect(run.stdout).toContain('2 × examples/leak-report.mjs:13:29');
  });
});

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { root } from './helpers/build.js';
import { DATABASE_URL } from './helpers/db.js';

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

import { spawnSync } from 'node:child_process';
import { ensureBuilt, root } from './build.js';
import { DATABASE_URL } from './db.js';

/**
 * Runs a script of the repository in its own Node process (with --expose-gc, against the test
 * server, on the current build) and parses what it printed as JSON.
 */
export function runJsonScript<T = any>(script: string, args: string[] = []): { status: number | null; stderr: string; result: T } {
  ensureBuilt();
  const run = spawnSync(process.execPath, ['--expose-gc', script, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, DATABASE_URL }, timeout: 60_000 });
  let result: T;
  try {
    result = JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`${script} printed no JSON (exit ${run.status}): ${run.stdout.slice(0, 500)}\n${run.stderr.slice(0, 2_000)}`);
  }
  return { status: run.status, stderr: run.stderr, result };
}

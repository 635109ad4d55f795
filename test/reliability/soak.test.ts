import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers/build.js';
import { DATABASE_URL } from '../helpers/db.js';

describe('soak (short version of benchmarks/soak.mjs)', () => {
  it('ten times capacity with leaks, dirty releases and killed backends: every leak found, none invented, nothing left open', () => {
    const run = spawnSync(process.execPath, ['--expose-gc', 'benchmarks/soak.mjs', '--duration', '4', '--json'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, DATABASE_URL },
      timeout: 60_000,
    });
    const result = JSON.parse(run.stdout);
    expect(run.status, JSON.stringify(result)).toBe(0);
    expect(result.ok).toBeGreaterThan(200);
    expect(result.leaksInjected).toBeGreaterThan(0);
    expect(result.leaksDetected).toBe(result.leaksInjected);
    expect(result.leaksInvented).toBe(0);
    expect(result.dirtyDetected).toBe(result.dirtyInjected);
    expect(result.backendsKilled).toBeGreaterThan(0);
    expect(result.handlesEnd).toBeLessThanOrEqual(result.handlesStart);
    expect(result.finalCounts.leased).toBe(0);
    expect(result.finalCounts.ledgerConnections).toBe(result.finalCounts.total);
  }, 60_000);
});

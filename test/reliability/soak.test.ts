import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers/build.js';
import { DATABASE_URL } from '../helpers/db.js';

describe('soak (short version of benchmarks/soak.mjs)', () => {
  it('ten times capacity with leaks, dirty releases, killed backends, telemetry that throws at random, and the ESM and CommonJS builds side by side: no crash, every caller settled, every leak found, none invented, no lease left, nothing left open', () => {
    // The CommonJS pool's 300 ms default fails every call on a loaded machine; the checkout-timeout
    // path under broken telemetry is test/otel/containment.test.ts's, on warm connections.
    const run = spawnSync(process.execPath, ['--expose-gc', 'benchmarks/soak.mjs', '--duration', '4', '--cjs-timeout', '2000', '--json'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, DATABASE_URL },
      timeout: 60_000,
    });
    const result = JSON.parse(run.stdout);
    expect(run.status, JSON.stringify(result)).toBe(0);
    expect(result.crashes, JSON.stringify(result.crashSample)).toBe(0);
    expect(result.unsettled).toBe(0);
    expect(result.leasesLeft).toBe(0);
    expect(result.endedCleanly).toBe(true);
    expect(result.backendsKilled).toBeGreaterThan(0);
    expect(result.handlesEnd).toBeLessThanOrEqual(result.handlesStart);
    expect(Object.keys(result.pools)).toEqual(['soak-esm', 'soak-cjs']);
    for (const [name, pool] of Object.entries<any>(result.pools)) {
      // How many calls complete in 4 s is the machine's load, not poolguard's: that it served at all.
      expect(pool.ok, name).toBeGreaterThan(0);
      // Each error pg would have thrown out of the process is a killed backend's, reported.
      for (const kind of Object.keys(pool.unhandledKinds)) expect(kind, name).toMatch(/^(idle|leased): (57P01|Connection terminated unexpectedly)$/);
      expect(Object.values<number>(pool.unhandledKinds).reduce((n, k) => n + k, 0), name).toBe(pool.unhandledErrors);
      expect(pool.leaksInjected, name).toBeGreaterThan(0);
      expect(pool.leaksDetected, name).toBe(pool.leaksInjected);
      expect(pool.leaksInvented, name).toBe(0);
      expect(pool.dirtyDetected, name).toBe(pool.dirtyInjected);
      expect(pool.finalCounts.leased, name).toBe(0);
      expect(pool.finalCounts.ledgerConnections, name).toBe(pool.finalCounts.total);
      // The random failures were met (the tracer and the histograms at least) and each part was logged once.
      expect(pool.telemetryFailuresLogged.length, name).toBeGreaterThanOrEqual(2);
      expect(new Set(pool.telemetryFailuresLogged).size, name).toBe(pool.telemetryFailuresLogged.length);
    }
  }, 60_000);
});

import { describe, expect, it } from 'vitest';
import { audit, type AuditPoolOptions } from '../../src/index.js';
import { SOUND } from './helpers.js';

async function findings(options: AuditPoolOptions, instances = 1) {
  return (await audit({ options, instances })).findings;
}

describe('static audit rules', () => {
  it('a sound configuration has no findings, even with many instances', async () => {
    const result = await audit({ options: SOUND, instances: 6 });
    expect(result.findings).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.server).toBeUndefined();
  });

  it.each<[string, AuditPoolOptions, number, string]>([
    ['acquire-timeout-infinite', { connectionTimeoutMillis: 0 }, 1, 'connectionTimeoutMillis is 0'],
    ['acquire-timeout-infinite', { connectionTimeoutMillis: undefined }, 1, "connectionTimeoutMillis is not set (pg's default: 0)"],
    ['max-below-min', { max: 2, min: 5 }, 1, 'min is 5 but max is 2'],
    ['leak-detection-off', { guard: { leakThresholdMs: 0 } }, 1, 'guard.leakThresholdMs is 0'],
    ['leak-threshold-above-acquire-timeout', { guard: { leakThresholdMs: 30_000 } }, 1, 'guard.leakThresholdMs is 30000 (30.0 s), longer than connectionTimeoutMillis 5000'],
    ['reclaim-before-leak-report', { guard: { leakThresholdMs: 5_000, reclaimAfterMs: 2_000 } }, 1, 'guard.reclaimAfterMs is 2000 (2.0 s), shorter than guard.leakThresholdMs 5000'],
    ['reclaim-before-leak-report', { guard: { leakThresholdMs: 0, reclaimAfterMs: 2_000 } }, 1, 'shorter than guard.leakThresholdMs 0 (off)'],
    ['idle-window-contradicts-thresholds', { guard: { leakThresholdMs: 500, idleAfterMs: 1_000 } }, 1, 'guard.idleAfterMs 1000 is not shorter than guard.leakThresholdMs 500'],
    ['idle-window-contradicts-thresholds', { guard: { leakThresholdMs: 5_000, reclaimAfterMs: 20_000, idleAfterMs: 30_000 } }, 1, 'guard.idleAfterMs 30000 is not shorter than guard.reclaimAfterMs 20000'],
    ['lifetime-too-short', { maxLifetimeSeconds: 30 }, 1, 'maxLifetimeSeconds is 30 (30.0 s)'],
    ['lifetime-too-short', { guard: { leakThresholdMs: 5_000, maxLifetimeMs: 10_000 } }, 1, 'guard.maxLifetimeMs is 10000'],
    ['lifetime-without-jitter', { maxLifetimeSeconds: 1800 }, 4, 'maxLifetimeSeconds is 1800 with 4 instances'],
    ['lifetime-without-jitter', { guard: { leakThresholdMs: 5_000, maxLifetimeMs: 1_800_000, lifetimeJitter: 0 } }, 3, 'guard.lifetimeJitter is 0'],
    ['exit-on-idle', { allowExitOnIdle: true }, 1, 'allowExitOnIdle is true'],
    ['exit-on-idle', { idleTimeoutMillis: 0 }, 1, 'allowExitOnIdle is false and idleTimeoutMillis is 0'],
    ['invalid-option', { max: '20' as unknown as number }, 1, 'max is "20": pg expects a non-negative number'],
    ['invalid-option', { connectionTimeoutMillis: -1 }, 1, 'connectionTimeoutMillis is -1'],
    ['invalid-option', { max: 0 }, 1, 'max is 0: pg-pool replaces it with its default, 10'],
    ['invalid-option', { guard: { leakTresholdMs: 5 } }, 1, 'guard.leakTresholdMs is not a poolguard option. Did you mean guard.leakThresholdMs?'],
  ])('%s fires on %j (instances %d)', async (rule, breaking, instances, message) => {
    const result = await audit({ options: { ...SOUND, ...breaking }, instances });
    const hit = result.findings.find((f) => f.rule === rule);
    expect(hit, JSON.stringify(result.findings)).toBeDefined();
    expect(hit!.message).toContain(message);
    expect(hit!.message).not.toContain('\n');
    expect(hit!.why.length).toBeGreaterThan(20);
    expect(hit!.fix.length).toBeGreaterThan(20);
  });

  it('lifetimes stay quiet when long enough and, with one instance or jitter, unsynchronised', async () => {
    expect(await findings({ ...SOUND, maxLifetimeSeconds: 1800 })).toEqual([]);
    expect(await findings({ ...SOUND, guard: { leakThresholdMs: 5_000, maxLifetimeMs: 1_800_000, lifetimeJitter: 0.1 } }, 4)).toEqual([]);
    // Without an explicit jitter the guard's own default applies, whatever it is.
    expect(await findings({ ...SOUND, guard: { leakThresholdMs: 5_000, maxLifetimeMs: 1_800_000 } }, 4)).toEqual([]);
  });

  it('an idleAfterMs below the thresholds, or unset, is quiet', async () => {
    expect(await findings({ ...SOUND, guard: { leakThresholdMs: 5_000, idleAfterMs: 1_000 } })).toEqual([]);
    expect(await findings({ ...SOUND, guard: { leakThresholdMs: 500 } })).toEqual([]);
  });

  it('reclaim longer than the leak threshold is quiet', async () => {
    expect(await findings({ ...SOUND, guard: { leakThresholdMs: 5_000, reclaimAfterMs: 60_000 } })).toEqual([]);
  });

  it('uses pg-pool\'s and poolguard\'s defaults for what is not set', async () => {
    const rules = (await findings({})).map((f) => f.rule);
    // pg's connectionTimeoutMillis default is forever; poolguard's leak threshold (10 s) is on.
    expect(rules).toEqual(['acquire-timeout-infinite']);
    const withTimeout = await findings({ connectionTimeoutMillis: 2_000 });
    expect(withTimeout.map((f) => [f.rule, f.option, f.value])).toEqual([['leak-threshold-above-acquire-timeout', 'guard.leakThresholdMs', 10_000]]);
  });

  it('findings are JSON-serialisable, errors first, and ok is false with an error', async () => {
    const result = await audit({ options: { max: 1, min: 2, allowExitOnIdle: true, guard: { leakThresholdMs: 0 } } });
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
    expect(result.findings.map((f) => f.severity)).toEqual(['error', 'error', 'warning', 'info']);
    expect(result.counts).toEqual({ error: 2, warning: 1, info: 1 });
    expect(result.ok).toBe(false);
  });

  it('rejects bad arguments with the value it got', async () => {
    await expect(audit({ options: SOUND, instances: 0 })).rejects.toThrow('instances must be a whole number ≥ 1 (how many processes run this pool), got 0');
    await expect(audit({} as never)).rejects.toThrow('audit() needs { options }');
  });
});

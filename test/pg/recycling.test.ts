import { describe, expect, it } from 'vitest';
import type { RetireReport } from '../../src/pg.js';
import { sleep, until } from '../helpers/db.js';
import { guardedPool } from '../helpers/pools.js';

const pidOf = (c: unknown) => (c as { processID: number }).processID;

function retirements(pool: ReturnType<typeof guardedPool>): RetireReport[] {
  const seen: RetireReport[] = [];
  pool.guard.on('retire', (r) => seen.push(r));
  return seen;
}

describe('recycling against the real server', () => {
  it('idle connections past a jittered lifetime are closed at different times, and replaced where min asks', async () => {
    const pool = guardedPool({ max: 4, min: 2, guard: { maxLifetimeMs: 400, lifetimeJitter: 0.5 } });
    const seen = retirements(pool);
    const clients = await Promise.all([1, 2, 3, 4].map(() => pool.connect()));
    const pids = clients.map(pidOf);
    clients.forEach((c) => c.release());
    await until(() => seen.length >= 4, 'four lifetime retirements', 3_000);
    expect(seen.slice(0, 4).every((r) => r.reason === 'lifetime')).toBe(true);
    expect(seen.slice(0, 4).map((r) => r.connection.pid).sort()).toEqual([...pids].sort());
    const ages = seen.slice(0, 4).map((r) => r.connection.ageMs);
    expect(Math.min(...ages)).toBeGreaterThanOrEqual(190);
    expect(Math.max(...ages)).toBeLessThan(1_600);
    // min: 2 asks for replacements of what lifetime took
    await until(() => pool.totalCount >= 2, 'replacements for min', 2_000);
    const { rows } = await pool.query('SELECT pg_backend_pid() AS pid');
    expect(pids).not.toContain(rows[0].pid);
  });

  it('a busy connection past its lifetime is not closed under its holder; it retires at release without an error event', async () => {
    const pool = guardedPool({ max: 1, guard: { maxLifetimeMs: 100, lifetimeJitter: 0 } });
    const seen = retirements(pool);
    const releases: unknown[] = [];
    pool.on('release', (err) => releases.push(err));
    const c = await pool.connect();
    const pid = pidOf(c);
    await sleep(250);
    expect((await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid).toBe(pid);
    expect(seen).toHaveLength(0);
    c.release();
    expect(releases).toEqual([undefined]);
    await until(() => seen.length === 1, 'the retirement');
    expect(seen[0]).toMatchObject({ reason: 'lifetime', connection: { pid, uses: 1 } });
    const next = await pool.connect();
    expect(pidOf(next)).not.toBe(pid);
    next.release();
  });

  it('guard.maxUses retires after that many leases', async () => {
    const pool = guardedPool({ max: 1, guard: { maxUses: 2 } });
    const seen = retirements(pool);
    const pids: number[] = [];
    for (let i = 0; i < 3; i++) pids.push((await pool.query('SELECT pg_backend_pid() AS p')).rows[0].p);
    expect(pids[0]).toBe(pids[1]);
    expect(pids[2]).not.toBe(pids[1]);
    await until(() => seen.length === 1, 'the retirement');
    expect(seen[0]).toMatchObject({ reason: 'uses', connection: { uses: 2 } });
  });

  it("pg's own maxUses, maxLifetimeSeconds and idleTimeoutMillis still work, and get their reasons", async () => {
    const uses = guardedPool({ max: 1, maxUses: 1 });
    const usesSeen = retirements(uses);
    await uses.query('SELECT 1');
    await until(() => usesSeen.length === 1, 'pg maxUses retirement');
    expect(usesSeen[0]!.reason).toBe('uses');

    const idle = guardedPool({ max: 1, idleTimeoutMillis: 50 });
    const idleSeen = retirements(idle);
    await idle.query('SELECT 1');
    await until(() => idleSeen.length === 1, 'idle eviction');
    expect(idleSeen[0]!.reason).toBe('idle');

    const life = guardedPool({ max: 1, maxLifetimeSeconds: 1 });
    const lifeSeen = retirements(life);
    await life.query('SELECT 1');
    await until(() => lifeSeen.length === 1, 'pg lifetime retirement', 3_000);
    expect(lifeSeen[0]!.reason).toBe('lifetime');
  });

  it('every other reason: error, dirty, reclaimed, ended — counted in the snapshot', async () => {
    const pool = guardedPool({ max: 2, guard: { leakThresholdMs: 30, idleAfterMs: 10, reclaimAfterMs: 60 } });
    const seen = retirements(pool);
    const a = await pool.connect();
    a.release(new Error('caller saw a protocol problem'));
    const b = await pool.connect();
    await b.query('BEGIN');
    b.release();
    const leaked = await pool.connect();
    await until(() => seen.some((r) => r.reason === 'reclaimed'), 'a reclaim');
    leaked.release();
    await pool.query('SELECT 1');
    await pool.end();
    await until(() => seen.some((r) => r.reason === 'ended'), 'the end');
    expect(seen.map((r) => r.reason).sort()).toEqual(['dirty', 'ended', 'error', 'reclaimed']);
    expect(pool.guard.snapshot().totals.retired).toMatchObject({ error: 1, dirty: 1, reclaimed: 1, ended: 1 });
  });
});

describe('validation before reuse', () => {
  it('a connection idle past the window is checked; one that fails is replaced and the caller never sees it', async () => {
    let badPid = 0;
    let checks = 0;
    const pool = guardedPool({
      max: 2,
      guard: {
        validateAfterIdleMs: 30,
        validate: async (client: any) => {
          checks++;
          if (client.processID === badPid) throw new Error('simulated dead connection');
          await client.query('SELECT 1');
        },
      },
    });
    const seen = retirements(pool);
    const c = await pool.connect();
    badPid = pidOf(c);
    c.release();
    await sleep(60);
    const next = await pool.connect();
    expect(pidOf(next)).not.toBe(badPid);
    expect(checks).toBe(1);
    next.release();
    await until(() => seen.length === 1, 'the failed connection to go');
    expect(seen[0]!.reason).toBe('error');
    expect(pool.guard.snapshot().totals.validationFailures).toBe(1);
    // Used again right away: inside the window, no check.
    (await pool.connect()).release();
    expect(checks).toBe(1);
  });

  it('the default check is SELECT 1, and a check that hangs counts as failed after validationTimeoutMs', async () => {
    const pool = guardedPool({ max: 1, guard: { validateAfterIdleMs: 20, validationTimeoutMs: 80, validate: () => new Promise(() => {}) } });
    (await pool.connect()).release();
    await sleep(40);
    const started = Date.now();
    // The idle one hangs its check and is discarded; the fresh replacement needs no check.
    const client = await pool.connect();
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await client.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    client.release();
    expect(pool.guard.snapshot().totals.validationFailures).toBe(1);

    const plain = guardedPool({ max: 1, guard: { validateAfterIdleMs: 20 } });
    (await plain.connect()).release();
    await sleep(40);
    const c = await plain.connect();
    expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    c.release();
    expect(plain.guard.snapshot().totals.validationFailures).toBe(0);
  });
});

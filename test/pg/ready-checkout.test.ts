import type { Histogram } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeakReport, RetireReport } from '../../src/pg.js';
import { sleep, until } from '../helpers/db.js';
import { otelHarness, pointOf } from '../helpers/otel.js';
import { guardedPool } from '../helpers/pools.js';

let otel: ReturnType<typeof otelHarness>;
beforeAll(() => {
  otel = otelHarness();
});
afterAll(async () => {
  await otel.shutdown();
});

const WAIT_TIME = 'db.client.connection.wait_time';
const OLDEST_WAIT = 'poolguard.request.oldest_wait';
const at = (name: string) => ({ 'db.client.connection.pool.name': name });
const pidOf = (c: unknown) => (c as { processID: number }).processID;

/** The pool's wait-time histogram as recorded so far (cumulative), or an empty one. */
async function waits(name: string): Promise<{ count: number; sum: number; min: number | undefined; max: number | undefined }> {
  const h = pointOf(await otel.metrics(), WAIT_TIME, at(name)) as Histogram | undefined;
  return { count: h?.count ?? 0, sum: h?.sum ?? 0, min: h?.min, max: h?.max };
}

async function oldestWait(name: string): Promise<number> {
  return pointOf(await otel.metrics(), OLDEST_WAIT, at(name)) as number;
}

/** A pool on the test server with the SDK meter; each test names its own, so its series are its own. */
function pool(name: string, options: Parameters<typeof guardedPool>[0] = {}) {
  return guardedPool({ max: 2, connectionTimeoutMillis: 3_000, ...options, guard: { name, meterProvider: otel.meterProvider, ...options.guard } });
}

describe('a checkout served from an idle client with nobody ahead (real server)', () => {
  it('waits exactly 0 in the snapshot and the wait_time histogram, and is still leak-detected at its own line', async () => {
    const name = 'ready-warm';
    const p = pool(name, { guard: { leakThresholdMs: 150, idleAfterMs: 20 } });
    const leaks: LeakReport[] = [];
    p.guard.on('leak', (r) => leaks.push(r));
    // Opens the connection: this first checkout waited for it.
    (await p.connect()).release();
    expect([p.idleCount, p.totalCount]).toEqual([1, 1]);
    const connectionId = p.guard.snapshot().connections[0]!.id;
    const before = await waits(name);
    expect(before.count).toBe(1);
    expect(before.sum).toBeGreaterThan(0);

    const client = await p.connect();
    const after = await waits(name);
    expect(after.count - before.count).toBe(1);
    expect(after.sum).toBe(before.sum);
    expect(after.min).toBe(0);

    const leases = p.guard.snapshot().leases;
    expect(leases).toHaveLength(1);
    const lease = leases[0]!;
    expect([lease.kind, lease.waitMs, lease.connectionId]).toEqual(['connect', 0, connectionId]);
    // Granted without ever queueing: nothing is left on the waiting queue the gauge reads.
    expect(await oldestWait(name)).toBe(0);

    await until(() => leaks.length === 1, 'the leak report');
    const leak = leaks[0]!;
    expect([leak.leaseId, leak.waitMs, leak.state, leak.connection?.id]).toEqual([lease.id, 0, 'idle', connectionId]);
    expect(leak.site).toMatch(/^test\/pg\/ready-checkout\.test\.ts:\d+:\d+$/);
    expect(leak.heldMs).toBeGreaterThanOrEqual(150);
    client.release();
    expect(p.guard.snapshot().totals).toMatchObject({ checkouts: 2, leaks: 1, leaksResolved: 1 });
  });

  it('a checkout that must wait for the only client records its wait, and the oldest-waiter gauge sees it meanwhile', async () => {
    const name = 'ready-must-wait';
    const p = pool(name, { max: 1 });
    const held = await p.connect();
    const heldConnection = p.guard.snapshot().leases[0]!.connectionId;
    const before = await waits(name);
    expect(await oldestWait(name)).toBe(0);

    const pending = p.connect();
    await until(() => p.waitingCount === 1, 'the second checkout to queue');
    // The holder keeps the client for 50 ms more.
    await sleep(50);
    const gauge = await oldestWait(name);
    expect(gauge).toBeGreaterThanOrEqual(0.04);
    expect(gauge).toBeLessThan(5);
    held.release();
    const second = await pending;

    const after = await waits(name);
    expect(after.count - before.count).toBe(1);
    expect(after.sum - before.sum).toBeGreaterThanOrEqual(0.04);
    expect(after.sum - before.sum).toBeLessThan(5);
    expect(after.sum - before.sum).toBeGreaterThanOrEqual(gauge);
    const lease = p.guard.snapshot().leases[0]!;
    expect(lease.connectionId).toBe(heldConnection);
    expect(lease.waitMs).toBeGreaterThanOrEqual(40);
    expect(lease.waitMs).toBe(Math.round((after.sum - before.sum) * 1_000));
    expect(await oldestWait(name)).toBe(0);
    second.release();
  });

  it('a connection validated before reuse makes the checkout wait: the check counts in its wait', async () => {
    const name = 'ready-validate';
    let checks = 0;
    let gaugeDuringCheck: number | undefined;
    const p = pool(name, {
      max: 1,
      guard: {
        validateAfterIdleMs: 1,
        validate: async (c: any) => {
          checks++;
          await sleep(60);
          gaugeDuringCheck = await oldestWait(name);
          await c.query('SELECT 1');
        },
      },
    });
    const first = await p.connect();
    const connectionId = p.guard.snapshot().leases[0]!.connectionId;
    const pid = pidOf(first);
    first.release();
    const releasedAt = performance.now();
    await until(() => performance.now() - releasedAt >= 3, 'the connection to be idle past validateAfterIdleMs');
    expect(p.idleCount).toBe(1);
    const checksBefore = checks;
    gaugeDuringCheck = undefined;
    const before = await waits(name);

    const client = await p.connect();
    expect(checks).toBe(checksBefore + 1);
    expect(pidOf(client)).toBe(pid);
    const after = await waits(name);
    expect(after.count - before.count).toBe(1);
    expect(after.sum - before.sum).toBeGreaterThanOrEqual(0.05);
    expect(after.sum - before.sum).toBeLessThan(5);
    const lease = p.guard.snapshot().leases[0]!;
    expect(lease.connectionId).toBe(connectionId);
    expect(lease.waitMs).toBeGreaterThanOrEqual(50);
    // While the check ran, the checkout was on the waiting queue (the gauge reads it).
    expect(gaugeDuringCheck).toBeGreaterThanOrEqual(0.05);
    expect(p.guard.snapshot().totals.validationFailures).toBe(0);
    client.release();
  });

  it('a connection whose lifetime ended while idle is discarded: the checkout waits for a new one', async () => {
    const name = 'ready-lifetime';
    const lifetimeMs = 300;
    const p = pool(name, { guard: { maxLifetimeMs: lifetimeMs, lifetimeJitter: 0 } });
    const retired: RetireReport[] = [];
    p.guard.on('retire', (r) => retired.push(r));
    const first = await p.connect();
    // Read right after the connection opened: its lifetime ends lifetimeMs after a time before this.
    const openedBy = performance.now();
    const oldId = p.guard.snapshot().leases[0]!.connectionId!;
    const oldPid = pidOf(first);
    first.release();
    // The pool's own scan (every 30 ms here) closes an idle connection once its lifetime ends; the
    // checkout under test must find it first. So the event loop is held (no timer can run) until the
    // lifetime has ended, and the checkout is asked for in the same tick: no sleep could order this.
    while (performance.now() - openedBy < lifetimeMs + 20) {
      // spin
    }
    expect([p.idleCount, p.waitingCount, retired.length]).toEqual([1, 0, 0]);
    const client = await p.connect();

    const lease = p.guard.snapshot().leases[0]!;
    expect(lease.connectionId).not.toBe(oldId);
    expect(pidOf(client)).not.toBe(oldPid);
    // It waited for the new connection to open (a TCP connect and a startup: well over 0.5 ms).
    expect(lease.waitMs).toBeGreaterThan(0);
    expect(lease.waitMs).toBeLessThan(3_000);
    await until(() => retired.length === 1, 'the expired connection to close');
    expect([retired[0]!.reason, retired[0]!.connection.id, retired[0]!.connection.pid]).toEqual(['lifetime', oldId, oldPid]);
    expect(p.guard.snapshot().totals).toMatchObject({ checkouts: 2, created: 2 });
    expect(p.guard.snapshot().totals.retired.lifetime).toBe(1);
    client.release();
  });

  it('two checkouts in one tick with one idle client: the first is ready, the second waits for a new connection', async () => {
    const name = 'ready-two';
    const p = pool(name, { max: 3 });
    const warm = await p.connect();
    const warmPid = pidOf(warm);
    warm.release();
    expect([p.idleCount, p.totalCount]).toEqual([1, 1]);
    const idleId = p.guard.snapshot().connections[0]!.id;
    const before = await waits(name);
    expect(before.count).toBe(1);
    expect(before.min).toBeGreaterThan(0);

    const pa = p.connect();
    const pb = p.connect();
    const [a, b] = await Promise.all([pa, pb]);

    expect(pidOf(a)).toBe(warmPid);
    expect(pidOf(b)).not.toBe(warmPid);
    const leases = [...p.guard.snapshot().leases].sort((x, y) => x.id - y.id);
    expect(leases).toHaveLength(2);
    const [la, lb] = leases as [(typeof leases)[0], (typeof leases)[0]];
    expect([la.waitMs, la.connectionId]).toEqual([0, idleId]);
    expect(lb.connectionId).not.toBe(idleId);
    expect(lb.waitMs).toBeGreaterThan(0);
    expect(p.guard.snapshot().totals.created).toBe(2);

    const after = await waits(name);
    expect(after.count - before.count).toBe(2);
    // The first recorded exactly 0; the second its wait for the new connection.
    expect(after.min).toBe(0);
    expect(after.sum - before.sum).toBeGreaterThan(0);
    expect(Math.round((after.sum - before.sum) * 1_000)).toBe(lb.waitMs);
    expect(await oldestWait(name)).toBe(0);
    a.release();
    b.release();
  });
});

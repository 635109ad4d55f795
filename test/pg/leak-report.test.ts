import { describe, expect, it } from 'vitest';
import type { LeakReport } from '../../src/pg.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithCallback, leakWithPromise } from '../fixtures/leaky.mjs';
import { until } from '../helpers/db.js';
import { guardedPool } from '../helpers/pools.js';
import { NATIVE_AWAIT_USING } from '../../src/core/await-using.js';

const FIXTURE = 'test/fixtures/leaky.mjs';

function leaks(pool: ReturnType<typeof guardedPool>, type: 'leak' | 'leakResolved' = 'leak'): LeakReport[] {
  const seen: LeakReport[] = [];
  pool.guard.on(type, (r) => seen.push(r));
  return seen;
}

describe('leak reports name the line that took the connection', () => {
  it('promise form: reports the fixture line, idle, once', async () => {
    const pool = guardedPool({ guard: { leakThresholdMs: 60, idleAfterMs: 30 } });
    const seen = leaks(pool);
    const client = await leakWithPromise(pool);
    await until(() => seen.length > 0, 'a leak report');
    const report = seen[0]!;
    expect(report.site).toBe(`${FIXTURE}:5:29`);
    expect(report.kind).toBe('connect');
    expect(report.state).toBe('idle');
    expect(report.heldMs).toBeGreaterThanOrEqual(60);
    expect(report.stack!.split('\n')[0]).toContain(`${FIXTURE.split('/').pop()}:5:29`);
    expect(report.connection!.pid).toBeTypeOf('number');
    expect(report.message).toContain(`checked out at ${FIXTURE}:5:29`);
    // The next step: `await using` where this Node runs it, try/finally where it does not.
    expect(report.message).toContain(
      NATIVE_AWAIT_USING
        ? 'Release it on every path at that line: use "await using client = await pool.connect()" or release it in a finally block.'
        : 'Release it on every path (try/finally) at that line.',
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toHaveLength(1);
    client.release();
  });

  it('callback form: reports the fixture line of pool.connect(cb)', async () => {
    const pool = guardedPool({ guard: { leakThresholdMs: 60 } });
    const seen = leaks(pool);
    const { done } = await leakWithCallback(pool);
    await until(() => seen.length > 0, 'a leak report');
    expect(seen[0]!.site).toBe(`${FIXTURE}:11:10`);
    done();
    expect(pool.idleCount).toBe(1);
  });

  it('a query in flight makes the lease busy; its release sends a resolved report with the total hold', async () => {
    const pool = guardedPool({ guard: { leakThresholdMs: 80, idleAfterMs: 40 } });
    const seen = leaks(pool);
    const resolved = leaks(pool, 'leakResolved');
    const client = await leakWithPromise(pool);
    const sleeping = client.query('SELECT pg_sleep(0.4)');
    await until(() => seen.length > 0, 'a leak report');
    expect(seen[0]!.state).toBe('busy');
    expect(seen[0]!.idleMs).toBe(0);
    expect(seen[0]!.message).toContain('slow lease');
    await sleeping;
    client.release();
    expect(resolved).toHaveLength(1);
    expect(resolved[0]!.leaseId).toBe(seen[0]!.leaseId);
    expect(resolved[0]!.heldMs).toBeGreaterThanOrEqual(400);
    expect(pool.guard.snapshot().totals).toMatchObject({ leaks: 1, leaksResolved: 1 });
  });

  it('a lease that did a query and then went quiet is idle, and the report says for how long', async () => {
    const pool = guardedPool({ guard: { leakThresholdMs: 150, idleAfterMs: 50 } });
    const seen = leaks(pool);
    const client = await leakWithPromise(pool);
    await new Promise((r) => setTimeout(r, 60));
    await client.query('SELECT 1');
    await until(() => seen.length > 0, 'a leak report');
    expect(seen[0]!.state).toBe('idle');
    // idle time counts from the end of the last query, not from the checkout
    expect(seen[0]!.idleMs).toBeLessThan(seen[0]!.heldMs - 40);
    client.release();
  });

  it('writes the report to the configured logger with the readable message', async () => {
    const lines: Array<{ obj: any; msg: string }> = [];
    const pool = guardedPool({ guard: { leakThresholdMs: 50, idleAfterMs: 20, logger: { warn: (obj, msg) => lines.push({ obj, msg }) } } });
    const client = await leakWithPromise(pool);
    await until(() => lines.length > 0, 'a log line');
    expect(lines[0]!.msg).toMatch(/^poolguard\[127\.0\.0\.1:5432\/test\]: possible connection leak: a client checked out at test\/fixtures\/leaky\.mjs:5:29/);
    expect(lines[0]!.obj.site).toBe(`${FIXTURE}:5:29`);
    client.release();
  });

  it('writes to stderr by default', async () => {
    const writes: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (writes.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      const pool = guardedPool({ guard: { leakThresholdMs: 50, logger: undefined } });
      const client = await leakWithPromise(pool);
      await until(() => writes.some((w) => w.includes('poolguard[')), 'a stderr line');
      client.release();
    } finally {
      process.stderr.write = original;
    }
    expect(writes.join('')).toContain(`checked out at ${FIXTURE}:5:29`);
  });

  it('captureStacks none: the lease is still reported, with no site and a hint', async () => {
    const pool = guardedPool({ guard: { leakThresholdMs: 50, captureStacks: 'none' } });
    const seen = leaks(pool);
    const client = await leakWithPromise(pool);
    await until(() => seen.length > 0, 'a leak report');
    expect(seen[0]!.site).toBeUndefined();
    expect(seen[0]!.stack).toBeUndefined();
    expect(seen[0]!.where).toBe('an unknown site (no stack captured for this connect())');
    expect(seen[0]!.message).toContain("checked out at an unknown site (no stack captured for this connect()) (guard.captureStacks is 'none')");
    client.release();
  });

  it('stackSampleRate 0.5 captures every second checkout', async () => {
    const pool = guardedPool({ max: 4, guard: { leakThresholdMs: 50, captureStacks: 'connect', stackSampleRate: 0.5 } });
    const seen = leaks(pool);
    const clients = [];
    for (let i = 0; i < 4; i++) clients.push(await leakWithPromise(pool));
    await until(() => seen.length === 4, 'four leak reports');
    expect(seen.filter((r) => r.site !== undefined)).toHaveLength(2);
    clients.forEach((c) => c.release());
  });

  it('ignoreFrames skips a helper of the application: the site is its caller', async () => {
    const pool = guardedPool({ guard: { leakThresholdMs: 50, ignoreFrames: ['test/fixtures/leaky.mjs'] } });
    const seen = leaks(pool);
    const client = await leakWithPromise(pool); // the site must be this line
    await until(() => seen.length > 0, 'a leak report');
    expect(seen[0]!.site).toMatch(/^test\/pg\/leak-report\.test\.ts:\d+:\d+$/);
    client.release();
  });
});

describe("the default capture ('adaptive'), against the server", () => {
  it("names a leak from a pool's first checkouts at once; past the first 1,000, a sampled-out leak is reported as such and the next one from its line is named", async () => {
    const pool = guardedPool({ max: 3, guard: { leakThresholdMs: 200 } });
    const seen = leaks(pool);
    const early = await leakWithPromise(pool);
    await until(() => seen.length === 1, 'the first leak report');
    expect(seen[0]!.site).toBe(`${FIXTURE}:5:29`);
    early.release();
    for (let i = 0; i < 1_000; i++) (await pool.connect()).release();
    // Past the start: 1 checkout in 64 is captured, and this one is not.
    const unnamed = await leakWithPromise(pool);
    await until(() => seen.length === 2, 'the sampled-out leak report');
    expect(seen[1]!.site).toBeUndefined();
    expect(seen[1]!.message).toContain("guard.captureStacks is 'adaptive' and this checkout was not sampled");
    expect(seen[1]!.message).toContain("Every checkout's stack has been captured since a lease without one passed 50 ms held: the next leak from the same line is reported with it.");
    // Held past a quarter of the threshold without a stack, it switched capture to every checkout.
    const named = await leakWithPromise(pool);
    await until(() => seen.length === 3, 'the next leak report from the same line');
    expect(seen[2]!.site).toBe(`${FIXTURE}:5:29`);
    unnamed.release();
    named.release();
  });
});

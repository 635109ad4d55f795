import { describe, expect, it } from 'vitest';
import type { Annotated } from '../helpers/driver-errors.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithPromise } from '../fixtures/leaky.mjs';
import { until, urlWithPassword } from '../helpers/db.js';
import { guardedPool } from '../helpers/pools.js';

const SECRET = 'hunter2-Sup3rSecret';

describe('secrets never print', () => {
  it('a password in the connection string is absent from reports, logs, snapshots and errors', async () => {
    const lines: string[] = [];
    const reports: unknown[] = [];
    // Trust auth accepts any password, so the URL with a password is a real, working configuration.
    const pool = guardedPool({
      connectionString: urlWithPassword(SECRET),
      password: SECRET,
      max: 1,
      // Room for a slow first connect on a loaded machine; the reclaim comes after the timed-out wait.
      connectionTimeoutMillis: 400,
      guard: { leakThresholdMs: 40, idleAfterMs: 10, reclaimAfterMs: 800, logger: { warn: (obj, msg) => lines.push(JSON.stringify(obj), msg), info: (obj, msg) => lines.push(JSON.stringify(obj), msg) } },
    });
    for (const e of ['leak', 'leakResolved', 'reclaim'] as const) pool.guard.on(e, (r) => reports.push(r));
    const client = await leakWithPromise(pool);
    await until(() => reports.length > 0, 'a leak report');
    const timeout = (await pool.connect().catch((e: unknown) => e)) as Annotated;
    const snapshot = JSON.stringify(pool.guard.snapshot());
    await until(() => reports.length > 1, 'a reclaim report');
    const reclaimErr = await client.query('SELECT 1').catch((e: Error) => e);
    client.release();
    let doubleErr: unknown;
    const c2 = await pool.connect();
    c2.release();
    try {
      c2.release();
    } catch (e) {
      doubleErr = e;
    }
    const everything = [
      ...lines,
      JSON.stringify(reports),
      snapshot,
      timeout.message,
      timeout.stack,
      JSON.stringify(timeout.holders),
      (reclaimErr as Error).message,
      (doubleErr as Error).message,
      pool.guard.name,
    ].join('\n');
    expect(everything).toContain('possible connection leak');
    expect(everything).toContain('timeout exceeded when trying to connect');
    expect(everything).toContain('reclaimed');
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain(encodeURIComponent(SECRET));
  });
});

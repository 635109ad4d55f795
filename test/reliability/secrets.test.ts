import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit } from '../../src/index.js';
import { guard, type CheckoutTimeoutError } from '../../src/pg.js';
import pg from 'pg';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithPromise } from '../fixtures/leaky.mjs';
import { DATABASE_URL, until, urlWithPassword } from '../helpers/db.js';
import { otelHarness } from '../helpers/otel.js';
import { forceEnd, guardedPool } from '../helpers/pools.js';

/**
 * A password given any of the three ways pg accepts one must never appear in anything poolguard
 * produces. Trust authentication accepts any password, so each configuration really connects.
 */
const SECRETS = { url: 'url-S3cr3t-Zq9', option: 'option-S3cr3t-Xw4', env: 'env-S3cr3t-Pk7' };
let otel: ReturnType<typeof otelHarness>;
const captured: string[] = [];
const originalWrite = process.stderr.write.bind(process.stderr);

beforeAll(() => {
  otel = otelHarness();
  process.env.PGPASSWORD = SECRETS.env;
  process.stderr.write = ((chunk: string) => (captured.push(String(chunk)), true)) as typeof process.stderr.write;
});
afterAll(async () => {
  process.stderr.write = originalWrite;
  delete process.env.PGPASSWORD;
  await otel.shutdown();
});

async function exercise(pool: pg.Pool & { guard: any }): Promise<void> {
  const reports: unknown[] = [];
  for (const e of ['leak', 'leakResolved', 'reclaim', 'dirtyRelease', 'retire', 'unhandledError']) pool.guard.on(e, (r: unknown) => reports.push(r));
  const leaked = await otel.tracer.startActiveSpan('request', async (span) => {
    const c = await leakWithPromise(pool);
    span.end();
    return c;
  });
  await until(() => reports.length > 0, 'a leak report');
  const timeout = (await pool.connect().catch((e: unknown) => e)) as CheckoutTimeoutError;
  expect(timeout.message).toMatch(/^timeout exceeded when trying to connect/);
  await until(() => reports.some((r) => (r as { type?: string }).type === 'reclaim'), 'a reclaim');
  const reclaimErr = await leaked.query('SELECT 1').catch((e: Error) => e);
  const dirty = await pool.connect();
  await dirty.query('BEGIN');
  dirty.release();
  let doubleErr: unknown;
  try {
    dirty.release();
  } catch (e) {
    doubleErr = e;
  }
  const result = await audit(pool);
  captured.push(
    JSON.stringify(reports, (_k, v) => (v instanceof Error ? { message: v.message, stack: v.stack } : v)),
    JSON.stringify(pool.guard.snapshot()),
    timeout.message,
    String(timeout.stack),
    JSON.stringify(timeout.holders),
    (reclaimErr as Error).message,
    String((reclaimErr as Error).stack),
    (doubleErr as Error).message,
    JSON.stringify(result),
    pool.guard.name,
  );
}

describe('secrets stay secret', () => {
  it.each([
    ['a password in connectionString', () => ({ connectionString: urlWithPassword(SECRETS.url) })],
    ['the password option', () => ({ connectionString: DATABASE_URL, password: SECRETS.option })],
    ['PGPASSWORD', () => ({ connectionString: DATABASE_URL })],
  ])('%s: absent from reports, snapshots, errors, logs, telemetry and the audit', async (_label, options) => {
    const pool = guardedPool({
      ...options(),
      max: 1,
      connectionTimeoutMillis: 300,
      guard: { name: undefined as never, logger: undefined, leakThresholdMs: 30, idleAfterMs: 10, reclaimAfterMs: 600, meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider },
    });
    await exercise(pool as never);
  });

  it('guard() on a pool with a password in its options', async () => {
    const pool = new pg.Pool({ connectionString: urlWithPassword(SECRETS.url), max: 1, connectionTimeoutMillis: 300 });
    try {
      guard(pool, { leakThresholdMs: 30, idleAfterMs: 10, reclaimAfterMs: 600, meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider });
      await exercise(pool as never);
    } finally {
      await forceEnd(pool);
    }
  });

  afterAll(async () => {
    const metrics = await otel.metrics();
    const spans = otel.exporter.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, links: s.links }));
    const everything = [...captured, JSON.stringify(metrics), JSON.stringify(spans)].join('\n');
    expect(everything).toContain('possible connection leak');
    expect(everything).toContain('timeout exceeded when trying to connect');
    expect(spans.length).toBeGreaterThan(0);
    for (const secret of Object.values(SECRETS)) {
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain(encodeURIComponent(secret));
    }
  });
});

import { describe, expect, it } from 'vitest';
import { DirtyReleaseError, type DirtyReleaseReport } from '../../src/pg.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithPromise } from '../fixtures/leaky.mjs';
import { until } from '../helpers/db.js';
import { barePool, guardedPool } from '../helpers/pools.js';

async function scratchTable(pool: ReturnType<typeof guardedPool>, name: string) {
  await pool.query(`CREATE TABLE IF NOT EXISTS ${name} (v int)`);
  await pool.query(`TRUNCATE ${name}`);
}

describe('dirty-release protection', () => {
  it('bare pg.Pool hands the next caller a client still inside the previous transaction (the hazard)', async () => {
    const pool = barePool({ max: 1 });
    const a = await pool.connect();
    await a.query('BEGIN');
    a.release();
    const b = await pool.connect();
    expect((b as any).getTransactionStatus()).toBe('T');
    await b.query('ROLLBACK');
    b.release();
  });

  it('destroys a client released in an open transaction, names both sites, and the work is not committed', async () => {
    const pool = guardedPool({ max: 1 });
    await scratchTable(pool, 'pg_dirty_open');
    const reports: DirtyReleaseReport[] = [];
    const released: unknown[] = [];
    pool.guard.on('dirtyRelease', (r) => reports.push(r));
    pool.on('release', (err) => released.push(err));
    const client = await leakWithPromise(pool);
    const pid = (client as any).processID;
    await client.query('BEGIN');
    await client.query('INSERT INTO pg_dirty_open VALUES (1)');
    client.release(); // the release site: this line
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ transaction: 'open', action: 'destroy', checkoutSite: 'test/fixtures/leaky.mjs:5:29', kind: 'connect' });
    expect(reports[0]!.releaseSite).toMatch(/^test\/pg\/dirty-release\.test\.ts:\d+:\d+$/);
    expect(reports[0]!.message).toContain('Commit or roll back on every path before release()');
    expect(released.at(-1)).toBeInstanceOf(DirtyReleaseError);
    await until(() => pool.totalCount === 0, 'the dirty client to be removed');
    const next = await pool.connect();
    expect((next as any).processID).not.toBe(pid);
    expect((next as any).getTransactionStatus()).toBe('I');
    expect((await next.query('SELECT count(*)::int AS n FROM pg_dirty_open')).rows[0].n).toBe(0);
    next.release();
    expect(pool.guard.snapshot().totals.dirtyReleases).toBe(1);
  });

  it('a failed transaction is dirty too', async () => {
    const pool = guardedPool({ max: 1 });
    const reports: DirtyReleaseReport[] = [];
    pool.guard.on('dirtyRelease', (r) => reports.push(r));
    const client = await pool.connect();
    await client.query('BEGIN');
    await client.query('SELECT 1/0').catch(() => {});
    // pg rejects on the ErrorResponse; the ReadyForQuery that says "failed" may come a moment later.
    // Until then the status still says "open", which is dirty as well.
    await until(() => (client as any).getTransactionStatus() === 'E', 'the failed-transaction status');
    client.release();
    expect(reports.map((r) => r.transaction)).toEqual(['failed']);
  });

  it("with dirtyRelease 'rollback', the same connection is rolled back and reused", async () => {
    const pool = guardedPool({ max: 1, guard: { dirtyRelease: 'rollback' } });
    await scratchTable(pool, 'pg_dirty_rb');
    const reports: DirtyReleaseReport[] = [];
    pool.guard.on('dirtyRelease', (r) => reports.push(r));
    const client = await pool.connect();
    const pid = (client as any).processID;
    await client.query('BEGIN');
    await client.query('INSERT INTO pg_dirty_rb VALUES (1)');
    client.release();
    expect(reports[0]!.action).toBe('rollback');
    const next = await pool.connect();
    expect((next as any).processID).toBe(pid);
    expect((next as any).getTransactionStatus()).toBe('I');
    expect((await next.query('SELECT count(*)::int AS n FROM pg_dirty_rb')).rows[0].n).toBe(0);
    next.release();
  });

  it('pool.query("BEGIN") leaves a dirty client that is never reused', async () => {
    const pool = guardedPool({ max: 1 });
    const reports: DirtyReleaseReport[] = [];
    pool.guard.on('dirtyRelease', (r) => reports.push(r));
    await pool.query('BEGIN');
    expect(reports).toHaveLength(1);
    expect(reports[0]!.kind).toBe('query');
    const { rows } = await pool.query("SELECT current_setting('transaction_isolation') AS iso, now() = statement_timestamp() AS fresh");
    expect(rows[0].fresh).toBe(true);
  });

  it('clean releases and release(err) are left alone', async () => {
    const pool = guardedPool({ max: 1 });
    let dirty = 0;
    pool.guard.on('dirtyRelease', () => dirty++);
    const a = await pool.connect();
    await a.query('BEGIN');
    await a.query('COMMIT');
    a.release();
    const b = await pool.connect();
    await b.query('BEGIN');
    b.release(new Error('caller gave up'));
    expect(dirty).toBe(0);
    expect(pool.guard.snapshot().totals.dirtyReleases).toBe(0);
  });
});

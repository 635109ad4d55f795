import { describe, expect, it } from 'vitest';
import { LeaseReclaimedError, type EndReport } from '../../src/postgres.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { beginAndHang, reserveAndForget } from '../fixtures/postgres-leaky.mjs';
import { sleep } from '../helpers/db.js';
import { APPLICATION_NAME, guardedSql, plainSql, POSTGRES_JS_MAJOR } from '../helpers/postgres.js';
import { siteMatchers } from '../helpers/sites.js';

const site = siteMatchers('test/fixtures/postgres-leaky.mjs');

function ends(sql: { guard: { on(e: string, f: (r: EndReport) => void): unknown } }): EndReport[] {
  const out: EndReport[] = [];
  sql.guard.on('endBlocked', (r) => out.push(r));
  sql.guard.on('endForced', (r) => out.push(r));
  return out;
}

describe('postgres.js: sql.end() with a leak open', () => {
  it('plain postgres.js: end() never resolves while a connection is reserved (3.4: not even once it is released)', async () => {
    const sql = plainSql({ max: 2, connection: { application_name: `${APPLICATION_NAME}-end` } });
    const reserved = await sql.reserve();
    await reserved`select 1`;
    const ending = sql.end().then(() => 'ended');
    expect(await Promise.race([ending, sleep(300).then(() => 'waiting')])).toBe('waiting');
    reserved.release();
    expect(await Promise.race([ending, sleep(300).then(() => 'waiting')])).toBe(POSTGRES_JS_MAJOR === 3 ? 'waiting' : 'ended');
  });

  it('resolves by guard.endTimeoutMs, saying who held it up and cutting them at the deadline', async () => {
    const sql = guardedSql({ guard: { endTimeoutMs: 400 } });
    const reports = ends(sql);
    const reserved = await reserveAndForget(sql);
    await reserved`select 1`;
    const { entered, settled } = beginAndHang(sql);
    await entered;
    const started = Date.now();
    await sql.end();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(380);
    expect(took).toBeLessThan(8_000);
    expect(reports.map((r) => r.type)).toEqual(['endBlocked', 'endForced']);
    const forced = reports[1]!;
    expect(forced.call).toBe('sql.end()');
    expect(forced.leases.map((l) => l.site).sort()).toEqual(expect.arrayContaining([expect.stringMatching(site('reserve')), expect.stringMatching(site('begin'))]));
    expect(forced.leases.find((l) => l.kind === 'transaction')!.transaction).toBe('open');
    // The holders learn it from their next query, or from the transaction's own promise.
    await expect(reserved`select 1`).rejects.toBeInstanceOf(LeaseReclaimedError);
    await expect(settled).rejects.toBeInstanceOf(LeaseReclaimedError);
    reserved.release();
  });

  it('a reserve() released during the end lets it finish at once, as a free connection would', async () => {
    const sql = guardedSql({ guard: { endTimeoutMs: 20_000 } });
    const reports = ends(sql);
    const reserved = await reserveAndForget(sql);
    await reserved`select 1`;
    const started = Date.now();
    const ending = sql.end();
    await sleep(50);
    reserved.release();
    await ending;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(reports).toEqual([]);
  });

  it("the caller's own end({ timeout }) is kept", async () => {
    const sql = guardedSql({ guard: { endTimeoutMs: 20_000 } });
    const reserved = await reserveAndForget(sql);
    await reserved`select 1`;
    const started = Date.now();
    await sql.end({ timeout: 0.2 });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

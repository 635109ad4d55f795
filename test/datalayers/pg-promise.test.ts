import pgPromise from 'pg-promise';
import { afterEach, describe, expect, it } from 'vitest';
import { guard, type LeakReport } from '../../src/pg.js';
import type { PoolGuard } from '../../src/index.js';
import { siteMatchers } from '../helpers/sites.js';
import { DATABASE_URL, until } from '../helpers/db.js';
// @ts-expect-error plain JavaScript fixture with marked lines
import * as app from '../fixtures/pg-promise-app.mjs';

// pg-promise builds its pg.Pool (db.$pool) from its own copy of pg, pinned exactly by pg-promise and
// so usually not the application's: guard() takes a pg.Pool from any copy.
const site = siteMatchers('test/fixtures/pg-promise-app.mjs');
const pgp = pgPromise();

type Db = ReturnType<typeof pgp>;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch {
      // done() twice, or a pool already ended: nothing left to clean
    }
  }
});

function database(options: Record<string, unknown> = {}): { db: Db; handle: PoolGuard; seen: LeakReport[] } {
  const db = pgp({ connectionString: DATABASE_URL, max: 2, ...options });
  cleanups.push(() => db.$pool.end());
  const handle = guard(db.$pool as never, { logger: false, leakThresholdMs: 150, idleAfterMs: 60 });
  const seen: LeakReport[] = [];
  handle.on('leak', (r) => seen.push(r));
  return { db, handle, seen };
}

/** A promise that settles when the test says so, and always by its end. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  cleanups.push(open);
  return { wait, open };
}

describe('pg-promise: guard(db.$pool) from poolguard/pg', () => {
  it('guards the pool pg-promise built, in place; queries flow unchanged and leave no lease', async () => {
    const { db, handle } = database();
    expect((db.$pool as unknown as { guard: PoolGuard }).guard).toBe(handle);
    expect(await app.one(db)).toEqual({ one: 1 });
    const snap = handle.snapshot();
    expect(snap.totals.checkouts).toBe(1);
    expect(snap.counts.leased).toBe(0);
    // pg-promise takes a connection with pool.connect() for each query and releases it itself.
    expect(snap.totals.leaks).toBe(0);
  });

  it('a forgotten db.connect() (no done()) is reported at the db.connect() line, idle, not in a transaction', async () => {
    const { db, handle, seen } = database();
    const sco = await app.forgottenConnect(db);
    cleanups.push(() => sco.done());
    await until(() => seen.length > 0, 'a leak report', 3_000);
    expect(seen[0]!.site).toMatch(site('connect'));
    expect(seen[0]!.kind).toBe('connect');
    expect(seen[0]!.state).toBe('idle');
    expect(seen[0]!.transaction).toBeUndefined();
    expect(seen[0]!.message).toContain('possible connection leak: a client checked out at test/fixtures/pg-promise-app.mjs:');
    expect(handle.snapshot().counts.leased).toBe(1);
    sco.done();
    expect(handle.snapshot().counts.leased).toBe(0);
  });

  it('a db.tx() stuck in its callback is reported at the db.tx() line, inside an open transaction', async () => {
    const { db, seen } = database();
    const stuck = gate();
    const tx = app.stuckTransaction(db, stuck.wait);
    await until(() => seen.length > 0, 'a leak report', 3_000);
    expect(seen[0]!.site).toMatch(site('tx'));
    expect(seen[0]!.state).toBe('idle');
    expect(seen[0]!.transaction).toBe('open');
    expect(seen[0]!.message).toMatch(/^poolguard\[[^\]]+\]: possible connection leak inside an open transaction: a client checked out at test\/fixtures\/pg-promise-app\.mjs:\d+:\d+ /);
    stuck.open();
    await tx;
  });

  it('when both hold the pool, pg’s timeout error reaches the caller through pg-promise with the holders by line', async () => {
    const { db, handle } = database({ connectionTimeoutMillis: 300 });
    const sco = await app.forgottenConnect(db);
    cleanups.push(() => sco.done());
    const stuck = gate();
    const tx = app.stuckTransaction(db, stuck.wait);
    await until(() => handle.snapshot().counts.leased === 2, 'two leases', 3_000);
    const err = (await app.one(db).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { code: string; holders: Array<{ site: string; count: number; inTransaction: number }> };
    expect(err.message).toBe('timeout exceeded when trying to connect');
    expect(err.code).toBeUndefined();
    expect(err.stack).toMatch(/^Error: timeout exceeded when trying to connect\npoolguard\[/);
    const bySite = Object.fromEntries(err.holders.map((h) => [h.site, h]));
    const connectSite = Object.keys(bySite).find((s) => site('connect').test(s));
    const txSite = Object.keys(bySite).find((s) => site('tx').test(s));
    expect(connectSite).toBeDefined();
    expect(txSite).toBeDefined();
    expect(bySite[txSite!]!.inTransaction).toBe(1);
    stuck.open();
    await tx;
  });
});

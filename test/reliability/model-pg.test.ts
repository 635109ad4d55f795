import fc from 'fast-check';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { Pool } from '../../src/pg.js';
import { DATABASE_URL, sleep } from '../helpers/db.js';
import { forceEnd, guardedPool } from '../helpers/pools.js';

/**
 * The same model check on the pg adapter with real clients and the real server (a shorter run):
 * checkouts, releases (clean, twice, with an error), backends terminated by the server while idle
 * or checked out, pool.query, and time passing. After every step pg-pool's counters and the
 * ledger must agree, and no client may be lent twice.
 */

const MAX = 3;
const TIMEOUT = 300;

interface Real {
  pool: Pool;
  admin: pg.Client;
  held: pg.PoolClient[];
  pending: number;
}
type Model = { held: number };

/** pg-pool and the ledger reach agreement asynchronously (a removal waits for the socket to close). */
async function agreed(real: Real): Promise<void> {
  const { pool } = real;
  const deadline = Date.now() + 5_000;
  for (;;) {
    const snap = pool.guard.snapshot();
    const ok = real.pending === 0 && snap.connections.length === pool.totalCount && snap.counts.leased + pool.idleCount === pool.totalCount;
    if (ok || Date.now() > deadline) break;
    await sleep(5);
  }
  const snap = pool.guard.snapshot();
  expect(new Set(real.held).size).toBe(real.held.length);
  expect(snap.counts.leased).toBe(real.held.length);
  expect(snap.connections.length).toBe(pool.totalCount);
  expect(snap.counts.leased + pool.idleCount).toBe(pool.totalCount);
  expect(pool.totalCount).toBeLessThanOrEqual(MAX);
  expect(pool.waitingCount).toBe(0);
  const live = new Set(snap.connections.map((c) => c.id));
  for (const lease of snap.leases) expect(live.has(lease.connectionId!)).toBe(true);
}

async function waitUntilDropped(r: Real, pid: number | undefined): Promise<void> {
  for (let waited = 0; waited < 3_000; waited += 10) {
    if (!r.pool.guard.snapshot().connections.some((c) => c.pid === pid)) return;
    await sleep(10);
  }
}

class Connect implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    r.pending++;
    const started = Date.now();
    try {
      r.held.push(await r.pool.connect());
    } catch (err) {
      // pg-pool's wait timeout, or, on a loaded machine, pg's own timeout while opening a new
      // connection (pg-pool hands connectionTimeoutMillis to the client too): both are pg's words.
      expect((err as Error).message).toMatch(/^(timeout exceeded when trying to connect|Connection terminated due to connection timeout)/);
      expect(Date.now() - started).toBeLessThan(TIMEOUT + 1_500);
    } finally {
      r.pending--;
    }
    m.held = r.held.length;
    await agreed(r);
  }
  toString = () => 'connect';
}

class Release implements fc.AsyncCommand<Model, Real> {
  constructor(readonly i: number, readonly how: 'clean' | 'twice' | 'error') {}
  check = (m: Readonly<Model>) => m.held > 0;
  async run(m: Model, r: Real) {
    if (r.held.length === 0) return;
    const c = r.held.splice(this.i % r.held.length, 1)[0]!;
    if (this.how === 'error') c.release(new Error('caller gave up'));
    else c.release();
    if (this.how === 'twice') expect(() => c.release()).toThrow(/^Release called on client which has already been released to the pool\.$/);
    m.held = r.held.length;
    await agreed(r);
  }
  toString = () => `release(${this.i}, ${this.how})`;
}

class Terminate implements fc.AsyncCommand<Model, Real> {
  constructor(readonly i: number, readonly held: boolean) {}
  check = () => true;
  async run(m: Model, r: Real) {
    if (this.held && r.held.length > 0) {
      const c = r.held[this.i % r.held.length]! as pg.PoolClient & { processID: number };
      await r.admin.query('SELECT pg_terminate_backend($1)', [c.processID]);
      // Wait for the client to learn of it (the server's FATAL, then the closed socket): on a busy
      // machine that can take a while.
      const gone = c as unknown as { _queryable?: boolean; _ending?: boolean };
      for (let waited = 0; gone._queryable !== false && !gone._ending && waited < 3_000; waited += 10) await sleep(10);
      // The holder finds out on its next query, as with pg; then gives the client back.
      await expect(c.query('SELECT 1')).rejects.toThrow();
      r.held.splice(r.held.indexOf(c), 1);
      c.release();
    } else {
      const idle = r.pool.guard.snapshot().connections.filter((x) => x.state === 'idle');
      if (idle.length === 0) return;
      const pid = idle[this.i % idle.length]!.pid;
      await r.admin.query('SELECT pg_terminate_backend($1)', [pid]);
      // Found by this test: until the server's FATAL reaches the idle client, pg (and so poolguard)
      // may still hand it out, and the next query fails with it. That window is what
      // guard.validateAfterIdleMs closes; here the model waits until the pool has dropped it.
      await waitUntilDropped(r, pid);
    }
    m.held = r.held.length;
    await agreed(r);
  }
  toString = () => `terminate(${this.held ? 'held' : 'idle'} ${this.i})`;
}

class Query implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => m.held < MAX;
  async run(m: Model, r: Real) {
    if (r.held.length >= MAX) return;
    expect((await r.pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await agreed(r);
  }
  toString = () => 'pool.query';
}

class Wait implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(_m: Model, r: Real) {
    await sleep(this.ms);
    await agreed(r);
  }
  toString = () => `wait(${this.ms})`;
}

describe('regressions found by the model', () => {
  it('terminate an idle backend, then query: once the pool has dropped it, the next query is healthy; with validation, at once', async () => {
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    try {
      for (const validate of [false, true]) {
        const pool = guardedPool({ max: 3, guard: validate ? { validateAfterIdleMs: 1 } : {} });
        const c = await pool.connect();
        const pid = (c as unknown as { processID: number }).processID;
        c.release();
        await sleep(5);
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        const real: Real = { pool, admin, held: [], pending: 0 };
        if (!validate) await waitUntilDropped(real, pid);
        // With validation the dead connection is checked, found dead and replaced: no wait needed.
        const { rows } = await pool.query('SELECT pg_backend_pid() AS pid');
        expect(rows[0].pid).not.toBe(pid);
        await forceEnd(pool);
      }
    } finally {
      await admin.end();
    }
  });
});

describe('pg adapter lifecycle, model-checked against the real server', () => {
  it('pg-pool and the ledger agree after every step; nothing lent twice; nobody left waiting', async () => {
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.commands(
            [
              fc.constant(new Connect()),
              fc.constant(new Connect()),
              fc.tuple(fc.nat(3), fc.constantFrom('clean', 'twice', 'error') as fc.Arbitrary<'clean' | 'twice' | 'error'>).map(([i, how]) => new Release(i, how)),
              fc.tuple(fc.nat(3), fc.boolean()).map(([i, held]) => new Terminate(i, held)),
              fc.constant(new Query()),
              fc.integer({ min: 1, max: 80 }).map((ms) => new Wait(ms)),
            ],
            { maxCommands: 14 },
          ),
          async (cmds) => {
            const pool = guardedPool({ max: MAX, connectionTimeoutMillis: TIMEOUT, guard: { leakThresholdMs: 50, idleAfterMs: 20 } });
            const real: Real = { pool, admin, held: [], pending: 0 };
            try {
              await fc.asyncModelRun(() => ({ model: { held: 0 }, real }), cmds);
              for (const c of real.held.splice(0)) c.release();
              await agreed(real);
            } finally {
              await forceEnd(pool);
            }
          },
        ),
        { numRuns: 12 },
      );
    } finally {
      await admin.end();
    }
  }, 120_000);
});

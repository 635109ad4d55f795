import { describe, expect, it } from 'vitest';
import { LeaseReclaimedError, type EndReport, type RetireReport } from '../../src/mysql2.js';
import { sleep, until } from '../helpers/db.js';
import { bareMysqlPool, guardedPromisePool } from '../helpers/mysql-pools.js';

const threadOf = async (pool: ReturnType<typeof guardedPromisePool>): Promise<number> => {
  const [rows] = (await pool.query('SELECT CONNECTION_ID() AS id')) as unknown as [Array<{ id: number }>];
  return rows[0]!.id;
};

describe('mysql2 recycling: lifetime, uses, validation, server-side KILL', () => {
  it('maxLifetimeMs closes an idle connection when due; a held one retires at its release, never under its holder', async () => {
    const pool = guardedPromisePool({ connectionLimit: 2, guard: { maxLifetimeMs: 250, lifetimeJitter: 0 } });
    const retired: RetireReport[] = [];
    pool.guard.on('retire', (r) => retired.push(r));
    const held = await pool.getConnection();
    const idle = await pool.getConnection();
    const idleThread = idle.connection.threadId;
    idle.release();
    await until(() => retired.length === 1, 'the idle connection retired', 3_000);
    expect(retired[0]).toMatchObject({ reason: 'lifetime', connection: { pid: idleThread } });
    // Still held past its lifetime: it works, and retires when released.
    const [rows] = await held.query('SELECT 1 AS x');
    expect(rows).toEqual([{ x: 1 }]);
    held.release();
    expect(retired).toHaveLength(2);
    expect(retired[1]!.reason).toBe('lifetime');
    expect(pool.guard.snapshot().counts.total).toBe(0);
    expect(await threadOf(pool)).not.toBe(idleThread);
  });

  it('maxUses retires a connection after that many leases', async () => {
    const pool = guardedPromisePool({ connectionLimit: 1, guard: { maxUses: 2 } });
    const first = await threadOf(pool);
    expect(await threadOf(pool)).toBe(first);
    expect(await threadOf(pool)).not.toBe(first);
    expect(pool.guard.snapshot().totals.retired.uses).toBe(1);
  });

  it('validateAfterIdleMs pings a connection idle that long; one that fails is discarded and the caller gets another', async () => {
    let checks = 0;
    const pool = guardedPromisePool({
      connectionLimit: 1,
      guard: { validateAfterIdleMs: 50, validate: async () => (++checks === 1 ? Promise.reject(new Error('stale')) : undefined) },
    });
    const first = await threadOf(pool);
    await sleep(80);
    const second = await threadOf(pool);
    // The replacement is new: nothing to check.
    expect(checks).toBe(1);
    expect(second).not.toBe(first);
    expect(pool.guard.snapshot().totals.validationFailures).toBe(1);

    // The default check is mysql2's ping: no statement, one round trip.
    const pinged = guardedPromisePool({ connectionLimit: 1, guard: { validateAfterIdleMs: 50 } });
    const a = await threadOf(pinged);
    const conn = await pinged.getConnection();
    const ping = conn.connection.ping;
    let pings = 0;
    (conn.connection as unknown as { ping: unknown }).ping = function (this: unknown, ...args: unknown[]) {
      pings++;
      return (ping as Function).apply(this, args);
    };
    conn.release();
    await sleep(80);
    expect(await threadOf(pinged)).toBe(a);
    expect(pings).toBe(1);
  });

  it('a server-side KILL of an idle connection removes it; of a busy one fails the holder with mysql2’s error and frees the lease', async () => {
    const pool = guardedPromisePool({ connectionLimit: 2 });
    const killer = bareMysqlPool({ connectionLimit: 1 }).promise();
    const retired: RetireReport[] = [];
    pool.guard.on('retire', (r) => retired.push(r));
    const idle = await pool.getConnection();
    const idleThread = idle.connection.threadId;
    idle.release();
    await killer.query(`KILL ${idleThread}`);
    await until(() => retired.length === 1, 'the killed idle connection removed');
    expect(pool.guard.snapshot().counts).toMatchObject({ total: 0, idle: 0 });

    const busy = await pool.getConnection();
    const sleeping = busy.query('SELECT SLEEP(5)').catch((e: Error) => e);
    await sleep(100);
    await killer.query(`KILL ${busy.connection.threadId}`);
    const err = (await sleeping) as Error & { code?: string };
    expect(err).toBeInstanceOf(Error);
    await until(() => pool.guard.snapshot().counts.leased === 0, 'the lease ended with its connection');
    expect(() => busy.release()).not.toThrow();
    expect(await threadOf(pool)).toBeTypeOf('number');
  });
});

describe('mysql2 end(): never held up by a leak past guard.endTimeoutMs', () => {
  it('a query still running at end() is cut at endTimeoutMs, reported, and end() resolves', async () => {
    const pool = guardedPromisePool({ connectionLimit: 1, guard: { endTimeoutMs: 300 } });
    const forced: EndReport[] = [];
    pool.guard.on('endForced', (r) => forced.push(r));
    const conn = await pool.getConnection();
    const sleeping = conn.query('SELECT SLEEP(5)').catch((e: Error) => e);
    await sleep(50);
    const started = Date.now();
    await pool.end();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(forced).toHaveLength(1);
    expect(forced[0]!.leases[0]!.inFlight).toBe(true);
    const err = (await sleeping) as LeaseReclaimedError;
    expect(err).toBeInstanceOf(LeaseReclaimedError);
    expect(err.reason).toBe('end');
  });
});

import { spawnSync } from 'node:child_process';
import * as mariadb from 'mariadb';
import * as mariadbCallback from 'mariadb/callback';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool as createCallbackPool, guard as guardCallback } from '../../src/mariadb-callback.js';
import { createPool, guard, LeaseReclaimedError, type DirtyReleaseReport, type EndReport, type HolderGroup, type LeakReport, type RetireReport } from '../../src/mariadb.js';
import { root } from '../helpers/build.js';
import { MYSQL } from '../helpers/mysql.js';
import { sleep, until } from '../helpers/db.js';
import { bareMariadbPool, endAfterTest, guardedMariadbPool } from '../helpers/mariadb-pools.js';
import { siteMatchers } from '../helpers/sites.js';

const site = siteMatchers('test/mariadb/lifecycle.test.ts');
const TABLE = 'mariadb_guard_dirty';

async function kill(threadId: number | null): Promise<void> {
  const admin = await mariadb.createConnection({ ...MYSQL });
  await admin.query(`KILL ${threadId}`);
  await admin.end();
}

beforeAll(async () => {
  const admin = await mariadb.createConnection({ ...MYSQL });
  await admin.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id INT PRIMARY KEY) ENGINE=InnoDB`);
  await admin.query(`DELETE FROM ${TABLE}`);
  await admin.end();
});
afterAll(async () => {
  const admin = await mariadb.createConnection({ ...MYSQL });
  await admin.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await admin.end();
});

describe('the MariaDB connector, guarded: leases', () => {
  it('callback API: getConnection(cb) reports its own line; release(cb) ends the lease', async () => {
    const pool = createCallbackPool({ ...MYSQL, connectionLimit: 2, minimumIdle: 0, guard: { logger: false, leakThresholdMs: 60 } });
    endAfterTest({ end: () => new Promise<void>((r) => pool.end(() => r())), get closed() { return pool.closed; } });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    const conn = await new Promise<mariadbCallback.PoolConnection>((resolve, reject) => pool.getConnection((e, c) => (e ? reject(e) : resolve(c!)))); // SITE:callback
    await until(() => leaks.length > 0, 'a leak report');
    expect(leaks[0]!.site).toMatch(site('callback'));
    const rows = await new Promise((resolve, reject) => conn.query('SELECT 1 AS x', (e, r) => (e ? reject(e) : resolve(r))));
    expect(rows).toEqual([{ x: 1 }]);
    await new Promise<void>((r) => conn.release(() => r()));
    expect(pool.guard.snapshot().counts).toMatchObject({ leased: 0 });
    expect(guardCallback(pool)).toBe(pool.guard);
  });

  it('a SLEEP in flight is busy; a lease inside BEGIN is "in an open transaction" (the connector’s info.status)', async () => {
    const pool = guardedMariadbPool({ guard: { leakThresholdMs: 80, idleAfterMs: 40 } });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    const conn = await pool.getConnection();
    const sleeping = conn.query('SELECT SLEEP(0.3)');
    await until(() => leaks.length > 0, 'a leak report');
    expect(leaks[0]).toMatchObject({ state: 'busy', idleMs: 0 });
    await sleeping;
    await conn.beginTransaction();
    await conn.query('SELECT 1');
    const lease = pool.guard.snapshot().leases[0]!;
    expect(lease.transaction).toBe('open');
    await until(() => leaks.length > 1, 'the idle report after the busy one');
    expect(leaks[1]).toMatchObject({ state: 'idle', transaction: 'open' });
    await conn.commit();
    expect(pool.guard.snapshot().leases[0]!.transaction).toBeUndefined();
    await conn.release();
  });

  it("a held connection's idle time counts from the end of its last command, also one the connector ends within a chunk without taking it off its queue", async () => {
    const pool = guardedMariadbPool({ multipleStatements: true });
    let base: { receiveQueue: { length: number; peekAt(i: number): { onPacketReceive: unknown } | undefined } } | undefined;
    // The connector's own connection, as its pool's 'acquire' gives it.
    (pool as unknown as { on(event: string, listener: (c: typeof base) => void): void }).on('acquire', (c) => (base = c));
    const conn = await pool.getConnection();
    const idleAfter = async (run: () => Promise<unknown>): Promise<number> => {
      await sleep(80);
      await run();
      const lease = pool.guard.snapshot().leases[0]!;
      expect(lease.state).toBe('idle');
      return lease.idleMs;
    };
    expect(await idleAfter(() => conn.query('SELECT 1'))).toBeLessThan(40);
    // A prepared statement's last column definition ends the prepare in the connector's row fast
    // path (the server sends no EOF after it): the ended command stays first on its queue.
    expect(await idleAfter(() => conn.prepare('SELECT ? AS a, ? AS b'))).toBeLessThan(40);
    expect(base!.receiveQueue.length).toBe(1);
    expect(base!.receiveQueue.peekAt(0)!.onPacketReceive).toBeNull();
    expect(await idleAfter(() => conn.execute('SELECT ? AS c', [1]))).toBeLessThan(40);
    expect(await idleAfter(() => conn.query('SELECT 1 AS x; DO 1; SELECT 2 AS y'))).toBeLessThan(40);
    // Two commands sent before the first answer (the connector pipelines them).
    expect(await idleAfter(() => Promise.all([conn.query('SELECT SLEEP(0.05)'), conn.query('SELECT 2')]))).toBeLessThan(40);
    await sleep(80);
    expect(pool.guard.snapshot().leases[0]!.idleMs).toBeGreaterThanOrEqual(75);
    await conn.release();
  });

  it('pool.query()/execute()/batch() are query leases, busy while they run, ended when they settle', async () => {
    const pool = guardedMariadbPool({ guard: { leakThresholdMs: 60 } });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    const [a, b] = await Promise.all([pool.query('SELECT SLEEP(0.2) AS s'), pool.execute('SELECT SLEEP(0.2) AS s')]);
    expect(a).toEqual([{ s: 0 }]);
    expect(b).toEqual([{ s: 0 }]);
    expect(leaks.map((r) => [r.kind, r.state])).toEqual([['query', 'busy'], ['query', 'busy']]);
    expect(pool.guard.snapshot().counts).toMatchObject({ leased: 0 });
    expect(pool.guard.snapshot().totals.checkouts).toBe(2);
  });

  it('a pool.query() that waits for a connection is granted it in its turn, or times out with the holders; every lease ends by the time the caller hears', async () => {
    const pool = guardedMariadbPool({ connectionLimit: 1, acquireTimeout: 300 });
    const held = await pool.getConnection(); // SITE:queued-holder
    const timedOut = (await pool.query('SELECT 1 AS a').catch((e: unknown) => e)) as mariadb.SqlError & { holders: HolderGroup[] };
    expect(timedOut.code).toBe('ER_GET_CONNECTION_TIMEOUT');
    expect(timedOut.holders.map((h) => [h.count, h.site])).toEqual([[1, expect.stringMatching(site('queued-holder'))]]);
    const queued = pool.query('SELECT 2 AS a').then((rows) => [rows, pool.guard.snapshot().counts.leased]);
    await sleep(20);
    expect(pool.guard.snapshot().counts.leased).toBe(1);
    await held.release();
    expect(await queued).toEqual([[{ a: 2 }], 0]);
    // An idle connection: granted within the call, ended at the connector's release.
    expect(await pool.query('SELECT 3 AS a').then((rows) => [rows, pool.guard.snapshot().counts.leased])).toEqual([[{ a: 3 }], 0]);
    expect(pool.guard.snapshot().totals).toMatchObject({ checkouts: 3, timeouts: 1 });
    const callbackPool = createCallbackPool({ ...MYSQL, connectionLimit: 1, guard: { logger: false } });
    endAfterTest({ end: () => new Promise<void>((r) => callbackPool.end(() => r())), get closed() { return callbackPool.closed; } });
    for (let i = 0; i < 2; i++) {
      const leased = await new Promise((resolve, reject) => callbackPool.query('SELECT 1 AS a', (err: Error | null) => (err ? reject(err) : resolve(callbackPool.guard.snapshot().counts.leased))));
      expect(leased).toBe(0);
    }
    expect(callbackPool.guard.snapshot().totals.checkouts).toBe(2);
  });

  it('getConnection() (promise API): the lease holds its connection, and its release is followed, by the time the caller has it; one that waited is timed to its hand-over', async () => {
    const pool = guardedMariadbPool({ connectionLimit: 1, acquireTimeout: 300 });
    const seen = (conn: mariadb.PoolConnection) => {
      const [lease] = pool.guard.snapshot().leases;
      return { leases: pool.guard.snapshot().counts.leased, pid: pool.guard.snapshot().connections.find((c) => c.id === lease?.connectionId)?.pid === conn.threadId, waitMs: lease?.waitMs };
    };
    // Opened for this call: granted when the caller gets it.
    const first = await pool.getConnection();
    expect(seen(first)).toMatchObject({ leases: 1, pid: true });
    const second = pool.getConnection().then((conn) => [conn, seen(conn)] as const);
    await sleep(80);
    await first.release();
    const [conn2, atHandOver] = await second;
    expect(atHandOver).toMatchObject({ leases: 1, pid: true });
    expect(atHandOver.waitMs).toBeGreaterThanOrEqual(70);
    await conn2.release();
    // Idle, and used within minDelayValidation: lent within the call, the release right after it followed.
    for (let i = 0; i < 3; i++) {
      const conn = await pool.getConnection();
      expect(seen(conn)).toEqual({ leases: 1, pid: true, waitMs: 0 });
      await conn.release();
      expect(pool.guard.snapshot().counts.leased).toBe(0);
    }
    const held = await pool.getConnection();
    const err = (await pool.getConnection().catch((e: unknown) => e)) as mariadb.SqlError & { holders?: unknown };
    expect(err.code).toBe('ER_GET_CONNECTION_TIMEOUT');
    expect(err.holders).toHaveLength(1);
    await held.release();
    expect(pool.guard.snapshot().totals).toMatchObject({ checkouts: 6, timeouts: 1 });
    expect(pool.guard.snapshot().counts.leased).toBe(0);
  });

  it('reclaim destroys an idle leaked connection and fails the holder’s next call with LeaseReclaimedError', async () => {
    const pool = guardedMariadbPool({ connectionLimit: 1, guard: { leakThresholdMs: 60, idleAfterMs: 30, reclaimAfterMs: 120 } });
    const reclaims: LeakReport[] = [];
    pool.guard.on('reclaim', (r) => reclaims.push(r));
    const leaked = await pool.getConnection(); // SITE:reclaimed
    const thread = leaked.threadId;
    const waiter = pool.query('SELECT CONNECTION_ID() AS id');
    await until(() => reclaims.length > 0, 'a reclaim');
    expect(reclaims[0]!.site).toMatch(site('reclaimed'));
    const rows = (await waiter) as Array<{ id: bigint | number }>;
    expect(Number(rows[0]!.id)).not.toBe(thread);
    await expect(leaked.query('SELECT 1')).rejects.toBeInstanceOf(LeaseReclaimedError);
    await leaked.release();
    expect(pool.guard.snapshot().totals).toMatchObject({ reclaims: 1 });
  });
});

describe('the connector’s acquire timeout, with the holders', () => {
  it('its error is unchanged (class, code, errno, message); the holders are fields and the log names them', async () => {
    const lines: string[] = [];
    // The 200 ms acquireTimeout is for the wait behind the holder. The connector also bounds each
    // connect by it, and a checkout's connects together by initializationTimeout (by default 100 ms
    // less), which a connect on a loaded machine outlasted: each pool opens its connection first
    // (minimumIdle: 1), retrying for up to 10 s, and the holder takes it once it is open.
    const options = { connectionLimit: 1, minimumIdle: 1, acquireTimeout: 200, initializationTimeout: 10_000 };
    const pool = guardedMariadbPool({ ...options, guard: { idleAfterMs: 20, logger: { warn: (_o, msg) => lines.push(msg) } } });
    await until(() => pool.idleConnections() === 1, "the pool's connection", 10_000);
    const held = await pool.getConnection(); // SITE:holder
    await sleep(30);
    const err = (await pool.getConnection().catch((e: unknown) => e)) as mariadb.SqlError & { holders: HolderGroup[]; pool: string; waitedMs: number };
    const bare = bareMariadbPool(options);
    await until(() => bare.idleConnections() === 1, "the bare pool's connection", 10_000);
    const bareHeld = await bare.getConnection();
    const bareErr = (await bare.getConnection().catch((e: unknown) => e)) as mariadb.SqlError;
    expect(err).toBeInstanceOf(mariadb.SqlError);
    expect(err.constructor).toBe(bareErr.constructor);
    expect([err.code, err.errno, err.sqlState]).toEqual([bareErr.code, bareErr.errno, bareErr.sqlState]);
    expect(err.code).toBe('ER_GET_CONNECTION_TIMEOUT');
    expect(err.message.replace(/\d+ms/, 'Nms')).toBe(bareErr.message.replace(/\d+ms/, 'Nms'));
    expect(err.holders).toHaveLength(1);
    expect(err.holders[0]).toMatchObject({ count: 1, idle: 1, busy: 0 });
    expect(err.holders[0]!.site).toMatch(site('holder'));
    expect(err.pool).toBe('127.0.0.1:3306/test');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith('poolguard[127.0.0.1:3306/test]: a checkout timed out after ')).toBe(true);
    expect(lines[0]).toContain(`the caller got the pool's own error, "${`${err.name}: ${err.message}`.split('\n')[0]}", with the holders below in err.holders and its stack.`);
    expect(err.stack).toContain('\n  1 × test/mariadb/lifecycle.test.ts:');
    expect(lines[0]).toContain('1 × test/mariadb/lifecycle.test.ts:');
    expect(pool.guard.snapshot().totals.timeouts).toBe(1);
    await held.release();
    await bareHeld.release();
  });

  it('guard.acquireTimeoutMs is refused, naming the connector’s own option', () => {
    expect(() => createPool({ ...MYSQL, guard: { acquireTimeoutMs: 100 } })).toThrow(/guard\.acquireTimeoutMs \(100\) does not apply to the MariaDB connector: set its own acquireTimeout/);
  });
});

describe('the connector’s errors and the server’s kills', () => {
  it('a getConnection() rejection nobody handles reaches unhandledRejection as on the bare pool; a handled one is the same error', () => {
    const seenBy = (variant: string): { unhandled: object[]; handled: object } => {
      const run = spawnSync(process.execPath, ['test/fixtures/mariadb-unhandled.mjs', variant], { cwd: root, encoding: 'utf8', timeout: 30_000 });
      expect(run.status, run.stderr).toBe(0);
      return JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    };
    const bare = seenBy('bare');
    const guarded = seenBy('guard');
    expect(bare.unhandled).toHaveLength(1);
    expect(bare.handled).toMatchObject({ name: 'SqlError', code: 'ER_POOL_ALREADY_CLOSED' });
    expect(guarded).toEqual(bare);
  });

  it('a bad query and a closed pool: the same class, code and message as the bare connector', async () => {
    const results = [];
    for (const pool of [bareMariadbPool(), guardedMariadbPool()]) {
      const syntax = (await pool.query('SELEC 1').catch((e: unknown) => e)) as mariadb.SqlError;
      const conn = await pool.getConnection();
      const noTable = (await conn.query('SELECT * FROM no_such_table_here').catch((e: unknown) => e)) as mariadb.SqlError;
      await conn.release();
      await pool.end();
      const closed = (await pool.getConnection().catch((e: unknown) => e)) as mariadb.SqlError;
      results.push([syntax, noTable, closed].map((e) => ({ class: e.constructor, code: e.code, errno: e.errno, message: e.message.replace(/conn:\d+/, 'conn:N') })));
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[1]!.map((r) => r.code)).toEqual(['ER_PARSE_ERROR', 'ER_NO_SUCH_TABLE', 'ER_POOL_ALREADY_CLOSED']);
  });

  it('an idle connection killed in the pool leaves it; a busy held one killed mid-query gives its holder the connector’s error and ends the lease', async () => {
    const pool = guardedMariadbPool({ connectionLimit: 1 });
    const retired: RetireReport[] = [];
    pool.guard.on('retire', (r) => retired.push(r));
    const first = await pool.getConnection();
    const idleThread = first.threadId;
    await first.release();
    await kill(idleThread);
    await until(() => retired.length === 1, 'the killed idle connection removed');
    expect(retired[0]!.reason).toBe('terminated');
    const held = await pool.getConnection();
    expect(held.threadId).not.toBe(idleThread);
    const running = held.query('SELECT SLEEP(5)').catch((e: unknown) => e);
    await sleep(50);
    expect(pool.guard.snapshot().leases[0]!.state).toBe('busy');
    await kill(held.threadId);
    const err = (await running) as mariadb.SqlError;
    expect(err).toBeInstanceOf(mariadb.SqlError);
    await until(() => pool.guard.snapshot().counts.leased === 0, 'the lease ended with its connection');
    await held.release();
    expect(await pool.query('SELECT 3 AS three')).toEqual([{ three: 3 }]);
    expect(pool.guard.snapshot().totals.retired.terminated).toBe(2);
  });

  it("a holder's destroy() ends its lease within the call and retires the connection (error); a release() after it is passed on, not a double release", async () => {
    const pool = guardedMariadbPool({ connectionLimit: 1, guard: { releaseStacks: 'always' } });
    const retired: RetireReport[] = [];
    pool.guard.on('retire', (r) => retired.push(r));
    const conn = await pool.getConnection();
    await conn.query('SELECT 1');
    conn.destroy();
    expect(pool.guard.snapshot().counts.leased).toBe(0);
    await until(() => retired.length === 1, 'the destroyed connection retired');
    expect(retired[0]!.reason).toBe('error');
    await conn.release();
    expect(pool.guard.snapshot().totals.doubleReleases).toBe(0);
    expect(await pool.query('SELECT 2 AS two')).toEqual([{ two: 2 }]);
    const callbackPool = createCallbackPool({ ...MYSQL, connectionLimit: 1, guard: { logger: false } });
    endAfterTest({ end: () => new Promise<void>((r) => callbackPool.end(() => r())), get closed() { return callbackPool.closed; } });
    const held = await new Promise<mariadbCallback.PoolConnection>((resolve, reject) => callbackPool.getConnection((e, c) => (e ? reject(e) : resolve(c!))));
    held.destroy();
    expect(callbackPool.guard.snapshot().counts.leased).toBe(0);
    await until(() => callbackPool.guard.snapshot().totals.retired.error === 1, 'the callback API connection retired');
  });
});

describe('a connection released inside a transaction', () => {
  it("dirtyRelease 'destroy' (default): reported with both lines and closed, not rolled back into the pool", async () => {
    const pool = guardedMariadbPool({ connectionLimit: 1 });
    const reports: DirtyReleaseReport[] = [];
    pool.guard.on('dirtyRelease', (r) => reports.push(r));
    const conn = await pool.getConnection();
    const thread = conn.threadId;
    await conn.beginTransaction();
    await conn.query(`INSERT INTO ${TABLE} VALUES (1)`);
    await conn.release(); // SITE:dirty
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ transaction: 'open', action: 'destroy', kind: 'connect' });
    expect(reports[0]!.releaseSite).toMatch(site('dirty'));
    const rows = (await pool.query(`SELECT CONNECTION_ID() AS id, @@in_transaction AS t, (SELECT COUNT(*) FROM ${TABLE}) AS n`)) as Array<{ id: number; t: number | bigint; n: number | bigint }>;
    expect(Number(rows[0]!.t)).toBe(0);
    expect(Number(rows[0]!.n)).toBe(0);
    expect(rows[0]!.id).not.toBe(thread);
    expect(pool.guard.snapshot().totals.retired.dirty).toBe(1);
  });

  it("dirtyRelease 'rollback': reported, and the connector's own rollback at release keeps the connection", async () => {
    const pool = guardedMariadbPool({ connectionLimit: 1, guard: { dirtyRelease: 'rollback' } });
    const reports: DirtyReleaseReport[] = [];
    pool.guard.on('dirtyRelease', (r) => reports.push(r));
    const conn = await pool.getConnection();
    const thread = conn.threadId;
    await conn.beginTransaction();
    await conn.query(`INSERT INTO ${TABLE} VALUES (2)`);
    await conn.release();
    expect(reports).toHaveLength(1);
    const rows = (await pool.query(`SELECT CONNECTION_ID() AS id, @@in_transaction AS t, (SELECT COUNT(*) FROM ${TABLE}) AS n`)) as Array<{ id: number; t: number | bigint; n: number | bigint }>;
    expect(rows[0]!.id).toBe(thread);
    expect(Number(rows[0]!.t)).toBe(0);
    expect(Number(rows[0]!.n)).toBe(0);
  });
});

describe('pool.end() with a lease open', () => {
  it('the connector waits up to 10 s for a leaked connection; poolguard names it and cuts it at guard.endTimeoutMs', async () => {
    const pool = guardedMariadbPool({ connectionLimit: 1, guard: { endTimeoutMs: 300 } });
    const forced: EndReport[] = [];
    pool.guard.on('endForced', (r) => forced.push(r));
    const conn = await pool.getConnection(); // SITE:endLeak
    const started = Date.now();
    await pool.end();
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(forced).toHaveLength(1);
    expect(forced[0]!.leases[0]!.site).toMatch(site('endLeak'));
    await expect(conn.query('SELECT 1')).rejects.toBeInstanceOf(LeaseReclaimedError);
    expect(pool.guard.snapshot().counts).toMatchObject({ leased: 0, total: 0 });
  });
});

describe('names and guard()', () => {
  it('the default name is host:port/database, never the user or the password, from options or a URL', async () => {
    const a = createPool({ host: '127.0.0.1', port: 3306, user: 'app', password: 's3cret-pw', database: 'orders', minimumIdle: 0, guard: { logger: false } });
    expect(a.guard.name).toBe('127.0.0.1:3306/orders');
    expect(JSON.stringify(a.guard.snapshot())).not.toContain('s3cret');
    await a.end();
    const b = createPool('mariadb://app:s3cret-pw@127.0.0.1:3306/orders?minimumIdle=0');
    expect(b.guard.name).toBe('127.0.0.1:3306/orders');
    expect(JSON.stringify(b.guard.snapshot())).not.toContain('s3cret');
    await b.end();
  });

  it('guard(existingPool) guards a bare pool in place, once; a mysql pool is refused with a TypeError', async () => {
    const pool = bareMariadbPool();
    const handle = guard(pool, { logger: false });
    expect(guard(pool)).toBe(handle);
    const conn = await pool.getConnection();
    expect(handle.snapshot().counts.leased).toBe(1);
    await conn.release();
    expect(handle.snapshot().counts.leased).toBe(0);
    expect(() => guard({ getConnection() {} })).toThrow(TypeError);
  });
});

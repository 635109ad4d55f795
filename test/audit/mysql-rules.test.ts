import { randomBytes } from 'node:crypto';
import mysql from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDLE_CHECK_MS, mysqlPoolSettings } from '../../src/audit/mysql-rules.js';
import { auditMysql } from '../../src/mysql2.js';
import { bareMysqlPool, MYSQL_URL } from '../helpers/mysql-pools.js';

// Each MySQL rule is checked against what mysql2 (the lockfile's version) really does on the test
// MariaDB: a pool that closes its idle connections and one that does not, a pool that makes callers
// wait and one that does not, a pool the server's per-user limit refuses and one it does not.

type PromisePool = ReturnType<mysql.Pool['promise']>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GUARDED = { acquireTimeoutMs: 1_000 };

let admin: PromisePool;
beforeAll(() => {
  admin = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1 }).promise();
});
afterAll(async () => {
  await admin.end();
});

/** Which of these thread ids the server still has. */
async function alive(ids: readonly number[]): Promise<number> {
  const [rows] = await admin.query(`SELECT COUNT(*) AS n FROM information_schema.processlist WHERE ID IN (${ids.join(', ')})`);
  return Number((rows as Array<{ n: number }>)[0]!.n);
}

/** Opens `n` connections at once, releases them, and returns their thread ids. */
async function openAndRelease(pool: PromisePool, n: number): Promise<number[]> {
  const conns = await Promise.all(Array.from({ length: n }, () => pool.getConnection()));
  const ids = conns.map((c) => c.connection.threadId!);
  for (const c of conns) c.release();
  return ids;
}

async function waitTimeoutFinding(options: Record<string, unknown>) {
  const result = await auditMysql({ options: { ...options, guard: { ...GUARDED, ...(options.guard as object) } }, server: MYSQL_URL });
  expect(result.server?.waitTimeoutSeconds, 'the test server keeps its default wait_timeout').toBe(28_800);
  return result.findings.find((f) => f.rule === 'wait-timeout-below-idle');
}

describe('wait-timeout-below-idle against what mysql2 does with idle connections', () => {
  it('fires for a pool that keeps idle connections for ever, and not for one that closes them past idleTimeout', async () => {
    // Pools that never close idle connections are made first: mysql2's idle check is a 1000 ms
    // timer started with the pool, so when the later pools have closed theirs, the earlier ones'
    // checks (if they had any) have run too.
    const cases = [
      { options: { connectionLimit: 4, maxIdle: 4, idleTimeout: 100 }, left: 3, fires: true },
      { options: { connectionLimit: 4, idleTimeout: 100 }, left: 3, fires: true },
      { options: { connectionLimit: 0, idleTimeout: 100 }, left: 3, fires: true },
      // Above maxIdle closed at the first check; the one kept is closed once idle past idleTimeout.
      { options: { connectionLimit: 4, maxIdle: 1, idleTimeout: 60_000 }, left: 1, fires: false },
      // The shape the audit used to get wrong: maxIdle below connectionLimit closes all of them.
      { options: { connectionLimit: 4, maxIdle: 1, idleTimeout: 100 }, left: 0, fires: false },
      { options: { connectionLimit: 4, maxIdle: 0, idleTimeout: 100 }, left: 0, fires: false },
    ];
    const pools = cases.map((c) => bareMysqlPool(c.options).promise());
    const ids = await Promise.all(pools.map((p) => openAndRelease(p, 3)));
    const releasedAt = Date.now();
    const counts = async () => Promise.all(ids.map(alive));
    let now = await counts();
    const closedAt: Array<number | undefined> = cases.map(() => undefined);
    while (Date.now() - releasedAt < 3_000) {
      now.forEach((n, i) => {
        if (closedAt[i] === undefined && n === cases[i]!.left && cases[i]!.left < 3) closedAt[i] = Date.now() - releasedAt;
      });
      if (cases.every((c, i) => c.left === 3 || closedAt[i] !== undefined)) break;
      await sleep(50);
      now = await counts();
    }
    expect(now, 'connections left open on the server, per pool').toEqual(cases.map((c) => c.left));
    for (const [i, c] of cases.entries()) {
      // Closed within idleTimeout plus one of mysql2's once-a-second checks, as the rule assumes.
      if (c.left < 3) expect(closedAt[i]!).toBeLessThanOrEqual((c.left === 0 ? c.options.idleTimeout : 0) + IDLE_CHECK_MS + 600);
    }

    for (const c of cases) {
      const finding = await waitTimeoutFinding(c.options);
      expect(finding !== undefined, JSON.stringify(c.options)).toBe(c.fires);
    }
    expect((await waitTimeoutFinding(cases[0]!.options))!.message).toBe(
      "the server's wait_timeout is 28800 s but the pool keeps idle connections for ever: maxIdle 4 is not below connectionLimit 4, and only then does mysql2 close idle connections; no guard.maxLifetimeMs is set",
    );
    expect((await waitTimeoutFinding(cases[1]!.options))!.message).toContain('maxIdle (by default connectionLimit, 4) is not below connectionLimit 4');
    expect((await waitTimeoutFinding(cases[2]!.options))!.message).toContain('with connectionLimit 0 (no limit) mysql2 never closes idle connections');
  });

  it("is silent for the issue's { connectionLimit: 40, maxIdle: 5, idleTimeout: 60000 }, and names idleTimeout when it outlives wait_timeout", async () => {
    expect(await waitTimeoutFinding({ connectionLimit: 40, maxIdle: 5, idleTimeout: 60_000 })).toBeUndefined();
    const long = await waitTimeoutFinding({ connectionLimit: 4, maxIdle: 1, idleTimeout: 28_800_000 });
    expect(long).toMatchObject({
      message: "the server's wait_timeout is 28800 s but the pool keeps idle connections up to 28801000 (8.0 h) (idleTimeout 28800000, which mysql2 checks once a second)",
      option: 'idleTimeout',
      value: 28_800_000,
    });
    expect(long!.fix).toBe('Lower idleTimeout below 28799000, or set guard.maxLifetimeMs below 28799000, or guard.validateAfterIdleMs below 28800000.');
    // poolguard's lifetime, or a check after idle, also answers it.
    expect(await waitTimeoutFinding({ connectionLimit: 4, guard: { maxLifetimeMs: 600_000 } })).toBeUndefined();
    expect(await waitTimeoutFinding({ connectionLimit: 4, guard: { validateAfterIdleMs: 60_000 } })).toBeUndefined();
  });

  it('what the rule says mysql2 does when the server closes an idle session: the pool drops it and the next query gets another', async () => {
    const pool = bareMysqlPool({ connectionLimit: 2 }).promise();
    const conn = await pool.getConnection();
    const killed = conn.connection.threadId!;
    const closed = new Promise<void>((resolve) => {
      conn.connection.once('end', () => resolve());
      conn.connection.once('error', () => resolve());
    });
    conn.release();
    // The server closing the session, as wait_timeout does, without waiting for it.
    await admin.query(`KILL ${killed}`);
    await Promise.race([closed, sleep(1_000).then(() => Promise.reject(new Error('mysql2 did not see the close within 1 s')))]);
    const [rows] = await pool.query('SELECT CONNECTION_ID() AS id');
    expect((rows as Array<{ id: number }>)[0]!.id).not.toBe(killed);
  });
});

describe('acquire-timeout-infinite against when mysql2 makes a caller wait', () => {
  /** 'waits', or the error mysql2 gives at once. */
  async function nextCaller(pool: PromisePool): Promise<string> {
    const next = pool.getConnection().then((c) => (c.release(), 'got one'), (err: Error) => err.message);
    return Promise.race([next, sleep(150).then(() => 'waits')]);
  }

  it('fires when a caller at the limit waits for ever, not when mysql2 fails it at once or has no limit', async () => {
    const waiting = bareMysqlPool({ connectionLimit: 1 }).promise();
    const failing = bareMysqlPool({ connectionLimit: 1, waitForConnections: false }).promise();
    const queued = bareMysqlPool({ connectionLimit: 1, queueLimit: 1 }).promise();
    const unlimited = bareMysqlPool({ connectionLimit: 0 }).promise();
    const held = await Promise.all([waiting, failing, queued].map((p) => p.getConnection()));
    expect(await nextCaller(waiting)).toBe('waits');
    expect(await nextCaller(failing)).toBe('No connections available.');
    expect(await nextCaller(queued)).toBe('waits');
    expect(await nextCaller(queued)).toBe('Queue limit reached.');
    // No limit: twelve callers at once (more than mysql2's default 10) each get a connection.
    const twelve = await Promise.all(Array.from({ length: 12 }, () => unlimited.getConnection()));
    expect(new Set(twelve.map((c) => c.connection.threadId)).size).toBe(12);
    for (const c of [...held, ...twelve]) c.release();

    const rules = async (options: Record<string, unknown>) => (await auditMysql({ options, server: false })).findings.filter((f) => f.rule === 'acquire-timeout-infinite');
    expect(await rules({ connectionLimit: 1 })).toHaveLength(1);
    expect(await rules({ connectionLimit: 1, waitForConnections: false })).toEqual([]);
    expect((await rules({ connectionLimit: 1, queueLimit: 1 }))[0]!.message).toBe(
      'guard.acquireTimeoutMs is 0: getConnection() waits for ever when every connection is checked out (queueLimit 1 bounds how many callers wait, not how long)',
    );
    expect(await rules({ connectionLimit: 0 })).toEqual([]);
  });
});

describe('max-exceeds-user-limit against the server refusing the account', () => {
  const user = `pgd_rules_${process.pid}_${randomBytes(3).toString('hex')}`;
  const password = `Zq8-${randomBytes(4).toString('hex')}`;
  const url = () => {
    const u = new URL(MYSQL_URL);
    u.username = user;
    u.password = password;
    return u.toString();
  };
  beforeAll(async () => {
    await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}' WITH MAX_USER_CONNECTIONS 3`);
    await admin.query(`GRANT ALL ON test.* TO '${user}'@'%'`);
  });
  afterAll(async () => {
    await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
  });

  /** A pool's connections opened at once (four when it has no limit): how many the server accepts for the account. */
  async function accepted(connectionLimit: number): Promise<{ opened: number; refused: string[]; messages: string[] }> {
    const pool = mysql.createPool({ uri: url(), connectionLimit }).promise();
    const tries = await Promise.allSettled(Array.from({ length: connectionLimit || 4 }, () => pool.getConnection()));
    const opened = tries.filter((t) => t.status === 'fulfilled').length;
    const errors = tries.flatMap((t) => (t.status === 'rejected' ? [t.reason as { code?: string; message: string }] : []));
    for (const t of tries) if (t.status === 'fulfilled') t.value.release();
    await pool.end();
    // The audit connects as the account too: wait until the server has let the pool's sessions go.
    for (let i = 0; i < 40; i++) {
      const [rows] = await admin.query(`SELECT COUNT(*) AS n FROM information_schema.processlist WHERE USER = ?`, [user]);
      if (Number((rows as Array<{ n: number }>)[0]!.n) === 0) break;
      await sleep(25);
    }
    return { opened, refused: errors.map((e) => e.code ?? '?'), messages: errors.map((e) => e.message) };
  }

  it('fires when the pool can open more than max_user_connections (connectionLimit 0 is no limit), not when it cannot', async () => {
    // As many callers at once as each pool allows: only the pool limited to 3 gets no refusal.
    expect(await accepted(3)).toMatchObject({ opened: 3, refused: [] });
    const four = await accepted(4);
    expect(four).toMatchObject({ opened: 3, refused: ['ER_USER_LIMIT_REACHED'] });
    expect(await accepted(0)).toMatchObject({ opened: 3, refused: ['ER_USER_LIMIT_REACHED'] });

    const finding = async (connectionLimit: number) =>
      (await auditMysql({ options: { connectionLimit, guard: GUARDED }, server: url() })).findings.find((f) => f.rule === 'max-exceeds-user-limit');
    expect(await finding(3)).toBeUndefined();
    const over = (await finding(4))!;
    expect(over.message).toBe(`connectionLimit 4 exceeds max_user_connections 3 of ${user}@%`);
    // The error the rule quotes is the one the pool's caller got.
    expect(over.why).toContain(four.messages[0]!.replace(/ \(current value: \d+\)$/, ''));
    expect(await finding(0)).toMatchObject({
      message: `connectionLimit 0 (no limit: mysql2 opens a connection for every caller when none is free) can exceed max_user_connections 3 of ${user}@%`,
      fix: "Set connectionLimit to at most 3 per instance, or raise the account's MAX_USER_CONNECTIONS.",
      option: 'connectionLimit',
      value: 0,
    });
  });
});

describe("the audit reads mysql2's options as mysql2 does", () => {
  it.each([
    [{}],
    [{ connectionLimit: '5' }],
    [{ connectionLimit: null }],
    [{ connectionLimit: 0 }],
    [{ connectionLimit: 4, maxIdle: '2' }],
    [{ connectionLimit: 4, maxIdle: null }],
    [{ idleTimeout: '' }],
    [{ idleTimeout: 'soon' }],
    [{ waitForConnections: 0 }],
    [{ waitForConnections: 'false' }],
    [{ queueLimit: '3' }],
  ])('%j', async (options) => {
    const pool = mysql.createPool({ uri: MYSQL_URL, ...options } as mysql.PoolOptions);
    const real = (pool as unknown as { config: Record<string, unknown> }).config;
    await new Promise((resolve) => pool.end(resolve));
    const ours = mysqlPoolSettings(options);
    expect({ connectionLimit: ours.connectionLimit, maxIdle: ours.maxIdle, idleTimeout: ours.idleTimeout, waitForConnections: ours.waitForConnections, queueLimit: ours.queueLimit }).toEqual({
      connectionLimit: real.connectionLimit,
      maxIdle: real.maxIdle,
      idleTimeout: real.idleTimeout,
      waitForConnections: real.waitForConnections,
      queueLimit: real.queueLimit,
    });
  });
});

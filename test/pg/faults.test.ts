import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { RetireReport, UnhandledErrorReport } from '../../src/pg.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithPromise } from '../fixtures/leaky.mjs';
import { root } from '../helpers/build.js';
import { DATABASE_URL, sleep, until } from '../helpers/db.js';
import { guardedPool } from '../helpers/pools.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const admin = () => {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  return c.connect().then(() => c);
};

async function terminate(pid: number): Promise<void> {
  const a = await admin();
  try {
    await a.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await a.end();
  }
}

function consistent(pool: ReturnType<typeof guardedPool>): void {
  const snap = pool.guard.snapshot();
  expect(snap.connections.length).toBe(pool.totalCount);
  expect(snap.counts.leased + pool.idleCount).toBe(pool.totalCount);
  expect(snap.leases.length).toBe(snap.counts.leased);
  expect(new Set(snap.leases.map((l) => l.connectionId)).size).toBe(snap.leases.length);
  // Every lease the ledger holds is on a connection the pool really has.
  const live = new Set(snap.connections.map((c) => c.id));
  for (const lease of snap.leases) expect(live.has(lease.connectionId!)).toBe(true);
  expect(snap.counts.waiting).toBe(pool.waitingCount);
}

describe('server-side termination', () => {
  it('an idle connection terminated by the server: no crash without an error listener, reported, replaced', async () => {
    const pool = guardedPool({ max: 1 });
    const reports: UnhandledErrorReport[] = [];
    const retired: RetireReport[] = [];
    pool.guard.on('unhandledError', (r) => reports.push(r));
    pool.guard.on('retire', (r) => retired.push(r));
    const c = await pool.connect();
    const pid = (c as any).processID;
    c.release();
    await terminate(pid);
    await until(() => reports.length === 1 && retired.length === 1, 'the report and the retirement');
    expect(reports[0]!.leased).toBe(false);
    expect(reports[0]!.message).toContain("the pool has no 'error' listener");
    expect(retired[0]!.reason).toBe('terminated');
    const { rows } = await pool.query('SELECT pg_backend_pid() AS pid');
    expect(rows[0].pid).not.toBe(pid);
    expect(pool.guard.snapshot().totals.unhandledErrors).toBe(1);
    consistent(pool);
  });

  it('with a pool error listener, the error goes to it as in pg, and is not counted as unhandled', async () => {
    const pool = guardedPool({ max: 1 });
    const errors: Error[] = [];
    pool.on('error', (e) => errors.push(e));
    const c = await pool.connect();
    const pid = (c as any).processID;
    c.release();
    await terminate(pid);
    await until(() => errors.length === 1, "the pool's error event");
    expect(errors[0]!.message).toBe('terminating connection due to administrator command');
    expect(pool.guard.snapshot().totals.unhandledErrors).toBe(0);
    // pg-pool drops the client at once and ends it; poolguard counts it gone when its socket has
    // closed (the client's 'end'), a moment later on a busy machine.
    await until(() => pool.totalCount === 0 && pool.guard.snapshot().totals.retired.terminated === 1, 'the connection to go');
    consistent(pool);
    expect(pool.guard.snapshot().totals.retired.terminated).toBe(1);
  });

  it('a checked-out connection terminated under a holder with no listener: reported with the site; the holder gets pg’s error; the pool heals', async () => {
    const pool = guardedPool({ max: 1 });
    const reports: UnhandledErrorReport[] = [];
    pool.guard.on('unhandledError', (r) => reports.push(r));
    const c = await leakWithPromise(pool);
    const pid = (c as any).processID;
    await terminate(pid);
    await until(() => reports.length === 1, 'the report');
    expect(reports[0]).toMatchObject({ leased: true, site: 'test/fixtures/leaky.mjs:5:29' });
    const err = (await c.query('SELECT 1').catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/not queryable|terminat/);
    c.release();
    const { rows } = await pool.query('SELECT pg_backend_pid() AS pid');
    expect(rows[0].pid).not.toBe(pid);
    consistent(pool);
  });

  it('in a child process: plain pg dies, poolguard survives, and unhandledErrors "throw" keeps pg’s behaviour', () => {
    const run = (mode: string) =>
      spawnSync(process.execPath, ['test/fixtures/idle-error.mjs', mode], { cwd: root, encoding: 'utf8', env: { ...process.env, DATABASE_URL }, timeout: 20_000 });
    const bare = run('bare');
    expect(bare.status).not.toBe(0);
    expect(bare.stderr).toMatch(/terminating connection due to administrator command/);
    const guarded = run('guarded');
    expect(guarded.status, guarded.stderr).toBe(0);
    expect(guarded.stdout).toContain('alive; next connection is new');
    expect(guarded.stderr).toContain("an idle connection failed (terminating connection due to administrator command) and the pool has no 'error' listener");
    const throwing = run('guarded-throw');
    expect(throwing.status).not.toBe(0);
    const leased = run('leased');
    expect(leased.status, leased.stderr).toBe(0);
    expect(leased.stdout).toMatch(/holder query: .*(not queryable|terminat)/);
    expect(leased.stdout).toContain('alive; next connection is new');
  }, 60_000);
});

describe('a misbehaving network (TCP proxy in front of the server)', () => {
  let proxy: TcpProxy;
  const url = () => {
    const u = new URL(DATABASE_URL);
    u.hostname = '127.0.0.1';
    u.port = String(proxy.port);
    return u.toString();
  };

  afterEach(async () => {
    await proxy?.stop();
  });

  async function backendsOf(appName: string): Promise<number> {
    const a = await admin();
    try {
      const { rows } = await a.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [appName]);
      return rows[0].n;
    } finally {
      await a.end();
    }
  }

  it('the server goes away and comes back under steady load: errors while down, nobody hangs, full service after, counts agree', async () => {
    proxy = new TcpProxy({ host: '127.0.0.1', port: Number(new URL(DATABASE_URL).port || 5432) });
    await proxy.start();
    const appName = `pg-fault-${process.pid}-${Date.now()}`;
    const timeout = 300;
    const pool = guardedPool({ connectionString: url(), application_name: appName, max: 4, connectionTimeoutMillis: timeout, guard: { logger: false } });
    let ok = 0;
    let failed = 0;
    let okAfterRestore = 0;
    let longest = 0;
    let restored = false;
    let running = true;
    const worker = async () => {
      while (running) {
        const started = Date.now();
        try {
          await pool.query('SELECT 1');
          ok++;
          if (restored) okAfterRestore++;
        } catch {
          failed++;
          await sleep(10);
        }
        longest = Math.max(longest, Date.now() - started);
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    await sleep(300);
    proxy.cutAll();
    await proxy.setMode('refuse');
    await sleep(600);
    const failedWhileDown = failed;
    await proxy.setMode('forward');
    restored = true;
    await sleep(600);
    running = false;
    await Promise.all(workers);
    expect(ok).toBeGreaterThan(50);
    expect(failedWhileDown).toBeGreaterThan(0);
    expect(okAfterRestore).toBeGreaterThan(20);
    // No caller waited much past connectionTimeoutMillis (plus a connect attempt and scheduling).
    expect(longest).toBeLessThan(timeout * 2 + 400);
    expect(pool.waitingCount).toBe(0);
    consistent(pool);
    expect(await backendsOf(appName)).toBe(pool.totalCount);
  });

  it('a connect that hangs times out, closes the half-open connection, and the pool recovers', async () => {
    proxy = new TcpProxy({ host: '127.0.0.1', port: Number(new URL(DATABASE_URL).port || 5432) });
    await proxy.start();
    await proxy.setMode('hang');
    const pool = guardedPool({ connectionString: url(), max: 2, connectionTimeoutMillis: 200 });
    const started = Date.now();
    const err = (await pool.connect().catch((e: Error) => e)) as Error;
    expect(err.message).toBe('Connection terminated due to connection timeout');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(pool.totalCount).toBe(0);
    await until(() => proxy.openConnections === 0, 'the half-open socket to close');
    await proxy.setMode('forward');
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    consistent(pool);
  });

  it('a connect that loses the race with connectionTimeoutMillis leaves no backend behind', async () => {
    proxy = new TcpProxy({ host: '127.0.0.1', port: Number(new URL(DATABASE_URL).port || 5432) });
    await proxy.start();
    proxy.delayMs = 250;
    await proxy.setMode('delay');
    const appName = `pg-race-${process.pid}-${Date.now()}`;
    const pool = guardedPool({ connectionString: url(), application_name: appName, max: 3, connectionTimeoutMillis: 150 });
    const results = await Promise.allSettled([pool.connect(), pool.connect(), pool.connect()]);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    await sleep(400);
    expect(pool.totalCount).toBe(0);
    const deadline = Date.now() + 2_000;
    let backends = await backendsOf(appName);
    while (backends !== 0 && Date.now() < deadline) {
      await sleep(50);
      backends = await backendsOf(appName);
    }
    expect(backends).toBe(pool.totalCount);
    await proxy.setMode('forward');
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    consistent(pool);
  });
});

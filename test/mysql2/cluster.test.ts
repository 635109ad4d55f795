import mysql from 'mysql2';
import mysqlPromise from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckoutTimeoutError, createPoolCluster, type EndReport, type GuardedPoolCluster, type LeakReport } from '../../src/mysql2.js';
import { createPoolCluster as createPromisePoolCluster } from '../../src/mysql2-promise.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakFromCluster, leakFromNamespace, leakFromPromiseCluster } from '../fixtures/mysql-cluster.mjs';
import { sleep, until } from '../helpers/db.js';
import { MYSQL_URL } from '../helpers/mysql-pools.js';
import { otelHarness, pointOf } from '../helpers/otel.js';

const FIXTURE = 'test/fixtures/mysql-cluster.mjs';
const open: Array<{ end(cb?: () => void): unknown; _closed?: boolean }> = [];

afterEach(async () => {
  for (const cluster of open.splice(0)) {
    if (!cluster._closed) await new Promise<void>((r) => cluster.end(() => r()));
  }
});

/** A guarded callback cluster of two member pools on the test server. */
function twoMembers(guard: Record<string, unknown> = {}, replica: Record<string, unknown> = {}): GuardedPoolCluster {
  const cluster = createPoolCluster({ guard: { name: 'shop', logger: false, ...guard } });
  cluster.add('primary', { uri: MYSQL_URL, connectionLimit: 2 });
  cluster.add('replica', { uri: MYSQL_URL, connectionLimit: 1, ...replica });
  open.push(cluster as unknown as (typeof open)[number]);
  return cluster;
}

describe('createPoolCluster: every member pool guarded, named after the cluster and the member', () => {
  it("is mysql2's own PoolCluster, its members mysql2 pools, and mysql2's options and events work", async () => {
    const cluster = twoMembers();
    expect(cluster).toBeInstanceOf((mysql as unknown as { PoolCluster: Function }).PoolCluster);
    expect([...cluster.guard.members.keys()]).toEqual(['primary', 'replica']);
    expect(cluster.guard.member('replica')!.name).toBe('shop/replica');
    const ids = await Promise.all(
      [0, 1, 2, 3].map(
        () =>
          new Promise<string>((res, rej) =>
            cluster.getConnection('*', 'RR', (e, c) => {
              if (e) return rej(e);
              const id = (c as unknown as { _clusterId: string })._clusterId;
              c.release();
              res(id);
            }),
          ),
      ),
    );
    expect(new Set(ids)).toEqual(new Set(['primary', 'replica']));
    const rows = await new Promise<unknown>((res, rej) => cluster.of('primary').query('SELECT 1 AS x', (e: Error | null, r: unknown) => (e ? rej(e) : res(r))));
    expect(rows).toEqual([{ x: 1 }]);
    expect(cluster.guard.member('primary')!.snapshot().totals.checkouts).toBeGreaterThanOrEqual(2);
  });

  it("a leak names the member and the line that called the cluster's getConnection(pattern, selector), or a namespace's", async () => {
    const cluster = twoMembers({ leakThresholdMs: 80 });
    const leaks: LeakReport[] = [];
    cluster.guard.on('leak', (r) => leaks.push(r));
    const a = await leakFromCluster(cluster, 'replica', 'ORDER');
    const b = await leakFromNamespace(cluster, 'prim*');
    await until(() => leaks.length === 2, 'two leak reports');
    const byPool = Object.fromEntries(leaks.map((r) => [r.pool, r.site]));
    expect(byPool).toEqual({ 'shop/replica': `${FIXTURE}:6:13`, 'shop/primary': `${FIXTURE}:20:25` });
    expect(leaks.find((r) => r.pool === 'shop/replica')!.message).toContain('poolguard[shop/replica]');
    a.release();
    b.release();
  });

  it("a retry on the next member after a failed connect (mysql2's canRetry) keeps the caller's line", async () => {
    const cluster = createPoolCluster({ removeNodeErrorCount: 1, guard: { name: 'failover', logger: false, leakThresholdMs: 80 } });
    open.push(cluster as unknown as (typeof open)[number]);
    cluster.add('dead', { host: '127.0.0.1', port: 1, user: 'root', connectionLimit: 1 });
    cluster.add('live', { uri: MYSQL_URL, connectionLimit: 1 });
    const leaks: LeakReport[] = [];
    cluster.guard.on('leak', (r) => leaks.push(r));
    const removed: string[] = [];
    cluster.on('remove', (id: string) => removed.push(id));
    const conn = await leakFromCluster(cluster, '*', 'ORDER');
    expect((conn as unknown as { _clusterId: string })._clusterId).toBe('live');
    expect(removed).toEqual(['dead']);
    await until(() => leaks.length === 1, 'a leak report');
    expect(leaks[0]).toMatchObject({ pool: 'failover/live', site: `${FIXTURE}:6:13` });
    conn.release();
  });

  it("a member's acquire timeout names its holders, reaches the caller once, and costs the member nothing in mysql2's error count", async () => {
    const cluster = twoMembers({}, { guard: { acquireTimeoutMs: 150 } });
    const warnings: Error[] = [];
    cluster.on('warn', (e: Error) => warnings.push(e));
    const held = await leakFromCluster(cluster, 'replica', 'ORDER');
    const started = Date.now();
    const err = await new Promise<Error>((res) => cluster.getConnection('replica', (e) => res(e!)));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(err).toBeInstanceOf(CheckoutTimeoutError);
    expect(err.message).toMatch(/^poolguard\[shop\/replica\]: no connection became free within guard\.acquireTimeoutMs \(150 ms\)/);
    expect((err as CheckoutTimeoutError).holders.map((h) => h.site)).toEqual([`${FIXTURE}:6:13`]);
    // mysql2 retried nothing and counted nothing: the member is still in the cluster.
    expect(warnings).toEqual([]);
    const nodes = (cluster as unknown as { _nodes: Record<string, { errorCount: number }> })._nodes;
    expect(nodes.replica!.errorCount).toBe(0);
    held.release();
    const again = await leakFromCluster(cluster, 'replica', 'ORDER');
    again.release();
  });

  it('snapshots and metrics per member', async () => {
    const harness = otelHarness();
    try {
      const cluster = twoMembers({ meterProvider: harness.meterProvider });
      const held = await leakFromCluster(cluster, 'primary', 'ORDER');
      const snap = cluster.guard.snapshot();
      expect(snap.cluster).toBe('shop');
      expect(Object.keys(snap.members)).toEqual(['primary', 'replica']);
      expect(snap.members.primary!.pool).toBe('shop/primary');
      expect(snap.members.primary!.leases.map((l) => l.site)).toEqual([`${FIXTURE}:6:13`]);
      expect(snap.members.replica!.leases).toEqual([]);
      const metrics = await harness.metrics();
      expect(pointOf(metrics, 'db.client.connection.count', { 'db.client.connection.pool.name': 'shop/primary', 'db.client.connection.state': 'used' })).toBe(1);
      expect(pointOf(metrics, 'db.client.connection.limit', { 'db.client.connection.pool.name': 'shop/replica' })).toBe(1);
      held.release();
    } finally {
      await harness.shutdown();
    }
  });

  it("end() is bounded: a member's query still running is cut at guard.endTimeoutMs and reported as the cluster's end", async () => {
    const cluster = twoMembers({ endTimeoutMs: 300 });
    const forced: EndReport[] = [];
    cluster.guard.on('endForced', (r) => forced.push(r));
    const conn = await leakFromCluster(cluster, 'replica', 'ORDER');
    const running = new Promise<Error | null>((res) => conn.query('SELECT SLEEP(5)', (e: Error | null) => res(e)));
    await sleep(30);
    const started = Date.now();
    await new Promise<void>((r) => cluster.end(() => r()));
    expect(Date.now() - started).toBeLessThan(2_000);
    await until(() => forced.length === 1, 'the endForced report');
    expect(forced[0]!.pool).toBe('shop/replica');
    expect(forced[0]!.call).toBe('cluster.end()');
    expect(await running).toBeInstanceOf(Error);
  });

  it("a member's own guard options, and bad ones refused at add() before mysql2 adds the member", () => {
    const cluster = createPoolCluster({ guard: { logger: false } });
    open.push(cluster as unknown as (typeof open)[number]);
    cluster.add('a', { uri: MYSQL_URL, guard: { name: 'orders-primary', leakThresholdMs: 5 } } as mysql.PoolOptions);
    expect(cluster.guard.member('a')!.name).toBe('orders-primary');
    expect(() => cluster.add('b', { uri: MYSQL_URL, guard: { leakThresholdMs: -1 } } as mysql.PoolOptions)).toThrow(/guard\.leakThresholdMs/);
    expect((cluster as unknown as { _nodes: Record<string, unknown> })._nodes.b).toBeUndefined();
    // Auto-named members (add(config)) are named by mysql2's id.
    cluster.add({ uri: MYSQL_URL } as mysql.PoolOptions);
    expect([...cluster.guard.members.keys()]).toEqual(['a', 'CLUSTER::1']);
    expect(cluster.guard.member('CLUSTER::1')!.name).toBe('cluster/CLUSTER::1');
  });
});

describe('poolguard/mysql2/promise createPoolCluster', () => {
  it("is mysql2/promise's own cluster over a guarded one: leaks name the await line, the handle is the same", async () => {
    const cluster = createPromisePoolCluster({ guard: { name: 'reads', logger: false, leakThresholdMs: 80 } });
    const core = (cluster as unknown as { poolCluster: GuardedPoolCluster }).poolCluster;
    open.push(core as unknown as (typeof open)[number]);
    expect(cluster.constructor).toBe(mysqlPromise.createPoolCluster().constructor);
    cluster.add('r1', { uri: MYSQL_URL, connectionLimit: 1 });
    cluster.add('r2', { uri: MYSQL_URL, connectionLimit: 1 });
    expect(cluster.guard).toBe(core.guard);
    const leaks: LeakReport[] = [];
    cluster.guard.on('leak', (r) => leaks.push(r));
    const conn = await leakFromPromiseCluster(cluster, 'r2');
    await until(() => leaks.length === 1, 'a leak report');
    expect(leaks[0]).toMatchObject({ pool: 'reads/r2', site: `${FIXTURE}:14:36` });
    const [rows] = await cluster.of('r1').query('SELECT 2 AS y');
    expect(rows).toEqual([{ y: 2 }]);
    conn.release();
    await cluster.end();
    expect(Object.values(cluster.guard.snapshot().members).map((s) => s.leases.length)).toEqual([0, 0]);
  });
});

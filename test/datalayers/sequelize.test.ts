import { Sequelize, ConnectionAcquireTimeoutError, type Options } from 'sequelize';
import { afterEach, describe, expect, it } from 'vitest';
import { guardSequelize } from '../../src/sequelize.js';
import type { LeakReport, PoolGuard } from '../../src/index.js';
import { siteMatchers } from '../helpers/sites.js';
import { DATABASE_URL, until } from '../helpers/db.js';
import { MYSQL } from '../helpers/mysql.js';
// @ts-expect-error plain JavaScript fixture with marked lines
import * as app from '../fixtures/sequelize-app.mjs';

const site = siteMatchers('test/fixtures/sequelize-app.mjs');

const pgUrl = new URL(DATABASE_URL);
const connections = {
  postgres: (): Options => ({
    dialect: 'postgres',
    host: pgUrl.hostname,
    port: Number(pgUrl.port || 5432),
    username: decodeURIComponent(pgUrl.username) || 'postgres',
    database: pgUrl.pathname.slice(1) || 'test',
    dialectOptions: { application_name: 'poolguard_dl_sequelize' },
  }),
  mysql: (): Options => ({ dialect: 'mysql', host: MYSQL.host, port: MYSQL.port, username: MYSQL.user, password: MYSQL.password, database: MYSQL.database }),
} as const;

const open: Sequelize[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => Promise.race([s.close().catch(() => {}), new Promise((r) => setTimeout(r, 1_000))])));
});

function make(dialect: keyof typeof connections, extra: Options = {}): Sequelize {
  const sequelize = new Sequelize({ ...connections[dialect](), logging: false, ...extra });
  open.push(sequelize);
  return sequelize;
}

function reports(handle: PoolGuard, type: 'leak' | 'leakResolved' = 'leak'): LeakReport[] {
  const seen: LeakReport[] = [];
  handle.on(type, (r) => seen.push(r));
  return seen;
}

const quick = { logger: false as const, leakThresholdMs: 150, idleAfterMs: 60 };

describe.each(['postgres', 'mysql'] as const)('Sequelize (%s), its own pool guarded in place', (dialect) => {
  it('works unchanged with the default pool; concurrent queries use more than one connection; idempotent', async () => {
    const sequelize = make(dialect);
    const handle = guardSequelize(sequelize, { logger: false });
    expect(guardSequelize(sequelize)).toBe(handle);
    expect(Number((await app.select(sequelize))[0].one)).toBe(1);
    await Promise.all(Array.from({ length: 4 }, () => app.slowQuery(sequelize, 0.05)));
    const n = await sequelize.transaction(async (t) => Number(((await sequelize.query('SELECT 41 AS n', { transaction: t }))[0] as Array<{ n: number }>)[0]!.n) + 1);
    expect(n).toBe(42);
    const snap = handle.snapshot();
    expect(snap.counts.leased).toBe(0);
    expect(snap.counts.max).toBe(5);
    expect(snap.connections.length).toBeGreaterThan(1);
    expect(snap.totals.checkouts).toBeGreaterThanOrEqual(6);
  });

  it('pool.max keeps working: at most max connections, the rest wait their turn', async () => {
    const sequelize = make(dialect, { pool: { max: 2, min: 0 } });
    const handle = guardSequelize(sequelize, { logger: false });
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, handle.snapshot().counts.leased)), 5);
    await Promise.all(Array.from({ length: 6 }, () => app.slowQuery(sequelize, 0.05)));
    clearInterval(watch);
    expect(most).toBe(2);
    expect(handle.snapshot().connections.length).toBe(2);
  });

  it('an unmanaged sequelize.transaction() never committed: reported at that line, idle', async () => {
    const sequelize = make(dialect);
    const handle = guardSequelize(sequelize, quick);
    const seen = reports(handle);
    const t = await app.forgottenTransaction(sequelize);
    await until(() => seen.length > 0, 'a leak report', 3_000);
    expect(seen[0]!.site).toMatch(site('forgotten'));
    expect(seen[0]!.kind).toBe('transaction');
    expect(seen[0]!.state).toBe('idle');
    expect(seen[0]!.transaction).toBe('open');
    const resolved = reports(handle, 'leakResolved');
    await t.rollback();
    await until(() => resolved.length === 1, 'leakResolved');
    expect(handle.snapshot().counts.leased).toBe(0);
  });

  it('a managed transaction stuck in its callback: reported at the sequelize.transaction(cb) line', async () => {
    const sequelize = make(dialect);
    const handle = guardSequelize(sequelize, quick);
    const seen = reports(handle);
    let unstick!: () => void;
    const done = app.stuckCallback(sequelize, new Promise<void>((r) => (unstick = r)));
    await until(() => seen.length > 0, 'a leak report', 3_000);
    expect(seen[0]!.site).toMatch(site('callback'));
    unstick();
    await done;
  });

  it("a query in flight: busy, at the query's line with captureStacks: 'all'", async () => {
    const sequelize = make(dialect);
    const handle = guardSequelize(sequelize, { ...quick, captureStacks: 'all' });
    const seen = reports(handle);
    await app.slowQuery(sequelize, 0.5);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.site).toMatch(site('slow'));
    expect(seen[0]!.kind).toBe('statement');
    expect(seen[0]!.state).toBe('busy');
    expect(seen[0]!.message).toContain('with a query in flight now');
  });

  it('ConnectionAcquireTimeoutError keeps its class and message, and names the holder in its fields and stack', async () => {
    const sequelize = make(dialect, { pool: { max: 1, min: 0, acquire: 300 } });
    const handle = guardSequelize(sequelize, { logger: false });
    const t = await app.forgottenTransaction(sequelize);
    const err = (await app.select(sequelize).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { holders: Array<{ site: string; idle: number }> };
    expect(err).toBeInstanceOf(ConnectionAcquireTimeoutError);
    expect(err.name).toBe('SequelizeConnectionAcquireTimeoutError');
    expect(err.message).toBe('Operation timeout');
    expect(err.stack).toMatch(/^SequelizeConnectionAcquireTimeoutError: Operation timeout\npoolguard\[[^\]]+\]: 1 of 1 connections checked out/);
    expect(err.holders).toHaveLength(1);
    expect(err.holders[0]!.site).toMatch(site('forgotten'));
    expect(err.holders[0]!.idle).toBe(1);
    await t.rollback();
    expect(Number((await app.select(sequelize))[0].one)).toBe(1);
  });
});

describe('guardSequelize refuses what it cannot guard', () => {
  it('recycling options (the pool has its own) and something that is not a Sequelize', () => {
    const sequelize = make('postgres');
    expect(() => guardSequelize(sequelize, { maxUses: 10 })).toThrow(new TypeError("guard.maxUses is not available for a Sequelize pool, got 10: use Sequelize's pool.maxUses"));
    expect(() => guardSequelize({} as never)).toThrow(/needs a Sequelize instance/);
  });
});

describe('Sequelize with replication: the read and the write pool, each guarded under its own name', () => {
  it('a forgotten transaction is reported on the write pool, reads are leased from the read pool', async () => {
    const base = connections.postgres();
    const server = { host: base.host!, port: base.port!, username: base.username!, database: base.database! };
    const sequelize = make('postgres', { replication: { read: [server], write: server } });
    const write = guardSequelize(sequelize, { ...quick, name: 'orders' });
    const read = (sequelize.connectionManager as unknown as { pool: { read: { guard: PoolGuard } } }).pool.read.guard;
    expect(write.name).toBe('orders:write');
    expect(read.name).toBe('orders:read');
    const seen = reports(write);
    const t = await app.forgottenTransaction(sequelize);
    await sequelize.query('SELECT 1', { type: 'SELECT' });
    expect(read.snapshot().totals.checkouts).toBe(1);
    await until(() => seen.length > 0, 'a leak report', 3_000);
    expect(seen[0]!.site).toMatch(site('forgotten'));
    expect(seen[0]!.pool).toBe('orders:write');
    await t.rollback();
  });

  it('a second guardSequelize() with the same options returns the same handle and warns of nothing; different options are named', () => {
    const base = connections.postgres();
    const server = { host: base.host!, port: base.port!, username: base.username!, database: base.database! };
    const sequelize = make('postgres', { replication: { read: [server], write: server } });
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (_fields: unknown, msg: string) => warnings.push(msg), error() {} };
    const options = { name: 'orders', leakThresholdMs: 150, logger };
    const write = guardSequelize(sequelize, options);
    expect(guardSequelize(sequelize, options)).toBe(write);
    expect(guardSequelize(sequelize, { ...options })).toBe(write);
    expect(warnings).toEqual([]);
    guardSequelize(sequelize, { ...options, leakThresholdMs: 300 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^poolguard\[orders:write\]: guard\(\) was called on a pool that is already guarded, with different options \(guard\.leakThresholdMs\);/);
  });
});

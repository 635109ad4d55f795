import diagnosticsChannel from 'node:diagnostics_channel';
import knexFactory, { type Knex } from 'knex';
import { Sequelize } from 'sequelize';
import { afterEach, describe, expect, it } from 'vitest';
import { DIAGNOSTICS_CHANNELS, type LeakReport } from '../../src/index.js';
import { guardKnex } from '../../src/knex.js';
import { guardSequelize } from '../../src/sequelize.js';
import { DATABASE_URL, until } from '../helpers/db.js';
import { MYSQL } from '../helpers/mysql.js';
import { otelHarness, pointOf } from '../helpers/otel.js';
// @ts-expect-error plain JavaScript fixture with marked lines
import * as knexApp from '../fixtures/knex-app.mjs';
// @ts-expect-error plain JavaScript fixture with marked lines
import * as sequelizeApp from '../fixtures/sequelize-app.mjs';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await Promise.race([fn().catch(() => {}), new Promise((r) => setTimeout(r, 1_000))]);
});

function makeKnex(pool: Knex.PoolConfig = { min: 0, max: 2 }): Knex {
  const knex = knexFactory({ client: 'pg', connection: `${DATABASE_URL}?application_name=poolguard_dl_core`, pool, log: { warn() {} } });
  cleanups.push(() => knex.destroy());
  return knex;
}

function makeSequelize(): Sequelize {
  const sequelize = new Sequelize(DATABASE_URL, { logging: false, pool: { max: 2, min: 0 } });
  cleanups.push(() => sequelize.close());
  return sequelize;
}

async function backendAlive(knex: Knex, pid: number): Promise<boolean> {
  const { rows } = await knex.raw('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ?', [pid]);
  return rows[0].n === 1;
}

describe('reclaim: a transaction left open past guard.reclaimAfterMs is cut, the server rolls it back, the pool serves on', () => {
  it('Knex', async () => {
    const knex = makeKnex();
    const handle = guardKnex(knex, { logger: false, leakThresholdMs: 0, reclaimAfterMs: 200, idleAfterMs: 50 });
    const reclaimed: LeakReport[] = [];
    handle.on('reclaim', (r) => reclaimed.push(r));
    const trx = await knexApp.forgottenTransaction(knex);
    const pid = handle.snapshot().connections.find((c) => c.state === 'leased')!.pid!;
    await until(() => reclaimed.length > 0, 'a reclaim', 3_000);
    expect(reclaimed[0]!.kind).toBe('transaction');
    expect(reclaimed[0]!.transaction).toBe('open');
    const admin = makeKnex({ min: 0, max: 1 });
    for (let i = 0; i < 100 && (await backendAlive(admin, pid)); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await backendAlive(admin, pid)).toBe(false);
    // Knex settles the transaction's own promise with the driver's error; commit() rejects with it.
    const outcome = trx.executionPromise.then(
      () => 'committed',
      (e: unknown) => e,
    );
    await trx.commit().catch(() => {});
    expect(String(await outcome)).toMatch(/not queryable|closed|terminat|ended/i);
    expect(handle.snapshot().counts.leased).toBe(0);
    expect(Number((await knexApp.select(knex))[0].one)).toBe(1);
    expect(handle.snapshot().totals.reclaims).toBe(1);
  });

  it('Sequelize', async () => {
    const sequelize = makeSequelize();
    const handle = guardSequelize(sequelize, { logger: false, leakThresholdMs: 0, reclaimAfterMs: 200, idleAfterMs: 50 });
    const reclaimed: LeakReport[] = [];
    handle.on('reclaim', (r) => reclaimed.push(r));
    const t = await sequelizeApp.forgottenTransaction(sequelize);
    await until(() => reclaimed.length > 0, 'a reclaim', 3_000);
    expect(reclaimed[0]!.kind).toBe('transaction');
    await expect(t.commit()).rejects.toThrow();
    expect(handle.snapshot().counts.leased).toBe(0);
    expect(Number((await sequelizeApp.select(sequelize))[0].one)).toBe(1);
  });
});

describe('shutdown with a transaction left open: the end is reported, and finishes at guard.endTimeoutMs', () => {
  it('knex.destroy()', async () => {
    const knex = knexFactory({ client: 'pg', connection: DATABASE_URL, pool: { min: 0, max: 2 }, log: { warn() {} } });
    const handle = guardKnex(knex, { logger: false, endTimeoutMs: 300 });
    const events: string[] = [];
    handle.on('endBlocked', (r) => events.push(`blocked ${r.call} ${r.leases.map((l) => l.kind).join()}`));
    handle.on('endForced', (r) => events.push(`forced ${r.leases.length}`));
    await knexApp.forgottenTransaction(knex);
    const started = Date.now();
    await knex.destroy();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(events[0]).toBe('blocked knex.destroy() transaction');
    expect(events).toContain('forced 1');
  });

  it('sequelize.close()', async () => {
    const sequelize = new Sequelize(DATABASE_URL, { logging: false, pool: { max: 2, min: 0 } });
    const handle = guardSequelize(sequelize, { logger: false, endTimeoutMs: 300 });
    const events: string[] = [];
    handle.on('endBlocked', (r) => events.push(`blocked ${r.call} ${r.leases.map((l) => l.kind).join()}`));
    handle.on('endForced', (r) => events.push(`forced ${r.leases.length}`));
    await sequelizeApp.forgottenTransaction(sequelize);
    const started = Date.now();
    await sequelize.close();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(events[0]).toBe('blocked sequelize.close() transaction');
    expect(events).toContain('forced 1');
  });
});

describe('a connection released inside a transaction (a raw BEGIN run as one query) is closed, never handed on', () => {
  it('Knex', async () => {
    const knex = makeKnex({ min: 0, max: 1 });
    const handle = guardKnex(knex, { logger: false });
    const dirty: string[] = [];
    const retired: string[] = [];
    handle.on('dirtyRelease', (r) => dirty.push(`${r.transaction} ${r.action}`));
    handle.on('retire', (r) => retired.push(r.reason));
    const first = (await knex.raw('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    await knex.raw('BEGIN');
    expect(dirty).toEqual(['open destroy']);
    // The next query runs on a new session, outside any transaction.
    const { rows } = await knex.raw("SELECT pg_backend_pid() AS pid, now() = statement_timestamp() AS fresh");
    expect(rows[0].pid).not.toBe(first);
    await until(() => retired.length === 1, 'the dirty connection to close');
    expect(retired).toEqual(['dirty']);
    expect(handle.snapshot().totals.dirtyReleases).toBe(1);
  });

  it('Sequelize', async () => {
    const sequelize = makeSequelize();
    const handle = guardSequelize(sequelize, { logger: false });
    const dirty: string[] = [];
    const retired: string[] = [];
    handle.on('dirtyRelease', (r) => dirty.push(`${r.transaction} ${r.action}`));
    handle.on('retire', (r) => retired.push(r.reason));
    const first = ((await sequelize.query('SELECT pg_backend_pid() AS pid')) as [Array<{ pid: number }>, unknown])[0][0]!.pid;
    await sequelize.query('BEGIN');
    expect(dirty).toEqual(['open destroy']);
    await until(() => retired.length === 1, 'the dirty connection to close');
    expect(retired).toEqual(['dirty']);
    const pid = ((await sequelize.query('SELECT pg_backend_pid() AS pid')) as [Array<{ pid: number }>, unknown])[0][0]!.pid;
    expect(pid).not.toBe(first);
  });

  it('Knex on mysql2: the server status flags of the BEGIN show the open transaction', async () => {
    const knex = knexFactory({ client: 'mysql2', connection: { ...MYSQL }, pool: { min: 0, max: 1 }, log: { warn() {} } });
    cleanups.push(() => knex.destroy());
    const handle = guardKnex(knex, { logger: false });
    const dirty: string[] = [];
    const retired: string[] = [];
    handle.on('dirtyRelease', (r) => dirty.push(`${r.transaction} ${r.action}`));
    handle.on('retire', (r) => retired.push(r.reason));
    const first = (await knex.raw('SELECT CONNECTION_ID() AS id'))[0][0].id;
    await knex.raw('BEGIN');
    expect(dirty).toEqual(['open destroy']);
    const next = (await knex.raw('SELECT CONNECTION_ID() AS id'))[0][0].id;
    expect(next).not.toBe(first);
    await until(() => retired.length === 1, 'the dirty connection to close');
    expect(retired).toEqual(['dirty']);
    expect(handle.snapshot().totals.dirtyReleases).toBe(1);
  });

  it('Sequelize on mysql2: the server status flags of the BEGIN show the open transaction', async () => {
    const sequelize = new Sequelize({ dialect: 'mysql', host: MYSQL.host, port: MYSQL.port, username: MYSQL.user, password: MYSQL.password, database: MYSQL.database, logging: false, pool: { max: 1, min: 0 } });
    cleanups.push(() => sequelize.close());
    const handle = guardSequelize(sequelize, { logger: false });
    const dirty: string[] = [];
    const retired: string[] = [];
    handle.on('dirtyRelease', (r) => dirty.push(`${r.transaction} ${r.action}`));
    handle.on('retire', (r) => retired.push(r.reason));
    const id = async () => ((await sequelize.query('SELECT CONNECTION_ID() AS id')) as [Array<{ id: number }>, unknown])[0][0]!.id;
    const first = await id();
    await sequelize.query('BEGIN');
    expect(dirty).toEqual(['open destroy']);
    await until(() => retired.length === 1, 'the dirty connection to close');
    expect(retired).toEqual(['dirty']);
    expect(await id()).not.toBe(first);
  });

  it("guard.dirtyRelease: 'rollback' is refused for these pools", () => {
    expect(() => guardKnex(makeKnex(), { dirtyRelease: 'rollback' })).toThrow("guard.dirtyRelease 'rollback' is not available for a tarn (Knex) pool");
  });
});

describe('OpenTelemetry metrics and diagnostics channels under the pool name', () => {
  it('Knex: db.client.connection.count and the checkout/release channels carry the guard name', async () => {
    const otel = otelHarness();
    cleanups.push(() => otel.shutdown());
    const seen: Array<{ channel: string; message: Record<string, unknown> }> = [];
    for (const name of [DIAGNOSTICS_CHANNELS.checkout, DIAGNOSTICS_CHANNELS.release]) {
      const fn = (message: unknown) => {
        if ((message as { pool?: string }).pool === 'dl-knex-otel') seen.push({ channel: name, message: message as Record<string, unknown> });
      };
      diagnosticsChannel.subscribe(name, fn);
      cleanups.push(async () => diagnosticsChannel.unsubscribe(name, fn));
    }
    const knex = makeKnex();
    guardKnex(knex, { logger: false, name: 'dl-knex-otel', meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider });
    const trx = await knex.transaction();
    const metrics = await otel.metrics();
    const attrs = { 'db.client.connection.pool.name': 'dl-knex-otel' };
    expect(pointOf(metrics, 'db.client.connection.count', { ...attrs, 'db.client.connection.state': 'used' })).toBe(1);
    expect(pointOf(metrics, 'db.client.connection.limit', attrs)).toBe(2);
    await trx.commit();
    await knex.raw('SELECT 1');
    expect(seen.map((s) => `${s.channel} ${String(s.message.kind)}`)).toEqual([
      'poolguard:checkout transaction',
      'poolguard:release transaction',
      'poolguard:checkout statement',
      'poolguard:release statement',
    ]);
  });

  it('Sequelize: db.client.connection.count under the guard name', async () => {
    const otel = otelHarness();
    cleanups.push(() => otel.shutdown());
    const sequelize = makeSequelize();
    guardSequelize(sequelize, { logger: false, name: 'dl-seq-otel', meterProvider: otel.meterProvider });
    const t = await sequelize.transaction();
    const metrics = await otel.metrics();
    expect(pointOf(metrics, 'db.client.connection.count', { 'db.client.connection.pool.name': 'dl-seq-otel', 'db.client.connection.state': 'used' })).toBe(1);
    await t.rollback();
  });
});

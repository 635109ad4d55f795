import knexFactory from 'knex';
import { Sequelize } from 'sequelize';
import { afterEach, describe, expect, it } from 'vitest';
import type { LeakReport } from '../../src/index.js';
import { guardKnex } from '../../src/knex.js';
import { guardSequelize } from '../../src/sequelize.js';
import { until } from '../helpers/db.js';
import { MYSQL } from '../helpers/mysql.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await Promise.race([fn().catch(() => {}), new Promise((r) => setTimeout(r, 1_000))]);
});

describe('data layers on mysql and the MariaDB connector: the open transaction, read from the driver', () => {
  it("Knex's mysql client: a dirty release is caught from mysql's status flags, a leak inside a transaction says so, a running query is busy", async () => {
    const knex = knexFactory({ client: 'mysql', connection: { ...MYSQL }, pool: { min: 0, max: 1 }, log: { warn() {} } });
    cleanups.push(() => knex.destroy());
    const handle = guardKnex(knex, { logger: false, leakThresholdMs: 60, idleAfterMs: 30 });
    const dirty: string[] = [];
    handle.on('dirtyRelease', (r) => dirty.push(`${r.transaction} ${r.action}`));
    const first = (await knex.raw('SELECT CONNECTION_ID() AS id'))[0][0].id;
    await knex.raw('BEGIN');
    expect(dirty).toEqual(['open destroy']);
    expect((await knex.raw('SELECT CONNECTION_ID() AS id'))[0][0].id).not.toBe(first);
    const leaks: LeakReport[] = [];
    handle.on('leak', (r) => leaks.push(r));
    const trx = await knex.transaction();
    await trx.raw('SELECT 1');
    await until(() => leaks.length > 0, 'a leak report');
    expect(leaks[0]).toMatchObject({ transaction: 'open', state: 'idle' });
    // A Knex builder runs when it is awaited: then() starts it. A second of SLEEP: on a loaded
    // machine the polling below can first run after a shorter query has already finished.
    const sleeping = trx.raw('SELECT SLEEP(1)').then(() => {});
    await until(() => handle.snapshot().leases[0]?.state === 'busy', 'the lease busy while SLEEP runs');
    await sleeping;
    await trx.rollback();
  });

  it("Sequelize's mariadb dialect: a dirty release is caught from the connector's info.status, a leak inside a transaction says so", async () => {
    const sequelize = new Sequelize({ dialect: 'mariadb', host: MYSQL.host, port: MYSQL.port, username: MYSQL.user, password: MYSQL.password, database: MYSQL.database, logging: false, pool: { max: 1, min: 0 } });
    cleanups.push(() => sequelize.close());
    const handle = guardSequelize(sequelize, { logger: false, leakThresholdMs: 60, idleAfterMs: 30 });
    const dirty: string[] = [];
    const retired: string[] = [];
    handle.on('dirtyRelease', (r) => dirty.push(`${r.transaction} ${r.action}`));
    handle.on('retire', (r) => retired.push(r.reason));
    // Sequelize 6's mariadb dialect cannot read a result set of the connector 3.4+ (it deletes the
    // rows' `meta`, which the connector no longer lets it): statements without one only.
    await sequelize.query('DO 0');
    const first = handle.snapshot().connections[0]!.pid;
    await sequelize.query('BEGIN');
    expect(dirty).toEqual(['open destroy']);
    await until(() => retired.length === 1, 'the dirty connection to close');
    await sequelize.query('DO 0');
    expect(handle.snapshot().connections[0]!.pid).not.toBe(first);
    const leaks: LeakReport[] = [];
    handle.on('leak', (r) => leaks.push(r));
    const trx = await sequelize.transaction();
    await sequelize.query('DO 1', { transaction: trx });
    await until(() => leaks.length > 0, 'a leak report');
    expect(leaks[0]).toMatchObject({ transaction: 'open' });
    expect(leaks[0]!.connection!.pid).toBeGreaterThan(0);
    await trx.rollback();
  });
});

import { Sequelize, type Options, type Transaction } from 'sequelize';
import { afterEach } from 'vitest';
import { guardSequelize } from '../../src/sequelize.js';
import { dataLayerErrorSuites, type DataLayer } from '../helpers/data-layer-errors.js';
import { DATABASE_URL } from '../helpers/db.js';
import { MYSQL } from '../helpers/mysql.js';

// Sequelize's and sequelize-pool's own errors reach the caller of a guarded Sequelize as Sequelize
// raised them: the same class, name, message and fields (`parent`, `original`). Each path runs on a
// plain Sequelize and a guarded one, on PostgreSQL and on MariaDB, and the two errors are compared.

const dialects: Record<string, (options: Options) => Sequelize> = {
  postgres: (options) => new Sequelize(DATABASE_URL, { logging: false, ...options }),
  mariadb: (options) => new Sequelize(MYSQL.database, MYSQL.user, MYSQL.password, { dialect: 'mysql', host: MYSQL.host, port: MYSQL.port, logging: false, ...options }),
};

const open: Sequelize[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => Promise.race([s.close().catch(() => {}), new Promise((r) => setTimeout(r, 2_000))])));
});

type SequelizeLayer = DataLayer<Transaction> & { readonly sequelize: Sequelize };

function make(dialect: string, guarded: boolean, pool: { max?: number; acquireMs?: number } = {}): SequelizeLayer {
  const sequelize = dialects[dialect]!({ pool: { max: pool.max ?? 1, min: 0, acquire: pool.acquireMs ?? 30_000 } });
  open.push(sequelize);
  return {
    sequelize,
    guard: guarded ? guardSequelize(sequelize, { name: 'sequelize-errors', logger: false }) : undefined,
    begin: () => sequelize.transaction(),
    commit: (t) => t.commit(),
    rollback: (t) => t.rollback(),
    inTransaction: (t) => sequelize.query('SELECT 1', { transaction: t }),
    transaction: (body) => sequelize.transaction(body),
    query: () => sequelize.query('SELECT 1'),
    badQuery: () => sequelize.query('SELECT * FROM poolguard_no_such_table'),
    end: () => sequelize.close(),
    acquireTimeout: (ms) => {
      (sequelize.connectionManager as unknown as { pool: { acquireTimeoutMillis: number } }).pool.acquireTimeoutMillis = ms;
    },
  };
}

dataLayerErrorSuites<Transaction, SequelizeLayer>(
  {
    name: 'Sequelize',
    endCall: 'sequelize.close()',
    dialects: ['postgres', 'mariadb'],
    guardName: 'sequelize-errors',
    make,
    forms: {
      'sequelize.query()': ({ sequelize }) => sequelize.query('SELECT 1 AS one'),
      'sequelize.transaction()': ({ sequelize }) => sequelize.transaction().then((t) => t.commit()),
      'sequelize.transaction(cb)': ({ sequelize }) => sequelize.transaction(async (t) => sequelize.query('SELECT 1', { transaction: t })),
    },
    timeout: { name: 'SequelizeConnectionAcquireTimeoutError', message: 'Operation timeout' },
  },
  'test/datalayers/sequelize-driver-errors.test.ts',
);

// Every adapter's reports in its own words: a table of adapters × report types, each report made
// for real against the servers, each checked for words that belong to another pool library (pg's
// "client" and `pg_stat_activity` in a mysql2 report, "query" in a generic-pool one, a release()
// that a Knex transaction does not have).
import knexFactory, { type Knex } from 'knex';
import mysql from 'mysql2';
import { Sequelize, type Options, type Transaction } from 'sequelize';
import { afterAll, describe, expect, it } from 'vitest';
import type { EndReport, GuardOptions, LeakReport, PoolGuard } from '../../src/index.js';
import { Pool } from '../../src/pg.js';
import { createPool as createMysqlPool } from '../../src/mysql2.js';
import { createPool as createGenericPool } from '../../src/generic-pool.js';
import { guardKnex } from '../../src/knex.js';
import { guardSequelize } from '../../src/sequelize.js';
import { DATABASE_URL, sleep, until } from '../helpers/db.js';
import { addedTo } from '../helpers/driver-errors.js';
import { MYSQL, MYSQL_URL } from '../helpers/mysql.js';
import type pg from 'pg';

/** The report types; `slow` is a managed lease (pool.query(), use(), a data layer's query) still running. */
const REPORTS = ['leak', 'unnamed', 'slow', 'reclaim', 'timeout', 'timeoutBusy', 'endBlocked', 'endForced', 'dirty'] as const;
type ReportType = (typeof REPORTS)[number];

/** What a test does with one adapter's pool; `H` is what an explicit checkout hands out. */
interface Ops<H> {
  readonly handle: PoolGuard;
  /** An explicit lease, as an application takes one (connect(), getConnection(), acquire(), a transaction). */
  take(): Promise<H>;
  /** A query on a held lease, for what its holder gets once poolguard cut it; absent where there is no query. */
  query?(held: H): Promise<unknown>;
  /** The commit of a held transaction (a data layer's lease), where there is one. */
  commit?(held: H): Promise<unknown>;
  /** Work that keeps a managed lease busy for `seconds` (pool.query(), use(), a data layer's query). */
  busy(seconds: number): Promise<unknown>;
  /** A checkout that is expected to time out: its error. */
  checkout(): Promise<Error>;
  /** A connection given back inside an open transaction, as the adapter's users would do it. */
  dirty?(): Promise<unknown>;
  /** Starts ending the pool. */
  end(): Promise<unknown>;
  /** Ends the pool whatever it holds. */
  close(): Promise<void>;
}

interface Subject {
  /** Words that must not appear in any of this adapter's reports. */
  readonly foreign: readonly RegExp[];
  /**
   * What holds up the pool's end: an idle lease, or a query still running (mysql2's end() closes
   * every connection that runs nothing, checked out or not, and so waits only for running work).
   */
  readonly endHeldBy?: 'busy';
  /** `guard` options; `max`: the pool's size; `acquireMs`: its acquire timeout. */
  make(guard: GuardOptions, max: number, acquireMs: number): Ops<any>;
}

/**
 * The holder of a lease poolguard cut gets what the report says: LeaseReclaimedError, or the
 * driver's own error quoted in the report; a transaction's commit() fails too where it says so.
 */
async function holderGets(ops: Ops<any>, held: unknown, text: string): Promise<void> {
  if (ops.query === undefined) return;
  const err = (await ops.query(held).then(() => undefined, (e: unknown) => e)) as { code?: unknown; message?: unknown } | undefined;
  expect(err, 'a query on a lease poolguard cut').toBeInstanceOf(Error);
  const quoted = /error "([^"]+)"/.exec(text)?.[1];
  if (text.includes('LeaseReclaimedError')) expect(err!.code).toBe('POOLGUARD_LEASE_RECLAIMED');
  else expect(String(err!.message)).toContain(quoted);
  if (/and so does (its|a transaction's) commit\(\)/.test(text)) {
    expect(ops.commit, 'a lease with a commit()').toBeDefined();
    const failed = (await ops.commit!(held).then(() => undefined, (e: unknown) => e)) as Error | undefined;
    expect(failed, "the cut transaction's commit()").toBeInstanceOf(Error);
    expect(failed!.message).toContain(quoted);
  }
}

const PG_ONLY = [/\bpg\b/, /pg_stat_activity/, /\bclients?\b/i];
const MYSQL_ONLY = [/PROCESSLIST/i];
/** A data layer's leases are given back by commit()/rollback() or by the data layer itself. */
const DATA_LAYER = [/\brelease\(\)/, /LeaseReclaimedError/];

const pgUrl = new URL(DATABASE_URL);

/** A driver's connection as its pool lends it (pg's client, mysql2's promise connection). */
interface DriverConnection {
  query(sql: string): Promise<unknown>;
  release(): void;
}

/** The ops of a driver's own pool: `take` checks out a connection, `busy` runs a sleep through the pool. */
function driverOps(handle: PoolGuard, take: () => Promise<DriverConnection>, busy: (seconds: number) => Promise<unknown>, end: () => Promise<unknown>, close: () => Promise<void>): Ops<DriverConnection> {
  return {
    handle,
    take,
    query: (c) => c.query('SELECT 1'),
    busy,
    checkout: () => take().then(() => new Error('no timeout'), (e: Error) => e),
    async dirty() {
      const c = await take();
      await c.query('BEGIN');
      c.release();
    },
    end,
    close,
  };
}

const subjects: Record<string, Subject> = {
  pg: {
    foreign: [/mysql|generic-pool|\bknex\b|sequelize/i, ...MYSQL_ONLY],
    make(guard, max, acquireMs) {
      const pool = new Pool({ connectionString: DATABASE_URL, max, connectionTimeoutMillis: acquireMs, guard });
      return driverOps(pool.guard, () => pool.connect(), (s) => pool.query('SELECT pg_sleep($1)', [s]), () => pool.end(), () => endPg(pool));
    },
  },
  mysql2: {
    foreign: [...PG_ONLY, /\bconnect\(\)/, /generic-pool|\bknex\b|sequelize/i],
    endHeldBy: 'busy',
    make(guard, max, acquireMs) {
      const pool = createMysqlPool({ uri: MYSQL_URL, connectionLimit: max, guard: { acquireTimeoutMs: acquireMs, ...guard } });
      const p = pool.promise();
      return driverOps(pool.guard, () => p.getConnection(), (s) => p.query('SELECT SLEEP(?)', [s]), () => p.end(), () => endMysql(pool));
    },
  },
  'generic-pool': {
    // A resource poolguard cannot see working: no query, no client, no server.
    foreign: [/\bquery\b|queries/i, /\bconnections?\b/i, ...PG_ONLY, ...MYSQL_ONLY, /mysql2|\bknex\b|sequelize/i],
    make(guard, max, acquireMs) {
      let next = 0;
      const pool = createGenericPool({ create: async () => ({ page: ++next }), destroy: async () => {} }, { max, acquireTimeoutMillis: acquireMs, guard });
      return {
        handle: pool.guard,
        take: () => pool.acquire(),
        busy: (s) => pool.use(() => sleep(s * 1000)),
        checkout: () => pool.acquire().then(() => new Error('no timeout'), (e: Error) => e),
        end: () => pool.drain(),
        close: async () => {
          await Promise.race([pool.drain().then(() => pool.clear()), sleep(500)]);
        },
      };
    },
  },
  'knex pg': knexSubject('pg'),
  'knex mysql2': knexSubject('mysql2'),
  'sequelize postgres': sequelizeSubject('postgres'),
  'sequelize mysql': sequelizeSubject('mysql'),
};

function knexSubject(dialect: 'pg' | 'mysql2'): Subject {
  return {
    foreign: [...(dialect === 'pg' ? MYSQL_ONLY : PG_ONLY), ...DATA_LAYER, /generic-pool|sequelize/i, /\bclients?\b/i],
    make(guard, max, acquireMs) {
      const connection = dialect === 'pg' ? DATABASE_URL : { ...MYSQL };
      const knex: Knex = knexFactory({ client: dialect, connection, pool: { min: 0, max, acquireTimeoutMillis: acquireMs }, log: { warn() {} } });
      const sleepSql = dialect === 'pg' ? 'SELECT pg_sleep(?)' : 'SELECT SLEEP(?)';
      return {
        handle: guardKnex(knex, guard),
        take: (): Promise<Knex.Transaction> => knex.transaction(),
        query: (trx) => trx.raw('SELECT 1').then((r: unknown) => r),
        commit: (trx) => trx.commit(),
        // A builder runs when awaited: then() starts it now.
        busy: (s) => knex.raw(sleepSql, [s]).then((r) => r),
        checkout: () => knex.raw('SELECT 1').then(() => new Error('no timeout'), (e: Error) => e),
        // A raw BEGIN through the builder: Knex releases the connection after the query, in the transaction.
        dirty: () => knex.raw('BEGIN').then((r) => r),
        end: () => knex.destroy(),
        close: async () => {
          await Promise.race([knex.destroy().catch(() => {}), sleep(1_000)]);
        },
      };
    },
  };
}

/**
 * Opens the pool's one connection before a timed wait. Asked again when the pool's own acquire
 * timeout (300 ms in these cases) ends the first try: a cold connect on a loaded machine can take
 * longer (seen once in CI, Sequelize on PostgreSQL), and the connection it was opening is then
 * the next try's.
 */
async function warm(ops: { busy(s: number): Promise<unknown> }): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ops.busy(0);
      return;
    } catch (err) {
      if (attempt === 5) throw err;
    }
  }
}

function sequelizeSubject(dialect: 'postgres' | 'mysql'): Subject {
  const options: Options =
    dialect === 'postgres'
      ? { dialect, host: pgUrl.hostname, port: Number(pgUrl.port || 5432), username: decodeURIComponent(pgUrl.username) || 'postgres', database: pgUrl.pathname.slice(1) || 'test' }
      : { dialect, host: MYSQL.host, port: MYSQL.port, username: MYSQL.user, password: MYSQL.password, database: MYSQL.database };
  return {
    foreign: [...(dialect === 'postgres' ? MYSQL_ONLY : PG_ONLY), ...DATA_LAYER, /generic-pool|\bknex\b/i, /\bclients?\b/i],
    make(guard, max, acquireMs) {
      const sequelize = new Sequelize({ ...options, logging: false, pool: { max, min: 0, acquire: acquireMs } });
      const sleepSql = dialect === 'postgres' ? 'SELECT pg_sleep(?)' : 'SELECT SLEEP(?)';
      return {
        handle: guardSequelize(sequelize, guard),
        take: (): Promise<Transaction> => sequelize.transaction(),
        query: (t) => sequelize.query('SELECT 1', { transaction: t }),
        commit: (t) => t.commit(),
        busy: (s) => sequelize.query(sleepSql, { replacements: [s] }),
        checkout: () => sequelize.query('SELECT 1').then(() => new Error('no timeout'), (e: Error) => e),
        dirty: () => sequelize.query('BEGIN'),
        end: () => sequelize.close(),
        close: async () => {
          await Promise.race([sequelize.close().catch(() => {}), sleep(1_000)]);
        },
      };
    },
  };
}

async function endPg(pool: pg.Pool): Promise<void> {
  const internal = pool as unknown as { _clients: Array<{ end(): Promise<void> }> };
  const ending = pool.ending ? Promise.resolve() : pool.end().catch(() => {});
  await Promise.all([...internal._clients].map((c) => c.end().catch(() => {})));
  await Promise.race([ending, sleep(500)]);
}

async function endMysql(pool: mysql.Pool): Promise<void> {
  const internal = pool as unknown as { _closed: boolean; _allConnections: { length: number; get(i: number): { destroy(): void } } };
  if (!internal._closed) await Promise.race([new Promise<void>((r) => pool.end(() => r())), sleep(500)]);
  for (let i = internal._allConnections.length - 1; i >= 0; i--) internal._allConnections.get(i).destroy();
}


const once = <T>(handle: PoolGuard, event: 'leak' | 'reclaim' | 'endBlocked' | 'endForced' | 'dirtyRelease', timeoutMs = 5_000): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeoutMs} ms`)), timeoutMs);
    handle.once(event, (r: unknown) => {
      clearTimeout(timer);
      resolve(r as T);
    });
  });

/** Until the work just started holds its lease (its connection may still be opening). */
const leased = (ops: Ops<any>): Promise<void> => until(() => ops.handle.snapshot().counts.leased > 0, 'the busy lease', 5_000);

let names = 0;
const quiet = (extra: GuardOptions = {}): GuardOptions => ({ name: `words-${++names}`, logger: false, ...extra });

/** Makes one report of `type` on a fresh pool of `subject`, and returns what it says. */
async function report(subject: Subject, type: ReportType): Promise<string | undefined> {
  switch (type) {
    case 'leak':
    case 'unnamed': {
      // 'unnamed': a checkout without a stack; the report names the call that took it, in the pool's words.
      const ops = subject.make(quiet({ leakThresholdMs: 150, idleAfterMs: 60, ...(type === 'unnamed' ? { captureStacks: 'none' } : {}) }), 2, 2_000);
      try {
        const seen = once<LeakReport>(ops.handle, 'leak');
        await ops.take();
        return (await seen).message;
      } finally {
        await ops.close();
      }
    }
    case 'slow': {
      const ops = subject.make(quiet({ leakThresholdMs: 150, idleAfterMs: 60, captureStacks: 'all' }), 2, 2_000);
      try {
        const seen = once<LeakReport>(ops.handle, 'leak');
        const work = ops.busy(0.6);
        const r = await seen;
        await work;
        expect(r.state).toBe('busy');
        return r.message;
      } finally {
        await ops.close();
      }
    }
    case 'reclaim': {
      const ops = subject.make(quiet({ leakThresholdMs: 150, reclaimAfterMs: 300, idleAfterMs: 60 }), 2, 2_000);
      try {
        const seen = once<LeakReport>(ops.handle, 'reclaim');
        const held = await ops.take();
        const { message } = await seen;
        await holderGets(ops, held, message);
        return message;
      } finally {
        await ops.close();
      }
    }
    case 'timeout': {
      const ops = subject.make(quiet(), 1, 300);
      try {
        // The pool's one connection opened first: at 300 ms, the timed wait must be the queue's,
        // never a cold connect on a loaded machine (pg's connectionTimeoutMillis bounds both).
        await warm(ops);
        await ops.take();
        return addedTo(await ops.checkout());
      } finally {
        await ops.close();
      }
    }
    case 'timeoutBusy': {
      const ops = subject.make(quiet(), 1, 300);
      try {
        await warm(ops);
        const work = ops.busy(0.8);
        // Awaited below; a failure before that point must fail the test, not surface as unhandled.
        work.catch(() => {});
        await leased(ops);
        const message = addedTo(await ops.checkout());
        await work;
        return message;
      } finally {
        await ops.close();
      }
    }
    case 'endBlocked':
    case 'endForced': {
      const ops = subject.make(quiet({ endTimeoutMs: 400 }), 2, 2_000);
      try {
        const seen = once<EndReport>(ops.handle, type);
        let held: unknown;
        let running: Promise<unknown> | undefined;
        if (subject.endHeldBy === 'busy') {
          running = ops.busy(3).then(() => undefined, (e: unknown) => e);
          await leased(ops);
        } else held = await ops.take();
        void ops.end().catch(() => {});
        const { message } = await seen;
        if (type === 'endForced') {
          if (running !== undefined) expect(((await running) as { code?: unknown }).code, 'the running query cut at the end').toBe('POOLGUARD_LEASE_RECLAIMED');
          else await holderGets(ops, held, message);
        }
        return message;
      } finally {
        await ops.close();
      }
    }
    case 'dirty': {
      const ops = subject.make(quiet(), 1, 2_000);
      if (ops.dirty === undefined) {
        await ops.close();
        return undefined;
      }
      try {
        const seen = once<{ message: string }>(ops.handle, 'dirtyRelease');
        await ops.dirty();
        return (await seen).message;
      } finally {
        await ops.close();
      }
    }
  }
}

const made: Record<string, Record<string, string | undefined>> = {};

afterAll(() => {
  if (process.env.PRINT_WORDS) for (const [name, byType] of Object.entries(made)) for (const [type, text] of Object.entries(byType)) console.log(`\n=== ${name} · ${type}\n${text}`);
});

/**
 * A report's own words: without the stack it carries (frames of the libraries it went through)
 * and without a driver's own message quoted in it (pg's "Client was closed and is not queryable").
 */
const ownWords = (text: string): string =>
  text
    .split('\n')
    .filter((line) => !line.startsWith('    at '))
    .join('\n')
    .replace(/"[^"]*"/g, '"…"')
    // Where the user's code reaches the guard is code in the library's own names (knex.client.pool.guard).
    .replace(/[\w$.]+\.guard\.snapshot\(\)/g, '<handle>.snapshot()');

describe.each(Object.keys(subjects))('%s: every report in its own words', (name) => {
  const subject = subjects[name]!;
  it.each(REPORTS)('%s', async (type) => {
    const text = await report(subject, type);
    (made[name] ??= {})[type] = text;
    if (text === undefined) return;
    expect(text).toContain('poolguard[');
    for (const word of subject.foreign) expect(ownWords(text), `${name} ${type} says ${word}`).not.toMatch(word);
  });
});

import plainPostgres from 'postgres';
import { afterEach } from 'vitest';
import postgres, { type GuardedOptions, type GuardedSql } from '../../src/postgres.js';
import { DATABASE_URL, sleep } from './db.js';

type Sql = ReturnType<typeof plainPostgres>;

/**
 * The postgres.js major these tests run against: `postgres` is 3.4 in the default project and 4
 * (installed as `postgres4`) in the "postgres.js 4" one (vitest.config.ts). Told by the driver:
 * 4's sql has `stats` (building one opens no connection).
 */
export const POSTGRES_JS_MAJOR: 3 | 4 = 'stats' in plainPostgres({ max: 1, fetch_types: false }) ? 4 : 3;

const open: Sql[] = [];

/**
 * The application_name of every session these tests open: a test ends from the server only the
 * sessions that carry it (the server is shared).
 */
export const APPLICATION_NAME = 'poolguard-postgresjs-tests';

/** A guarded postgres.js pool on the test server (max 2, logger off), ended after the test. */
export function guardedSql(options: GuardedOptions = {}, url: string = DATABASE_URL): GuardedSql {
  const sql = postgres(url, { max: 2, onnotice: () => {}, ...options, connection: { application_name: APPLICATION_NAME, ...options.connection }, guard: { logger: false, captureStacks: 'connect', ...options.guard } });
  open.push(sql as unknown as Sql);
  return sql;
}

/** A plain postgres.js pool on the test server, ended after the test. */
export function plainSql(options: Parameters<typeof plainPostgres>[1] = {}): Sql {
  const sql = plainPostgres(DATABASE_URL, { max: 1, onnotice: () => {}, ...options, connection: { application_name: APPLICATION_NAME, ...options.connection } });
  open.push(sql);
  return sql;
}

/**
 * Ends the server session with pid `pid` from another connection, as an administrator would: only
 * if it is one of these tests' own (its application_name starts with APPLICATION_NAME).
 */
export async function terminateBackend(pid: number): Promise<void> {
  const admin = plainSql();
  const [{ n }] = (await admin`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where pid = ${pid} and application_name like ${APPLICATION_NAME + '%'}`) as unknown as [{ n: number }];
  if (n !== 1) throw new Error(`pid ${pid} is not a session of these tests (application_name ${APPLICATION_NAME}…): not terminated`);
}

afterEach(async () => {
  // postgres.js's end() waits for ever for a reserved connection: the timeout closes them all. A
  // pool whose test already called end() without one keeps that first end(): its sessions are
  // ended from the server instead, found by the application_name such a test must give it.
  await whileIgnoringTypeFetch(() =>
    Promise.all(
      open.splice(0).map(async (sql) => {
        const ended = await Promise.race([sql.end({ timeout: 0 }).then(() => true, () => true), sleep(500).then(() => false)]);
        if (!ended) await endSessionsOf(sql);
      }),
    ),
  );
});

/**
 * postgres.js 3.4.9 fetches the server's array types on each new connection from a promise nobody
 * catches (connection.js, fetchArrayTypes): an end({ timeout: 0 }) that closes a connection still
 * fetching them, as the clean-up after a test may on a loaded machine, makes its rejection an
 * unhandled one. Only that rejection is ignored while `fn` runs; any other fails the test run.
 * (Turning the fetch off with `fetch_types: false` is no way out: a reserve() on a new connection
 * then never resolves in 3.4.9.)
 */
async function whileIgnoringTypeFetch(fn: () => Promise<unknown>): Promise<void> {
  const foreign: unknown[] = [];
  await instead('unhandledRejection', (reason: unknown) => {
    const r = reason as { code?: unknown; query?: unknown } | null;
    if (r?.code === 'CONNECTION_DESTROYED' && typeof r.query === 'string' && r.query.includes('pg_catalog.pg_type')) return;
    foreign.push(reason);
  }, fn);
  if (foreign.length > 0) throw foreign[0];
}

/** Runs `fn` with `listener` as the process's only listener for `event` (the test runner's put back after). */
async function instead(event: 'unhandledRejection' | 'uncaughtException', listener: (reason: Error) => void, fn: () => Promise<unknown>): Promise<void> {
  const on = process as unknown as { listeners(e: string): Function[]; removeAllListeners(e: string): void; on(e: string, f: Function): void; removeListener(e: string, f: Function): void };
  const others = on.listeners(event);
  on.removeAllListeners(event);
  on.on(event, listener);
  try {
    await fn();
    await sleep(50);
  } finally {
    on.removeListener(event, listener);
    for (const l of others) on.on(event, l);
  }
}

/** Every uncaught exception while `fn` runs (postgres.js 3.4.9 throws one from a timer). */
export async function uncaught(fn: () => Promise<void>): Promise<Error[]> {
  const thrown: Error[] = [];
  await instead('uncaughtException', (err) => thrown.push(err), fn);
  return thrown;
}

async function endSessionsOf(sql: Sql): Promise<void> {
  const name = (sql.options.connection as Record<string, unknown> | undefined)?.application_name;
  if (typeof name !== 'string' || !name.startsWith(APPLICATION_NAME)) throw new Error('a pool whose end() never finished needs its own connection.application_name, so that its sessions can be ended');
  const admin = plainPostgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${name} and pid <> pg_backend_pid()`.catch(() => {});
  await admin.end();
}

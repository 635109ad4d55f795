import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DATABASE_URL } from '../helpers/db.js';

/**
 * A configuration that passes every rule against the test server: the baseline each rule's test
 * breaks in one place.
 */
export const SOUND = Object.freeze({
  max: 10,
  min: 0,
  connectionTimeoutMillis: 5_000,
  idleTimeoutMillis: 10_000,
  keepAlive: true,
  statement_timeout: 30_000,
  idle_in_transaction_session_timeout: 60_000,
  guard: { leakThresholdMs: 5_000 },
});

/** The test server's URL with another user (trust auth accepts any password). */
export function urlAs(user: string, password?: string, database?: string): string {
  const url = new URL(DATABASE_URL);
  url.username = user;
  url.password = password ?? '';
  if (database !== undefined) url.pathname = `/${database}`;
  return url.toString();
}

/** Runs SQL as the test server's superuser on a short-lived connection. */
export async function admin<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

/** A unique, SQL-safe name, so that parallel test files and reruns never collide. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`;
}

/** A login role with a connection limit, dropped (with its connections) by the returned function. */
export async function limitedRole(limit: number, settings: Record<string, string> = {}): Promise<{ name: string; drop: () => Promise<void> }> {
  const name = uniqueName('poolguard_audit');
  await admin(`CREATE ROLE ${name} LOGIN CONNECTION LIMIT ${limit}`);
  for (const [key, value] of Object.entries(settings)) await admin(`ALTER ROLE ${name} SET ${key} = '${value}'`);
  return {
    name,
    drop: async () => {
      await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${name}'`);
      await admin(`DROP ROLE IF EXISTS ${name}`);
    },
  };
}

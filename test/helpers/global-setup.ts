import pg from 'pg';
import { ensureBuilt } from './build.js';
import { DATABASE_URL, START_HINT } from './db.js';

/**
 * Database tests never skip: when no server answers, the whole run fails here, loudly, with the
 * command that starts one.
 */
export default async function setup(): Promise<void> {
  // Child-process tests (examples, crash behaviour) import the built package; build once, here.
  ensureBuilt();
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    const safeUrl = DATABASE_URL.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
    throw new Error(`No PostgreSQL server answers at ${safeUrl} (${(err as Error).message}). The tests need a real server: ${START_HINT}.`);
  } finally {
    await client.end().catch(() => {});
  }
}

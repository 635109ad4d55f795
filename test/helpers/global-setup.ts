import { execFileSync, spawnSync } from 'node:child_process';
import mysql from 'mysql2';
import pg from 'pg';
import { ensureBuilt } from './build.js';
import { DATABASE_URL, START_HINT } from './db.js';
import { MYSQL_START_HINT, MYSQL_URL } from './mysql.js';

/**
 * Database tests never skip: when no server answers, the whole run fails here, loudly, with the
 * command that starts one.
 */
/**
 * The PgBouncer tests need Debian's pgbouncer. On the project's machines the tests run as root with
 * apt available, so a fresh machine gets it here, once; anywhere else the run stops with the command.
 */
function ensurePgBouncer(): void {
  process.env.PATH = `${process.env.PATH ?? ''}:/usr/sbin`;
  if (spawnSync('pgbouncer', ['--version']).status === 0) return;
  const hint = 'The PgBouncer tests need it: apt-get install -y pgbouncer (as root).';
  if (process.getuid?.() !== 0 || spawnSync('apt-get', ['--version']).status !== 0) throw new Error(`pgbouncer is not installed. ${hint}`);
  process.stderr.write('test setup: installing Debian\'s pgbouncer for the PgBouncer tests (once per machine)\n');
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', 'pgbouncer'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch (err) {
    throw new Error(`pgbouncer could not be installed (${(err as Error).message}). ${hint}`);
  }
}

export default async function setup(): Promise<void> {
  ensurePgBouncer();
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
  const connection = mysql.createConnection({ uri: MYSQL_URL, connectTimeout: 5_000 });
  try {
    await connection.promise().query('SELECT 1');
  } catch (err) {
    const safeUrl = MYSQL_URL.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
    throw new Error(`No MariaDB/MySQL server answers at ${safeUrl} (${(err as Error).message}). The mysql2 tests need a real server: ${MYSQL_START_HINT}.`);
  } finally {
    connection.destroy();
  }
}

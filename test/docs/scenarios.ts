// The runs behind the samples of poolguard's output in the docs. Each scenario runs real code (the
// small application in test/docs/app, the examples, the CLI) against the real servers, in its own
// Node process as an application would, and returns what it printed, by sample name.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { root } from '../helpers/build.js';
import { DATABASE_URL } from '../helpers/db.js';
import { MYSQL_URL } from '../helpers/mysql.js';
import { asDocPaths } from './sample-check.js';

export const APP = join(root, 'test/docs/app');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function node(args: string[], { cwd = APP, env = {} as Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...RECORD_WRITES, ...args], { cwd, env: { ...process.env, DATABASE_URL, MYSQL_URL, NO_COLOR: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout: asDocPaths(stdout, cwd), stderr: asDocPaths(stderr, cwd) });
    });
  });
}

/** Marks the start of each write to stderr (see stderr-writes.mjs). */
const WRITE = '\u241e';
const RECORD_WRITES = ['--import', pathToFileURL(join(root, 'test/docs/stderr-writes.mjs')).href];

/** poolguard's log entries: the writes to stderr that start `poolguard[` (its logger writes each entry at once). */
export function logEntries(stderr: string): string[] {
  return stderr
    .split(WRITE)
    .filter((w) => w.startsWith('poolguard['))
    .map((w) => w.replace(/\n$/, ''));
}

/** A scenario script in test/docs/app that prints `{ sample: text }` as JSON, and its log entries. */
async function app(script: string, env: Record<string, string> = {}): Promise<{ json: Record<string, string>; log: string[] }> {
  const run = await node([script], { env });
  if (run.status !== 0) throw new Error(`${script} exited ${run.status}:\n${run.stdout}\n${run.stderr}`);
  const last = run.stdout.trim().split('\n').at(-1) ?? '';
  // A loaded machine can block a script's event loop for longer than a scan's interval, and poolguard
  // says so (a true report, of the machine, not of the scenario): no sample is one of those.
  const log = logEntries(run.stderr).filter((e) => !/^poolguard\[[^\]]+\]: the event loop was blocked for at least /.test(e));
  return { json: last.startsWith('{') ? (JSON.parse(last) as Record<string, string>) : {}, log };
}

function entry(log: string[], index: number, script: string): string {
  const found = log[index];
  if (found === undefined) throw new Error(`${script} logged ${log.length} poolguard entries, not ${index + 1}:\n${log.join('\n')}`);
  return found;
}

export interface Scenario {
  /** The sample names this scenario produces. */
  readonly samples: readonly string[];
  run(): Promise<Record<string, string>>;
}

/** A script that logs a leak report, then prints the timeout error the next caller gets. */
function leakThenTimeout(script: string, leak: string, timeout: string): Scenario {
  return {
    samples: [leak, timeout],
    async run() {
      const { json, log } = await app(script);
      return { [leak]: entry(log, 0, script), [timeout]: json[timeout]! };
    },
  };
}

/** Short thresholds so that every run takes a second or two; durations are normalised away. */
const QUICK = { LEAK_THRESHOLD_MS: '200', CONNECTION_TIMEOUT_MS: '300' };

export const scenarios: Record<string, Scenario> = {
  'quick-start': {
    samples: ['pg-leak', 'pg-timeout'],
    async run() {
      const { json, log } = await app('quick-start.mjs', { ...QUICK, SLOW_QUERY_S: '3' });
      return { 'pg-leak': entry(log, 0, 'quick-start.mjs'), 'pg-timeout': json['pg-timeout']! };
    },
  },
  'leak-report example': {
    samples: ['example-leak', 'example-timeout'],
    async run() {
      const run = await node(['examples/leak-report.mjs'], { cwd: root });
      if (run.status !== 0) throw new Error(`examples/leak-report.mjs exited ${run.status}: ${run.stderr}`);
      const timeout = /checkout failed, and the error says why:\n([\s\S]*?)\n\nsnapshot:/.exec(run.stdout)?.[1];
      if (timeout === undefined) throw new Error(`examples/leak-report.mjs printed no timeout error:\n${run.stdout}`);
      return { 'example-leak': entry(logEntries(run.stderr), 0, 'examples/leak-report.mjs'), 'example-timeout': timeout };
    },
  },
  snapshot: {
    samples: ['snapshot'],
    async run() {
      const { json } = await app('snapshot.mjs', QUICK);
      return { snapshot: json.snapshot! };
    },
  },
  'dirty release': {
    samples: ['pg-dirty-release'],
    async run() {
      const { log } = await app('dirty-release.mjs', QUICK);
      return { 'pg-dirty-release': entry(log, 0, 'dirty-release.mjs') };
    },
  },
  'graceful-shutdown example': {
    samples: ['end-blocked', 'end-forced'],
    async run() {
      const run = await node(['examples/graceful-shutdown.mjs'], { cwd: root });
      if (run.status !== 0) throw new Error(`examples/graceful-shutdown.mjs exited ${run.status}: ${run.stderr}`);
      const log = logEntries(run.stderr);
      const find = (words: string) => log.find((e) => e.includes(words)) ?? entry([], 0, `examples/graceful-shutdown.mjs (an entry with "${words}")`);
      return { 'end-blocked': find('has waited'), 'end-forced': find('reached guard.endTimeoutMs') };
    },
  },
  mysql2: {
    samples: ['mysql2-leak', 'mysql2-timeout', 'mysql2-end-closed'],
    async run() {
      const { json, log } = await app('mysql2.mjs');
      const closed = log.find((e) => e.includes('still checked out, under')) ?? entry([], 0, 'mysql2.mjs (the endClosed entry)');
      return { 'mysql2-leak': entry(log, 0, 'mysql2.mjs'), 'mysql2-timeout': json['mysql2-timeout']!, 'mysql2-end-closed': closed };
    },
  },
  'postgres.js': leakThenTimeout('postgres.mjs', 'postgres-leak', 'postgres-timeout'),
  mysql: leakThenTimeout('mysql.mjs', 'mysql-leak', 'mysql-timeout'),
  mariadb: {
    samples: ['mariadb-leak', 'mariadb-timeout'],
    async run() {
      // The connector's timeout error is its own; poolguard's part is the log entry naming the holders.
      const { log } = await app('mariadb.mjs');
      const timeout = log.find((e) => e.includes('pool timeout')) ?? entry([], 0, 'mariadb.mjs (the timeout entry)');
      return { 'mariadb-leak': entry(log, 0, 'mariadb.mjs'), 'mariadb-timeout': timeout };
    },
  },
  'generic-pool': leakThenTimeout('generic-pool.mjs', 'generic-pool-leak', 'generic-pool-timeout'),
  knex: leakThenTimeout('knex.mjs', 'knex-leak', 'knex-timeout'),
  sequelize: leakThenTimeout('sequelize.mjs', 'sequelize-leak', 'sequelize-timeout'),
  'async callers': {
    samples: ['knex-unknown-site', 'knex-async-callers'],
    async run() {
      const without = await app('async-callers.mjs');
      const withTrail = await app('async-callers.mjs', { ASYNC_CALLERS: '1' });
      return { 'knex-unknown-site': entry(without.log, 0, 'async-callers.mjs'), 'knex-async-callers': entry(withTrail.log, 0, 'async-callers.mjs (asyncCallers)') };
    },
  },
  'pg-promise': {
    samples: ['pg-promise-tx'],
    async run() {
      const { log } = await app('pg-promise.mjs');
      return { 'pg-promise-tx': entry(log, 0, 'pg-promise.mjs') };
    },
  },
  'lint rule on the demo': {
    samples: ['lint-demo'],
    async run() {
      // As a user runs it: the ESLint CLI with this repository's eslint.config.mjs (poolguard/eslint's recommended config).
      const run = await node([join(root, 'node_modules/eslint/bin/eslint.js'), 'demo/service.mjs'], { cwd: root });
      if (run.status !== 1) throw new Error(`eslint demo/service.mjs exited ${run.status}, not 1:\n${run.stdout}\n${run.stderr}`);
      return { 'lint-demo': `$ npx eslint demo/service.mjs\n${run.stdout.replace(/^\n+/, '')}` };
    },
  },
  'CLI audit': {
    samples: ['cli-audit'],
    async run() {
      const args = ['audit', '--url', DATABASE_URL, '--max', '20', '--instances', '6', '--connection-timeout-millis', '5000'];
      const run = await node([join(root, 'dist/esm/cli.js'), ...args], { cwd: root });
      if (run.status !== 1) throw new Error(`poolguard ${args.join(' ')} exited ${run.status}, not 1:\n${run.stdout}\n${run.stderr}`);
      return { 'cli-audit': `$ npx poolguard ${args.join(' ')}\n${run.stdout}` };
    },
  },
  'CLI usage and masking': {
    samples: ['cli-mysql-password', 'cli-other-server', 'cli-mysql-denied'],
    async run() {
      const cli = async (shown: string, args: string[], status: number) => {
        const run = await node([join(root, 'dist/esm/cli.js'), ...args], { cwd: root });
        if (run.status !== status) throw new Error(`poolguard ${shown} exited ${run.status}, not ${status}:\n${run.stdout}\n${run.stderr}`);
        return `$ npx poolguard ${shown}\n${run.stdout}${run.stderr.split(WRITE).join('')}`;
      };
      const mysql = new URL(MYSQL_URL);
      const hostPort = `${mysql.hostname}:${mysql.port || 3306}`;
      // Refused before anything is dialled: an unencoded '/' in the password, a flag for PostgreSQL.
      const badUrl = `mysql://app:s3cr/et@${hostPort}/test`;
      const otherServer = `mysql://root@${hostPort}/test`;
      // Dialled with a wrong password: the server's own words stay whole, the password does not.
      const denied = `mysql://${decodeURIComponent(mysql.username) || 'root'}:not-the-password@${hostPort}${mysql.pathname}`;
      return {
        'cli-mysql-password': await cli(`audit --url '${badUrl}'`, ['audit', '--url', badUrl], 2),
        'cli-other-server': await cli(`audit --url ${otherServer} --max 5`, ['audit', '--url', otherServer, '--max', '5'], 2),
        'cli-mysql-denied': await cli(`status --url '${denied}'`, ['status', '--url', denied], 1),
      };
    },
  },
};

/** Samples checked by the test that already produces that output (name → test file, which calls `expectSample(name, …)`). */
export const CHECKED_ELSEWHERE: Record<string, string> = {
  'demo-run': 'test/demo.test.ts',
  'demo-test-check': 'test/demo-checks.test.ts',
  'before-it-ships': 'test/demo-checks.test.ts',
  'test-check-vitest': 'test/testing/runners.test.ts',
  'test-check-jest': 'test/testing/runners.test.ts',
  'test-check-node-test': 'test/testing/runners.test.ts',
  'test-check-mocha': 'test/testing/runners.test.ts',
};

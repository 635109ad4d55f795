#!/usr/bin/env node
// Runs mysql2's own pool test files (from a checkout of its repository, never copied here) twice:
// against plain mysql2, then with `createPool`/`createPoolCluster` taken from poolguard/mysql2 and
// poolguard/mysql2/promise, as a user who changes one import would. The files are not edited:
// mysql2-substitute.mjs answers their `../index.js`, `../promise.js` and `../lib/…` imports. Both
// runs load the mysql2 that poolguard's own node_modules holds, so the only difference is poolguard.
//
//   node scripts/upstream/mysql2-pool-tests.mjs MYSQL2_CHECKOUT [--driver plain|poolguard|both]
//        [--set pool|pools] [--keep-logs] [FILTER…]
// MYSQL2_CHECKOUT: a checkout of mysql2's repository with its dev dependencies (poku, tsx);
// mysql2-pool-tests.sh makes one from a git directory, at the tag of the mysql2 version here.
//
// --set pool (default): every test file whose path names a pool (`test/**/*pool*`: pools and pool
// clusters, callback and promise); --set pools adds the other files that create a pool. FILTER
// keeps files whose path contains it. Each file runs alone through mysql2's runner (poku), in its
// own process, as mysql2's CI runs it, against MYSQL_HOST (default 127.0.0.1), MYSQL_PORT (3306),
// MYSQL_USER (root), MYSQL_DATABASE (test); the password is empty, as the test harness reads one
// only on CI. Exit status 1 when a file's result under poolguard differs from plain mysql2's.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  if (at === -1) return fallback;
  const [, value] = args.splice(at, 2);
  return value;
};
const flag = (name) => {
  const at = args.indexOf(name);
  if (at !== -1) args.splice(at, 1);
  return at !== -1;
};
const drivers = { plain: ['plain'], poolguard: ['poolguard'], both: ['plain', 'poolguard'] }[option('--driver', 'both')];
const set = option('--set', 'pool');
const keepLogs = flag('--keep-logs');
const [checkoutArg, ...filters] = args;
if (checkoutArg === undefined || drivers === undefined || !['pool', 'pools'].includes(set)) {
  console.error('usage: node scripts/upstream/mysql2-pool-tests.mjs <mysql2 checkout> [--driver plain|poolguard|both] [--set pool|pools] [--keep-logs] [FILTER…]');
  process.exit(2);
}
const checkout = path.resolve(checkoutArg);
const poku = path.join(checkout, 'node_modules/.bin/poku');
if (!existsSync(path.join(checkout, 'test/common.test.mts')) || !existsSync(poku)) {
  console.error(`${checkout} is not a mysql2 checkout with its dev dependencies: run \`npm ci --ignore-scripts\` there (it needs poku and tsx).`);
  process.exit(2);
}
const requireHere = createRequire(path.join(repo, 'package.json'));
let poolguardEntry;
let poolguardPromiseEntry;
try {
  poolguardEntry = requireHere.resolve('poolguard/mysql2');
  poolguardPromiseEntry = requireHere.resolve('poolguard/mysql2/promise');
} catch {
  console.error('poolguard is not built: run `npm run build` first.');
  process.exit(2);
}
const driverIndex = requireHere.resolve('mysql2');
const driverPromise = requireHere.resolve('mysql2/promise');
const driverDir = path.dirname(driverIndex);
const driverVersion = requireHere('mysql2/package.json').version;
const testedVersion = createRequire(path.join(checkout, 'package.json'))('./package.json').version;

function testFiles() {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        // tsc-build holds type checks, not tests that run.
        if (entry.name !== 'tsc-build' && entry.name !== 'fixtures') walk(full);
      } else if (/\.test\.(m|c)?[jt]s$/.test(entry.name)) {
        files.push(path.relative(checkout, full));
      }
    }
  };
  walk(path.join(checkout, 'test'));
  const { readFileSync } = requireHere('node:fs');
  return files
    .filter((f) => /pool/i.test(f) || (set === 'pools' && f !== 'test/common.test.mts' && /createPool|PoolCluster/.test(readFileSync(path.join(checkout, f), 'utf8'))))
    .filter((f) => filters.length === 0 || filters.some((filter) => f.includes(filter)))
    .sort();
}

/** A CommonJS entry point: `base`'s exports, with poolguard's pool constructors in place of mysql2's. */
function shim(base, guarded, promiseEntry) {
  const names = Object.getOwnPropertyNames(requireHere(base)).filter((name) => name !== '__esModule');
  const swapped = {
    createPool: 'guarded.createPool',
    createPoolCluster: 'guarded.createPoolCluster',
    ...(promiseEntry ? { createPoolPromise: 'promise.createPool', createPoolClusterPromise: 'promise.createPoolCluster' } : {}),
  };
  // One `exports.name =` line per name, so that Node's CommonJS lexer gives ESM importers the
  // same named exports as mysql2's own file.
  return [
    "'use strict';",
    `const base = require(${JSON.stringify(base)});`,
    `const guarded = require(${JSON.stringify(guarded)});`,
    promiseEntry ? `const promise = require(${JSON.stringify(promiseEntry)});` : '',
    ...names.map((name) => `exports[${JSON.stringify(name)}] = ${swapped[name] ?? `base[${JSON.stringify(name)}]`};`),
  ].join('\n');
}

const work = mkdtempSync(path.join(os.tmpdir(), 'poolguard-mysql2-upstream-'));
const pokuConfig = path.join(work, 'poku.config.json');
// mysql2's own config runs its whole suite whatever files are named; this one runs the file given,
// with its parallel suite's timeout.
writeFileSync(pokuConfig, JSON.stringify({ reporter: 'compact', timeout: 30000 }));
writeFileSync(path.join(work, 'index.cjs'), shim(driverIndex, poolguardEntry, poolguardPromiseEntry));
writeFileSync(path.join(work, 'promise.cjs'), shim(driverPromise, poolguardPromiseEntry));
const substitutes = {
  plain: { checkout, lib: driverDir, index: driverIndex, promise: driverPromise },
  poolguard: { checkout, lib: driverDir, index: path.join(work, 'index.cjs'), promise: path.join(work, 'promise.cjs') },
};
const logs = path.join(work, 'logs');
mkdirSync(logs);

function run(file, driver) {
  const env = { ...process.env };
  delete env.CI;
  delete env.MYSQL_CONNECTION_URL;
  Object.assign(env, {
    MYSQL_HOST: process.env.MYSQL_HOST ?? '127.0.0.1',
    MYSQL_PORT: process.env.MYSQL_PORT ?? '3306',
    MYSQL_USER: process.env.MYSQL_USER ?? 'root',
    MYSQL_DATABASE: process.env.MYSQL_DATABASE ?? 'test',
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${pathToFileURL(path.join(here, 'mysql2-substitute.mjs')).href}`.trim(),
    POOLGUARD_MYSQL2_SUBSTITUTE: JSON.stringify(substitutes[driver]),
    FORCE_COLOR: '0',
    NO_COLOR: '1',
  });
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(poku, [`--config=${pokuConfig}`, file], { cwd: checkout, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const log = path.join(logs, `${driver}-${file.replace(/[\\/]/g, '__')}.log`);
      writeFileSync(log, output);
      resolve({ ok: code === 0, code: code ?? signal, ms: Date.now() - started, log, output });
    });
  });
}

const files = testFiles();
console.log(`mysql2 ${testedVersion}'s test files (${checkout}) against mysql2 ${driverVersion} (${driverDir}); ${files.length} files; ${drivers.join(', ')}`);
const results = new Map();
for (const file of files) {
  const row = {};
  for (const driver of drivers) row[driver] = await run(file, driver);
  results.set(file, row);
  const cells = drivers.map((d) => `${d} ${row[d].ok ? 'pass' : `FAIL (${row[d].code})`} ${(row[d].ms / 1000).toFixed(1)}s`);
  console.log(`${file.padEnd(78)} ${cells.join('  ')}`);
}
let differ = 0;
for (const [file, row] of results) {
  const failed = drivers.filter((d) => !row[d].ok);
  if (failed.length === 0) continue;
  if (drivers.length === 2 && row.plain.ok !== row.poolguard.ok) differ++;
  for (const d of failed) {
    console.log(`\n--- ${d}: ${file} (${row[d].log})`);
    console.log(row[d].output.split('\n').filter((l) => l.trim() !== '').slice(-40).join('\n'));
  }
}
const count = (d) => [...results.values()].filter((row) => row[d].ok).length;
console.log(`\n${drivers.map((d) => `${d}: ${count(d)}/${files.length} pass`).join('; ')}${drivers.length === 2 ? `; ${differ} file(s) where poolguard differs from plain mysql2` : ''}`);
if (!keepLogs) rmSync(work, { recursive: true, force: true });
else console.log(`logs: ${logs}`);
process.exit(differ > 0 || (drivers.length === 1 && count(drivers[0]) < files.length) ? 1 : 0);

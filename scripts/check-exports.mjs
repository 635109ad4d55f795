// Checks the built package as users load it: every entry point, ESM and CommonJS, through the
// package's own exports map, and that `poolguard` alone loads none of the pools it guards.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const require = createRequire(import.meta.url);

const esmRoot = await import('poolguard');
const esmPg = await import('poolguard/pg');
const esmGp = await import('poolguard/generic-pool');
const cjsGp = require('poolguard/generic-pool');
const cjsRoot = require('poolguard');
const cjsPg = require('poolguard/pg');
const pg = require('pg');
const esmMy = await import('poolguard/mysql2');
const cjsMy = require('poolguard/mysql2');
const esmMyP = await import('poolguard/mysql2/promise');
const cjsMyP = require('poolguard/mysql2/promise');
const mysql2 = require('mysql2');
const mysql2Promise = require('mysql2/promise');

for (const [label, mod] of [['esm', esmPg], ['cjs', cjsPg]]) {
  assert.equal(typeof mod.Pool, 'function', `${label} poolguard/pg exports Pool`);
  assert.equal(typeof mod.guard, 'function', `${label} poolguard/pg exports guard`);
  const pool = new mod.Pool({ guard: { logger: false } });
  assert.ok(pool instanceof pg.Pool, `${label} Pool is a pg.Pool`);
  await pool.end();
}
for (const [label, mod] of [['esm', esmGp], ['cjs', cjsGp]]) {
  assert.equal(typeof mod.createPool, 'function', `${label} poolguard/generic-pool exports createPool`);
  const pool = mod.createPool({ create: async () => ({}), destroy: async () => {} }, { max: 1, guard: { logger: false } });
  assert.equal(typeof pool.guard.snapshot, 'function', `${label} generic-pool pool has a guard`);
  await pool.drain();
  await pool.clear();
}
for (const [label, mod, promise] of [['esm', esmMy, esmMyP], ['cjs', cjsMy, cjsMyP]]) {
  assert.equal(typeof mod.guard, 'function', `${label} poolguard/mysql2 exports guard`);
  const pool = mod.createPool({ host: '127.0.0.1', guard: { logger: false } });
  assert.ok(pool instanceof mysql2.Pool, `${label} poolguard/mysql2's createPool gives a mysql2 Pool`);
  assert.equal(typeof pool.guard.snapshot, 'function', `${label} mysql2 pool has a guard`);
  await new Promise((resolve) => pool.end(resolve));
  const promisePool = promise.createPool({ host: '127.0.0.1', guard: { logger: false } });
  assert.ok(promisePool instanceof mysql2Promise.PromisePool, `${label} poolguard/mysql2/promise's createPool gives a mysql2 PromisePool`);
  assert.equal(typeof promisePool.guard.snapshot, 'function', `${label} mysql2 promise pool has a guard`);
  await promisePool.end();
}
// poolguard/postgres: postgres.js's own sql (seen through a Proxy) with a guard, in both formats;
// its default export is the drop-in, with postgres.js's helpers.
const esmPgjs = await import('poolguard/postgres');
const cjsPgjs = require('poolguard/postgres');
// postgres.js ships an ESM and a CommonJS build: each poolguard format loads the matching one.
const postgresJs = { esm: (await import('postgres')).default, cjs: require('postgres') };
for (const [label, mod] of [['esm', esmPgjs], ['cjs', cjsPgjs]]) {
  assert.equal(typeof mod.guard, 'function', `${label} poolguard/postgres exports guard`);
  assert.equal(mod.default, mod.postgres, `${label} poolguard/postgres's default export is postgres`);
  assert.equal(mod.default.camel, postgresJs[label].camel, `${label} poolguard/postgres carries postgres.js's helpers`);
  const sql = mod.default({ host: '127.0.0.1', max: 1, guard: { logger: false } });
  assert.equal(typeof sql.reserve, 'function', `${label} poolguard/postgres gives postgres.js's sql`);
  assert.equal(typeof sql.guard.snapshot, 'function', `${label} postgres.js sql has a guard`);
  await sql.end();
}
// mysql (mysqljs) and the MariaDB connector, each API form: the driver's own pool, guarded. Neither
// connects until the first checkout (the connector's minimumIdle 0 keeps it from filling the pool).
const mysqljs = require('mysql');
const MysqljsPool = require('mysql/lib/Pool');
for (const [label, mod] of [['esm', await import('poolguard/mysql')], ['cjs', require('poolguard/mysql')]]) {
  assert.equal(typeof mod.guard, 'function', `${label} poolguard/mysql exports guard`);
  assert.equal(typeof mod.auditMysql, 'function', `${label} poolguard/mysql exports auditMysql`);
  const pool = mod.createPool({ host: '127.0.0.1', guard: { logger: false } });
  assert.ok(pool instanceof MysqljsPool, `${label} poolguard/mysql's createPool gives mysql's Pool`);
  assert.equal(typeof pool.guard.snapshot, 'function', `${label} mysql pool has a guard`);
  assert.equal(mod.guard(pool), pool.guard, `${label} guard() of a guarded mysql pool is its handle`);
  await new Promise((resolve) => pool.end(resolve));
  assert.equal(typeof mysqljs.createPool, 'function');
}
for (const [label, mod, cbMod] of [
  ['esm', await import('poolguard/mariadb'), await import('poolguard/mariadb/callback')],
  ['cjs', require('poolguard/mariadb'), require('poolguard/mariadb/callback')],
]) {
  const pool = mod.createPool({ host: '127.0.0.1', minimumIdle: 0, guard: { logger: false } });
  assert.equal(typeof pool.getConnection, 'function', `${label} poolguard/mariadb's createPool gives the connector's pool`);
  assert.equal(typeof pool.guard.snapshot, 'function', `${label} mariadb pool has a guard`);
  await pool.end();
  const cbPool = cbMod.createPool({ host: '127.0.0.1', minimumIdle: 0, guard: { logger: false } });
  assert.equal(cbPool.getConnection.length, 1, `${label} poolguard/mariadb/callback's createPool gives the callback pool`);
  assert.equal(typeof cbPool.guard.snapshot, 'function', `${label} mariadb callback pool has a guard`);
  await new Promise((resolve) => cbPool.end(resolve));
}
const esmKnex = await import('poolguard/knex');
const cjsKnex = require('poolguard/knex');
const esmSequelize = await import('poolguard/sequelize');
const cjsSequelize = require('poolguard/sequelize');
for (const [label, mod] of [['esm', esmKnex], ['cjs', cjsKnex]]) {
  assert.equal(typeof mod.guardKnex, 'function', `${label} poolguard/knex exports guardKnex`);
  assert.equal(typeof mod.guard, 'function', `${label} poolguard/knex exports guard`);
}
for (const [label, mod] of [['esm', esmSequelize], ['cjs', cjsSequelize]]) {
  assert.equal(typeof mod.guardSequelize, 'function', `${label} poolguard/sequelize exports guardSequelize`);
}
const esmPrisma = await import('poolguard/prisma');
const cjsPrisma = require('poolguard/prisma');
for (const [label, mod] of [['esm', esmPrisma], ['cjs', cjsPrisma]]) {
  assert.equal(typeof mod.guardPrisma, 'function', `${label} poolguard/prisma exports guardPrisma`);
  assert.throws(() => mod.guardPrisma({ $transaction() {} }), /@prisma\/adapter-pg/, `${label} guardPrisma refuses a client without PrismaPg`);
}
for (const [label, mod] of [['esm', esmRoot], ['cjs', cjsRoot]]) {
  for (const name of ['CheckoutTimeoutError', 'DoubleReleaseError', 'LeaseReclaimedError', 'PoolGuard']) {
    assert.equal(typeof mod[name], 'function', `${label} poolguard exports ${name}`);
  }
}
assert.equal(esmPg.CheckoutTimeoutError, esmRoot.CheckoutTimeoutError, 'one error class per format');

// poolguard/eslint: the plugin object ESLint's flat config takes, in both formats, and its rule
// running in ESLint as a user's config runs it.
const { Linter } = require('eslint');
const esmEslint = await import('poolguard/eslint');
const cjsEslint = require('poolguard/eslint');
for (const [label, mod] of [['esm', esmEslint], ['cjs', cjsEslint]]) {
  const plugin = mod.default;
  assert.equal(typeof plugin.rules['release-on-every-path'].create, 'function', `${label} poolguard/eslint has the rule`);
  assert.equal(mod.configs.recommended.plugins.poolguard, plugin, `${label} configs.recommended registers the plugin`);
  assert.equal(plugin.configs.recommended, mod.configs.recommended, `${label} the plugin carries its configs`);
  const code = 'async function f(pool) { const client = await pool.connect(); if (Math.random()) return; client.release(); }';
  const messages = new Linter().verify(code, [mod.configs.recommended]);
  assert.deepEqual(messages.map((m) => `${m.ruleId}:${m.line}`), ['poolguard/release-on-every-path:1'], `${label} the recommended config reports the leak`);
}
const esmTesting = await import('poolguard/testing');
const cjsTesting = require('poolguard/testing');
for (const [label, mod] of [['esm', esmTesting], ['cjs', cjsTesting]]) {
  for (const name of ['leakCheckpoint', 'checkOpenLeases', 'assertNoOpenLeases', 'allowOpenLeases', 'configureLeakCheck', 'LeakCheckError', 'LeakCheckpoint']) {
    assert.equal(typeof mod[name], 'function', `${label} poolguard/testing exports ${name}`);
  }
}
// The CommonJS and ESM copies share one registry: a pool guarded by one is checked by the other.
{
  const pool = esmGp.createPool({ create: async () => ({}), destroy: async () => {} }, { max: 1, guard: { name: 'exports-testing', logger: false } });
  const since = cjsTesting.leakCheckpoint();
  const resource = await pool.acquire();
  const found = (await cjsTesting.checkOpenLeases({ since, settleMs: 0 })).filter((f) => f.pool === 'exports-testing');
  assert.deepEqual(found.map((f) => [f.lease.kind, f.fails]), [['acquire', true]], 'the CommonJS poolguard/testing sees a lease of a pool the ESM build guards');
  await pool.release(resource);
  await pool.drain();
  await pool.clear();
}
// The set-up modules register hooks when loaded, so only their resolution is checked here (the
// runners load them in test/testing/runners.test.ts and scripts/ci-package.sh); Mocha's plugin
// only exports its hooks.
for (const entry of ['poolguard/testing/vitest', 'poolguard/testing/jest', 'poolguard/testing/node-test', 'poolguard/testing/mocha']) {
  assert.match(import.meta.resolve(entry), /\/dist\/esm\/testing-[a-z-]+\.js$/, `${entry} resolves for import`);
  assert.match(require.resolve(entry), /\/dist\/cjs\/testing-[a-z-]+\.js$/, `${entry} resolves for require`);
}
for (const [label, mod] of [['esm', await import('poolguard/testing/mocha')], ['cjs', require('poolguard/testing/mocha')]]) {
  assert.deepEqual(Object.keys(mod.mochaHooks), ['beforeEach', 'afterEach', 'afterAll'], `${label} poolguard/testing/mocha exports Mocha's root hooks`);
}

const loaded = execFileSync(process.execPath, ['-e', "require('poolguard'); console.log(Object.keys(require.cache).filter((k) => /node_modules[\\\\/](pg|pg-pool|generic-pool|knex|tarn|sequelize|sequelize-pool|mysql2|mysql|mariadb|postgres)[\\\\/]/.test(k)).length)"], { encoding: 'utf8' }).trim();
assert.equal(loaded, '0', "require('poolguard') must not load pg, generic-pool, knex, tarn, sequelize, sequelize-pool, mysql2, mysql, mariadb or postgres");
// The data-layer entry points guard the user's own instance: they load none of those packages either.
for (const entry of ['poolguard/knex', 'poolguard/sequelize', 'poolguard/eslint']) {
  const count = execFileSync(process.execPath, ['-e', `require('${entry}'); console.log(Object.keys(require.cache).filter((k) => /node_modules[\\\\/](pg|pg-pool|generic-pool|knex|tarn|sequelize|sequelize-pool|mysql2|mysql|mariadb|postgres)[\\\\/]/.test(k)).length)`], { encoding: 'utf8' }).trim();
  assert.equal(count, '0', `require('${entry}') must not load any pool or data layer`);
}
const loadedByEslint = execFileSync(process.execPath, ['-e', "require('poolguard/eslint'); console.log(Object.keys(require.cache).filter((k) => /node_modules[\\\\/](eslint|espree|@eslint)[\\\\/]/.test(k)).length)"], { encoding: 'utf8' }).trim();
assert.equal(loadedByEslint, '0', "require('poolguard/eslint') must not load eslint (a rule is a plain object; ESLint loads the plugin, not the other way round)");
for (const entry of ['poolguard/testing', 'poolguard/testing/mocha']) {
  const count = execFileSync(process.execPath, ['-e', `require('${entry}'); console.log(Object.keys(require.cache).filter((k) => /node_modules[\\\\/](pg|pg-pool|generic-pool|knex|tarn|sequelize|sequelize-pool|mysql2|postgres|vitest|jest|jest-circus|mocha)[\\\\/]/.test(k)).length)`], { encoding: 'utf8' }).trim();
  assert.equal(count, '0', `require('${entry}') must load no pool, data layer or test runner`);
}
// poolguard/prisma wraps the application's own client and pool: Prisma itself is never loaded.
const loadedByPrisma = execFileSync(process.execPath, ['-e', "require('poolguard/prisma'); console.log(Object.keys(require.cache).filter((k) => /node_modules[\\\\/](@prisma|generic-pool|knex|sequelize|mysql2)[\\\\/]/.test(k)).length)"], { encoding: 'utf8' }).trim();
assert.equal(loadedByPrisma, '0', "require('poolguard/prisma') must not load Prisma or another pool");
const loadedByPg = execFileSync(process.execPath, ['-e', "require('poolguard/pg'); console.log(Object.keys(require.cache).filter((k) => /node_modules[\\\\/]generic-pool[\\\\/]/.test(k)).length)"], { encoding: 'utf8' }).trim();
assert.equal(loadedByPg, '0', "require('poolguard/pg') must not load generic-pool");
const loadedByPostgres = execFileSync(process.execPath, ['-e', "require('poolguard/postgres'); console.log(Object.keys(require.cache).filter((k) => /node_modules[\\\\/](pg|pg-pool|generic-pool|mysql2|mysql|mariadb)[\\\\/]/.test(k)).length)"], { encoding: 'utf8' }).trim();
assert.equal(loadedByPostgres, '0', "require('poolguard/postgres') must not load pg, generic-pool, mysql2, mysql or mariadb");
const loadedByMysql = execFileSync(process.execPath, ['-e', "require('poolguard/mysql2'); console.log(Object.keys(require.cache).filter((k) => /node_modules[\\\\/](pg|pg-pool|generic-pool)[\\\\/]/.test(k)).length)"], { encoding: 'utf8' }).trim();
assert.equal(loadedByMysql, '0', "require('poolguard/mysql2') must not load pg or generic-pool");
// Each MySQL-family entry point loads its own driver only.
for (const [entry, others] of [['poolguard/mysql2', 'mysql|mariadb|postgres'], ['poolguard/mysql', 'pg|mysql2|mariadb'], ['poolguard/mariadb', 'pg|mysql2|mysql'], ['poolguard/mariadb/callback', 'pg|mysql2|mysql']]) {
  const count = execFileSync(process.execPath, ['-e', `require('${entry}'); console.log(Object.keys(require.cache).filter((k) => /node_modules[\\\\/](${others})[\\\\/]/.test(k)).length)`], { encoding: 'utf8' }).trim();
  assert.equal(count, '0', `require('${entry}') must not load ${others.replaceAll('|', ', ')}`);
}
console.log('exports: ok (poolguard, poolguard/pg, poolguard/generic-pool, poolguard/knex, poolguard/sequelize, poolguard/mysql2, poolguard/mysql2/promise, poolguard/mysql, poolguard/mariadb, poolguard/mariadb/callback, poolguard/postgres, poolguard/eslint, poolguard/prisma, poolguard/testing and its set-up modules; ESM and CommonJS)');

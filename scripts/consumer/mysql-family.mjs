// The packed package with mysql and the MariaDB connector (both API forms), from a scratch project:
// each entry point loads, guards its driver's own pool, and tracks a checkout against the server
// on 127.0.0.1:3306 (MYSQL_HOST elsewhere).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as mysqlEntry from 'poolguard/mysql';
import * as mariadbEntry from 'poolguard/mariadb';
import * as mariadbCallbackEntry from 'poolguard/mariadb/callback';

const require = createRequire(import.meta.url);
const server = { host: process.env.MYSQL_HOST ?? '127.0.0.1', user: 'root', database: 'test', connectionLimit: 2 };

for (const mod of [mysqlEntry, require('poolguard/mysql')]) {
  const pool = mod.createPool({ ...server, guard: { logger: false } });
  const conn = await new Promise((resolve, reject) => pool.getConnection((err, c) => (err ? reject(err) : resolve(c))));
  assert.equal(pool.guard.snapshot().counts.leased, 1);
  conn.release();
  await new Promise((resolve) => pool.end(resolve));
}
for (const mod of [mariadbEntry, require('poolguard/mariadb')]) {
  const pool = mod.createPool({ ...server, minimumIdle: 0, guard: { logger: false } });
  const conn = await pool.getConnection();
  assert.equal(pool.guard.snapshot().counts.leased, 1);
  await conn.release();
  await pool.end();
}
for (const mod of [mariadbCallbackEntry, require('poolguard/mariadb/callback')]) {
  const pool = mod.createPool({ ...server, minimumIdle: 0, guard: { logger: false } });
  const conn = await new Promise((resolve, reject) => pool.getConnection((err, c) => (err ? reject(err) : resolve(c))));
  assert.equal(pool.guard.snapshot().counts.leased, 1);
  conn.release();
  await new Promise((resolve) => pool.end(resolve));
}
console.log('mysql and the MariaDB connector from the packed package: ok (ESM and CommonJS)');

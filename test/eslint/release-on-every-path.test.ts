// poolguard/release-on-every-path through ESLint's own RuleTester: code shapes from real handlers,
// services and scripts, each valid one a way code releases correctly (so the rule must stay quiet)
// and each invalid one a path that leaves a lease checked out (so the rule must name it).
import { RuleTester } from 'eslint';
import tsParser from '@typescript-eslint/parser';
import { describe, it } from 'vitest';
import plugin from '../../src/eslint.js';

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

const rule = plugin.rules['release-on-every-path'];
const js = new RuleTester({ languageOptions: { ecmaVersion: 'latest', sourceType: 'module' } });
const ts = new RuleTester({ languageOptions: { parser: tsParser, ecmaVersion: 'latest', sourceType: 'module' } });

/** An expected finding: the message must match `pattern` (the path it names, the advice). */
const error = (pattern: RegExp) => ({ message: pattern });

js.run('release-on-every-path (JavaScript)', rule, {
  valid: [
    {
      name: 'pg: release in finally, early return inside the try',
      code: `
        app.get('/orders/:id', async (req, res) => {
          const client = await pool.connect();
          try {
            const { rows } = await client.query('SELECT * FROM orders WHERE id = $1', [req.params.id]);
            if (rows.length === 0) return res.status(404).end();
            res.json(rows[0]);
          } finally {
            client.release();
          }
        });`,
    },
    {
      name: 'await using (explicit resource management)',
      code: `
        export async function getOrder(id) {
          await using client = await pool.connect();
          const { rows } = await client.query('SELECT 1');
          if (!rows.length) return null;
          return rows[0];
        }`,
    },
    {
      name: 'checkout inside the try, optional release in finally',
      code: `
        async function report() {
          let client;
          try {
            client = await pool.connect();
            return (await client.query('SELECT 1')).rows;
          } finally {
            client?.release();
          }
        }`,
    },
    {
      name: 'checkout inside the try, release guarded by if (client)',
      code: `
        async function report() {
          let client = null;
          try {
            client = await pool.connect();
            await client.query('SELECT 1');
          } catch (err) {
            logger.error(err);
          } finally {
            if (client) client.release();
          }
        }`,
    },
    {
      name: 'release in catch (then rethrow or next(err)) and after the try on success',
      code: `
        app.post('/orders', async (req, res, next) => {
          const client = await pool.connect();
          let order;
          try {
            await client.query('BEGIN');
            order = await client.query('INSERT INTO orders DEFAULT VALUES RETURNING id');
            await client.query('COMMIT');
          } catch (err) {
            await client.query('ROLLBACK').catch(() => {});
            client.release(err);
            return next(err);
          }
          client.release();
          res.status(201).json(order.rows[0]);
        });`,
    },
    {
      name: 'released in every branch of an if / else and of a switch',
      code: `
        async function handle(kind) {
          const client = await pool.connect();
          if (kind === 'a') {
            client.release();
            return 'a';
          } else {
            client.release();
          }
          const other = await pool.connect();
          switch (kind) {
            case 'b':
              other.release();
              return 'b';
            default:
              other.release();
          }
          return 'c';
        }`,
    },
    {
      name: 'a loop with break: released after the loop, nothing awaited in between',
      code: `
        async function firstFree(slots) {
          const client = await pool.connect();
          let found;
          while (true) {
            found = slots.shift();
            if (found !== undefined) break;
          }
          client.release();
          return found;
        }`,
    },
    {
      name: 'a checkout per loop iteration, each released in finally',
      code: `
        async function each(ids) {
          for (const id of ids) {
            const client = await pool.connect();
            try {
              if (id < 0) continue;
              await client.query('SELECT $1', [id]);
            } finally {
              client.release();
            }
          }
        }`,
    },
    {
      name: 'nested function: the inner checkout is released in its own finally',
      code: `
        router.post('/batch', async (req, res) => {
          const results = await Promise.all(req.body.ids.map(async (id) => {
            const client = await pool.connect();
            try {
              return await client.query('SELECT $1::int AS id', [id]);
            } finally {
              client.release();
            }
          }));
          res.json(results);
        });`,
    },
    {
      name: 'Knex: commit at the end of the try, rollback in catch',
      code: `
        async function placeOrder(order) {
          const trx = await knex.transaction();
          try {
            await trx('orders').insert(order);
            await trx('stock').where({ id: order.productId }).decrement('count', 1);
            await trx.commit();
          } catch (err) {
            await trx.rollback();
            throw err;
          }
        }`,
    },
    {
      name: 'Knex: transacting(trx) uses the transaction; rollback in finally unless completed',
      code: `
        async function placeOrder(order) {
          const trx = await knex.transaction();
          try {
            await knex('orders').insert(order).transacting(trx);
            await trx.commit();
          } finally {
            if (!trx.isCompleted()) await trx.rollback();
          }
        }`,
    },
    {
      name: 'Knex and Sequelize callback forms commit and roll back themselves',
      code: `
        async function both(order) {
          await knex.transaction(async (trx) => {
            await trx('orders').insert(order);
          });
          await sequelize.transaction({ isolationLevel: 'SERIALIZABLE' }, async (t) => {
            await Order.create(order, { transaction: t });
          });
        }`,
    },
    {
      name: 'Sequelize: { transaction: t } options, commit in try, rollback in catch',
      code: `
        async function transfer(from, to, amount) {
          const t = await sequelize.transaction();
          try {
            await Account.decrement('balance', { by: amount, where: { id: from }, transaction: t });
            await Account.increment('balance', { by: amount, where: { id: to }, transaction: t });
            await t.commit();
          } catch (error) {
            await t.rollback();
            throw error;
          }
        }`,
    },
    {
      name: 'Sequelize: rollback in finally unless finished',
      code: `
        async function transfer() {
          const t = await sequelize.transaction();
          try {
            await Account.create({}, { transaction: t });
            await t.commit();
          } finally {
            if (!t.finished) await t.rollback();
          }
        }`,
    },
    {
      name: 'generic-pool: release on success, destroy on error, use()',
      code: `
        async function work() {
          const resource = await pool.acquire();
          try {
            const result = await resource.run();
            await pool.release(resource);
            return result;
          } catch (err) {
            await pool.destroy(resource);
            throw err;
          }
        }
        async function viaUse() {
          return pool.use(async (resource) => resource.run());
        }`,
    },
    {
      name: 'pool.query() and generic-pool use() check out and release by themselves',
      code: `
        async function counts() {
          const { rows } = await pool.query('SELECT count(*) FROM orders');
          return pool.use((r) => r.ping()).then(() => rows);
        }`,
    },
    {
      name: 'the lease returned to the caller (its to release)',
      code: `
        export async function getClient() {
          const client = await pool.connect();
          return client;
        }
        export const lease = async () => { const c = await pool.getConnection(); return { conn: c, at: Date.now() }; };`,
    },
    {
      name: 'the lease handed to another function or stored on an object',
      code: `
        async function handOver(req) {
          const client = await pool.connect();
          await withClient(client);
        }
        async function store(req, res, next) {
          req.db = await pool.connect();
          res.on('finish', () => req.db.release());
          next();
        }
        class Repo {
          async open() {
            this.client = await this.pool.connect();
          }
        }
        async function keep(registry) {
          const conn = await pool.getConnection();
          registry.set('main', conn);
        }`,
    },
    {
      name: 'release scheduled by a callback: res.on("finish"), a local helper, .finally()',
      code: `
        async function stream(req, res) {
          const client = await pool.connect();
          res.on('finish', () => client.release());
          client.query(new QueryStream('SELECT 1')).pipe(res);
        }
        async function helper() {
          const client = await pool.connect();
          const done = () => client.release();
          try {
            await client.query('SELECT 1');
          } finally {
            done();
          }
        }
        function chained() {
          return pool.connect().then((client) => client.query('SELECT 1').finally(() => client.release()));
        }`,
    },
    {
      name: 'mysql callback form: released in the query callback',
      code: `
        pool.getConnection((err, connection) => {
          if (err) return callback(err);
          connection.query('SELECT 1', (error, results) => {
            connection.release();
            if (error) return callback(error);
            callback(null, results);
          });
        });`,
    },
    {
      name: 'pg callback form: the done argument releases',
      code: `
        pool.connect((err, client, done) => {
          if (err) throw err;
          client.query('SELECT NOW()', (qerr, res) => {
            done();
            if (qerr) console.error(qerr);
          });
        });`,
    },
    {
      name: 'mysql2 promise pool, Kysely controlled transaction, TypeORM query runner, tarn, postgres.js',
      code: `
        async function all() {
          const conn = await pool.promise().getConnection();
          try { await conn.query('SELECT 1'); } finally { conn.release(); }
          const trx = await db.startTransaction().execute();
          try {
            await trx.insertInto('orders').values({}).execute();
            await trx.commit().execute();
          } catch (e) {
            await trx.rollback().execute();
            throw e;
          }
          const runner = dataSource.createQueryRunner();
          try { await runner.query('SELECT 1'); } finally { await runner.release(); }
          const r = await tarnPool.acquire().promise;
          try { await r.ping(); } finally { tarnPool.release(r); }
          const reserved = await sql.reserve();
          try { await reserved\`SELECT 1\`; } finally { reserved.release(); }
        }`,
    },
    {
      name: "pg-promise: the shared connection object's done() releases it",
      code: `
        async function listen(db) {
          const sco = await db.connect();
          try {
            return await sco.any('SELECT 1');
          } finally {
            sco.done();
          }
        }`,
    },
    {
      name: 'async-mutex: the acquired value is the release function',
      code: `
        async function critical() {
          const release = await mutex.acquire();
          try { await work(); } finally { release(); }
        }`,
    },
    {
      name: 'not a checkout: connect(url), a pg Client, connect() with nothing kept',
      code: `
        import pg from 'pg';
        async function other() {
          const conn = await amqp.connect('amqp://localhost');
          const admin = new pg.Client();
          await admin.connect();
          const again = await admin.connect();
          const mongo = await MongoClient.connect(url);
        }`,
    },
    {
      name: 'a script: an error at the top level ends the process, so only the end of the module counts',
      code: `
        const client = await pool.connect();
        await client.query('SELECT 1');
        client.release();
        await pool.end();`,
    },
    {
      name: 'an error callback: no connection on the error branch',
      code: `
        pool.getConnection(function (err, conn) {
          if (err) {
            console.error(err);
            return;
          }
          conn.release();
        });`,
    },
    {
      name: 'other libraries that connect without a pool lease: node-redis, mssql',
      code: `
        import { createClient } from 'redis';
        import sql from 'mssql';
        const redis = await createClient().on('error', (err) => console.error(err)).connect();
        const mssqlPool = await new sql.ConnectionPool(config).connect();
        export async function cache() {
          const other = createClient();
          const connected = await other.connect();
          return connected.get('k');
        }`,
    },
    {
      name: 'oracledb and libsql: close() ends the connection and the transaction',
      code: `
        async function oracle() {
          const conn = await pool.getConnection();
          try {
            return await conn.execute('SELECT 1 FROM dual');
          } finally {
            await conn.close();
          }
        }
        async function libsql(client) {
          const tx = await client.transaction('write');
          try {
            await tx.execute('INSERT INTO t VALUES (1)');
            await tx.commit();
          } finally {
            tx.close();
          }
        }`,
    },
    {
      name: "Knex's promise idiom: commit and rollback handed to the chain; a bound release as a listener",
      code: `
        async function place(order) {
          const trx = await knex.transaction();
          return trx('orders').insert(order).then(trx.commit).catch(trx.rollback);
        }
        async function stream(req, res) {
          const client = await pool.connect();
          res.on('close', client.release.bind(client));
          client.query(new QueryStream('SELECT 1')).pipe(res);
        }`,
    },
    {
      name: 'a retry loop: each attempt releases in finally',
      code: `
        async function withRetry(fn) {
          for (let attempt = 1; ; attempt++) {
            const client = await pool.connect();
            try {
              return await fn(client);
            } catch (err) {
              if (attempt >= 3 || !isTransient(err)) throw err;
            } finally {
              client.release();
            }
          }
        }`,
    },
    {
      name: "the demo's order handler, fixed: the stock check moved inside the try",
      code: `
        const routes = {
          'POST /orders': async (_, body) => {
            const { productId, qty = 1 } = body;
            const client = await pool.connect();
            try {
              const { rows } = await client.query('SELECT stock FROM products WHERE id = $1', [productId]);
              if (rows.length === 0 || rows[0].stock < qty) {
                return [409, { error: 'out of stock' }];
              }
              const order = await placeOrder(client, productId, qty);
              return [201, { orderId: order.id }];
            } catch (err) {
              await client.query('ROLLBACK').catch(() => {}); // cannot reject: not a path that skips release
              throw err;
            } finally {
              client.release();
            }
          },
        };`,
    },
    {
      name: 'released by .then(onSuccess, onError) callbacks, each on every path',
      code: `
        async function rows(sql) {
          const client = await pool.connect();
          return client.query(sql).then(
            (r) => { client.release(); return r.rows; },
            (e) => { client.release(e); throw e; },
          );
        }`,
    },
    {
      name: "a class's own connect() on this (TypeORM's query runner hands out the connection it holds)",
      code: `
        class Runner {
          async query(sql) {
            const connection = await this.connect();
            return new Promise((ok, fail) => connection.query(sql, (err, rows) => (err ? fail(err) : ok(rows))));
          }
        }`,
    },
    {
      name: 'a lease the caller may have given: a parameter, or a variable that also holds a given client',
      code: `
        async function cache(queryRunner) {
          const own = queryRunner === undefined;
          if (own) queryRunner = dataSource.createQueryRunner();
          try {
            await queryRunner.query('SELECT 1');
          } finally {
            if (own) await queryRunner.release();
          }
        }
        async function run(external) {
          let client = external;
          if (!client) client = await pool.connect();
          try {
            await client.query('SELECT 1');
          } finally {
            if (!external) client.release();
          }
        }`,
    },
    {
      name: "a package's own connect(): amqplib, faktory (a connection kept for the process)",
      code: `
        import amqp from 'amqplib';
        const faktory = require('faktory-worker');
        let channel;
        export async function start() {
          const conn = await amqp.connect();
          conn.on('error', (err) => console.error(err));
          channel = await conn.createChannel();
          const client = await faktory.connect();
          await client.push({ jobType: 'x' });
        }`,
    },
    {
      name: 'nested try/finally, a labeled block left by break, a return from an inner finally',
      code: `
        async function nested(kind) {
          const client = await pool.connect();
          try {
            check: {
              if (kind === 'skip') break check;
              try {
                await client.query('SELECT 1');
              } finally {
                if (kind === 'early') return 'early';
              }
            }
            return 'done';
          } finally {
            client.release();
          }
        }`,
    },
    {
      name: "pg callback form: the done function kept for later is handed over with the client's release",
      code: `
        let release;
        function take(pool) {
          return new Promise((resolve, reject) => {
            pool.connect((err, client, done) => {
              if (err) return reject(err);
              client.on('notice', log);
              release = done;
              resolve();
            });
          });
        }`,
    },
    {
      name: 'a disposal called by hand: client[Symbol.asyncDispose](), conn[Symbol.dispose](), a constant for the symbol',
      code: `
        const ASYNC_DISPOSE = Symbol.asyncDispose;
        async function closeOut(id) {
          const client = await pool.connect();
          try {
            await client.query('UPDATE orders SET closed = true WHERE id = $1', [id]);
          } finally {
            await client[Symbol.asyncDispose]();
          }
          const conn = await mysqlPool.getConnection();
          conn[Symbol.dispose]();
          const again = await pool.connect();
          await again[ASYNC_DISPOSE]();
        }`,
    },
    {
      name: 'MariaDB connector (promise API, poolguard/mariadb alike): release() or end() in finally, await using, the callback API',
      code: `
        import mariadb from 'mariadb';
        import { createPool } from 'poolguard/mariadb';
        const pool = mariadb.createPool({ host: 'db', connectionLimit: 5 });
        const guarded = createPool({ host: 'db', connectionLimit: 5, guard: { name: 'stock-db' } });
        export async function stock(id) {
          const conn = await pool.getConnection();
          try {
            const rows = await conn.query('SELECT stock FROM products WHERE id = ?', [id]);
            if (rows.length === 0) return null;
            return rows[0].stock;
          } finally {
            conn.release();
          }
        }
        export async function reserve(id) {
          let conn;
          try {
            conn = await guarded.getConnection();
            await conn.beginTransaction();
            await conn.query('UPDATE products SET stock = stock - 1 WHERE id = ?', [id]);
            await conn.commit();
          } catch (err) {
            if (conn) await conn.rollback();
            throw err;
          } finally {
            if (conn) await conn.end();
          }
        }
        export async function count() {
          await using conn = await guarded.getConnection();
          return (await conn.query('SELECT COUNT(*) AS n FROM products'))[0].n;
        }
        export function legacy(cb) {
          pool.getConnection((err, conn) => {
            if (err) return cb(err);
            conn.query('SELECT 1', (error, rows) => {
              conn.release();
              cb(error, rows);
            });
          });
        }`,
    },
    {
      name: 'postgres.js: sql.reserve() released in finally (plain, and through poolguard/postgres); sql.begin() releases itself',
      code: `
        import postgres from 'postgres';
        const sql = postgres(process.env.DATABASE_URL, { max: 10 });
        export async function lockedRun(job) {
          const reserved = await sql.reserve();
          try {
            await reserved\`SELECT pg_advisory_lock(\${job.id})\`;
            if (job.done) return 'skipped';
            await job.run(reserved);
            return 'ran';
          } finally {
            reserved.release();
          }
        }
        export async function transfer(from, to, amount) {
          return sql.begin(async (tx) => {
            await tx\`UPDATE accounts SET balance = balance - \${amount} WHERE id = \${from}\`;
            await tx\`UPDATE accounts SET balance = balance + \${amount} WHERE id = \${to}\`;
          });
        }`,
    },
  ],
  invalid: [
    {
      name: 'a disposal called by hand, skipped by an early return',
      code: `
        async function closeOut(id) {
          const client = await pool.connect();
          const { rowCount } = await client.query('UPDATE orders SET closed = true WHERE id = $1', [id]);
          if (rowCount === 0) return false;
          await client[Symbol.asyncDispose]();
          return true;
        }`,
      errors: [error(/^pool\.connect\(\) at line 3 is not released on every path \(the return at line 5 leaves it checked out\)/)],
    },
    {
      name: 'MariaDB connector: an early return skips release(); end() only after the awaits',
      code: `
        import mariadb from 'mariadb';
        const pool = mariadb.createPool({ host: 'db' });
        export async function stock(id) {
          const conn = await pool.getConnection();
          const rows = await conn.query('SELECT stock FROM products WHERE id = ?', [id]);
          if (rows.length === 0) return null;
          conn.release();
          return rows[0].stock;
        }
        export async function touch(id) {
          const conn = await pool.getConnection();
          await conn.query('UPDATE products SET seen = NOW() WHERE id = ?', [id]);
          await conn.end();
        }`,
      errors: [
        {
          message:
            'pool.getConnection() at line 5 is not released on every path (the return at line 7 leaves it checked out): use "await using conn = await pool.getConnection()" (Node 24+) or release it in a finally block.',
          line: 5,
        },
        error(/^pool\.getConnection\(\) at line 12 is not released on every path \(an error at the await on line 13 leaves it checked out\)/),
      ],
    },
    {
      name: 'MariaDB connector, callback API: the query error branch returns without release()',
      code: `
        import mariadb from 'mariadb/callback';
        const pool = mariadb.createPool({ host: 'db' });
        export function stock(id, cb) {
          pool.getConnection((err, conn) => {
            if (err) return cb(err);
            conn.query('SELECT stock FROM products WHERE id = ?', [id], (error, rows) => {
              if (error) return cb(error);
              conn.release();
              cb(null, rows);
            });
          });
        }`,
      errors: [error(/^The connection that pool\.getConnection\(\) at line 5 passes to its callback is not released on every path \(the return at line 8 leaves it checked out\): call conn\.release\(\) on every path of the callback\.$/)],
    },
    {
      name: 'postgres.js: sql.reserve() left reserved by an early return',
      code: `
        import postgres from 'postgres';
        const sql = postgres(process.env.DATABASE_URL);
        export async function lockedRun(job) {
          const reserved = await sql.reserve();
          const [{ locked }] = await reserved\`SELECT pg_try_advisory_lock(\${job.id}) AS locked\`;
          if (!locked) return 'busy';
          await job.run(reserved);
          reserved.release();
          return 'ran';
        }`,
      errors: [
        {
          message:
            'sql.reserve() at line 5 is not released on every path (the return at line 7 leaves it checked out): release it in a finally block (reserved.release()).',
          line: 5,
        },
      ],
    },
    {
      name: 'the outage: an early return on one branch skips release()',
      code: `
        app.get('/orders/:id', async (req, res) => {
          const client = await pool.connect();
          const { rows } = await client.query('SELECT * FROM orders WHERE id = $1', [req.params.id]);
          if (rows.length === 0) {
            return res.status(404).json({ error: 'not found' });
          }
          client.release();
          res.json(rows[0]);
        });`,
      errors: [
        {
          message:
            'pool.connect() at line 3 is not released on every path (the return at line 6 leaves it checked out): use "await using client = await pool.connect()" (Node 24+) or release it in a finally block.',
          line: 3,
          column: 32,
        },
      ],
    },
    {
      name: 'a throw before release',
      code: `
        async function getUser(id) {
          const client = await pool.connect();
          const user = lookup(id);
          if (!user) throw new NotFound(id);
          client.release();
          return user;
        }`,
      errors: [error(/^pool\.connect\(\) at line 3 is not released on every path \(the throw at line 5 leaves it checked out\)/)],
    },
    {
      name: 'release only in try: an error goes to catch, which swallows it and leaves the client out',
      code: `
        async function refresh() {
          const client = await pool.connect();
          try {
            await client.query('REFRESH MATERIALIZED VIEW totals');
            client.release();
          } catch (err) {
            logger.error(err);
          }
        }`,
      errors: [error(/\(the end of the function at line 10 leaves it checked out\)/)],
    },
    {
      name: 'release in catch only: the success path keeps the client',
      code: `
        async function save(row) {
          const conn = await pool.getConnection();
          try {
            await conn.query('INSERT INTO t SET ?', row);
          } catch (err) {
            conn.release();
            throw err;
          }
        }`,
      errors: [error(/^pool\.getConnection\(\) at line 3 is not released on every path \(the end of the function at line 10 leaves it checked out\): use "await using conn = await pool\.getConnection\(\)"/)],
    },
    {
      name: 'released after the awaits, not in finally: a rejected query leaves it out',
      code: `
        async function count() {
          const client = await pool.connect();
          const { rows } = await client.query('SELECT count(*) FROM orders');
          client.release();
          return rows[0].count;
        }`,
      errors: [error(/\(an error at the await on line 4 leaves it checked out\)/)],
    },
    {
      name: 'never released',
      code: `
        async function count() {
          const client = await pool.connect();
          client.query('SELECT 1');
        }`,
      errors: [error(/\(the end of the function at line 5 leaves it checked out\)/)],
    },
    {
      name: 'Knex: committed, but nothing rolls back on error',
      code: `
        async function placeOrder(order) {
          const trx = await knex.transaction();
          try {
            await trx('orders').insert(order);
            await trx.commit();
          } catch (err) {
            logger.error(err);
            throw err;
          }
        }`,
      errors: [
        {
          message:
            'knex.transaction() at line 3 is neither committed nor rolled back on every path (the throw at line 9 leaves it open): commit at the end of the try block and roll back in its catch block, or use the callback form, which does both: knex.transaction(async (trx) => { … }).',
        },
      ],
    },
    {
      name: 'Sequelize: committed, never rolled back',
      code: `
        async function transfer() {
          const t = await sequelize.transaction();
          await Account.create({}, { transaction: t });
          await t.commit();
        }`,
      errors: [error(/^sequelize\.transaction\(\) at line 3 is neither committed nor rolled back on every path \(an error at the await on line 4 leaves it open\)/)],
    },
    {
      name: 'Kysely: a controlled transaction committed only on the happy path',
      code: `
        async function handler(db, request) {
          const trx = await db.startTransaction().execute();
          const row = await sql\`SELECT 1\`.execute(trx);
          if (row.rows.length === 0) return { status: 404 };
          await trx.commit().execute();
          return { status: 200 };
        }`,
      errors: [error(/the return at line 5 leaves it open\): .*db\.transaction\(\)\.execute\(async \(trx\) => \{ … \}\)\.$/)],
    },
    {
      name: 'a checkout that is dropped: nothing can release it',
      code: `
        import { Pool } from 'poolguard/pg';
        const pool = new Pool();
        async function warm() {
          await pool.connect();
        }`,
      errors: [error(/^pool\.connect\(\) at line 5 checks out a connection and drops it, so nothing can release it: keep it \("const client = await pool\.connect\(\)"\) and release it in a finally block, or use pool\.query\(\) for a single statement\.$/)],
    },
    {
      name: 'mysql callback form: an early return before the query that releases',
      code: `
        app.get('/users/:id', (req, res) => {
          pool.getConnection((err, connection) => {
            if (err) return res.sendStatus(500);
            if (!req.user) return res.sendStatus(401);
            connection.query('SELECT * FROM users WHERE id = ?', [req.params.id], (error, rows) => {
              connection.release();
              res.json(rows);
            });
          });
        });`,
      errors: [error(/^The connection that pool\.getConnection\(\) at line 3 passes to its callback is not released on every path \(the return at line 5 leaves it checked out\): call connection\.release\(\) on every path of the callback\.$/)],
    },
    {
      name: 'pg callback form: done() is skipped on the query error branch',
      code: `
        pool.connect((err, client, done) => {
          if (err) throw err;
          client.query('SELECT NOW()', (qerr, res) => {
            if (qerr) return console.error(qerr);
            done();
          });
        });`,
      errors: [error(/the return at line 5 leaves it checked out|the end of the function/)],
    },
    {
      name: 'then form: the client is never released',
      code: `
        function now() {
          return pool.connect().then((client) => client.query('SELECT NOW()'));
        }`,
      errors: [error(/^The connection that pool\.connect\(\) at line 3 passes to its callback is not released on every path \(the return at line 3/)],
    },
    {
      name: 'generic-pool: an early return skips pool.release',
      code: `
        async function work(job) {
          const resource = await pool.acquire();
          if (job.cancelled) return;
          try { await resource.run(job); } finally { await pool.release(resource); }
        }`,
      errors: [error(/^pool\.acquire\(\) at line 3 is not released on every path \(the return at line 4 leaves it checked out\): release it in a finally block \(pool\.release\(resource\)\)\.$/)],
    },
    {
      name: 'nested functions: the outer lease is fine, the inner one leaks on continue',
      code: `
        async function sync(ids) {
          const outer = await pool.connect();
          try {
            await Promise.all(ids.map(async (id) => {
              const inner = await pool.connect();
              if (id < 0) return;
              inner.release();
            }));
          } finally {
            outer.release();
          }
        }`,
      errors: [error(/^pool\.connect\(\) at line 6 is not released on every path \(the return at line 7 leaves it checked out\)/)],
    },
    {
      name: 'a loop that continues before release',
      code: `
        async function each(ids) {
          for (const id of ids) {
            const client = await pool.connect();
            if (id < 0) continue;
            client.release();
          }
        }`,
      errors: [error(/leaves it checked out/)],
    },
    {
      name: 'reassigned while still checked out',
      code: `
        async function twice() {
          let client = await pool.connect();
          client = await pool.connect();
          client.release();
        }`,
      errors: [error(/^pool\.connect\(\) at line 3 is not released on every path \(reassigning client at line 4 leaves it checked out\)/)],
    },
    {
      name: 'a switch case returns without release',
      code: `
        async function route(kind) {
          const conn = await pool.getConnection();
          switch (kind) {
            case 'ping':
              return 'pong';
            default:
              conn.release();
              return 'ok';
          }
        }`,
      errors: [error(/the return at line 6 leaves it checked out/)],
    },
    {
      name: 'finally that releases only when a flag says so',
      code: `
        async function run(ok) {
          const client = await pool.connect();
          try {
            await client.query('SELECT 1');
          } finally {
            if (ok) client.release();
          }
        }`,
      errors: [error(/leaves it checked out/)],
    },
    {
      name: 'a factory that returns the client but leaks it when its set-up query fails',
      code: `
        async function scoped(schema) {
          const client = await pool.connect();
          await client.query('SET search_path TO ' + schema);
          return client;
        }`,
      errors: [
        {
          message:
            'pool.connect() at line 3 is returned or passed on along some paths, but an error at the await on line 4 leaves it checked out: release it (client.release()) on that path too (for an error, in a catch block that does it and rethrows).',
        },
      ],
    },
    {
      name: 'TypeORM: a query runner released only on the happy path',
      code: `
        async function handler(dataSource, request) {
          const runner = dataSource.createQueryRunner();
          await runner.connect();
          if (!request.id) return { status: 400 };
          await runner.release();
          return { status: 200 };
        }`,
      errors: [error(/^dataSource\.createQueryRunner\(\) at line 3 is not released on every path \(the return at line 5 leaves it checked out\): release it in a finally block \(await runner\.release\(\)\)\.$/)],
    },
    {
      name: "the tutorials' connection test: pool.connect().then(() => …) drops the client",
      code: `
        import pg from 'pg';
        const pool = new pg.Pool();
        pool.connect().then(() => console.log('Connected to PostgreSQL')).catch((err) => console.error(err));`,
      errors: [error(/^pool\.connect\(\) at line 4 checks out a connection and drops it/)],
    },
    {
      name: 'async-mutex: an await between acquire() and the try',
      code: `
        async function query(sql) {
          const release = await this.lock.acquire();
          await this.broadcaster.broadcast('BeforeQuery', sql);
          try {
            return await this.run(sql);
          } finally {
            release();
          }
        }`,
      errors: [error(/^this\.lock\.acquire\(\) at line 3 is not released on every path \(an error at the await on line 4 leaves it checked out\): release it in a finally block \(release\(\)\)\.$/)],
    },
    {
      name: 'a labeled break that jumps past the release',
      code: `
        async function tidy(flag) {
          const client = await pool.connect();
          work: {
            if (flag) break work;
            client.release();
            return 'released';
          }
          return 'skipped';
        }`,
      errors: [error(/\(the return at line 9 leaves it checked out\)/)],
    },
    {
      name: 'a script that never releases before the end of the module',
      code: `
        const client = await pool.connect();
        await client.query('LISTEN jobs');`,
      errors: [error(/\(the end of the module leaves it checked out\)/)],
    },
  ],
});

ts.run('release-on-every-path (TypeScript)', rule, {
  valid: [
    {
      name: 'typed client, non-null release in finally, casts around the checkout',
      code: `
        import type { PoolClient } from 'pg';
        export async function list(): Promise<number[]> {
          const client: PoolClient = (await pool.connect()) as PoolClient;
          try {
            const { rows } = await client.query<{ id: number }>('SELECT id FROM orders');
            return rows.map((r) => r.id);
          } finally {
            client!.release();
          }
        }`,
    },
    {
      name: 'await using with a typed lease',
      code: `
        export async function one(): Promise<unknown> {
          await using conn = await pool.getConnection();
          const [rows] = await conn.query('SELECT 1');
          return rows;
        }`,
    },
  ],
  invalid: [
    {
      name: 'a NestJS-style service method with an early return',
      code: `
        export class OrdersService {
          constructor(private readonly pool: Pool) {}
          async find(id: number): Promise<Order | undefined> {
            const client = await this.pool.connect();
            const { rows } = await client.query<Order>('SELECT * FROM orders WHERE id = $1', [id]);
            if (rows.length === 0) return undefined;
            client.release();
            return rows[0];
          }
        }`,
      errors: [error(/^this\.pool\.connect\(\) at line 5 is not released on every path \(the return at line 7 leaves it checked out\): use "await using client = await this\.pool\.connect\(\)"/)],
    },
  ],
});

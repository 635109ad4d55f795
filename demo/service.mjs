// A small shop API over PostgreSQL: products, stock and orders. It is written the way services
// usually are, including the bug behind the outage: POST /orders returns early when an item is out
// of stock and never releases its connection. Nothing here knows about poolguard; the pool class
// comes from db-blind.mjs or db-guarded.mjs, which differ by one import.
import { createServer } from 'node:http';

export const SCHEMA = 'poolguard_demo';
export const PRODUCTS = 200;

/** One product in eight is out of stock, so about an eighth of the orders take the leaking path. */
export const isOutOfStock = (productId) => productId % 8 === 0;

/** Creates the schema and its data from scratch (the demo's own schema; nothing else is touched). */
export async function setupSchema(client) {
  await client.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await client.query(`CREATE SCHEMA ${SCHEMA}`);
  await client.query(`
    CREATE TABLE ${SCHEMA}.products (
      id    int PRIMARY KEY,
      name  text NOT NULL,
      price numeric(10, 2) NOT NULL,
      stock int NOT NULL CHECK (stock >= 0)
    )`);
  await client.query(`
    CREATE TABLE ${SCHEMA}.orders (
      id         bigserial PRIMARY KEY,
      product_id int NOT NULL REFERENCES ${SCHEMA}.products (id),
      qty        int NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
  await client.query(
    `INSERT INTO ${SCHEMA}.products (id, name, price, stock)
     SELECT i, 'product ' || i, (i % 50) + 0.99, CASE WHEN i % 8 = 0 THEN 0 ELSE 1000000 END
     FROM generate_series(1, $1) AS i`,
    [PRODUCTS],
  );
}

export async function dropSchema(client) {
  await client.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
}

/**
 * The service. `db` names the module that provides `Pool` ('blind' or 'guarded'); `poolOptions` are
 * passed to it unchanged; `fix` ('finally', 'await using') serves POST /orders fixed (orders-fixed*.mjs).
 */
export async function createService({ db, poolOptions, fix }) {
  const { Pool } = await import(`./db-${db}.mjs`);
  const pool = new Pool(poolOptions);
  // A service that runs for long must listen: an idle connection's error would end the process.
  pool.on('error', () => {});

  const routes = {
    'GET /health': async () => {
      await pool.query('SELECT 1');
      return [200, { ok: true }];
    },
    'GET /products': async () => {
      const { rows } = await pool.query(`SELECT id, name, price, stock > 0 AS in_stock FROM ${SCHEMA}.products ORDER BY id LIMIT 20`);
      return [200, rows];
    },
    'GET /products/:id': async (id) => {
      const { rows } = await pool.query(`SELECT id, name, price, stock FROM ${SCHEMA}.products WHERE id = $1`, [id]);
      return rows.length ? [200, rows[0]] : [404, { error: 'no such product' }];
    },
    'GET /orders/recent': async () => {
      const { rows } = await pool.query(
        `SELECT o.id, p.name, o.qty, o.created_at FROM ${SCHEMA}.orders o JOIN ${SCHEMA}.products p ON p.id = o.product_id ORDER BY o.id DESC LIMIT 10`,
      );
      return [200, rows];
    },
    'POST /orders': async (_, body) => {
      const { productId, qty = 1 } = body;
      const client = await pool.connect(); // LEAK: checked out here; the out-of-stock return below never releases it
      const { rows } = await client.query(`SELECT stock FROM ${SCHEMA}.products WHERE id = $1`, [productId]);
      if (rows.length === 0 || rows[0].stock < qty) {
        return [409, { error: 'out of stock' }]; // the bug: returns before client.release()
      }
      try {
        return await buy(client, productId, qty);
      } finally {
        client.release();
      }
    },
  };
  if (fix !== undefined) {
    const { placeOrder } = await import(fix === 'await using' ? './orders-fixed-await-using.mjs' : './orders-fixed.mjs');
    routes['POST /orders'] = (_, body) => placeOrder(pool, body);
  }

  const server = createServer(async (req, res) => {
    let status;
    let payload;
    try {
      const [path] = req.url.split('?');
      const match = /^\/products\/(\d+)$/.exec(path);
      const route = routes[`${req.method} ${match ? '/products/:id' : path}`];
      if (!route) {
        [status, payload] = [404, { error: `no route ${req.method} ${path}` }];
      } else {
        const body = req.method === 'POST' ? await readJson(req) : undefined;
        [status, payload] = await route(match ? Number(match[1]) : undefined, body);
      }
    } catch (err) {
      // What a typical service does: answer 503 with the error's message, and nothing more.
      [status, payload] = [503, { error: err.message }];
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(payload));
  });
  server.keepAliveTimeout = 30_000;

  return {
    pool,
    server,
    listen: () => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`))),
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** The order itself, in one transaction on the client: rolled back when any step fails. */
export async function buy(client, productId, qty) {
  try {
    await client.query('BEGIN');
    await client.query(`UPDATE ${SCHEMA}.products SET stock = stock - $1 WHERE id = $2`, [qty, productId]);
    const order = await client.query(`INSERT INTO ${SCHEMA}.orders (product_id, qty) VALUES ($1, $2) RETURNING id`, [productId, qty]);
    await client.query('COMMIT');
    return [201, { orderId: order.rows[0].id }];
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      try {
        resolve(text ? JSON.parse(text) : {});
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

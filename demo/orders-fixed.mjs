// POST /orders with the outage's bug fixed, for every Node the demo runs on: the client is released
// in a finally block, so the out-of-stock return gives it back too. demo/orders-fixed-await-using.mjs
// is the same fix with `await using` (Node 24 and later). `createService({ fix: 'finally' })`
// serves it; test/demo-checks.test.ts shows that the lint rule, the test check and the runtime
// report find nothing in it, while all three name the leaking handler of service.mjs.
import { SCHEMA, buy } from './service.mjs';

export async function placeOrder(pool, { productId, qty = 1 }) {
  const client = await pool.connect();
  try {
    const { rows } = await client.query(`SELECT stock FROM ${SCHEMA}.products WHERE id = $1`, [productId]);
    if (rows.length === 0 || rows[0].stock < qty) {
      return [409, { error: 'out of stock' }]; // released by the finally block below
    }
    return await buy(client, productId, qty);
  } finally {
    client.release();
  }
}

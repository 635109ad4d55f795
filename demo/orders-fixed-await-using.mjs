// POST /orders with the outage's bug fixed by `await using` (Node 24 and later; TypeScript compiles
// it for older Node): the client is released when the function returns or throws, whichever path
// it takes. demo/orders-fixed.mjs is the same fix with try/finally, for every Node.
import { SCHEMA, buy } from './service.mjs';

export async function placeOrder(pool, { productId, qty = 1 }) {
  await using client = await pool.connect(); // released when the function returns or throws
  const { rows } = await client.query(`SELECT stock FROM ${SCHEMA}.products WHERE id = $1`, [productId]);
  if (rows.length === 0 || rows[0].stock < qty) return [409, { error: 'out of stock' }]; // released here too
  return await buy(client, productId, qty);
}

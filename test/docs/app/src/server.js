import { getOrder, listOrders } from './routes/orders.js';

const authorise = async (request) => request.user !== undefined;

// Stand-in for an HTTP framework's route handler.
export async function handler(request) {
  if (!(await authorise(request))) return { status: 401 };
  if (request.path === '/orders') return { status: 200, body: await listOrders() };
  const order = await getOrder(request.id);
  return order ? { status: 200, body: order } : { status: 404 };
}

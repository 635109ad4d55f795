// Steady, open-loop traffic: requests start on a fixed schedule whether or not earlier ones have
// answered, as real users keep arriving while a service struggles. The route mix comes from a seeded
// generator, so both runs get exactly the same requests in the same order.
import { Agent, request } from 'node:http';
import { PRODUCTS } from './service.mjs';

/** mulberry32: a tiny deterministic generator; the traffic must be identical in both runs. */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Share of each route in the traffic. Orders are 30 %; one product in eight is out of stock, so
// about 3.75 % of all requests take the leaking path: at 40 requests/s, a leak every 0.67 s.
const MIX = [
  [0.3, 'POST /orders'],
  [0.35, 'GET /products/:id'],
  [0.15, 'GET /products'],
  [0.1, 'GET /orders/recent'],
  [0.1, 'GET /health'],
];

export function pick(rand) {
  let r = rand();
  for (const [share, route] of MIX) {
    if ((r -= share) < 0) return route;
  }
  return MIX[MIX.length - 1][1];
}

function send(agent, baseUrl, route, productId, timeoutMs) {
  const [method, pattern] = route.split(' ');
  const path = pattern.replace(':id', String(productId));
  const body = method === 'POST' ? JSON.stringify({ productId, qty: 1 }) : undefined;
  return new Promise((resolve) => {
    const req = request(`${baseUrl}${path}`, { method, agent, timeout: timeoutMs, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        let error;
        if (res.statusCode >= 500) {
          try {
            error = JSON.parse(text).error;
          } catch {
            error = text;
          }
        }
        resolve({ status: res.statusCode, error });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ status: 0, error: err.message }));
    req.end(body);
  });
}

/**
 * Sends `ratePerSecond` requests a second for `durationMs`, then waits (at most `drainMs`) for the
 * last answers. Each result: { at (ms since start, when sent), doneAt (when answered), route, status, ms, ok, error }; a request is
 * ok when the service answered below 500 (an "out of stock" 409 is a correct answer).
 */
export async function runLoad({ baseUrl, durationMs, ratePerSecond = 40, seed = 7, drainMs = 3_000, onResult = () => {} }) {
  const rand = random(seed);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const results = [];
  const inFlight = new Set();
  let closed = false;
  const pending = new Map();
  const interval = 1000 / ratePerSecond;
  const start = performance.now();
  for (let i = 0; ; i++) {
    // Compared as an offset: start + offset - start can fall short of offset in floating point.
    if (i * interval >= durationMs) break;
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const route = pick(rand);
    const productId = 1 + Math.floor(rand() * PRODUCTS);
    const sentAt = performance.now();
    const p = send(agent, baseUrl, route, productId, 10_000).then(({ status, error }) => {
      if (closed) return; // answered after the drain: already counted as unanswered
      const result = { at: sentAt - start, doneAt: performance.now() - start, route, status, ms: performance.now() - sentAt, ok: status > 0 && status < 500, error };
      results.push(result);
      onResult(result);
      inFlight.delete(p);
      pending.delete(p);
    });
    inFlight.add(p);
    pending.set(p, { route, productId, at: sentAt - start });
  }
  await Promise.race([Promise.all(inFlight), new Promise((resolve) => setTimeout(resolve, drainMs).unref())]);
  closed = true;
  agent.destroy();
  return { results, unanswered: inFlight.size, unansweredRequests: [...pending.values()], durationMs: performance.now() - start };
}

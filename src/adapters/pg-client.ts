/**
 * What poolguard reads of a pg client without importing pg: shared by the pg adapter and by the
 * generic-pool adapter, whose resources are often pg clients.
 */

/** Whether pg has a query running or queued on the client (private fields, read only when reporting). */
export function queryInFlight(resource: object): boolean | undefined {
  const c = resource as Record<string, unknown>;
  if ('_activeQuery' in c) {
    if (lengthOf(c._queryQueue) > 0 || lengthOf(c._sentQueryQueue) > 0) return true;
    return c._activeQuery != null && !waitingForReader(c._activeQuery);
  }
  if ('activeQuery' in c) return c.activeQuery != null || lengthOf(c.queryQueue) > 0;
  return undefined;
}

/**
 * Calls `onActive` each time the client finishes something: the end of a query (`readyForQuery`),
 * the only activity signal pg gives without wrapping `client.query`, which the client itself
 * listens to, so this costs one call per query; and each batch of an open cursor (pg-cursor,
 * pg-query-stream), answered with `portalSuspended`, never `readyForQuery` until it closes. Does
 * nothing for a resource that is not a pg client.
 */
export function onQueryDone(resource: object, onActive: () => void): void {
  const connection = (resource as { connection?: { on?(event: string, fn: () => void): unknown } }).connection;
  if (typeof connection?.on !== 'function' || !('_activeQuery' in resource || 'activeQuery' in resource)) return;
  connection.on('readyForQuery', onActive);
  connection.on('portalSuspended', onActive);
}

/**
 * Calls `onEnded` with the server's message when the server ends the client's session (an
 * ErrorResponse of severity FATAL: pg_terminate_backend, a shutdown, an idle timeout). pg hands
 * that message to the query in flight, if any, and emits nothing else for it: this hears it
 * either way, before the query's caller does. Does nothing for a resource that is not a pg client.
 */
export function onSessionEnded(resource: object, onEnded: (message: unknown) => void): void {
  const connection = (resource as { connection?: { on?(event: string, fn: (msg: { severity?: unknown }) => void): unknown } }).connection;
  if (typeof connection?.on !== 'function' || !('_activeQuery' in resource || 'activeQuery' in resource)) return;
  connection.on('errorMessage', (msg) => {
    if (msg?.severity === 'FATAL' || msg?.severity === 'PANIC') onEnded(msg);
  });
}

/**
 * The transaction the client's session is in, as of the server's last reply: pg keeps the status
 * byte of every ReadyForQuery (`I` idle, `T` in a transaction, `E` in a failed one), so reading it
 * costs no round trip. `undefined` outside a transaction, or when the resource is not a pg client.
 */
export function transactionStatus(resource: object): 'open' | 'failed' | undefined {
  const read = (resource as { getTransactionStatus?: unknown }).getTransactionStatus;
  if (typeof read !== 'function') return undefined;
  const status: unknown = read.call(resource);
  return status === 'T' ? 'open' : status === 'E' ? 'failed' : undefined;
}

/**
 * An open cursor between reads (pg-cursor's state `idle`, also under pg-query-stream's `cursor`)
 * occupies the client but waits for the application: nothing is in flight.
 */
function waitingForReader(query: unknown): boolean {
  const q = query as { state?: unknown; cursor?: { state?: unknown } };
  return q.state === 'idle' || q.cursor?.state === 'idle';
}

function lengthOf(value: unknown): number {
  return Array.isArray(value) ? value.length : 0;
}

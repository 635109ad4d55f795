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
 * An open cursor between reads (pg-cursor's state `idle`, also under pg-query-stream's `cursor`)
 * occupies the client but waits for the application: nothing is in flight.
 */
function waitingForReader(query: unknown): boolean {
  const q = query as { state?: unknown; cursor?: { state?: unknown } };
  return q.state === 'idle' || q.cursor?.state === 'idle';
}

/**
 * Whether the client is inside a transaction: pg keeps the status of the last ReadyForQuery, so
 * reading it costs no round trip; `undefined` for a resource that is not a pg client.
 */
export function transactionOf(resource: object): 'open' | 'failed' | 'none' | undefined {
  const read = (resource as { getTransactionStatus?: unknown }).getTransactionStatus;
  if (typeof read !== 'function') return undefined;
  const status: unknown = read.call(resource);
  return status === 'T' ? 'open' : status === 'E' ? 'failed' : status === 'I' ? 'none' : undefined;
}

function lengthOf(value: unknown): number {
  return Array.isArray(value) ? value.length : 0;
}

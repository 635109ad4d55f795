import type { RetireReason } from './types.js';

// Defined with the other public types; adapters import it from here too.
export type { RetireReason } from './types.js';

export const RETIRE_REASONS: readonly RetireReason[] = Object.freeze(['lifetime', 'uses', 'idle', 'error', 'dirty', 'reclaimed', 'terminated', 'ended']);

/** The recycling settings the policy reads. */
export interface RecycleSettings {
  readonly maxLifetimeMs: number;
  readonly lifetimeJitter: number;
  readonly maxUses: number;
}

/**
 * When a connection created at `createdAt` must retire: its lifetime minus a random share of up to
 * `jitter` of it (HikariCP's variance), so that connections opened together do not all reconnect
 * together. `Infinity` when lifetimes are off.
 */
export function retireAt(createdAt: number, settings: RecycleSettings, random: () => number): number {
  if (settings.maxLifetimeMs <= 0) return Infinity;
  return createdAt + settings.maxLifetimeMs * (1 - settings.lifetimeJitter * random());
}

/** Whether a connection is due for retirement now, and why; pure. */
export function dueReason(conn: { readonly retireAt: number; readonly uses: number }, now: number, settings: RecycleSettings): 'lifetime' | 'uses' | undefined {
  if (now >= conn.retireAt) return 'lifetime';
  if (settings.maxUses > 0 && conn.uses >= settings.maxUses) return 'uses';
  return undefined;
}

/**
 * What a connection's error means for its retirement: the server ending the backend (an
 * administrator, a failover, an idle-session timeout) is `terminated`; anything else is `error`.
 */
export function errorReason(err: unknown): 'terminated' | 'error' {
  const e = err as { code?: unknown; message?: unknown } | null | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 57P05 idle_session_timeout,
  // 25P03 idle_in_transaction_session_timeout: the server ended the session.
  if (/^57P0[1235]$/.test(code) || code === '25P03') return 'terminated';
  // The socket closed or reset by the other end (Node's codes, whatever the driver's message).
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'terminated';
  const message = typeof e?.message === 'string' ? e.message : '';
  if (/terminat|ECONNRESET|EPIPE|server closed the connection|Connection terminated/i.test(message)) return 'terminated';
  return 'error';
}

/** Records the first cause that retires a connection; its removal reports that one. */
export function markRetiring(record: { retireReason: RetireReason | undefined }, reason: RetireReason): void {
  record.retireReason ??= reason;
}

import type { GuardContext } from './context.js';
import type { ConnectionRecord } from './ledger.js';
import { dueReason, errorReason, markRetiring } from './recycle-policy.js';

// Admission and recycling: what happens to a connection between the pool's hand-over and its
// holder (retire it if its lifetime ended while idle, check it if it sat idle long), and when a
// connection is due for retirement (lifetime, uses). The adapters carry the decisions out; the
// core asks here only when `recycles` or `validates` is set.

/**
 * How many connections one checkout may discard (past their lifetime, or failing validation)
 * before it gives the caller the last error instead: a dead server must not hold callers forever.
 */
const MAX_DISCARDS = 3;

/** Whether the policy retires this connection now (lifetime, uses); marks it when so. */
export function dueForRetirement(ctx: GuardContext, record: ConnectionRecord, only?: 'lifetime'): 'lifetime' | 'uses' | undefined {
  if (only === 'lifetime' && record.retireAt === Infinity) return undefined;
  const reason = dueReason(record, record.retireAt === Infinity ? 0 : ctx.clock.now(), only === 'lifetime' ? { ...ctx.config, maxUses: 0 } : ctx.config);
  if (reason !== undefined) markRetiring(record, reason);
  return reason;
}

/** Whether a connection has sat idle past `validateAfterIdleMs`. */
export function idleTooLong(ctx: GuardContext, record: ConnectionRecord): boolean {
  return ctx.clock.now() - record.idleSince >= ctx.config.validateAfterIdleMs;
}

/**
 * What to do with a connection the pool just handed to a lease, before its holder sees it (see
 * `GuardCore.admission`). `discarded`: how many connections this lease discarded.
 */
export function admit(ctx: GuardContext, record: ConnectionRecord, discarded: number, recycles: boolean, validates: boolean): 'handOut' | 'retire' | 'validate' {
  if (recycles && discarded < MAX_DISCARDS && dueForRetirement(ctx, record, 'lifetime') !== undefined) return 'retire';
  if (validates && idleTooLong(ctx, record)) return 'validate';
  return 'handOut';
}

/** A connection failed its check before reuse; the adapter destroys it and finds another. */
export function validationFailed(ctx: GuardContext, record: ConnectionRecord, err: unknown): void {
  ctx.ledger.totals.validationFailures++;
  markRetiring(record, errorReason(err));
}

/** A connection checked fine: it counts as freshly active. */
export function validationPassed(ctx: GuardContext, record: ConnectionRecord): void {
  record.idleSince = ctx.clock.now();
}

/**
 * A connection failed its check and was discarded: whether the lease has discarded enough, so that
 * its caller gets the error rather than another try.
 */
export function discardedEnough(ctx: GuardContext, record: ConnectionRecord, err: Error, discarded: number): boolean {
  validationFailed(ctx, record, err);
  return discarded >= MAX_DISCARDS;
}

/**
 * Runs the check before reuse: `guard.validate` when set, else the adapter's `fallback`, bounded
 * by `validationTimeoutMs`. `then` gets `undefined` when it passed.
 */
export function validateConnection(ctx: GuardContext, record: ConnectionRecord, resource: unknown, fallback: () => unknown, then: (err: Error | undefined) => void): void {
  const { validate: check, validationTimeoutMs, name } = ctx.config;
  let settled = false;
  const settle = (err: Error | undefined): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (err === undefined) validationPassed(ctx, record);
    then(err);
  };
  const timer = setTimeout(() => settle(new Error(`poolguard[${name}]: connection check did not answer within guard.validationTimeoutMs (${validationTimeoutMs} ms)`)), validationTimeoutMs);
  (timer as { unref?: () => void }).unref?.();
  const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
  try {
    Promise.resolve(check ? check(resource) : fallback()).then(
      () => settle(undefined),
      (err: unknown) => settle(asError(err)),
    );
  } catch (err) {
    settle(asError(err));
  }
}

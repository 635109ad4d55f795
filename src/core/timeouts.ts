import { busyWords } from './activity.js';
import { ADAPTIVE_START_CHECKOUTS, unnamedExplicit, type CapturePolicy } from './capture-policy.js';
import type { GuardContext } from './context.js';
import { channels } from './diagnostics.js';
import { CheckoutTimeoutError, describeHolders } from './errors.js';
import { formatDuration } from './format.js';
import type { Lease } from './ledger.js';
import { describeCapture } from './stack.js';
import type { HolderGroup } from './types.js';
import { holderGroups } from './views.js';

// A checkout that waited too long: its error keeps the pool's own message first, then says who
// holds the connections (by call site, idle or busy, in a transaction or not) and what to do, and
// carries the caller's own frames from the capture at checkout: the timer that fired knows nothing.

/** What a timeout error says, and the caller's frames from the capture at checkout. */
export interface TimeoutDetails {
  readonly message: string;
  readonly holders: readonly HolderGroup[];
  readonly waitedMs: number;
  readonly frames: string | undefined;
}

/**
 * What the error for a timed-out checkout says: the pool's own message first, then who holds the
 * connections. `now`: when the core recorded the timeout.
 */
export function timeoutDetails(ctx: GuardContext, capture: CapturePolicy, lease: Lease, poolMessage: string, now: number): TimeoutDetails {
  const { ledger, config } = ctx;
  const { groups: holders, busyBy } = holderGroups(ctx, now);
  const counts = ctx.counts();
  const waiting = Math.max(0, counts.waiting);
  let message = `${poolMessage}\n${describeHolders(config.name, holders, ledger.leased, counts.max, waiting, busyWords(busyBy), ctx.words)}`;
  // Explicit holders without a stack: the error cannot name their line, so it says how to get it.
  let unnamed = 0;
  for (const list of [ledger.suspects, ledger.open]) for (const l of list) if (unnamedExplicit(l)) unnamed++;
  const hint = unnamed > 0 ? noStackHint(ctx, capture, unnamed) : undefined;
  if (hint !== undefined) message += `\n${hint}`;
  if (channels.timeout.hasSubscribers) channels.timeout.publish({ pool: config.name, leaseId: lease.id, waitedMs: Math.round(now - lease.requestedAt), holders });
  return { message, holders, waitedMs: now - lease.requestedAt, frames: describeCapture(lease.capture, ctx.sites)?.stack };
}

/** What a timeout error says to do when some holders have no stack, by capture mode. */
function noStackHint(ctx: GuardContext, capture: CapturePolicy, unnamed: number): string | undefined {
  const { config } = ctx;
  const n = unnamed === 1 ? '1 holder has' : `${unnamed} holders have`;
  switch (config.captureStacks) {
    case 'none':
      return `${n} no stack because guard.captureStacks is 'none': set it to 'connect' to name the line of every checkout; meanwhile the holders' trace ids (err.holders) name their requests.`;
    case 'adaptive':
      return (
        `${n} no stack: guard.captureStacks 'adaptive' (the default) captures 1 checkout in ${capture.oneIn} ${config.stackSampleRate < 1 ? '' : `after the pool's first ${ADAPTIVE_START_CHECKOUTS.toLocaleString('en-US')} `}until a lease without one is held ` +
        `${formatDuration(capture.adaptAfterMs)}, then every checkout: the next leak from the same line is reported with its stack (pool.guard.on('leak'), the log). ` +
        `To name every holder at once, set guard.captureStacks: 'connect'.`
      );
    default:
      return config.stackSampleRate < 1 ? `${n} no stack because guard.stackSampleRate is ${config.stackSampleRate}: raise it to 1 to name every holder's line.` : undefined;
  }
}

/** poolguard's own timeout error; `message`: the details' message, or one that adds to it. */
export function checkoutTimeoutError(pool: string, details: TimeoutDetails, cause: unknown, message = details.message): CheckoutTimeoutError {
  const error = new CheckoutTimeoutError(message, pool, details.holders, details.waitedMs, cause);
  // The caller's own frames, from the capture at checkout: the timer that fired knows nothing.
  if (details.frames) error.stack = `${error.name}: ${message}\n${details.frames}`;
  return error;
}

/**
 * The pool's own timeout error class (generic-pool's TimeoutError, Knex's KnexTimeoutError),
 * remade with the details' message and `fields` (`cause`, `code`) assigned.
 */
export function timeoutErrorLike(pool: string, details: TimeoutDetails, original: Error, fields: Record<string, unknown>): Error {
  const { message, holders, waitedMs, frames } = details;
  const Ctor = original.constructor as new (message: string) => Error;
  let error: Error;
  try {
    error = new Ctor(message);
  } catch {
    error = new Error(message);
    error.name = original.name;
  }
  Object.assign(error, { ...fields, pool, holders, waitedMs });
  if (frames) error.stack = `${error.name}: ${message}\n${frames}`;
  return error;
}

/** The pool's own timeout error object, its message replaced by the details' message. */
export function timeoutErrorInPlace(pool: string, details: TimeoutDetails, err: Error): Error {
  const { message, holders, waitedMs, frames } = details;
  err.message = message;
  Object.assign(err, { pool, holders, waitedMs });
  if (frames) err.stack = `${err.name}: ${message}\n${frames}`;
  return err;
}

import { activeUseWords, activityWords, transactionWords, type Activity } from './activity.js';
import { unnamedExplicit, type CapturePolicy } from './capture-policy.js';
import type { GuardContext } from './context.js';
import { formatDuration } from './format.js';
import { Watch, type Lease } from './ledger.js';
import { describeCapture } from './stack.js';
import type { LeakReport } from './types.js';
import { cutFails, giveBackCall, lateRelease, orAwaitUsing, releasedByHolder } from './words.js';

/**
 * The wording of the `leak`, `leakResolved` and `reclaim` reports: what the lease is, where it was
 * taken, what it is doing, and the next step. `act`: what the lease was doing (absent for
 * `leakResolved`). A `leak` report is worded from the scan's verdict in `lease.watch` (slow when
 * `busy` or `active`, a possible leak when `leak`); `crossed`: what a lease now reported as a
 * possible leak was doing when it crossed the threshold (and was reported slow, or muted).
 */
export function leakReport(ctx: GuardContext, capture: CapturePolicy, type: LeakReport['type'], lease: Lease, now: number, act: Activity | undefined, crossed?: 'busy' | 'active'): LeakReport {
  const heldMs = now - lease.acquiredAt;
  const described = describeCapture(lease.capture, ctx.sites);
  const taken = ctx.whereTaken(lease);
  const site = taken.site;
  const pool = ctx.config.name;
  const where = taken.hint === undefined ? taken.where : `${taken.where} (${taken.hint})`;
  const words = ctx.words;
  const noun = lease.kind === 'transaction' ? 'a connection for a transaction' : lease.kind === 'statement' ? "a connection for a data layer's query" : `a ${words.lent}`;
  const call = giveBackCall(lease.kind, words);
  const held = formatDuration(heldMs);
  const transaction = act?.transaction;
  const txLead = transaction === undefined ? '' : ` inside ${transaction === 'open' ? 'an open' : 'a failed'} transaction`;
  const txWords = transaction === undefined ? '' : ` ${transactionWords(transaction)}`;
  let message: string;
  if (act === undefined) {
    message =
      `poolguard[${pool}]: resolved: the lease from ${where} reported ${lease.watch === Watch.leak ? 'as a possible leak' : 'as slow'} earlier was released after ${held}: slow, not lost. ` +
      `If it recurs, shorten the work done while holding the ${noun.slice(2)}, or raise guard.leakThresholdMs.`;
  } else if (type === 'leak') {
    const { idleAfterMs, leakThresholdMs } = ctx.config;
    if (lease.watch === Watch.leak) {
      const doing = activityWords(act, idleAfterMs, words);
      // `await using` where the runtime runs it and the adapter's leases are disposable.
      const using = releasedByHolder(lease.kind) ? words.awaitUsing : undefined;
      const fix =
        lease.kind === 'transaction'
          ? "The transaction begun at that line has not been committed or rolled back: call commit() or rollback() on every path (try/finally), wherever the transaction object was passed to, or use the callback form, which commits or rolls back when the callback settles."
          : transaction === undefined
            ? using === undefined
              ? 'Release it on every path (try/finally) at that line.'
              : `Release it on every path at that line: use "${using}" or release it in a finally block.`
            : `Add the missing ${transaction === 'open' ? 'COMMIT or ROLLBACK' : 'ROLLBACK'} at that line${call === undefined ? '' : `, and ${call} in a finally block${orAwaitUsing(using)}`}.`;
      message =
        `poolguard[${pool}]: possible ${words.connection} leak${txLead}: ${noun} checked out at ${where} has been held ${held} ${doing}.` +
        (crossed === undefined ? '' : ` It was ${crossed === 'busy' ? 'busy' : 'in active use'} when it crossed guard.leakThresholdMs (${leakThresholdMs} ms) and has since had nothing in flight for at least that long.`) +
        `${txWords} ${fix}`;
    } else {
      const doing = lease.watch === Watch.active ? activeUseWords(act, idleAfterMs) : activityWords(act, idleAfterMs, words);
      message =
        `poolguard[${pool}]: slow lease${txLead}: ${noun} checked out at ${where} has been held ${held} ${doing}: slow, not forgotten.${txWords} ` +
        (act.basis === 'driver' ? `Should it then have nothing in flight for guard.leakThresholdMs (${leakThresholdMs} ms), it is reported again, as a possible leak. ` : '') +
        `If that is expected, raise guard.leakThresholdMs or set guard.reportBusy: false.`;
    }
  } else {
    const quiet = act.basis === 'touch' ? `not touched for ${formatDuration(act.idleMs)}` : `nothing in flight for ${formatDuration(act.idleMs)}`;
    message =
      `poolguard[${pool}]: reclaimed a ${words.connection}${txLead} checked out at ${where}: held ${held}, ${quiet} ` +
      `(guard.reclaimAfterMs is ${ctx.config.reclaimAfterMs}).` +
      (transaction === undefined ? '' : ' Closing the connection makes the server roll its transaction back and release its locks.') +
      ` The pool replaces it; ${afterReclaim(lease, words)}.${call === undefined ? '' : ` Fix the missing ${call} at that line.`}`;
  }
  // 'adaptive' sampled this checkout out: say what happens next, and how to have every line now.
  if (type !== 'leakResolved' && unnamedExplicit(lease) && capture.capturingEvery) {
    message +=
      ` Every checkout's stack has been captured since a lease without one passed ${formatDuration(capture.adaptAfterMs)} held: the next leak from the same line is reported with it. ` +
      `To capture every checkout from the start, set guard.captureStacks: 'connect' (2–4 µs per checkout).`;
  }
  if (type !== 'leakResolved' && described?.stack) message += `\n${described.stack}`;
  const conn = lease.conn;
  return Object.freeze({
    type,
    pool,
    leaseId: lease.id,
    kind: lease.kind,
    site,
    where: taken.where,
    stack: described?.stack,
    heldMs: Math.round(heldMs),
    state: act?.state ?? (lease.watch === Watch.busy ? 'busy' : 'idle'),
    idleMs: Math.round(act?.idleMs ?? 0),
    transaction,
    waitMs: Math.round(lease.acquiredAt - lease.requestedAt),
    checkedOutAt: new Date(ctx.clock.wallTime(lease.acquiredAt)).toISOString(),
    connection: conn === undefined ? undefined : ctx.summary(conn, now),
    trace: lease.trace,
    message,
  });
}

/** What the holder of a reclaimed lease finds, as a clause (`the holder's queries on it fail with …`). */
export function afterReclaim(lease: Lease, words: GuardContext['words']): string {
  const fails = cutFails([lease.kind], words, true);
  const late = lateRelease([lease.kind], words);
  if (fails === null) return `it was destroyed under its holder${late === undefined ? '' : `, and ${late}`}`;
  return late === undefined ? fails : `${fails}; ${late}`;
}

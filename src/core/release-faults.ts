import type { GuardContext } from './context.js';
import { DirtyReleaseError, DoubleReleaseError } from './errors.js';
import { formatDuration } from './format.js';
import type { ConnectionRecord, Lease } from './ledger.js';
import { errorReason, markRetiring } from './recycle-policy.js';
import { describeCapture, type StackCapturer } from './stack.js';
import { takenBy } from './where-taken.js';
import type { DirtyReleaseReport, UnhandledErrorReport } from './types.js';
import { giveBackCall } from './words.js';

// What goes wrong around a release, told with both ends of the lease: a connection released inside
// a transaction (dirty), released twice (double), failing with nobody listening (unhandled), or a
// `use()` callback that can never release its resource.

/**
 * A connection released inside an open or failed transaction: recorded and reported with both
 * sites. Returns what the adapter must do and, for `destroy`, the error to destroy it with.
 * `capture`: captures the stack of the `release()` call above `above`.
 */
export function dirtyReleased(ctx: GuardContext, capture: StackCapturer, lease: Lease, transaction: 'open' | 'failed', above: Function): { action: 'destroy' | 'rollback'; error: DirtyReleaseError } {
  ctx.ledger.totals.dirtyReleases++;
  const action = ctx.config.dirtyRelease;
  if (action === 'destroy' && lease.conn !== undefined) markRetiring(lease.conn, 'dirty');
  const released = describeCapture(capture(above), ctx.sites);
  const taken = ctx.whereTaken(lease);
  const checkoutSite = taken.site;
  const pool = ctx.config.name;
  const state = transaction === 'open' ? 'an open transaction (BEGIN without COMMIT or ROLLBACK)' : 'a failed transaction that was never rolled back';
  const done = action === 'destroy' ? 'closed it instead of returning it to the pool' : 'rolled it back before returning it to the pool';
  const message =
    `poolguard[${pool}]: a ${ctx.words.lent} was released inside ${state} at ${released?.site ?? 'an unknown site'} ` +
    `(checked out at ${taken.where}); poolguard ${done}, so the next caller does not inherit it. ${dirtyFix(ctx, lease)}`;
  const conn = lease.conn;
  const report: DirtyReleaseReport = Object.freeze({
    pool,
    leaseId: lease.id,
    kind: lease.kind,
    transaction,
    action,
    checkoutSite,
    releaseSite: released?.site,
    releaseStack: released?.stack,
    connection: conn === undefined ? undefined : ctx.summary(conn, ctx.clock.now()),
    message,
  });
  ctx.log.write('warn', `dirty ${released?.site ?? 'unknown'}`, report, released?.stack ? `${message}\n${released.stack}` : message);
  ctx.emit('dirtyRelease', report);
  return { action, error: new DirtyReleaseError(message) };
}

/** What to do about a release inside a transaction, by what the lease was taken for. */
function dirtyFix(ctx: GuardContext, lease: Lease): string {
  const { words } = ctx;
  switch (lease.kind) {
    case 'query':
      // pool.query('BEGIN'): the pool gives the connection back as soon as that one statement ends.
      return `Run a transaction's statements on one ${words.lent} checked out for it, not through pool.query(), which gives its ${words.lent} back after each statement; commit or roll back on every path before ${words.releaseCall}.`;
    case 'statement':
      return `Run transactions through ${words.transactionCall}, which keeps their queries on one connection and commits or rolls back; a BEGIN sent as a query of its own leaves whichever connection ran it inside the transaction.`;
    default: {
      const call = giveBackCall(lease.kind, words);
      return call === undefined || lease.kind === 'transaction' ? 'Commit or roll back on every path.' : `Commit or roll back on every path before ${call}.`;
    }
  }
}

/** The error of a second `release()` of one lease; its message starts with the pool's own (`poolMessage`). */
export function doubleRelease(ctx: GuardContext, lease: Lease, poolMessage: string): DoubleReleaseError {
  const { config, clock } = ctx;
  ctx.ledger.totals.doubleReleases++;
  const taken = ctx.whereTaken(lease);
  const checkoutSite = taken.site;
  const first = describeCapture(lease.releaseCapture, ctx.sites);
  let detail: string;
  if (first?.site !== undefined) {
    detail = `The first release() was ${formatDuration(clock.now() - lease.releasedAt)} ago at ${first.site}.`;
  } else if (config.releaseStacks === 'auto') {
    detail = `The first release()'s site was not recorded, but poolguard now records release sites on this pool, so the next double release will name it.`;
  } else {
    detail = `Set guard.releaseStacks: 'always' to record where the first release() happened.`;
  }
  // A released lease keeps no checkout stack (see GuardCore.released) unless it was held long enough
  // to be formatted: then this error's own stack, the second release(), is the line to fix.
  const held = `${takenBy(lease, ctx.words.connectCall)} lease #${lease.id}${lease.conn === undefined ? '' : ` on connection #${lease.conn.id}`}, checked out ${formatDuration(clock.now() - lease.acquiredAt)} ago`;
  const where = lease.capture !== undefined ? ` at ${taken.where}` : ' (its checkout stack is dropped at release; the stack below is the second release())';
  const message = `${poolMessage} poolguard[${config.name}]: ${detail} The ${held}${where}. Release each ${ctx.words.lent} exactly once, in one finally block.`;
  return new DoubleReleaseError(message, config.name, checkoutSite, first?.site, first?.stack);
}

/**
 * A connection error nobody listened for. Returns `true` when it was reported (the adapter
 * swallows it) and `false` when the user asked for the library's behaviour (the adapter rethrows).
 */
export function unhandledError(ctx: GuardContext, record: ConnectionRecord | undefined, err: Error): boolean {
  if (record !== undefined) markRetiring(record, errorReason(err));
  if (ctx.config.unhandledErrors === 'throw') return false;
  // A dying connection often errors twice (the server's FATAL, then the closed socket): one report.
  if (record !== undefined) {
    if (record.errorReported) return true;
    record.errorReported = true;
  }
  ctx.ledger.totals.unhandledErrors++;
  const { library, Library, release } = ctx.words;
  const lease = record?.lease;
  const taken = lease === undefined ? undefined : ctx.whereTaken(lease);
  const site = taken?.site;
  const pool = ctx.config.name;
  const what = String(err?.message ?? err);
  const message = lease
    ? `poolguard[${pool}]: a checked-out connection failed (${what}) and its holder, which took it at ${taken?.where}, listens for no 'error' event. ` +
      `${Library} would have ended the process; poolguard kept it running. The holder's next query fails; ${release} as usual.`
    : `poolguard[${pool}]: an idle connection failed (${what}) and the pool has no 'error' listener. ${Library} would have ended the process; poolguard removed the connection and kept running. ` +
      `Add pool.on('error', …) to handle it yourself, or set guard.unhandledErrors: 'throw' for ${library}'s behaviour.`;
  const report: UnhandledErrorReport = Object.freeze({
    pool,
    error: err,
    leased: lease !== undefined,
    site,
    connection: record === undefined ? undefined : ctx.summary(record, ctx.clock.now()),
    message,
  });
  ctx.log.write('warn', `unhandled ${lease ? 'leased' : 'idle'} ${site ?? ''}`, { pool, error: what, code: (err as { code?: unknown }).code, leased: report.leased, site }, message);
  ctx.emit('unhandledError', report);
  return true;
}

/**
 * A `use()` callback threw before returning, or returned something that is not a promise: the pool
 * then never releases its resource. Says so, naming the `use()` call; the adapter destroys the
 * resource, as the pool does when the callback's promise rejects. `use()` leases capture no stack
 * by default (the pool releases them), so the stack is captured here, above `above` (the frame
 * that called the callback): V8's async stack reaches the line that awaits `use()`. An error path
 * pays for it, not every `use()`.
 */
export function useCallbackFailed(ctx: GuardContext, capture: StackCapturer, resource: unknown, what: string, above: Function): void {
  const library = ctx.words.library;
  const lease = ctx.hooks.recordOf?.(resource as object)?.lease;
  const captured = lease?.capture ?? capture(above);
  const taken = lease === undefined ? undefined : ctx.whereTaken(lease, captured);
  const where = taken?.where ?? 'an unknown site';
  const message =
    `poolguard[${ctx.config.name}]: a use() callback called at ${where} ${what} instead of returning a promise, so ${library} would have kept its resource checked out forever. ` +
    `poolguard destroyed the resource, as ${library} does when the callback's promise rejects (use() still rejects as ${library} makes it). Make the callback async, or return its promise.`;
  ctx.log.write('warn', `use ${where}`, { pool: ctx.config.name, leaseId: lease?.id, site: taken?.site }, message);
}

import { busyWords } from './activity.js';
import { ADAPTIVE_START_CHECKOUTS, unnamedExplicit, type CapturePolicy } from './capture-policy.js';
import type { GuardContext } from './context.js';
import { channels } from './diagnostics.js';
import { annotate, CheckoutTimeoutError } from './errors.js';
import { formatDuration, plural } from './format.js';
import type { Words } from './hooks.js';
import type { Lease } from './ledger.js';
import { describeCapture } from './stack.js';
import type { HolderGroup, LeaseKind } from './types.js';
import { holderGroups, type GroupKinds } from './views.js';
import { fixAtLines, giveBackCall, giveBackCalls, orAwaitUsing, releasedByHolder } from './words.js';

// A checkout that waited too long: poolguard says who holds the connections (by call site, idle or
// busy, in a transaction or not) and what to do, and gives the caller's own frames from the capture
// at checkout: the timer that fired knows nothing. A pool's own timeout error keeps its class, code
// and message: these go into its fields and its stack. poolguard's own (mysql2's acquire timeout)
// says them in its message.

/** What a timeout error says, and the caller's frames from the capture at checkout. */
export interface TimeoutDetails {
  /** The pool's message followed by `text`: poolguard's own error's message. */
  readonly message: string;
  /** What poolguard adds: who holds the connections, and what to do. */
  readonly text: string;
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
  const { groups: holders, busyBy, kinds } = holderGroups(ctx, now);
  const counts = ctx.counts();
  const waiting = Math.max(0, counts.waiting);
  let text = describeHolders(config.name, holders, ledger.leased, counts.max, waiting, busyWords(busyBy), ctx.words, kinds);
  // Explicit holders without a stack: the error cannot name their line, so it says how to get it.
  let unnamed = 0;
  for (const list of [ledger.suspects, ledger.open]) for (const l of list) if (unnamedExplicit(l)) unnamed++;
  const hint = unnamed > 0 ? noStackHint(ctx, capture, unnamed) : undefined;
  if (hint !== undefined) text += `\n${hint}`;
  if (channels.timeout.hasSubscribers) channels.timeout.publish({ pool: config.name, leaseId: lease.id, waitedMs: Math.round(now - lease.requestedAt), holders });
  return { message: `${poolMessage}\n${text}`, text, holders, waitedMs: now - lease.requestedAt, frames: describeCapture(lease.capture, ctx.sites)?.stack };
}

/**
 * The lines a timeout error adds after the pool's own message. `busyWords` says what "busy" was
 * read from for these holders (`a query in flight or a use() callback running`); `words`, in the
 * pool's own terms, how their holders give them back and where the server lists what its sessions
 * run; `kinds`, by site, what each group's holders hold (a transaction is ended by commit() or
 * rollback(), a client by release()).
 */
export function describeHolders(
  pool: string,
  holders: readonly HolderGroup[],
  total: number,
  max: number,
  waiting: number,
  busyWords: string,
  words: Words,
  kinds: ReadonlyMap<string, GroupKinds>,
): string {
  const lines = [
    `poolguard[${pool}]: ${total} of ${max} ${words.connection}s checked out, ${plural(waiting, 'other caller')} waiting.` +
      (holders.length ? ' Holders by call site:' : ` No lease is open: ${words.noLease}.`),
  ];
  const idleKinds = new Set<LeaseKind>();
  for (const h of holders) {
    const tx = h.inTransaction > 0 ? `, ${h.inTransaction} inside a transaction` : '';
    let verdict = '';
    if (h.idle > 0) {
      const idle = kinds.get(h.site)?.idle ?? new Set<LeaseKind>();
      for (const kind of idle) idleKinds.add(kind);
      const skipped = giveBackCalls(idle, words);
      verdict = ` ← ${plural(h.idle, 'lease')} with nothing in flight${skipped === undefined ? ", which the data layer gives back when their query ends" : `: look for a path that skips ${skipped}`}`;
    }
    const trace = h.trace ? ` (oldest from trace ${h.trace.traceId})` : '';
    lines.push(`  ${h.count} × ${h.site}: oldest held ${formatDuration(h.oldestHeldMs)}${trace}, ${h.idle} idle, ${h.busy} busy${tx}${verdict}`);
    if (h.hint !== undefined) lines.push(`    (${h.hint})`);
  }
  const details = `Details: err.holders, ${words.handle}.snapshot().`;
  const inTransaction = holders.filter((h) => h.inTransaction > 0);
  if (inTransaction.length) {
    // The cause that blocks more than this pool: the locks of an open transaction.
    const n = inTransaction.reduce((sum, h) => sum + h.inTransaction, 0);
    const txKinds = new Set<LeaseKind>();
    for (const h of inTransaction) for (const kind of kinds.get(h.site)?.inTransaction ?? []) txKinds.add(kind);
    const fixes: string[] = [];
    if (txKinds.has('transaction')) fixes.push('call commit() or rollback() on every path (try/finally) of the transactions begun there');
    const release = [...txKinds].map((k) => (releasedByHolder(k) ? giveBackCall(k, words) : undefined)).find((c) => c !== undefined);
    if (release !== undefined || fixes.length === 0) fixes.push(`add the missing COMMIT/ROLLBACK${release === undefined ? '' : ` and ${release} in a finally block${orAwaitUsing(words.awaitUsing)}`} there`);
    lines.push(
      `Next: ${plural(n, 'lease is', 'leases are')} inside a transaction (at ${inTransaction.map((h) => h.site).join(', ')}), which keeps its locks until COMMIT or ROLLBACK, so other sessions wait behind it: ` +
        `${fixes.join(', and ')}; guard.reclaimAfterMs recovers idle ones meanwhile. ${details}`,
    );
  } else if (holders.some((h) => h.idle > 0)) {
    const fix = fixAtLines(idleKinds, words);
    lines.push(
      fix === undefined
        ? `Next: the idle leases are the data layer's own queries, which it gives back when they end: find what keeps them open at the sites above. ${details}`
        : `Next: ${fix.charAt(0).toLowerCase()}${fix.slice(1)}${[...idleKinds].some(releasedByHolder) ? orAwaitUsing(words.awaitUsing) : ''} at the site with idle leases; guard.reclaimAfterMs recovers them meanwhile. ${details}`,
    );
  } else if (holders.length) {
    lines.push(
      `Next: every holder was busy (${busyWords}) when the wait timed out: ` +
        (words.sessions === undefined
          ? `find the slow work at the sites above before raising max, and raise max only if what the ${words.connection}s use has room. ${details}`
          : `find the slow work (${words.sessions}) before raising max, and raise max only if the server has room. ${details}`),
    );
  }
  return lines.join('\n');
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
        `${formatDuration(capture.adaptAfterMs)}, then every checkout: the next leak from the same line is reported with its stack (${ctx.words.handle}.on('leak'), the log). ` +
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
 * The pool's own timeout error (pg-pool's, generic-pool's `TimeoutError`, Knex's
 * `KnexTimeoutError`, Sequelize's `ConnectionAcquireTimeoutError`, tarn's), the same object with
 * its class, `code` and `message` unchanged: the holders go into its fields and, with `note`
 * (the pool is ending), into its stack before the caller's frames.
 */
export function annotateTimeout(pool: string, details: TimeoutDetails, err: Error, note?: string): Error {
  const { text, holders, waitedMs, frames } = details;
  return annotate(err, note === undefined ? text : `${text}\n${note}`, { pool, holders, waitedMs }, frames);
}

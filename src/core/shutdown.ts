import { probe, type Activity } from './activity.js';
import type { GuardContext } from './context.js';
import { formatDuration, plural } from './format.js';
import type { EndDeadline, LeakScan } from './leak-scan.js';
import type { Lease } from './ledger.js';
import type { EndLease, EndReport, LeakReport, LeaseSnapshot } from './types.js';
import { leaseSnapshot, snapshot } from './views.js';
import { afterReclaim } from './leak-report.js';
import { cutFails, fixAtLines, giveBackCall, lateRelease } from './words.js';

/** The longest `end()` waits before it says who holds it up. */
const END_REPORT_AFTER_MS = 1_000;

/** Leases named in an end report's text; the event carries them all. */
const END_LINES = 10;

/**
 * One line of an end report: where the lease was taken, how long ago, and what it is doing.
 * `touched`: whether its holder marked it active during the lease (read where the driver cannot tell).
 */
function describeEndLease(l: EndLease, touched: boolean, handle: string): string {
  const doing =
    l.kind === 'query'
      ? 'taken by pool.query(), which releases it when the query ends'
      : l.kind === 'statement' && l.inFlight !== false
        ? "taken by a data layer's query, which releases it when the query ends"
      : l.kind === 'use'
        ? 'taken by pool.use(), which releases it when the callback settles'
        : l.inFlight === true
          ? 'a query in flight'
          : l.inFlight === false
            ? `nothing in flight for ${formatDuration(l.idleMs)}`
            : touched
              ? `last touched ${formatDuration(l.idleMs)} ago (${handle}.touch())`
              : `never touched since its checkout ${formatDuration(l.heldMs)} ago (${handle}.touch(resource) marks activity)`;
  const transaction =
    l.transaction === 'open'
      ? ', inside an open transaction (BEGIN without COMMIT: its locks block other sessions)'
      : l.transaction === 'failed'
        ? ', inside a failed transaction never rolled back'
        : '';
  const exempt = l.exempt === undefined ? '' : `, exempt from leak reports (${l.exempt})`;
  return `  lease ${l.id} (${l.kind}) from ${l.where}: held ${formatDuration(l.heldMs)}, ${doing}${transaction}${exempt}`;
}

/**
 * The pool's end (`pool.end()`, `pool.drain()`, `knex.destroy()`…). A pool cannot finish ending
 * while a connection is checked out, and pg-pool waits for ever: if leases still hold it up a
 * moment later, who holds them is reported once (`endBlocked`), and at `guard.endTimeoutMs` they
 * are reclaimed through the leak scan's reclaim (`endForced`) so that the end finishes. Checkouts
 * refused meanwhile are told that the pool is ending.
 */
export class Shutdown {
  readonly #ctx: GuardContext;
  readonly #leaks: LeakScan;
  /** Clock readings of the pool's first `end()` call and of its completion. */
  #calledAt: number | undefined = undefined;
  #finishedAt: number | undefined = undefined;
  /** The call that ends the pool, as the adapter names it; set by `started` before any report. */
  #call = 'end()';
  readonly #timers: unknown[] = [];

  constructor(ctx: GuardContext, leaks: LeakScan) {
    this.#ctx = ctx;
    this.#leaks = leaks;
  }

  /** The pool's end was called (`call` names it); only the first call counts. */
  started(call: string): void {
    if (this.#calledAt !== undefined) return;
    const { clock, config } = this.#ctx;
    this.#calledAt = clock.now();
    this.#call = call;
    const deadline = config.endTimeoutMs;
    const reportAfter = deadline > 0 ? Math.min(END_REPORT_AFTER_MS, deadline / 2) : END_REPORT_AFTER_MS;
    const report = clock.setInterval(() => {
      clock.clearInterval(report);
      this.#blocked();
    }, reportAfter);
    this.#timers.push(report);
    // Repeating until the end finishes: generic-pool's drain() still serves its waiters, whose
    // leases, taken after the deadline, must not hold it up either.
    if (deadline > 0) this.#timers.push(clock.setInterval(() => this.#forced(), deadline));
    // Timers never hold the process open, except these while the end waits on a lease: with
    // nothing else left to run (a forgotten resource with no socket), the process would exit
    // before saying who held it up, and before the end finished at guard.endTimeoutMs.
    if (this.#ctx.ledger.leased > 0) this.#holdOpen(true);
  }

  #holdOpen(hold: boolean): void {
    for (const timer of this.#timers) this.#ctx.clock.holdOpen?.(timer, hold);
  }

  /** The pool finished ending: nothing is left to report or cut. */
  finished(): void {
    if (this.#calledAt === undefined || this.#finishedAt !== undefined) return;
    const clock = this.#ctx.clock;
    this.#finishedAt = clock.now();
    for (const timer of this.#timers.splice(0)) clock.clearInterval(timer);
  }

  /** What a checkout refused because the pool is ending is told, or `undefined` before `end()` (see `GuardCore.endingNote`). */
  endingNote(): string | undefined {
    const calledAt = this.#calledAt;
    if (calledAt === undefined) return undefined;
    const now = this.#ctx.clock.now();
    const call = this.#call;
    const finishedAt = this.#finishedAt;
    const state =
      finishedAt === undefined
        ? `the pool is ending (${call} was called ${formatDuration(now - calledAt)} ago)`
        : `the pool has ended (${call} was called ${formatDuration(now - calledAt)} ago and finished ${formatDuration(now - finishedAt)} ago)`;
    return `poolguard[${this.#ctx.config.name}]: ${state}; this checkout can no longer be served. Stop taking work (close the server, stop consumers and timers) before ending the pool.`;
  }

  /**
   * The pool's end closed the connection of a lease still held (mysql2 and mysql close every
   * connection at their end, lent or not): the lease is read now, while its site and activity
   * still are, for the one `endClosed` report of the leases closed at that moment. The caller then
   * ends the lease; a lease never comes back from a closed connection, so it is no leak.
   */
  closedUnderHolder(lease: Lease): void {
    const ctx = this.#ctx;
    if (this.#closed.length === 0) queueMicrotask(() => this.#reportClosed());
    this.#closed.push(this.#endLease(lease, leaseSnapshot(ctx, lease, ctx.clock.now())));
  }

  /** A held lease as the end reports list it: its snapshot with the query in flight, and its line. */
  #endLease(lease: Lease, leaseView: LeaseSnapshot): { listed: EndLease; line: string } {
    const conn = lease.conn;
    const listed: EndLease = Object.freeze({ ...leaseView, inFlight: conn === undefined ? undefined : probe(this.#ctx.hooks.inFlight, conn.resource) });
    return { listed, line: describeEndLease(listed, conn !== undefined && conn.lastActiveAt >= lease.acquiredAt, this.#ctx.words.handle) };
  }

  /** Leases whose connection the end closed under their holder, waiting for their report. */
  readonly #closed: Array<{ listed: EndLease; line: string }> = [];

  #reportClosed(): void {
    const closed = this.#closed.splice(0);
    if (closed.length === 0) return;
    const { words } = this.#ctx;
    const listed = closed.map((c) => c.listed);
    const kinds = listed.map((l) => l.kind);
    const one = listed.length === 1;
    const head =
      `${this.#call} closed ${plural(listed.length, `${words.connection}`)} still checked out, under ${one ? 'its holder' : 'their holders'}` +
      (words.closedAtEnd === undefined ? '' : ` (${words.closedAtEnd})`) +
      `: ${one ? 'its lease' : 'their leases'} ended with the pool, not given back. Held by:`;
    const fails = words.closedError === undefined ? '' : `${one ? "Its holder's next query on it fails" : "Their holders' next queries on them fail"} with ${words.closedError}; a late ${words.releaseCall} is harmless. `;
    const fix = fixAtLines(kinds, words);
    this.#report('endClosed', listed, closed.slice(0, END_LINES).map((c) => c.line), head, `${fails}${fix === undefined ? 'Stop' : `${fix} at the ${one ? 'line' : 'lines'} above, and stop`} taking work before ending the pool.`);
  }

  /** The leases still held, oldest first, as the end reports list them. */
  #heldAtEnd(): { leases: Lease[]; listed: EndLease[]; lines: string[] } {
    const ctx = this.#ctx;
    const byId = new Map<number, Lease>();
    for (const list of [ctx.ledger.suspects, ctx.ledger.open]) for (const lease of list) byId.set(lease.id, lease);
    if (byId.size === 0) return { leases: [], listed: [], lines: [] };
    const views = snapshot(ctx).leases;
    const leases = views.map((s) => byId.get(s.id)!);
    const held = views.map((s, i) => this.#endLease(leases[i]!, s));
    return { leases, listed: held.map((h) => h.listed), lines: held.slice(0, END_LINES).map((h) => h.line) };
  }

  #blocked(): void {
    const { listed, lines } = this.#heldAtEnd();
    if (listed.length === 0 || this.#finishedAt !== undefined) return;
    const ctx = this.#ctx;
    const { words } = ctx;
    const call = this.#call;
    const deadline = ctx.config.endTimeoutMs;
    const waiting = ctx.counts().waiting;
    const kinds = listed.map((l) => l.kind);
    const cut = cutFails(kinds, words, false);
    const next =
      deadline > 0
        ? `At ${formatDuration(deadline)} after the call (guard.endTimeoutMs) poolguard reclaims the ones still held so that ${call} finishes` +
          (cut === null ? ', destroying them under their holders.' : `; ${cut}.`)
        : `guard.endTimeoutMs is 0, so ${call} waits until they are given back, for ever if they never are: set guard.endTimeoutMs to end anyway.`;
    const head =
      `${call} has waited ${formatDuration(ctx.clock.now() - this.#calledAt!)} for ${plural(listed.length, `checked-out ${words.connection}`)}` +
      (waiting > 0 ? ` (and ${plural(waiting, 'caller')} waiting for one)` : '') +
      `, and cannot finish until ${listed.length === 1 ? 'it comes' : 'they come'} back. Held by:`;
    const fix = fixAtLines(kinds, words);
    this.#report('endBlocked', listed, lines, head, `${next} ${fix === undefined ? 'Stop' : `${fix} at the lines above, and stop`} taking work before ending the pool.`);
  }

  #forced(): void {
    const { leases, listed, lines } = this.#heldAtEnd();
    // Held while leases remain (a waiter served during drain() takes one); let go once none does.
    this.#holdOpen(leases.length > 0 && this.#finishedAt === undefined);
    if (leases.length === 0 || this.#finishedAt !== undefined) return;
    const ctx = this.#ctx;
    const now = ctx.clock.now();
    const end: EndDeadline = { call: this.#call, timeoutMs: ctx.config.endTimeoutMs };
    for (const lease of leases) this.#leaks.reclaim(lease, this.#reclaimReport(lease, now, ctx.activity(lease, now), end), end);
    const { words } = ctx;
    const head = `${end.call} reached guard.endTimeoutMs (${formatDuration(end.timeoutMs)}) with ${plural(listed.length, words.connection)} still checked out; poolguard reclaimed ${listed.length === 1 ? 'it' : 'them'} so that ${end.call} can finish:`;
    const kinds = listed.map((l) => l.kind);
    const cut = cutFails(kinds, words, false);
    const late = lateRelease(kinds, words);
    const found = [cut ?? 'they were destroyed under their holders', late].filter((p) => p !== undefined).join('; ');
    const fix = fixAtLines(kinds, words);
    this.#report('endForced', listed, lines, head, `${capitalise(found)}.${fix === undefined ? ' Stop taking work before ending the pool.' : ` ${fix} at the lines above.`}`);
  }

  #report(type: EndReport['type'], listed: EndLease[], lines: string[], head: string, next: string): void {
    const ctx = this.#ctx;
    // The leases of an endClosed report have ended: the snapshot no longer lists them.
    if (listed.length > END_LINES) lines.push(`  … and ${listed.length - END_LINES} more (report.leases${type === 'endClosed' ? '' : `, ${ctx.words.handle}.snapshot()`})`);
    const pool = ctx.config.name;
    const report: EndReport = Object.freeze({
      type,
      pool,
      call: this.#call,
      waitedMs: this.#calledAt === undefined ? 0 : Math.round(ctx.clock.now() - this.#calledAt),
      endTimeoutMs: ctx.config.endTimeoutMs,
      leases: Object.freeze(listed),
      message: `poolguard[${pool}]: ${head}\n${lines.join('\n')}\n${next}`,
    });
    ctx.log.write('warn', type, report, report.message, true);
    ctx.emit(type, report);
  }

  /** A lease cut at the end deadline: the `reclaim` report, with what happened in its words. */
  #reclaimReport(lease: Lease, now: number, act: Activity, end: EndDeadline): LeakReport {
    const report = this.#leaks.report('reclaim', lease, now, act);
    const words = this.#ctx.words;
    const call = giveBackCall(lease.kind, words);
    const message =
      `poolguard[${report.pool}]: reclaimed a ${words.connection} checked out at ${report.where}: still held ${formatDuration(report.heldMs)} ` +
      `when ${end.call} reached guard.endTimeoutMs (${formatDuration(end.timeoutMs)}). ${capitalise(afterReclaim(lease, words))}.${call === undefined ? '' : ` Fix the missing ${call} at that line.`}`;
    return Object.freeze({ ...report, message: report.stack ? `${message}\n${report.stack}` : message });
  }
}

const capitalise = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

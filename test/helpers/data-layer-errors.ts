import { describe, expect, it } from 'vitest';
import type { EndReport, LeakReport, PoolGuard } from '../../src/index.js';
import { caught, expectPoolguardLines, expectSameDriverError } from './driver-errors.js';

/** One Knex or Sequelize instance as these suites use it, with a pool of `max` and an acquire timeout. */
export interface DataLayer<T> {
  readonly guard: PoolGuard | undefined;
  /** A transaction begun and left open, which holds a connection. */
  begin(): Promise<T>;
  commit(t: T): Promise<unknown>;
  rollback(t: T): Promise<unknown>;
  /** A statement run in `t` (so that its session has been used). */
  inTransaction(t: T): Promise<unknown>;
  /** The callback form of a transaction: `body` runs inside it. */
  transaction(body: (t: T) => Promise<void>): Promise<unknown>;
  query(): Promise<unknown>;
  /** A query of a table that does not exist: the driver's error. */
  badQuery(): Promise<unknown>;
  /** The data layer's end (`knex.destroy()`, `sequelize.close()`). */
  end(): Promise<unknown>;
  /** Sets the pool's acquire timeout on the live instance (its pool reads it at each acquire). */
  acquireTimeout(ms: number): void;
}

export interface DataLayerSubject<T, L extends DataLayer<T> = DataLayer<T>> {
  /** `Knex`, `Sequelize`. */
  readonly name: string;
  /** How the end is called, for the tests' names. */
  readonly endCall: string;
  readonly dialects: readonly string[];
  /** The guard's name on guarded instances. */
  readonly guardName: string;
  /** A plain instance, or one guarded (named `guardName`); `acquireMs`: its acquire timeout (30 s unless set: the bound covers a cold connect, which a loaded machine can make slow; a test that times a wait sets a short one on the live pool with `acquireTimeout`). */
  make(dialect: string, guarded: boolean, pool?: { max?: number; acquireMs?: number }): L;
  /** The ways a caller asks for a connection, each run to completion. */
  readonly forms: Record<string, (layer: L) => Promise<unknown>>;
  /** The library's own timeout error. */
  readonly timeout: { readonly name: string; readonly message: string };
  /** The driver's code for the missing table, by dialect. */
  readonly missingTableCode?: (dialect: string) => unknown;
}

/**
 * The data layer's own errors reach the caller of a guarded instance as the library raised them
 * (class, name, code, message and fields), on each dialect against its real server; and a
 * transaction that ends while the data layer ends ends its lease.
 */
export function dataLayerErrorSuites<T, L extends DataLayer<T>>(subject: DataLayerSubject<T, L>, testFile: string): void {
  const { forms, endCall } = subject;
  const formNames = Object.keys(forms);

  describe.each(subject.dialects)(`${subject.name}'s own errors pass through a guarded ${subject.name} unchanged (%s, real server)`, (dialect) => {
    const timedOut = async (guarded: boolean, form: string) => {
      // The holder's connection is opened under the generous default bound; only the wait is timed.
      const layer = subject.make(dialect, guarded);
      const held = await layer.begin();
      layer.acquireTimeout(300);
      const err = await caught(() => forms[form]!(layer));
      await layer.commit(held);
      return err;
    };
    const afterEnd = async (guarded: boolean, form: string) => {
      const layer = subject.make(dialect, guarded);
      await layer.query();
      await layer.end();
      return caught(() => forms[form]!(layer));
    };
    const duringEnd = async (guarded: boolean, form: string) => {
      const layer = subject.make(dialect, guarded, { max: 2 });
      const held = await layer.begin();
      // A call during the end waits for the pool's acquire timeout (Knex) or fails at once: timed short.
      layer.acquireTimeout(300);
      const ending = layer.end();
      const err = await caught(() => forms[form]!(layer));
      await layer.commit(held);
      await ending;
      return err;
    };

    it.each(formNames)(`timeout, %s: ${subject.timeout.name} with its message and fields; the holders in fields and in the stack`, async (form) => {
      const mine = await timedOut(true, form);
      expectSameDriverError(mine, await timedOut(false, form));
      expect(mine.name).toBe(subject.timeout.name);
      expect(mine.message).toBe(subject.timeout.message);
      expect(mine.holders).toEqual([expect.objectContaining({ count: 1, idle: 1, inTransaction: 1 })]);
      expect(mine.holders![0]!.site).toContain(testFile);
      expectPoolguardLines(mine, new RegExp(`^poolguard\\[${subject.guardName}\\]: 1 of 1 connections checked out`), /\nNext: /);
    });

    it.each(formNames)(`after ${endCall}, %s: ${subject.name}'s own error, unchanged`, async (form) => {
      expectSameDriverError(await afterEnd(true, form), await afterEnd(false, form));
    });

    it.each(formNames)(`during ${endCall}, %s: the same error as plain ${subject.name}`, async (form) => {
      expectSameDriverError(await duringEnd(true, form), await duringEnd(false, form));
    });

    it(`a caller queued when ${endCall} is called: the same outcome as plain ${subject.name}`, async () => {
      const run = async (guarded: boolean) => {
        const layer = subject.make(dialect, guarded, { acquireMs: 60_000 });
        const held = await layer.begin();
        const waiter = layer.query().then(
          () => undefined,
          (err: unknown) => err,
        );
        await new Promise((r) => setTimeout(r, 20));
        const ending = layer.end();
        await layer.commit(held);
        const outcome = await waiter;
        await ending;
        return outcome;
      };
      const mine = await run(true);
      const theirs = await run(false);
      if (theirs === undefined) expect(mine).toBeUndefined();
      else expectSameDriverError(mine, theirs);
    });

    it("a query error is the driver's, unchanged", async () => {
      const mine = await caught(() => subject.make(dialect, true).badQuery());
      expectSameDriverError(mine, await caught(() => subject.make(dialect, false).badQuery()));
      if (subject.missingTableCode !== undefined) expect(mine.code).toBe(subject.missingTableCode(dialect));
    });
  });

  describe.each(subject.dialects)(`a transaction that ends during ${endCall} ends its lease (%s, real server)`, (dialect) => {
    it.each(['commit', 'rollback'] as const)(`%s() while ${endCall} waits: no leak report, no endForced, no lease in the final snapshot`, async (how) => {
      const layer = subject.make(dialect, true);
      const guard = layer.guard!;
      const seen: Array<LeakReport | EndReport> = [];
      for (const type of ['leak', 'reclaim', 'endForced'] as const) guard.on(type, (r: LeakReport | EndReport) => seen.push(r));
      const t = await layer.begin();
      await layer.inTransaction(t);
      const ending = layer.end();
      expect(guard.snapshot().leases).toHaveLength(1);
      await layer[how](t);
      expect(guard.snapshot().leases).toEqual([]);
      await ending;
      const final = guard.snapshot();
      expect(final.leases).toEqual([]);
      expect(final.counts.total).toBe(0);
      expect(seen).toEqual([]);
    });

    it(`a transaction callback that settles during ${endCall}: its lease ends`, async () => {
      const layer = subject.make(dialect, true);
      let finish!: () => void;
      const started = new Promise<void>((ready) => {
        void layer.transaction(async (t) => {
          await layer.inTransaction(t);
          ready();
          await new Promise<void>((resolve) => (finish = resolve));
        });
      });
      await started;
      const ending = layer.end();
      finish();
      await ending;
      expect(layer.guard!.snapshot().leases).toEqual([]);
      expect(layer.guard!.snapshot().totals.reclaims).toBe(0);
    });
  });
}

import plainPostgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { sql as drizzleSql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import postgres, { guard, type LeakReport } from '../../src/postgres.js';
import { DATABASE_URL, until } from '../helpers/db.js';
import { guardedSql, plainSql, POSTGRES_JS_MAJOR } from '../helpers/postgres.js';

describe('poolguard/postgres is a drop-in for postgres.js', () => {
  it("carries postgres.js's helpers and returns postgres.js's own sql, whose properties and helpers all work", async () => {
    for (const key of Object.keys(plainPostgres)) expect((postgres as unknown as Record<string, unknown>)[key]).toBe((plainPostgres as unknown as Record<string, unknown>)[key]);
    const sql = guardedSql({ transform: postgres.camel });
    expect(typeof sql).toBe('function');
    expect(sql.options.max).toBe(2);
    expect(sql.PostgresError).toBe(plainPostgres.PostgresError);
    const rows = await sql`select ${sql.json({ a: 1 })}::jsonb as snake_case, ${'pg_class'}::regclass::text as name`;
    expect(rows[0]).toEqual({ snakeCase: { a: 1 }, name: 'pg_class' });
    await sql`create temp table if not exists poolguard_drop_in (id int, name text)`;
    const [inserted] = await sql.begin((tx) => tx`insert into poolguard_drop_in ${tx({ id: 1, name: 'a' })} returning *`);
    expect(inserted).toEqual({ id: 1, name: 'a' });
    expect(await sql.unsafe('select $1::int as n', [5])).toEqual([{ n: 5 }]);
    expect(sql.guard.snapshot().counts.leased).toBe(0);
  });

  it('guard(sql) wraps a pool created elsewhere, once; a second call returns the same handle', async () => {
    const sql = plainSql({ max: 2 });
    const lines: string[] = [];
    const first = guard(sql, { logger: { warn: (_o: unknown, m: string) => lines.push(m), info: () => {} }, leakThresholdMs: 60 });
    expect(guard(sql)).toBe(first);
    expect(guard(sql, { leakThresholdMs: 99 })).toBe(first);
    expect((sql as unknown as { guard: unknown }).guard).toBe(first);
    const leaks: LeakReport[] = [];
    first.on('leak', (r) => leaks.push(r));
    const reserved = await sql.reserve();
    await until(() => leaks.length > 0, 'a leak report');
    expect(leaks[0]!.site).toMatch(/^test\/postgres\/drop-in\.test\.ts:\d+:\d+$/);
    reserved.release();
  });

  it('refuses what it cannot guard, and the options postgres.js owns, naming what to use', () => {
    expect(() => guard({} as never)).toThrow(/guard\(sql\) needs a postgres\.js sql \(3\.4 or 4\) for 'poolguard\/postgres', got an object/);
    expect(() => postgres(DATABASE_URL, { guard: { maxLifetimeMs: 1000 } })).toThrow("guard.maxLifetimeMs is not available for a postgres.js pool, got 1000: use postgres.js's max_lifetime (seconds)");
    expect(() => postgres(DATABASE_URL, { guard: { auditOnStart: true } })).toThrow(/guard\.auditOnStart is not available/);
    expect(() => postgres(DATABASE_URL, { guard: { leakThresholdMs: -1 } })).toThrow(/guard\.leakThresholdMs/);
  });

  it.runIf(POSTGRES_JS_MAJOR === 4)('postgres.js 4: guard.acquireTimeoutMs is its queue_timeout; a waiting reserve() or begin() keeps its cancel() and signal()', async () => {
    expect(guardedSql({ guard: { acquireTimeoutMs: 1500 } }).options).toMatchObject({ queue_timeout: 1.5 });
    expect(guardedSql({ queue_timeout: 2 } as never).options).toMatchObject({ queue_timeout: 2 });
    expect(() => guardedSql({ queue_timeout: 2, guard: { acquireTimeoutMs: 1500 } } as never)).toThrow(
      "guard.acquireTimeoutMs (1500 ms) differs from postgres.js's own queue_timeout (2 s) on this pool",
    );
    const sql = guardedSql({ max: 1 });
    const held = await sql.reserve();
    const waiting = sql.reserve() as Promise<unknown> & { cancel(): unknown };
    const tx = sql.begin(async () => 'ran') as Promise<unknown> & { signal(s: AbortSignal): Promise<unknown> };
    const abort = new AbortController();
    expect(tx.signal(abort.signal)).toBe(tx);
    waiting.cancel();
    abort.abort();
    // postgres.js's own errors for a withdrawn wait.
    await expect(waiting).rejects.toMatchObject({ code: '57014', message: '57014: canceling the reserve waiting for a connection due to user request' });
    await expect(tx).rejects.toMatchObject({ code: '57014', message: '57014: canceling the transaction waiting for a connection due to user request' });
    expect(sql.guard.snapshot().counts).toMatchObject({ leased: 1, waiting: 0 });
    held.release();
    expect(sql.guard.snapshot().counts.leased).toBe(0);
  });

  it("Drizzle on a guarded postgres.js: its transactions are leases at the application's line", async () => {
    const sql = guardedSql({ guard: { leakThresholdMs: 60, idleAfterMs: 20 } });
    const db = drizzle(sql);
    expect(await db.execute(drizzleSql`select 1 as one`)).toEqual([{ one: 1 }]);
    const leaks: LeakReport[] = [];
    sql.guard.on('leak', (r) => leaks.push(r));
    let finish!: () => void;
    const done = db.transaction(async (tx) => {
      await tx.execute(drizzleSql`select 1`);
      await new Promise<void>((resolve) => (finish = resolve));
    });
    await until(() => leaks.length > 0, 'a leak report');
    expect(leaks[0]!.kind).toBe('transaction');
    expect(leaks[0]!.transaction).toBe('open');
    expect(leaks[0]!.site).toMatch(/^test\/postgres\/drop-in\.test\.ts:\d+:\d+$/);
    finish();
    await done;
    expect(sql.guard.snapshot().counts.leased).toBe(0);
  });
});

import plainPostgres from 'postgres';
import { describe, expect, it } from 'vitest';
import postgres from '../../src/postgres.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { beginAndHang, reserveAndForget } from '../fixtures/postgres-leaky.mjs';
import { sleep, until, urlWithPassword } from '../helpers/db.js';
import { guardedSql, plainSql, POSTGRES_JS_MAJOR, terminateBackend, uncaught } from '../helpers/postgres.js';

/** What the query in flight on a connection the server ended gets: 4 passes on the server's FATAL (57P01). */
const KILLED = POSTGRES_JS_MAJOR === 4 ? { code: '57P01', severity: 'FATAL' } : { code: 'CONNECTION_CLOSED' };

describe('postgres.js: the server ends a lent connection', () => {
  it.runIf(POSTGRES_JS_MAJOR === 3)('plain postgres.js 3.4.9: a query on a reserved connection the server closed throws from a timer, where nobody can catch it', async () => {
    const sql = plainSql({ max: 2 });
    const thrown = await uncaught(async () => {
      const reserved = await sql.reserve();
      const [{ pid }] = (await reserved<{ pid: number }[]>`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
      await terminateBackend(pid);
      await sleep(100);
      reserved`select 1`.catch(() => {});
      await sleep(50);
    });
    expect(thrown.map((e) => e.message)).toContain("Cannot read properties of null (reading 'write')");
  });

  it('idle: the holder\'s next query fails with postgres.js\'s CONNECTION_CLOSED, nothing is thrown, release() is harmless, the pool goes on', async () => {
    const sql = guardedSql();
    const closed: unknown[] = [];
    const thrown = await uncaught(async () => {
      const reserved = await reserveAndForget(sql);
      const [{ pid }] = await reserved`select pg_backend_pid() as pid`;
      await terminateBackend(pid);
      await until(() => sql.guard.snapshot().connections.every((c) => c.pid !== pid), 'the close to be seen');
      await reserved`select 1`.catch((e: unknown) => closed.push(e));
      reserved.release();
      const rows = await Promise.all([sql`select 1 as ok`, sql`select 2 as ok`, sql`select 3 as ok`]);
      expect(rows.map((r) => r[0]!.ok)).toEqual([1, 2, 3]);
    });
    expect(thrown).toEqual([]);
    expect(closed[0]).toBeInstanceOf(Error);
    expect(closed[0]).toMatchObject({ code: 'CONNECTION_CLOSED', message: 'write CONNECTION_CLOSED 127.0.0.1:5432' });
    expect(sql.guard.snapshot().counts.leased).toBe(0);
  });

  it('busy: the query in flight gets postgres.js\'s own error, the lease is released, the next reserve() works', async () => {
    const sql = guardedSql();
    const thrown = await uncaught(async () => {
      const reserved = await reserveAndForget(sql);
      const [{ pid }] = await reserved`select pg_backend_pid() as pid`;
      const sleeping = reserved`select pg_sleep(5)`.then(
        () => undefined,
        (e: unknown) => e,
      );
      await until(() => sql.guard.snapshot().leases[0]?.state === 'busy', 'the sleep to be in flight');
      await terminateBackend(pid);
      const err = await sleeping;
      expect(err).toMatchObject(KILLED);
      await expect(reserved`select 1`).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
      reserved.release();
      const again = await sql.reserve();
      // postgres.js 3.4.9 keeps the server's FATAL from the killed query and hands it to the
      // query that reopens the connection: that one error is postgres.js's own, passed through.
      const first = await again`select 1 as ok`.catch((e: { code?: string }) => e.code);
      expect([1, '57P01']).toContain(Array.isArray(first) ? first[0]!.ok : first);
      expect((await again`select 2 as ok`)[0]!.ok).toBe(2);
      again.release();
    });
    expect(thrown).toEqual([]);
    expect(sql.guard.snapshot().totals.retired.error).toBe(1);
  });

  it("a reserve() waiting when a connection closes is served (plain postgres.js 3.4.9 loses it for good, 4 serves it)", async () => {
    const race = (p: Promise<unknown>) => Promise.race([p.then(() => 'granted'), sleep(700).then(() => 'still waiting')]);
    for (const [sql, expected] of [
      [plainSql({ max: 1 }), POSTGRES_JS_MAJOR === 3 ? 'still waiting' : 'granted'],
      [guardedSql({ max: 1 }), 'granted'],
    ] as const) {
      const holder = await sql.reserve();
      const [{ pid }] = (await holder<{ pid: number }[]>`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
      const waiting = sql.reserve();
      await sleep(50);
      await terminateBackend(pid);
      expect(await race(waiting)).toBe(expected);
    }
  });

  it('a transaction whose connection the server ends rejects with postgres.js\'s error, and its scope refuses later queries', async () => {
    const sql = guardedSql();
    const { entered, settled } = beginAndHang(sql, (tx: any) => tx`select 1`);
    const tx = await entered;
    const pid = sql.guard.snapshot().connections.find((c) => c.state === 'leased')!.pid!;
    await terminateBackend(pid);
    await expect(settled).rejects.toMatchObject(KILLED);
    await expect(tx`select 1`).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    expect(sql.guard.snapshot().counts.leased).toBe(0);
  });
});

describe('postgres.js: what the driver says stays the driver\'s', () => {
  it('a server error keeps postgres.js\'s class, code, message and fields', async () => {
    const plain = plainSql();
    const sql = guardedSql();
    const fail = (s: any) => s`select * from no_such_table_here`.catch((e: Error) => e);
    const [a, b] = [await fail(plain), await fail(sql)];
    expect(b).toBeInstanceOf(plain.PostgresError);
    expect(b.constructor).toBe(a.constructor);
    for (const key of ['name', 'message', 'code', 'severity', 'routine', 'position']) expect(b[key]).toBe(a[key]);
    expect(Object.keys(b)).toEqual(Object.keys(a));
    const reserved = await sql.reserve();
    const c = await fail(reserved);
    expect([c.constructor, c.code, c.message]).toEqual([a.constructor, a.code, a.message]);
    reserved.release();
  });

  it('postgres.js\'s own client-side errors pass through unchanged (an undefined parameter, a pool that has ended)', async () => {
    const plain = plainSql();
    const sql = guardedSql();
    const undef = (s: any) => s`select ${undefined} as x`.catch((e: Error) => e);
    const [a, b] = [await undef(plain), await undef(sql)];
    expect([b.constructor, b.code, b.message]).toEqual([a.constructor, a.code, a.message]);
    await plain.end();
    await sql.end();
    const ended = (s: any) => s`select 1`.catch((e: Error) => e);
    const [c, d] = [await ended(plain), await ended(sql)];
    expect([d.constructor, d.code, d.message]).toEqual([c.constructor, c.code, c.message]);
  });

  it('the default name is host:port/database, never the user or the password', () => {
    const secret = 's3cr3t/pa?ss#word';
    const sql = guardedSql({ password: secret });
    expect(sql.guard.name).toBe('127.0.0.1:5432/test');
    const url = urlWithPassword('hunter2-secret');
    const named = postgres(url, { max: 1, guard: { logger: false } });
    const text = JSON.stringify({ name: named.guard.name, snapshot: named.guard.snapshot(), options: named.guard.resolvedOptions });
    expect(named.guard.name).toBe('127.0.0.1:5432/test');
    expect(text).not.toContain('hunter2');
    // A '#' in the password makes postgres.js's own URL parse take the user for the host and part
    // of the password for the port; the name is read from the text instead.
    const hostile = postgres('postgres://appuser:12#secret@db.internal:6543/orders', { max: 1, guard: { logger: false } });
    expect(hostile.guard.name).toBe('db.internal:6543/orders');
    void named.end({ timeout: 0 });
    void hostile.end({ timeout: 0 });
  });

  it('guard(sql) names the pool from postgres.js\'s parsed options without the user', async () => {
    const { guard } = await import('../../src/postgres.js');
    const plain = plainSql();
    expect(guard(plain as any, { logger: false }).name).toBe('127.0.0.1:5432/test');
    // No database given: postgres.js connects to the user's own database, named after the user.
    const byUser = plainPostgres({ host: '127.0.0.1', port: 5432, user: 'postgres', max: 1 });
    expect(guard(byUser as any, { logger: false }).name).toBe('127.0.0.1:5432/(default)');
    await byUser.end();
  });
});

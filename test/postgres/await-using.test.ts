import { describe, expect, it } from 'vitest';
import { ASYNC_DISPOSE, DISPOSE } from '../../src/adapters/disposal.js';
import { guardedSql } from '../helpers/postgres.js';

// What `await using reserved = await sql.reserve()` calls at the end of its scope, called here by
// hand so that the test runs on every Node line (the syntax itself is tested for pg's clients).
describe('poolguard/postgres: a reserved connection disposes by releasing', () => {
  it('an async disposal releases the lease; the connection serves the next reserve()', async () => {
    const sql = guardedSql({ max: 1 });
    try {
      const reserved = await sql.reserve();
      const pid = (await reserved`select pg_backend_pid() as pid`)[0]!.pid;
      await (reserved as unknown as Record<symbol, () => Promise<void>>)[ASYNC_DISPOSE]!();
      expect(sql.guard.snapshot().counts.leased).toBe(0);
      const next = await sql.reserve();
      expect((await next`select pg_backend_pid() as pid`)[0]!.pid).toBe(pid);
      (next as unknown as Record<symbol, () => void>)[DISPOSE]!();
      expect(sql.guard.snapshot().counts.leased).toBe(0);
      expect(sql.guard.snapshot().totals).toMatchObject({ checkouts: 2, doubleReleases: 0 });
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it('a disposal after release() by hand is no double release, and a late one leaves the next holder alone', async () => {
    const sql = guardedSql({ max: 1 });
    try {
      const first = await sql.reserve();
      const dispose = (first as unknown as Record<symbol, () => Promise<void>>)[ASYNC_DISPOSE]!;
      first.release();
      const second = await sql.reserve();
      await dispose();
      expect(sql.guard.snapshot().counts.leased).toBe(1);
      expect(sql.guard.snapshot().totals.doubleReleases).toBe(0);
      second.release();
      expect(sql.guard.snapshot().counts.leased).toBe(0);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});

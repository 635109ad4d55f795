import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LeakReport } from '../../src/generic-pool.js';
import { memoryPool } from '../helpers/factories.js';

let pools = 0;

function guardedThings(guard: Record<string, unknown> = {}) {
  const lines: string[] = [];
  // A name per pool: two live pools sharing one would add the shared-name warning to the lines.
  const name = `use-callback-${++pools}`;
  const { pool, created } = memoryPool({ max: 1, guard: { name, logger: { warn: (_o: object, msg: string) => lines.push(msg) }, ...guard } });
  return { pool, created, lines };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('a use() callback that never gives generic-pool a promise', () => {
  it('throws synchronously: use() rejects with its error, and the resource is destroyed instead of held (busy) forever', async () => {
    const { pool, created, lines } = guardedThings();
    await expect(
      pool.use(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await vi.waitFor(() => expect(created[0]!.destroyed).toBe(true));
    expect(pool.borrowed).toBe(0);
    expect(pool.guard.snapshot().leases).toEqual([]);
    expect(pool.guard.snapshot().totals.retired.error).toBe(1);
    expect(lines).toEqual([expect.stringContaining('a use() callback called at an unknown site')]);
    expect(lines[0]).toContain('threw synchronously (boom) instead of returning a promise, so generic-pool would have kept its resource checked out forever. poolguard destroyed the resource');
    // The pool still serves, with a new resource.
    expect(await pool.use(async (t) => t.id)).toBe(2);
  });

  it('returns a value that is not a promise: use() rejects as generic-pool makes it, and the resource is destroyed', async () => {
    const { pool, created, lines } = guardedThings();
    await expect(pool.use((() => 42) as never)).rejects.toThrow(TypeError);
    await vi.waitFor(() => expect(created[0]!.destroyed).toBe(true));
    expect(pool.borrowed).toBe(0);
    expect(lines[0]).toContain('returned a number instead of returning a promise');
  });

  it('a callback still running is busy, with words about use(), never queries', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance', 'Date'] });
    const { pool } = guardedThings({ leakThresholdMs: 1_000, captureStacks: 'all' });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    const running = pool.use((t) => new Promise((resolve) => setTimeout(() => resolve(t.id), 2_000)));
    await vi.advanceTimersByTimeAsync(1_300);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]).toMatchObject({ kind: 'use', state: 'busy' });
    expect(leaks[0]!.message).toContain("with its use() callback still running (generic-pool releases the resource when the callback's promise settles)");
    expect(leaks[0]!.message).not.toMatch(/query/);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await running).toBe(1);
  });

  it('an acquired resource poolguard cannot read is idle until touched, and the report says so without speaking of queries', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance', 'Date'] });
    const { pool } = guardedThings({ leakThresholdMs: 1_000 });
    const leaks: LeakReport[] = [];
    pool.guard.on('leak', (r) => leaks.push(r));
    const thing = await pool.acquire();
    await vi.advanceTimersByTimeAsync(1_300);
    expect(leaks[0]).toMatchObject({ kind: 'acquire', state: 'idle' });
    expect(leaks[0]!.message).toContain('possible connection leak: a resource checked out at');
    expect(leaks[0]!.message).toContain('and has not been touched since checkout');
    expect(leaks[0]!.message).not.toMatch(/query/);
    await pool.release(thing);
  });
});

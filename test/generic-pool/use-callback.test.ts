import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LeakReport } from '../../src/generic-pool.js';
import { memoryPool } from '../helpers/factories.js';
import { siteMatchers } from '../helpers/sites.js';

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
    // The site is the statement that awaits use(): V8's async stack names the await.
    await expect( // SITE:use-in-expect
      pool.use(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await vi.waitFor(() => expect(created[0]!.destroyed).toBe(true));
    expect(pool.borrowed).toBe(0);
    expect(pool.guard.snapshot().leases).toEqual([]);
    expect(pool.guard.snapshot().totals.retired.error).toBe(1);
    expect(lines).toHaveLength(1);
    expect(/ a use\(\) callback called at (\S+) /.exec(lines[0]!)?.[1]).toMatch(siteMatchers('test/generic-pool/use-callback.test.ts')('use-in-expect'));
    expect(lines[0]).toContain('threw synchronously (boom) instead of returning a promise, so generic-pool would have kept its resource checked out forever. poolguard destroyed the resource');
    // The pool still serves, with a new resource.
    expect(await pool.use(async (t) => t.id)).toBe(2);
  });

  it('the line names the use() call with the default settings: a stack captured when the callback fails', async () => {
    const site = siteMatchers('test/generic-pool/use-callback.test.ts');
    const { pool, lines } = guardedThings();
    const thrown = await pool.use(() => { throw new Error('boom'); }).then(() => undefined, (e: Error) => e); // SITE:use-throws
    expect(thrown?.message).toBe('boom');
    const returned = await pool.use((() => 42) as never).then(() => undefined, (e: Error) => e); // SITE:use-returns
    expect(returned).toBeInstanceOf(TypeError);
    expect(lines).toHaveLength(2);
    const named = lines.map((line) => /^poolguard\[[^\]]+\]: a use\(\) callback called at (\S+) /.exec(line)?.[1]);
    expect(named[0]).toMatch(site('use-throws'));
    expect(named[1]).toMatch(site('use-returns'));
  });

  it('a use() whose promise nothing awaits: the line says where the stack ends instead of guessing', async () => {
    const { pool, lines } = guardedThings();
    const settled = new Promise((resolve) => {
      void pool.use(() => { throw new Error('boom'); }).catch(resolve);
    });
    await settled;
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/a use\(\) callback called at an unknown site threw synchronously \(boom\)/);
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
    expect(leaks[0]!.message).toContain('possible resource leak: a resource checked out at');
    expect(leaks[0]!.message).toContain('and has not been touched since checkout');
    expect(leaks[0]!.message).not.toMatch(/query/);
    await pool.release(thing);
  });
});

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers/build.js';
import { DATABASE_URL } from '../helpers/db.js';

/**
 * Issue 20: a lease released properly must not keep its caller's objects alive. Measured in a child
 * process (--expose-gc, heap after collections until it stops shrinking) against the real server: 50
 * request scopes of about 100 KB each check out, query and release in try/finally on a pool of 10; the
 * heap retained over a baseline taken after a round of tiny scopes, median of five rounds, is compared
 * with bare pg.Pool's. A pool that kept its last callers reads about 1 MB in every round.
 */
interface Retention {
  variant: string;
  retainedBytes: number;
  connections: number;
  alive: number;
}

function measure(variant: string): Retention {
  const run = spawnSync(process.execPath, ['--expose-gc', 'test/fixtures/retention.mjs', variant], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL },
    timeout: 30_000,
  });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Retention;
}

// A few KB per connection: a lease record and the release closure pg's idle client keeps.
const PER_CONNECTION = 4_096;

/** The bare pool's figure as the baseline, never below 0, so that a bare run reading a few KB low cannot make the guarded run's 0 look like a retention. */
const baseline = (r: Retention) => Math.max(0, r.retainedBytes);


describe('memory retained after proper releases (child process, --expose-gc)', () => {
  it('pg: with defaults, release stacks on, or stacks off, no request scope survives and the heap stays within a few KB per connection of bare pg.Pool', () => {
    const bare = measure('pg-bare');
    expect(bare.connections).toBe(10);
    expect(bare.alive).toBe(0);
    for (const variant of ['pg-guard', 'pg-release-stacks', 'pg-stacks-off']) {
      const guarded = measure(variant);
      expect(guarded.connections, variant).toBe(10);
      // Before the fix each idle client kept its last lease's capture, and so its 100 KB scope: 10 alive, ~1 MB.
      expect(guarded.alive, variant).toBe(0);
      expect(guarded.retainedBytes - baseline(bare), variant).toBeLessThan(guarded.connections * PER_CONNECTION);
    }
  }, 120_000);

  it('generic-pool: no request scope survives its release, and the heap stays within a few KB per resource of bare generic-pool', () => {
    const bare = measure('gp-bare');
    const guarded = measure('gp-guard');
    expect(guarded.connections).toBe(10);
    expect(guarded.alive).toBe(0);
    expect(guarded.retainedBytes - baseline(bare)).toBeLessThan(guarded.connections * PER_CONNECTION);
  }, 60_000);

  it('a reported lease that is never released keeps its formatted stack, not its caller (pg and generic-pool)', () => {
    for (const variant of ['pg-reported', 'gp-reported']) {
      const run = spawnSync(process.execPath, ['--expose-gc', 'test/fixtures/retention.mjs', variant], { cwd: root, encoding: 'utf8', env: { ...process.env, DATABASE_URL }, timeout: 30_000 });
      expect(run.status, run.stderr).toBe(0);
      const out = JSON.parse(run.stdout.trim()) as { alive: number; site: string; held: number };
      expect(out.held, variant).toBe(1);
      expect(out.site, variant).toMatch(/test\/fixtures\/retention\.mjs:\d+:\d+/);
      expect(out.alive, variant).toBe(0);
    }
  }, 60_000);
});

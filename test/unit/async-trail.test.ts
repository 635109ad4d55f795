import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { currentTrail, enableAsyncTrail, MAX_TRAIL_DEPTH, recordCreation, type TrailRecord } from '../../src/core/async-trail.js';
import { resolveGuardConfig } from '../../src/core/config.js';
import { createPool } from '../../src/generic-pool.js';
import { describeCapture, DEFAULT_IGNORED_FRAMES, makeStackCapturer, type CapturedStack } from '../../src/core/stack.js';
import { root } from '../helpers/build.js';
// @ts-expect-error plain JavaScript fixture with marked lines
import * as app from '../fixtures/trail-app.mjs';

const APP = 'test/fixtures/trail-app.mjs';
const source = readFileSync(join(root, APP), 'utf8').split('\n');
function site(name: string): RegExp {
  const index = source.findIndex((line) => line.includes(`// SITE:${name}`));
  if (index === -1) throw new Error(`no SITE:${name} marker in ${APP}`);
  return new RegExp(`^${APP}:${index + 1}:\\d+$`);
}

// The stand-in data layer is skipped like knex; vitest's own frames like the rest of node_modules.
const ignore = [...DEFAULT_IGNORED_FRAMES, /trail-lib\.mjs$/, /[\\/]node_modules[\\/]/, /async-trail\.test\.ts$/];

enableAsyncTrail();
const withTrail = makeStackCapturer(true, { sampleRate: 1, depth: 30, asyncCallers: true });
const withoutTrail = makeStackCapturer(true, { sampleRate: 1, depth: 30 });
function checkoutWith(capturer: typeof withTrail) {
  return function checkout(): CapturedStack {
    return capturer(checkout)!;
  };
}

describe('the async trail (guard.asyncCallers)', () => {
  it('without it, a call through a thenable started from a timer keeps no application frame', async () => {
    const capture: CapturedStack = await app.viaThenable(checkoutWith(withoutTrail));
    const d = describeCapture(capture, { ignore, depth: 30 })!;
    expect(d.site).toBeUndefined();
    expect(d.trailSearched).toBeUndefined();
  });

  it('follows a thenable called from a microtask after a timer back to the application line', async () => {
    const capture: CapturedStack = await app.viaThenable(checkoutWith(withTrail));
    const d = describeCapture(capture, { ignore, depth: 30 })!;
    expect(d.site).toMatch(site('thenable'));
    const marker = '    --- reached through promises created at (guard.asyncCallers) ---\n';
    expect(d.stack).toContain(marker);
    const [before, after] = d.stack.split(marker);
    expect(before).toContain('trail-lib.mjs');
    expect(after).toContain('trail-app.mjs');
    // The hook's own frames are noise in a report.
    expect(after).not.toMatch(/async_hooks|promiseInitHook|emitInit/);
  });

  it('follows a promise the data layer started itself and never awaited', async () => {
    const capture: CapturedStack = await app.viaStartedPromise(checkoutWith(withTrail));
    expect(describeCapture(capture, { ignore, depth: 30 })!.site).toMatch(site('started'));
  });

  it('says when it looked and found nothing either', async () => {
    const capture: CapturedStack = await app.viaThenable(checkoutWith(withTrail));
    const d = describeCapture(capture, { ignore: [...ignore, /trail-app\.mjs$/], depth: 30 })!;
    expect(d.site).toBeUndefined();
    // Every frame ignored, the test runner's included: the first record with thirty such frames was
    // cut, and the trail stops there rather than walk on past what it could not see.
    expect(d.trailSearched).toBe('cut');
  });

  it('keeps at most MAX_TRAIL_DEPTH records per chain, however long a loop awaits', async () => {
    const trail: TrailRecord | undefined = await app.manyAwaits(500, () => currentTrail());
    let length = 0;
    for (let r = trail; r !== undefined; r = r.parent) length++;
    expect(length).toBeGreaterThan(0);
    expect(length).toBeLessThanOrEqual(MAX_TRAIL_DEPTH);
    expect(trail!.depth).toBeLessThan(MAX_TRAIL_DEPTH);
  });

  it('leaves Error.stackTraceLimit as it was', async () => {
    const before = Error.stackTraceLimit;
    await app.viaThenable(checkoutWith(withTrail));
    expect(Error.stackTraceLimit).toBe(before);
  });

  it('is a boolean option, refused otherwise with the option and the value', () => {
    expect(resolveGuardConfig({ asyncCallers: true }, 'db').asyncCallers).toBe(true);
    expect(resolveGuardConfig({}, 'db').asyncCallers).toBe(false);
    expect(() => resolveGuardConfig({ asyncCallers: 'yes' as never }, 'db')).toThrow(new TypeError('guard.asyncCallers must be true or false, got "yes"'));
    expect(() => resolveGuardConfig({ asynCallers: true } as never, 'db')).toThrow(/guard\.asynCallers is not a poolguard option\. Did you mean guard\.asyncCallers\?/);
  });
});

describe('the async trail through an adapter', () => {
  for (const asyncCallers of [false, true]) {
    it(`generic-pool's acquire() from a promise the library started: ${asyncCallers ? 'the application line' : 'no line'} with asyncCallers ${asyncCallers}`, async () => {
      const pool = createPool({ create: async () => ({ n: 1 }), destroy: async () => {} }, { max: 1, guard: { logger: false, asyncCallers, ignoreFrames: ignore } });
      const resource = await app.viaStartedPromise(() => pool.acquire());
      const [lease] = pool.guard.snapshot().leases;
      if (asyncCallers) expect(lease!.site).toMatch(site('started'));
      else expect(lease!.site).toBeUndefined();
      await pool.release(resource);
      await pool.drain();
      await pool.clear();
    });
  }
});

describe('the async trail never breaks the process', () => {
  it('a resource that cannot take the record (frozen) is left alone: a throw in an async hook would end the process', () => {
    const frozen = Object.freeze({});
    const open: Record<symbol, unknown> = {};
    const limit = Error.stackTraceLimit;
    expect(() => recordCreation(1, 'TEST', 0, frozen)).not.toThrow();
    recordCreation(2, 'TEST', 0, open);
    expect(Object.getOwnPropertySymbols(frozen)).toHaveLength(0);
    expect(Object.getOwnPropertySymbols(open)).toHaveLength(1);
    expect(Error.stackTraceLimit).toBe(limit);
  });
});

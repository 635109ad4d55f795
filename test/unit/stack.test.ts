import { describe, expect, it } from 'vitest';
import { GUARD_DEFAULTS } from '../../src/core/config.js';
import { whereTaken } from '../../src/core/where-taken.js';
import { describeCapture, DEFAULT_IGNORED_FRAMES, type CapturedStack, type StackDescription, OWN_FRAMES, makeStackCapturer } from '../../src/core/stack.js';

function stackOf(text: string, depth = 200): { describe(ignore: readonly RegExp[]): StackDescription } {
  return { describe: (ignore) => describeCapture({ stack: text } as CapturedStack, { ignore, depth })! };
}

describe('finding the call site in a stack', () => {
  const cwd = process.cwd();

  it('skips pg, pg-pool, poolguard and node frames, and shows paths relative to the working directory', () => {
    const c = stackOf(
      [
        'Error',
        '    at Pool.connect (/srv/app/node_modules/pg-pool/index.js:45:11)',
        '    at BoundPool.query (/srv/app/node_modules/pg/lib/index.js:10:3)',
        '    at wrapped (/srv/app/node_modules/poolguard/dist/cjs/adapters/pg.js:99:1)',
        '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
        `    at async getOrder (file://${cwd}/src/routes/orders.mjs:13:29)`,
        `    at handler (${cwd}/src/server.js:22:7)`,
      ].join('\n'),
    );
    const d = c.describe(DEFAULT_IGNORED_FRAMES);
    expect(d.site).toBe('src/routes/orders.mjs:13:29');
    expect(d.stack.split('\n')).toHaveLength(6);
    expect(d.stack.startsWith('    at Pool.connect')).toBe(true);
  });

  it('keeps absolute paths outside the working directory, and handles bare locations and eval frames', () => {
    expect(stackOf('Error\n    at /opt/other/job.js:3:9').describe([]).site).toBe('/opt/other/job.js:3:9');
    expect(stackOf('Error\n    at async Promise.all (index 0)\n    at eval (eval at run (/opt/x.js:1:1), <anonymous>:2:3)\n    at run (/opt/x.js:5:6)').describe(DEFAULT_IGNORED_FRAMES).site).toBe('/opt/x.js:5:6');
  });

  it('skips the frames of ORMs, query builders and cursor helpers in any package manager layout', () => {
    const c = stackOf(
      [
        'Error',
        '    at PostgresDriver.acquireConnection (/srv/app/node_modules/kysely/dist/esm/dialect/postgres/postgres-driver.js:14:36)',
        '    at async NodePgSession.transaction (/srv/app/node_modules/.pnpm/drizzle-orm@0.45.4_pg@8.23.1/node_modules/drizzle-orm/node-postgres/session.js:150:9)',
        '    at async Object.acquire (C:\\srv\\app\\node_modules\\knex\\lib\\dialects\\postgres\\index.js:130:20)',
        '    at async PrismaPgAdapter.startTransaction (/srv/app/node_modules/@prisma/adapter-pg/dist/index.mjs:600:20)',
        '    at async EntityManager.transactional (/srv/app/node_modules/@mikro-orm/core/EntityManager.js:9:9)',
        '    at async Pool.connect (/srv/app/node_modules/@opentelemetry/instrumentation-pg/build/src/instrumentation.js:300:1)',
        '    at async placeOrder (/srv/app/src/orders.js:42:5)',
      ].join('\n'),
    );
    expect(c.describe(DEFAULT_IGNORED_FRAMES).site).toBe('/srv/app/src/orders.js:42:5');
  });

  it('never names a frame inside an installed package, listed or not, and says which package the stack ended in', () => {
    // Prisma 7's client checks out through @prisma/client's runtime, which is in no list.
    const prisma = [
      'Error',
      '    at PrismaPgAdapter.startTransaction (file:///srv/app/node_modules/@prisma/adapter-pg/dist/index.mjs:708:36)',
      '    at #i (/srv/app/node_modules/@prisma/client/runtime/client.js:11:91948)',
      '    at async gr.startTransaction (/srv/app/node_modules/@prisma/client/runtime/client.js:11:91065)',
      '    at async Proxy._transactionWithCallback (/srv/app/node_modules/@prisma/client/runtime/client.js:99:4746)',
    ];
    expect(stackOf([...prisma, '    at async closeInvoice (/srv/app/src/billing.mjs:90:10)'].join('\n')).describe(DEFAULT_IGNORED_FRAMES).site).toBe('/srv/app/src/billing.mjs:90:10');
    const alone = stackOf(prisma.join('\n')).describe(DEFAULT_IGNORED_FRAMES);
    expect(alone.site).toBeUndefined();
    expect(alone.via).toBe('@prisma/client');
    // A package whose name starts like a listed one is still a package, and still named as such.
    const boss = stackOf('Error\n    at x (/srv/app/node_modules/pg-boss/src/db.js:1:1)').describe(DEFAULT_IGNORED_FRAMES);
    expect(boss.site).toBeUndefined();
    expect(boss.via).toBe('pg-boss');
    expect(stackOf('Error\n    at x (C:\\app\\node_modules\\knexfile-helper\\a.js:1:1)\n    at y (C:\\app\\src\\a.js:2:2)').describe(DEFAULT_IGNORED_FRAMES).site).toBe('C:\\app\\src\\a.js:2:2');
    // pnpm keeps packages under node_modules/.pnpm/<name>@<version>/node_modules/<name>/.
    expect(stackOf('Error\n    at f (/srv/app/node_modules/.pnpm/typeorm@1.1.1_pg@8.23.1/node_modules/typeorm/index.js:1:1)').describe([]).via).toBe('typeorm');
  });

  it('a stack as long as its depth allowed, with no frame of the application, was cut: it says where', () => {
    const frames = Array.from({ length: 10 }, (_, i) => `    at f${i} (/srv/app/node_modules/typeorm/query-builder/SelectQueryBuilder.js:${i + 1}:1)`);
    const cut = stackOf(['Error', ...frames].join('\n'), 10).describe(DEFAULT_IGNORED_FRAMES);
    expect(cut.site).toBeUndefined();
    expect(cut.cutAt).toBe(10);
    expect(cut.via).toBe('typeorm');
    // The same frames under a deeper limit: the stack ended there by itself (V8's async stack stopped).
    expect(stackOf(['Error', ...frames].join('\n'), 30).describe(DEFAULT_IGNORED_FRAMES).cutAt).toBeUndefined();
    // A stack that reaches the application is never "cut", however long.
    expect(stackOf(['Error', ...frames.slice(0, 9), '    at h (/srv/app/src/a.js:1:1)'].join('\n'), 10).describe(DEFAULT_IGNORED_FRAMES).cutAt).toBeUndefined();
  });

  it('user patterns skip an application helper', () => {
    const c = stackOf('Error\n    at query (/srv/app/src/db/helper.js:4:2)\n    at route (/srv/app/src/routes/a.js:9:1)');
    expect(c.describe([...DEFAULT_IGNORED_FRAMES, /db[\\/]helper\.js/]).site).toBe('/srv/app/src/routes/a.js:9:1');
  });

  it('a stack with only ignored frames has no site', () => {
    expect(stackOf('Error\n    at x (node:internal/a:1:1)').describe(DEFAULT_IGNORED_FRAMES).site).toBeUndefined();
  });

  it("recognises poolguard's own modules but not an application's files beside them", () => {
    expect(OWN_FRAMES).toBeDefined();
    const root = `${cwd}/src`;
    expect(OWN_FRAMES!.test(`${root}/core/guard.ts`)).toBe(true);
    expect(OWN_FRAMES!.test(`${root}/adapters/pg.ts`)).toBe(true);
    expect(OWN_FRAMES!.test(`${root}/pg.ts`)).toBe(true);
    expect(OWN_FRAMES!.test(`${root}/server.ts`)).toBe(false);
    expect(OWN_FRAMES!.test(`${cwd}/test/unit/stack.test.ts`)).toBe(false);
  });
});

describe('stack capture settings', () => {
  function here(capture: ReturnType<typeof makeStackCapturer>) {
    return capture(here);
  }

  it('off returns nothing; sampling is deterministic', () => {
    expect(here(makeStackCapturer(false, { sampleRate: 1, depth: 10 }))).toBeUndefined();
    const quarter = makeStackCapturer(true, { sampleRate: 0.25, depth: 10 });
    const got = Array.from({ length: 8 }, () => here(quarter) !== undefined);
    expect(got.filter(Boolean)).toHaveLength(2);
  });

  it('depth limits the frames and leaves Error.stackTraceLimit as it was', () => {
    const before = Error.stackTraceLimit;
    const c = here(makeStackCapturer(true, { sampleRate: 1, depth: 2 }))!;
    expect(Error.stackTraceLimit).toBe(before);
    expect(describeCapture(c, { ignore: [], depth: 2 })!.stack.split('\n')).toHaveLength(2);
    expect(describeCapture(c, { ignore: [], depth: 2 })!.site).toMatch(/^test\/unit\/stack\.test\.ts:\d+:\d+$/);
  });

  it("by default reaches past a data layer's ten frames, whatever the process's Error.stackTraceLimit", () => {
    const before = Error.stackTraceLimit;
    expect(GUARD_DEFAULTS.stackDepth).toBe(30);
    try {
      Error.stackTraceLimit = 10;
      const capture = makeStackCapturer(true, { sampleRate: 1, depth: GUARD_DEFAULTS.stackDepth });
      // Twelve library frames between the application's call and the checkout (the thirteenth
      // call is the one the capture starts above).
      const library = (n: number): CapturedStack => (n === 0 ? capture(library)! : library(n - 1));
      const c = library(12);
      expect(Error.stackTraceLimit).toBe(10);
      const lines = describeCapture(c, { ignore: [], depth: GUARD_DEFAULTS.stackDepth })!.stack.split('\n');
      expect(lines.filter((l) => l.includes('at library')).length).toBe(12);
      // …and the frame that called into it, which a capture of ten frames loses.
      expect(lines[12]).toMatch(/stack\.test\.ts:\d+:\d+\)?$/);
    } finally {
      Error.stackTraceLimit = before;
    }
  });
});

describe('guard.asyncCallers names no line that is not on the path to the checkout', () => {
  const typeorm = (n: number) => Array.from({ length: n }, (_, i) => `    at f${i} (/srv/app/node_modules/typeorm/query-builder/SelectQueryBuilder.js:${i + 1}:1)`);
  // What the trail holds after `await auth()` in a handler: the promise that await created.
  const authAwait = { stack: 'Error\n    at handler (/srv/app/src/routes.mjs:12:3)', parent: undefined, depth: 0 };

  it('a checkout stack that was cut is not followed: the trail would name the handler\'s earlier await', () => {
    const capture: CapturedStack = { stack: ['Error', ...typeorm(10)].join('\n'), trail: authAwait };
    const d = describeCapture(capture, { ignore: DEFAULT_IGNORED_FRAMES, depth: 10 })!;
    expect(d.site).toBeUndefined();
    expect(d.cutAt).toBe(10);
    expect(d.trailSearched).toBeUndefined();
  });

  it('the trail stops at a record whose own stack was cut, instead of walking on to an unrelated line', () => {
    const cutRecord = { stack: ['Error', ...typeorm(30)].join('\n'), parent: authAwait, depth: 1 };
    const capture: CapturedStack = { stack: ['Error', ...typeorm(3)].join('\n'), trail: cutRecord };
    const d = describeCapture(capture, { ignore: DEFAULT_IGNORED_FRAMES, depth: 10 })!;
    expect(d.site).toBeUndefined();
    expect(d.trailSearched).toBe('cut');
  });

  it('a complete record with no application frame is walked past, to its parent', () => {
    const complete = { stack: ['Error', ...typeorm(3)].join('\n'), parent: authAwait, depth: 1 };
    const capture: CapturedStack = { stack: ['Error', ...typeorm(3)].join('\n'), trail: complete };
    expect(describeCapture(capture, { ignore: DEFAULT_IGNORED_FRAMES, depth: 10 })!.site).toBe('/srv/app/src/routes.mjs:12:3');
  });
});

describe('one description of where a lease was taken', () => {
  const settings = { captureStacks: 'connect', stackDepth: 10, stackSampleRate: 1 } as const;
  const connect = { kind: 'connect', managed: false } as const;
  const described = (text: string, depth = 10) => describeCapture({ stack: text } as CapturedStack, { ignore: DEFAULT_IGNORED_FRAMES, depth });
  const typeorm = Array.from({ length: 10 }, (_, i) => `    at f${i} (/srv/app/node_modules/typeorm/x.js:${i + 1}:1)`);

  it('the site when the capture names it', () => {
    expect(whereTaken(described('Error\n    at h (/srv/app/src/a.js:1:2)'), connect, settings)).toEqual({ site: '/srv/app/src/a.js:1:2', where: '/srv/app/src/a.js:1:2', hint: undefined });
  });

  it('a cut stack: where it was cut and the option that reaches further, not async code', () => {
    const w = whereTaken(described(['Error', ...typeorm].join('\n')), connect, settings);
    expect(w.site).toBeUndefined();
    expect(w.where).toBe('an unknown site inside typeorm');
    expect(w.hint).toBe('the stack was cut at 10 frames, inside typeorm, before it reached your code: raise guard.stackDepth (now 10, at most 200) and the next report names your line');
    expect(w.hint).not.toMatch(/thenable|asyncCallers/);
  });

  it('a stack V8 ended inside a package: the package, and guard.asyncCallers', () => {
    const w = whereTaken(described(['Error', ...typeorm.slice(0, 4)].join('\n')), connect, settings);
    expect(w.where).toBe('an unknown site inside typeorm');
    expect(w.hint).toMatch(/^the call reached typeorm through a thenable or a promise it started itself, where V8's async stack stops; to get your line, run with guard.asyncCallers: true/);
  });

  it('no capture: says which setting left it out', () => {
    expect(whereTaken(undefined, { kind: 'query', managed: true }, settings)).toEqual({
      site: undefined,
      where: 'an unknown site (no stack captured for this pool.query())',
      hint: "the pool releases pool.query() leases itself, so they capture no stack unless guard.captureStacks is 'all'",
    });
    expect(whereTaken(undefined, connect, { ...settings, stackSampleRate: 0.1 }).hint).toBe('guard.stackSampleRate is 0.1 and this checkout was not sampled');
    expect(whereTaken(undefined, { kind: 'acquire', managed: false }, { ...settings, captureStacks: 'none' })).toMatchObject({ where: 'an unknown site (no stack captured for this acquire())', hint: "guard.captureStacks is 'none'" });
  });
});

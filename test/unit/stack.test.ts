import { describe, expect, it } from 'vitest';
import { describeCapture, DEFAULT_IGNORED_FRAMES, type CapturedStack, type StackDescription, OWN_FRAMES, makeStackCapturer } from '../../src/core/stack.js';

function stackOf(text: string): { describe(ignore: readonly RegExp[]): StackDescription } {
  const c: CapturedStack = { stack: text };
  return { describe: (ignore) => describeCapture(c, ignore)! };
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

  it('does not mistake a package whose name starts like a skipped one', () => {
    expect(stackOf('Error\n    at x (/srv/app/node_modules/pg-boss/src/db.js:1:1)').describe(DEFAULT_IGNORED_FRAMES).site).toBe('/srv/app/node_modules/pg-boss/src/db.js:1:1');
    expect(stackOf('Error\n    at x (/srv/app/node_modules/knexfile-helper/a.js:1:1)').describe(DEFAULT_IGNORED_FRAMES).site).toBe('/srv/app/node_modules/knexfile-helper/a.js:1:1');
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
    expect(describeCapture(c, [])!.stack.split('\n')).toHaveLength(2);
    expect(describeCapture(c, [])!.site).toMatch(/^test\/unit\/stack\.test\.ts:\d+:\d+$/);
  });

  it('without a depth, follows Error.stackTraceLimit and never touches it', () => {
    const before = Error.stackTraceLimit;
    try {
      Error.stackTraceLimit = 3;
      const c = here(makeStackCapturer(true, { sampleRate: 1, depth: undefined }))!;
      expect(Error.stackTraceLimit).toBe(3);
      expect(describeCapture(c, [])!.stack.split('\n')).toHaveLength(3);
    } finally {
      Error.stackTraceLimit = before;
    }
  });
});

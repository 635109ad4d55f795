// The rule over this repository's own code through eslint.config.mjs, as `npx eslint` runs it: the
// examples' and the demo's leaks are found, each named by its path, and nothing else there is; every
// file of examples, demo, benchmarks and test parses (JavaScript with espree, TypeScript with
// typescript-eslint's parser), so a finding count over them covers all of them.
import { ESLint } from 'eslint';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, root } from '../helpers/build.js';

let eslint: ESLint;

beforeAll(() => {
  // eslint.config.mjs imports poolguard/eslint by name, as a user's config does: that is dist/.
  ensureBuilt();
  eslint = new ESLint({ cwd: root });
}, 120_000);

/** The 1-based line of the first line of `file` at or after `from` that contains `text`. */
function lineOf(file: string, text: string, from = 1): number {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const index = lines.findIndex((line, i) => i >= from - 1 && line.includes(text));
  if (index < 0) throw new Error(`${file} has no line with ${JSON.stringify(text)} after line ${from}: update this test with the example`);
  return index + 1;
}

const awaitUsing = (name: string, call: string) => `use "await using ${name} = await ${call}" (Node 24+) or release it in a finally block.`;

describe('poolguard/release-on-every-path over this repository', () => {
  it("finds the examples' and the demo's leaks, each with the path that leaks, and nothing else", async () => {
    const demoCheckout = lineOf('demo/service.mjs', '// LEAK: checked out here');
    const demoReturn = lineOf('demo/service.mjs', '// the bug: returns before client.release()');
    const refund = lineOf('examples/graceful-shutdown.mjs', 'const client = await pool.connect()', lineOf('examples/graceful-shutdown.mjs', 'async function handleRefund'));
    const refundReturn = lineOf('examples/graceful-shutdown.mjs', "return 'refund refused", refund);
    const getOrder = lineOf('examples/leak-report.mjs', 'const client = await pool.connect()');
    const getOrderReturn = lineOf('examples/leak-report.mjs', '// the bug: this early return skips release()');
    const dropped = lineOf('examples/leak-report.mjs', '  await pool.connect();');
    const exportOrders = lineOf('examples/pino-logger.mjs', 'const client = await pool.connect()');
    const exportQuery = lineOf('examples/pino-logger.mjs', "await client.query('SELECT 1')", exportOrders);

    const results = await eslint.lintFiles(['examples', 'demo']);
    const found = results.flatMap((r) => r.messages.map((m) => `${relative(root, r.filePath)}:${m.line} ${m.message}`));
    expect(found.sort()).toEqual(
      [
        `demo/service.mjs:${demoCheckout} pool.connect() at line ${demoCheckout} is not released on every path (the return at line ${demoReturn} leaves it checked out): ${awaitUsing('client', 'pool.connect()')}`,
        `examples/graceful-shutdown.mjs:${refund} pool.connect() at line ${refund} is not released on every path (the return at line ${refundReturn} leaves it checked out): ${awaitUsing('client', 'pool.connect()')}`,
        `examples/leak-report.mjs:${getOrder} pool.connect() at line ${getOrder} is not released on every path (the return at line ${getOrderReturn} leaves it checked out): ${awaitUsing('client', 'pool.connect()')}`,
        `examples/leak-report.mjs:${dropped} pool.connect() at line ${dropped} checks out a connection and drops it, so nothing can release it: keep it ("const client = await pool.connect()") and release it in a finally block, or use pool.query() for a single statement.`,
        // The example's bug is that the caller never releases what exportOrders() returns; the rule
        // cannot see the caller, and names the path inside the function that does leak.
        `examples/pino-logger.mjs:${exportOrders} pool.connect() at line ${exportOrders} is returned or passed on along some paths, but an error at the await on line ${exportQuery} leaves it checked out: release it (client.release()) on that path too (for an error, in a catch block that does it and rethrows).`,
      ].sort(),
    );
  }, 60_000);

  it('parses every file of examples, demo, benchmarks and test', async () => {
    const results = await eslint.lintFiles(['examples', 'demo', 'benchmarks', 'test']);
    const fatal = results.flatMap((r) => r.messages.filter((m) => m.fatal || m.ruleId === null).map((m) => `${relative(root, r.filePath)}:${m.line} ${m.message}`));
    expect(fatal).toEqual([]);
    const linted = results.map((r) => relative(root, r.filePath));
    expect(linted.filter((f) => f.endsWith('.ts')).length).toBeGreaterThan(50);
    expect(linted).toContain('test/eslint/repository.test.ts');

    // Every finding is a true leak path: an error at an await between the checkout and a release
    // that is not in finally (a test that releases after its assertions leaks when one fails); a
    // test that ends with its lease open, on purpose (into pool.end(), or handed to the next test);
    // or a leak in the files that exist to leak. A finding of any other kind (a return, a throw, a
    // dropped or reassigned lease) outside those files is a false positive of the rule, or a bug.
    const findings = results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'poolguard/release-on-every-path').map((m) => ({ file: relative(root, r.filePath), message: m.message })));
    const leaksOnPurpose = [
      /^(examples|demo)\//, // their bugs, asserted one by one above
      /^benchmarks\/soak(-two-copies)?\.mjs$/, // the soak's injected leaks
      /^test\/(fixtures|docs\/app|testing\/fixtures)\//, // what the leak tests catch
    ];
    const explained = (f: { file: string; message: string }) =>
      /an error at the await on line \d+ leaves it (checked out|open)\b/.test(f.message) ||
      (/\.test\.ts$/.test(f.file) && /\(the end of the function at line \d+ leaves it checked out\)/.test(f.message)) ||
      leaksOnPurpose.some((re) => re.test(f.file));
    const unexplained = findings.filter((f) => !explained(f));
    expect(unexplained).toEqual([]);
    // The explicit disposals of test/await-using (client[Symbol.asyncDispose]()) release, as
    // `await using` does: nothing there but paths through a failing await.
    expect(findings.filter((f) => f.file.startsWith('test/await-using/') && !f.message.includes('an error at the await'))).toEqual([]);
  }, 120_000);
});

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, root } from '../helpers/build.js';
import { DATABASE_URL } from '../helpers/db.js';
import { asDocPaths, expectSample } from '../docs/sample-check.js';
import { MYSQL_URL } from '../helpers/mysql.js';

// Each runner runs test/testing/fixtures/scenarios.cjs in its own process, with poolguard's set-up
// module loaded as a user loads it (one line of the runner's configuration), against the real
// PostgreSQL and MariaDB servers. What is asserted is what a developer reads: the runner's own
// output and exit code.

const FIXTURES = 'test/testing/fixtures';
const SCENARIOS = `${FIXTURES}/scenarios.cjs`;
const bin = (name: string): string => join(root, 'node_modules', '.bin', name);

/** `file:line:` of the line carrying `// MARKER`. */
function line(marker: string): string {
  const index = readFileSync(join(root, SCENARIOS), 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(`// ${marker}`));
  if (index === -1) throw new Error(`no ${marker} marker in ${SCENARIOS}`);
  return `${SCENARIOS}:${index + 1}:`;
}

interface Runner {
  readonly name: string;
  /** The command line, with `only` (a regular expression): only the tests it names. */
  readonly command: (only?: string) => readonly string[];
  /** How the runner joins a describe block's name and a test's. */
  readonly join: string;
  readonly failedExit: number;
  /** The runner's own count line, for 3 failed and 5 passed of 8. */
  readonly counts: RegExp;
  /** The runner's own words for "this test passed". */
  readonly passed: (test: string) => RegExp;
  /** Checks the runner's output against its sample in docs/before-it-ships.md. */
  readonly sample: (output: string) => void;
}

const runners: readonly Runner[] = [
  {
    name: 'Vitest',
    command: (only) => [bin('vitest'), 'run', '--reporter=verbose', '--config', `${FIXTURES}/vitest/vitest.config.mjs`, ...(only ? ['-t', only] : [])],
    join: ' > ',
    failedExit: 1,
    counts: /Tests\s+3 failed \| 5 passed \(8\)/,
    passed: (t) => new RegExp(`✓ .*orders > ${escape(t)} \\d+ms`),
    sample: (output) => expectSample('test-check-vitest', output),
  },
  {
    name: 'Jest',
    command: (only) => [bin('jest'), '--config', `${FIXTURES}/jest/jest.config.cjs`, '--ci', ...(only ? ['-t', only] : [])],
    join: ' › ',
    failedExit: 1,
    counts: /Tests:\s+3 failed, 5 passed, 8 total/,
    passed: (t) => new RegExp(`✓ ${escape(t)}`),
    sample: (output) => expectSample('test-check-jest', output),
  },
  {
    name: 'node:test',
    command: (only) => [process.execPath, '--test', '--test-reporter=spec', '--import', 'poolguard/testing/node-test', ...(only ? ['--test-name-pattern', only] : []), `${FIXTURES}/node-test/leaks.test.mjs`],
    join: ' > ',
    failedExit: 1,
    counts: /pass 5\n.*fail 3/,
    passed: (t) => new RegExp(`✔ ${escape(t)}`),
    sample: (output) => expectSample('test-check-node-test', output),
  },
  {
    name: 'Mocha',
    command: (only) => [bin('mocha'), '--config', `${FIXTURES}/mocha/.mocharc.cjs`, ...(only ? ['--grep', only] : []), `${FIXTURES}/mocha/leaks.spec.cjs`],
    // Mocha's fullTitle() joins with a space.
    join: ' ',
    // Mocha exits with its count of failures.
    failedExit: 3,
    // A Mocha test passes before its afterEach hooks run; the check fails it afterwards, so Mocha
    // counts it in both (as it does a test that calls done() twice).
    counts: /8 passing.*\n\s*3 failing/,
    passed: (t) => new RegExp(`✔ ${escape(t)}`),
    sample: (output) => expectSample('test-check-mocha', output),
  },
];

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function run(command: readonly string[]): { status: number | null; output: string } {
  const [file, ...args] = command;
  const result = spawnSync(file!, args, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL, MYSQL_URL, NO_COLOR: '1', FORCE_COLOR: '0', CI: '1' },
    timeout: 90_000,
  });
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
}

const CLEAN = ['releases its client', 'hands its client to the next test', 'commits the handed client', 'leaves its client to the afterEach hook', 'leaves a pool.query() running'];

beforeAll(() => ensureBuilt());

describe.each(runners)('$name with its poolguard set-up module', (runner) => {
  it('fails each leaking test with its name, the checkout line, the kind and the transaction state; passes the rest; prints the summary by line once', { timeout: 120_000 }, () => {
    const { status, output } = run(runner.command());
    expect(status, output).toBe(runner.failedExit);
    expect(output).toMatch(runner.counts);
    const name = (test: string): string => `orders${runner.join}${test}`;

    // The two leaks: the test's name, the line, the kind, the transaction, in the runner's own
    // report (which indents the message as it likes).
    const leak = (test: string, pool: string, marker: string): RegExp =>
      new RegExp(`poolguard: test "${escape(name(test))}" ended with 1 lease still checked out:\\n\\s*connect\\(\\) lease #1 on pool '${pool}', taken at ${escape(line(marker))}\\d+, `);
    expect(output).toMatch(leak('leaks a client inside a transaction', 'orders-db', 'LEAK-PG'));
    expect(output).toMatch(leak('leaks a mysql2 connection', 'stock-db', 'LEAK-MY'));
    for (const marker of ['LEAK-PG', 'LEAK-MY']) {
      expect(output).toMatch(new RegExp(`taken at ${escape(line(marker))}\\d+, inside an open transaction \\(BEGIN without COMMIT or ROLLBACK\\), with nothing in flight, held \\d+ ms\\n`));
    }
    // The dirty release (on by default), with both lines.
    expect(output).toContain(`poolguard: test "${name('releases inside a transaction')}" ended with 1 dirty release:`);
    expect(output).toMatch(new RegExp(`released inside an open transaction \\(BEGIN without COMMIT or ROLLBACK\\) at ${escape(line('DIRTY-RELEASE'))}\\d+ \\(taken at ${escape(line('DIRTY-CHECKOUT'))}\\d+\\)`));

    // Exactly these three tests failed: the hand-over, the afterEach release and the running query passed.
    const failed = [...output.matchAll(/poolguard: test "([^"]+)" ended with/g)].map((m) => m[1]);
    expect(new Set(failed)).toEqual(new Set([name('leaks a client inside a transaction'), name('leaks a mysql2 connection'), name('releases inside a transaction')]));
    if (runner.name !== 'Mocha') for (const test of CLEAN) expect(output).toMatch(runner.passed(test));

    // The summary: once, by line.
    expect(output.split('poolguard leak check, ').length - 1).toBe(1);
    const summary = output.slice(output.indexOf('poolguard leak check, '));
    expect(summary).toMatch(new RegExp(`2 leases left open at the end of 2 tests, from 2 lines:\\n\\s*${escape(line('LEAK-PG'))}\\d+: 1 × connect\\(\\) on pool 'orders-db', inside an open transaction`));
    expect(summary).toMatch(new RegExp(`\\n\\s*${escape(line('LEAK-MY'))}\\d+: 1 × connect\\(\\) on pool 'stock-db', inside an open transaction`));
    expect(summary).toMatch(new RegExp(`Released inside a transaction:\\n\\s*${escape(line('DIRTY-RELEASE'))}\\d+: 1 × `));
    expect(summary).not.toContain('allowOpenLeases(), and still open');
    // What docs/before-it-ships.md shows of this runner's output is what it prints.
    runner.sample(asDocPaths(output));
  });

  it('a run of clean tests, a hand-over, a release in afterEach and a running pool.query() passes and prints no summary', { timeout: 120_000 }, () => {
    const { status, output } = run(runner.command(CLEAN.map(escape).join('|')));
    expect(status, output).toBe(0);
    expect(output).not.toContain('LeakCheckError');
    expect(output).not.toContain('poolguard leak check');
    for (const test of CLEAN) expect(output).toMatch(runner.passed(test));
  });
});

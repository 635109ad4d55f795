// The demo's leaking handler (POST /orders in demo/service.mjs, the outage's bug) is caught before
// it ships by each of poolguard's three checks, each naming its line, and the same handler fixed
// (demo/orders-fixed.mjs with try/finally; demo/orders-fixed-await-using.mjs with `await using`,
// where this Node runs it) by none: the lint rule (poolguard/eslint, through this repository's
// eslint.config.mjs), the test check (a Vitest test of the handler with poolguard/testing/vitest in
// setupFiles, run as a user runs it) and the report at run time.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ESLint } from 'eslint';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NATIVE_AWAIT_USING } from '../src/core/await-using.js';
import type { LeakReport } from '../src/pg.js';
import { ensureBuilt, root } from './helpers/build.js';
import { DATABASE_URL, sleep, until } from './helpers/db.js';
import { expectSample } from './docs/sample-check.js';

const FIXES = NATIVE_AWAIT_USING ? ['finally', 'await using'] : ['finally'];
const FIXED_FILES = ['demo/orders-fixed.mjs', 'demo/orders-fixed-await-using.mjs'];
const OUT_OF_STOCK = 8;

/** `line:column` of the checkout marked `// LEAK:` in the service. */
function leakSite(): string {
  const lines = readFileSync(join(root, 'demo/service.mjs'), 'utf8').split('\n');
  const index = lines.findIndex((l) => l.includes('// LEAK:'));
  expect(index, 'demo/service.mjs marks its leaking checkout with // LEAK:').toBeGreaterThanOrEqual(0);
  return `${index + 1}:${lines[index]!.indexOf('connect(') + 1}`;
}

interface Service {
  pool: pg.Pool & { guard: { on(event: 'leak', fn: (r: LeakReport) => void): void; snapshot(): { counts: { leased: number } } } };
  listen(): Promise<string>;
  close(): Promise<void>;
}

type ServiceModule = {
  createService(o: { db: string; poolOptions: object; fix?: string }): Promise<Service>;
  setupSchema(client: pg.Client): Promise<void>;
};

describe('the demo’s leaking handler is caught by all three checks, the fixed one by none', () => {
  // A database of its own: the demo's schema is dropped and recreated, and other test files run at once.
  const database = `poolguard_demo_checks_${process.pid}`;
  const url = new URL(DATABASE_URL);
  url.pathname = `/${database}`;
  const demoUrl = url.toString();
  let demo: ServiceModule;
  // The README's sample is the two checks' own lines, one after the other: the test check's first
  // two lines and ESLint's finding, each as its tool printed it.
  let leakCheckLines: string | undefined;
  let lintFinding: string | undefined;

  beforeAll(async () => {
    ensureBuilt();
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database}`);
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    // @ts-expect-error plain JavaScript module of the demo
    demo = (await import('../demo/service.mjs')) as ServiceModule;
    const client = new pg.Client({ connectionString: demoUrl });
    await client.connect();
    await demo.setupSchema(client);
    await client.end();
  }, 60_000);

  afterAll(async () => {
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  it('the lint rule: one finding, at the leaking checkout, naming the return that skips the release', async () => {
    const eslint = new ESLint({ cwd: root });
    const results = await eslint.lintFiles(['demo/service.mjs', ...FIXED_FILES]);
    const found = results.flatMap((r) => r.messages.map((m) => `${relative(root, r.filePath)}:${m.line}:${m.column} ${m.message}`));
    const [line] = leakSite().split(':');
    expect(found).toEqual([expect.stringMatching(new RegExp(`^demo/service\\.mjs:${line}:\\d+ pool\\.connect\\(\\) at line ${line} is not released on every path \\(the return at line \\d+ leaves it checked out\\)`))]);
    expect(results.map((r) => relative(root, r.filePath)).sort()).toEqual(['demo/service.mjs', ...FIXED_FILES].sort());
    // As a user runs it: the ESLint CLI, this repository's eslint.config.mjs.
    const cli = spawnSync(process.execPath, [join(root, 'node_modules/eslint/bin/eslint.js'), 'demo/service.mjs'], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, timeout: 55_000 });
    expect(cli.status, cli.stderr).toBe(1);
    lintFinding = cli.stdout.split('\n').find((l) => l.endsWith('poolguard/release-on-every-path'));
    expect(lintFinding).toMatch(new RegExp(`^\\s+${line}:\\d+\\s+error\\s+pool\\.connect\\(\\) at line ${line} is not released on every path`));
  }, 60_000);

  it('the test check: a Vitest test of the handler fails, named, with the checkout line; the fixed handlers’ tests pass', { timeout: 120_000 }, () => {
    const run = spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=verbose', '--config', 'test/fixtures/demo-check/vitest.config.mjs'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, DATABASE_URL: demoUrl, DEMO_FIXES: FIXES.join(','), NO_COLOR: '1', FORCE_COLOR: '0', CI: '1' },
      timeout: 110_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status, output).toBe(1);
    // Vitest prints a failure twice: as it happens, and in its summary.
    const failed = new Set([...output.matchAll(/poolguard: test "([^"]+)" ended with/g)].map((m) => m[1]));
    expect([...failed]).toEqual(['POST /orders > answers 409 for a product out of stock']);
    expect(output).toMatch(new RegExp(`connect\\(\\) lease #\\d+ on pool 'shop-db', taken at demo/service\\.mjs:${leakSite()}, with nothing in flight, held \\d+ ms\\n`));
    expect(output).toMatch(new RegExp(`Tests\\s+1 failed \\| ${1 + 2 * FIXES.length} passed \\(${2 + 2 * FIXES.length}\\)`));
    for (const fix of FIXES) expect(output).toMatch(new RegExp(`✓ .*POST /orders, fixed with ${fix} > answers 409 for a product out of stock`));
    // As the README shows it: Vitest's summary of the failure, with its frame of the line.
    const shown = /( FAIL {2}\S*orders\.fixture\.mjs > POST \/orders > answers 409[\s\S]*?)\n\n/.exec(output)?.[1];
    expect(shown, output).toBeDefined();
    expectSample('demo-test-check', shown!);
    leakCheckLines = /^LeakCheckError: .*\n.*/m.exec(shown!)?.[0];
  });

  it('the README shows the test check’s and the lint rule’s own lines for the demo’s leak', () => {
    expect(leakCheckLines, 'the test check ran').toBeDefined();
    expect(lintFinding, 'the lint rule ran').toBeDefined();
    expectSample('before-it-ships', `${leakCheckLines}\n${lintFinding}`);
  });

  it('docs/before-it-ships.md shows the fixed handler as demo/orders-fixed-await-using.mjs has it', () => {
    const source = readFileSync(join(root, 'demo/orders-fixed-await-using.mjs'), 'utf8');
    const handler = /^export async function placeOrder[\s\S]*?\n\}$/m.exec(source)?.[0];
    expect(handler).toContain('await using client = await pool.connect();');
    expect(readFileSync(join(root, 'docs/before-it-ships.md'), 'utf8')).toContain(`\`\`\`js\n${handler}\n\`\`\``);
  });

  it('the report at run time: a leak report at the checkout line; none for the fixed handlers, whose leases all come back', async () => {
    const serve = async (fix?: string) => {
      const service = await demo.createService({ db: 'guarded', fix, poolOptions: { connectionString: demoUrl, max: 2, guard: { name: 'shop-db', logger: false, leakThresholdMs: 50, reportBusy: false, endTimeoutMs: 200 } } });
      const reports: LeakReport[] = [];
      service.pool.guard.on('leak', (r) => reports.push(r));
      const base = await service.listen();
      const order = async (productId: number) => (await fetch(`${base}/orders`, { method: 'POST', body: JSON.stringify({ productId }) })).status;
      return { service, reports, order };
    };
    const leaking = await serve();
    expect(await leaking.order(OUT_OF_STOCK)).toBe(409);
    await until(() => leaking.reports.length > 0, 'a leak report');
    expect(leaking.reports[0]!.site).toBe(`demo/service.mjs:${leakSite()}`);
    expect(leaking.reports[0]!.state).toBe('idle');
    await leaking.service.close();
    await leaking.service.pool.end();

    for (const fix of FIXES) {
      const fixed = await serve(fix);
      expect([await fixed.order(OUT_OF_STOCK), await fixed.order(1), await fixed.order(OUT_OF_STOCK)]).toEqual([409, 201, 409]);
      expect(fixed.service.pool.guard.snapshot().counts.leased).toBe(0);
      // Three times the leak threshold: a forgotten lease would have been reported by now (a slow
      // query on a loaded machine is not one: guard.reportBusy is off).
      await sleep(150);
      expect(fixed.reports.map((r) => r.message)).toEqual([]);
      await fixed.service.close();
      await fixed.service.pool.end();
    }
  }, 30_000);
});

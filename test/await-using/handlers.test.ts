// `await using client = await pool.connect()` in real request handlers, against the real servers, in
// a Node process of its own as a service runs it: natively where the runtime has the syntax (Node
// 24 and later: test/fixtures/await-using/handlers.mjs), and on every runtime through TypeScript's
// down-level emit of the same handlers (handlers.mts, compiled here by the project's TypeScript for
// ES2022 with lib esnext.disposable and tslib's helpers, as a TypeScript service on Node 20 or 22
// ships them). The compile also type-checks the handlers against poolguard's published types.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NATIVE_AWAIT_USING } from '../../src/core/await-using.js';
import { ensureBuilt, root } from '../helpers/build.js';
import { DATABASE_URL } from '../helpers/db.js';
import { MYSQL_URL } from '../helpers/mysql.js';

const FIXTURES = join(root, 'test/fixtures/await-using');

interface Settled {
  value: unknown;
  leased: number;
  checkouts: number;
  doubleReleases: number;
  dirtyReleases: number;
}

interface Run {
  asyncDispose: string;
  pg: Record<'returned' | 'thrown' | 'releasedEarly' | 'syncDisposal' | 'next', Settled>;
  mysql2: Record<'returned' | 'releasedEarly' | 'callback' | 'next', Settled>;
  genericPool: Record<'returned' | 'thrown', Settled>;
  logged: string[];
}

function drive(handlers: string): Run {
  const run = spawnSync(process.execPath, [join(FIXTURES, 'run.mjs'), handlers], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL, MYSQL_URL },
    timeout: 60_000,
  });
  if (run.status !== 0) throw new Error(`run.mjs ${relative(root, handlers)} exited ${run.status}:\n${run.stdout}\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Run;
}

/** What every run must show: each handler's lease back in its pool (of one) when the handler settles, each once. */
function expectReleasedOnEveryPath(run: Run): void {
  const released = (value: unknown, checkouts: number) => ({ value, leased: 0, checkouts, doubleReleases: 0 });
  expect(run.pg.returned).toMatchObject({ ...released(42, 1), dirtyReleases: 0 });
  // Thrown inside a transaction it never ended: released on the way out, and closed rather than
  // handed on (guard.dirtyRelease), as any release inside a transaction is.
  expect(run.pg.thrown).toMatchObject({ ...released('threw: product 8 is out of stock', 2), dirtyReleases: 1 });
  // release() by hand, then the disposal: no second release.
  expect(run.pg.releasedEarly).toMatchObject(released('released early', 3));
  expect(run.pg.syncDisposal).toMatchObject(released('disposed', 4));
  expect(run.pg.next).toMatchObject(released(1, 5));
  // mysql2's own disposers, under poolguard: the one after a release by hand is no double release.
  expect(run.mysql2.returned).toMatchObject(released(42, 1));
  expect(run.mysql2.releasedEarly).toMatchObject(released('released early', 2));
  expect(run.mysql2.callback).toMatchObject(released('disposed', 1));
  expect(run.mysql2.next).toMatchObject(released(1, 3));
  expect(run.genericPool.returned).toMatchObject(released('renderer-1:3', 1));
  expect(run.genericPool.thrown).toMatchObject(released('threw: no such page', 2));
  // The one log line: the dirty release, named at the handler's lines; no double release said.
  expect(run.logged).toHaveLength(1);
  expect(run.logged[0]).toMatch(/^poolguard\[orders-db\]: a client was released inside an open transaction .* at \S*handlers\.m?js:\d+:\d+ \(checked out at \S*handlers\.m?js:\d+:\d+\)/);
}

describe('await using in request handlers, against the real servers', () => {
  let out: string;
  let compiled: string;
  let diagnostics: string;

  beforeAll(() => {
    ensureBuilt();
    // Inside the repository, so that the emitted module resolves poolguard (by name) and tslib as
    // an application's code does.
    mkdirSync(join(root, 'temp'), { recursive: true });
    out = mkdtempSync(join(root, 'temp', 'await-using-'));
    const program = ts.createProgram([join(FIXTURES, 'handlers.mts')], {
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'],
      strict: true,
      importHelpers: true,
      skipLibCheck: true,
      rootDir: FIXTURES,
      outDir: out,
    });
    const emitted = program.emit();
    diagnostics = ts.formatDiagnostics([...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics], {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => root,
      getNewLine: () => '\n',
    });
    compiled = join(out, 'handlers.mjs');
  }, 60_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('the TypeScript handlers type-check against poolguard’s types and compile to tslib’s disposal helpers', () => {
    expect(diagnostics).toBe('');
    const js = readFileSync(compiled, 'utf8');
    expect(js).toContain('import { __addDisposableResource, __disposeResources } from "tslib";');
    expect(js).not.toMatch(/\busing\s+\w+\s*=/);
  });

  it('through TypeScript’s down-level emit: released on return, on throw and after a release() by hand, never twice', { timeout: 60_000 }, () => {
    const run = drive(compiled);
    // On Node 20 and 22 tslib finds Node's stand-in symbol under Symbol.asyncDispose.
    expect(run.asyncDispose).toBe(NATIVE_AWAIT_USING ? 'Symbol(Symbol.asyncDispose)' : 'Symbol(nodejs.asyncDispose)');
    expectReleasedOnEveryPath(run);
  });

  it(`natively${NATIVE_AWAIT_USING ? '' : ' (not on this Node: the .mjs handlers do not parse here, which the check below asserts)'}`, { timeout: 60_000 }, () => {
    // Whether this Node parses `await using` is what poolguard's own detection (which decides the
    // reports' advice) must agree with.
    const parses = spawnSync(process.execPath, ['--check', join(FIXTURES, 'handlers.mjs')], { encoding: 'utf8' });
    expect(parses.status === 0, parses.stderr).toBe(NATIVE_AWAIT_USING);
    if (!NATIVE_AWAIT_USING) return;
    const run = drive(join(FIXTURES, 'handlers.mjs'));
    expect(run.asyncDispose).toBe('Symbol(Symbol.asyncDispose)');
    expectReleasedOnEveryPath(run);
  });
});

/**
 * `poolguard/testing/mocha`: a Mocha root hook plugin. `mocha --require poolguard/testing/mocha`
 * (or `require` in .mocharc) and every test that ends with a lease still checked out on a guarded
 * pool fails, naming the line that took it.
 *
 * @packageDocumentation
 */
// A statement that stays in the declarations, to carry the comment above (the imports are elided).
export {};
import { leakCheckpoint } from './testing/check.js';
import { beginTest, endTest, printSummary, type TestWindow } from './testing/run.js';

/** The parts of a Mocha test this module reads. */
interface MochaTest {
  fullTitle(): string;
  emit(event: 'error', error: Error): boolean;
  listenerCount(event: 'error'): number;
}

/** What Mocha binds `this` to in a hook: read, not declared, so the API names no Mocha type. */
interface HookContext {
  readonly currentTest?: MochaTest;
}

/**
 * Mocha runs the root `afterEach` hooks of this plugin before those a test file declares at its top
 * level, which may release what the test handed them; so the end of the test is noted here, and
 * the verdict waits for the next test's first hook (or the run's end). The test then fails through
 * its `error` event, Mocha's path for a failure found after a test has run (a second `done()`):
 * a failing hook would skip every later test instead.
 */
let running: { test: MochaTest; window: TestWindow } | undefined;
let ended: { test: MochaTest; window: TestWindow } | undefined;

async function verdict(): Promise<void> {
  const last = ended;
  ended = undefined;
  if (last === undefined) return;
  const error = await endTest(last.window);
  if (error === undefined) return;
  // Mocha listens on a test once it runs it; a test whose beforeEach failed never ran (and failed).
  if (last.test.listenerCount('error') > 0) last.test.emit('error', error);
  else process.stderr.write(`\n${error.message}\n`);
}

/**
 * The root hooks Mocha reads from a module it requires (a root hook plugin): the check runs after
 * each test, and the run's summary at its end.
 * @public
 */
export const mochaHooks = {
  async beforeEach(this: unknown): Promise<void> {
    await verdict();
    const test = (this as HookContext).currentTest;
    if (test !== undefined) running = { test, window: beginTest(test.fullTitle()) };
  },
  afterEach(): void {
    if (running === undefined) return;
    running.window.until = leakCheckpoint();
    ended = running;
    running = undefined;
  },
  async afterAll(): Promise<void> {
    await verdict();
    printSummary('this run');
  },
};

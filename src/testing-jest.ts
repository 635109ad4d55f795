/**
 * `poolguard/testing/jest`: list it in `setupFilesAfterEnv` and every test that ends with a lease
 * still checked out on a guarded pool fails, naming the line that took it.
 *
 * @packageDocumentation
 */
// A statement that stays in the declarations, to carry the comment above (the imports are elided).
export {};
import { beginTest, endTest, printSummary, type TestWindow } from './testing/run.js';

/** The parts of a jest-circus test this module reads and writes. */
interface CircusTest {
  readonly name: string;
  readonly parent?: { readonly name: string; readonly parent?: unknown };
  readonly errors: unknown[];
}

interface CircusEvent {
  readonly name: string;
  readonly test?: CircusTest;
}

/** Jest's test name: its describe blocks' names and its own, as Jest prints them. */
function fullName(test: CircusTest): string {
  const names = [test.name];
  for (let block = test.parent as { name: string; parent?: unknown } | undefined; block?.parent !== undefined; block = block.parent as typeof block) names.unshift(block.name);
  return names.join(' › ');
}

/**
 * jest-circus (Jest's runner) keeps its event handlers in this array, the one its exported
 * `addEventHandler` adds to. Its `test_done` event comes after every `afterEach` hook, where a
 * root-level `afterEach` of the test file (which Jest runs after this file's own) may still release
 * what the test handed it; an error added to the test there fails it, as a failing hook does.
 */
const handlers = (globalThis as Record<symbol, unknown>)[Symbol.for('EVENT_HANDLERS')];
const windows = new Map<CircusTest, TestWindow>();

if (Array.isArray(handlers)) {
  handlers.push(async (event: CircusEvent) => {
    const test = event.test;
    if (event.name === 'test_start' && test !== undefined) {
      windows.set(test, beginTest(fullName(test)));
    } else if (event.name === 'test_done' && test !== undefined) {
      const window = windows.get(test);
      windows.delete(test);
      // A handler that throws would stop Jest's run: whatever goes wrong fails this test instead.
      const error = window === undefined ? undefined : await endTest(window).catch((err: unknown) => err);
      if (error !== undefined) test.errors.push(error);
    } else if (event.name === 'run_finish') {
      printSummary('this test file');
    }
  });
} else {
  // jest-jasmine2 (Jest's runner before 27) has no such events, and its afterEach hooks would run
  // this check before the file's own: refused rather than half done.
  throw new Error(
    "poolguard/testing/jest: no jest-circus here (Jest's default runner since Jest 27). List this module in Jest's setupFilesAfterEnv with the default runner; " +
      "elsewhere use leakCheckpoint() and assertNoOpenLeases() from 'poolguard/testing'.",
  );
}

/**
 * `poolguard/testing/vitest`: list it in `test.setupFiles` and every test that ends with a lease
 * still checked out on a guarded pool fails, naming the line that took it. The check runs in
 * `onTestFinished`, after every `afterEach` hook (which may release what the test handed it).
 *
 * @packageDocumentation
 */
// A statement that stays in the declarations, to carry the comment above (the imports are elided).
export {};
import { afterAll, beforeEach } from 'vitest';
import { beginTest, endTest, printSummary } from './testing/run.js';

beforeEach((context) => {
  const task = context.task as { name: string; fullTestName?: string };
  const window = beginTest(task.fullTestName ?? task.name);
  context.onTestFinished(async () => {
    const error = await endTest(window);
    if (error !== undefined) throw error;
  });
});

afterAll(() => printSummary('this test file'));

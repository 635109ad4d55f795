/**
 * `poolguard/testing/node-test`: `node --test --import poolguard/testing/node-test` and every test
 * that ends with a lease still checked out on a guarded pool fails, naming the line that took it.
 * The check runs in the test's own `after` hook, which `node:test` runs after every `afterEach`.
 *
 * @packageDocumentation
 */
// A statement that stays in the declarations, to carry the comment above (the imports are elided).
export {};
import { after, beforeEach } from 'node:test';
import { beginTest, endTest, printSummary } from './testing/run.js';

/** The test context's members this module reads (`fullName` since Node 20.16 and 22.3). */
interface Context {
  readonly name: string;
  readonly fullName?: string;
  after(fn: () => Promise<void>): void;
}

beforeEach((t) => {
  const context = t as unknown as Context;
  const window = beginTest(context.fullName ?? context.name);
  context.after(async () => {
    const error = await endTest(window);
    if (error !== undefined) throw error;
  });
});

after(() => printSummary('this test file'));

/**
 * `poolguard/testing`: the leak check at a test's end, as plain functions for any test runner.
 * The set-up modules `poolguard/testing/vitest`, `poolguard/testing/jest`,
 * `poolguard/testing/node-test` and `poolguard/testing/mocha` run it after every test; from here a
 * test allows a hand-over (`allowOpenLeases()`) and a set-up file tunes the check
 * (`configureLeakCheck()`). Imports no pool library and no test runner.
 *
 * @packageDocumentation
 */
export {
  allowOpenLeases,
  assertNoOpenLeases,
  checkOpenLeases,
  configureLeakCheck,
  leakCheckpoint,
  LeakCheckpoint,
  type LeakCheckOptions,
  type LeakCheckSettings,
} from './testing/check.js';
export { LeakCheckError, type DirtyReleaseFinding, type DoubleReleaseFinding, type LeakFinding, type OpenLeaseFinding } from './testing/findings.js';
export type { ConnectionSummary, DirtyReleaseReport, LeaseSnapshot, LeaseState } from './core/types.js';
export type { TraceRef } from './core/telemetry.js';
export type { LeaseKind } from './core/ledger.js';

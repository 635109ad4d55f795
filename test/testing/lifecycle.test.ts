import { afterEach, describe, expect, it } from 'vitest';
import { allowOpenLeases } from '../../src/testing.js';
import { beginTest, endTest, takeSummary } from '../../src/testing/run.js';
import { guardedPool } from '../helpers/pools.js';

// What the set-up modules do around each test (src/testing/run.ts), driven by hand: a test's
// verdict, hand-overs between tests, and the summary by line. The runners themselves are in
// runners.test.ts.

afterEach(() => {
  takeSummary('cleanup');
});

describe('a sequence of tests', () => {
  it("a leak fails its own test once; later tests are not blamed for it; the summary counts it once, by line, with the test's name", async () => {
    takeSummary('before');
    const pool = guardedPool({ max: 3, guard: { name: 'life-leak' } });
    const first = beginTest('orders > leaks');
    const leaked = await pool.connect();
    await leaked.query('BEGIN');
    const error = await endTest(first);
    expect(error?.message).toMatch(/^poolguard: test "orders > leaks" ended with 1 lease still checked out:\n  connect\(\) lease #1 on pool 'life-leak', taken at test\/testing\/lifecycle\.test\.ts:\d+:\d+, inside an open transaction/);

    const second = beginTest('orders > clean');
    const client = await pool.connect();
    client.release();
    expect(await endTest(second)).toBeUndefined();

    const summary = takeSummary('this test file')!;
    expect(summary).toMatch(/^poolguard leak check, this test file:\n1 lease left open at the end of 1 test, from 1 line:\n  test\/testing\/lifecycle\.test\.ts:\d+:\d+: 1 × connect\(\) on pool 'life-leak', inside an open transaction \(BEGIN without COMMIT or ROLLBACK\); in "orders > leaks"\n/);
    expect(summary).toContain('Fix each line above: release every lease exactly once, on every path (try/finally), after COMMIT or ROLLBACK.');
    expect(takeSummary('again')).toBeUndefined();
    leaked.release(true);
  });

  it("allowOpenLeases() in a test allows that test's leases only, not one an earlier test leaked", async () => {
    const pool = guardedPool({ max: 3, guard: { name: 'life-allow' } });
    const first = beginTest('leaks');
    const leaked = await pool.connect();
    expect(await endTest(first)).toBeDefined();

    const second = beginTest('hands over');
    const handed = await pool.connect();
    expect(allowOpenLeases('the next test takes it')).toBe(1);
    expect(await endTest(second)).toBeUndefined();

    const third = beginTest('has nothing');
    expect(() => allowOpenLeases()).toThrow('allowOpenLeases(): test "has nothing" has no lease open on any guarded pool now, so there is nothing to allow.');
    expect(await endTest(third)).toBeUndefined();
    leaked.release();
    handed.release();
  });

  it('a hand-over no later test releases is listed in the summary with who allowed it; one that is taken over and released is not', async () => {
    takeSummary('before');
    const pool = guardedPool({ max: 3, guard: { name: 'life-handover' } });
    const a = beginTest('opens the session');
    const released = await pool.connect();
    const forgotten = await pool.connect();
    allowOpenLeases('the next tests use it');
    expect(await endTest(a)).toBeUndefined();

    const b = beginTest('uses the session');
    released.release();
    expect(await endTest(b)).toBeUndefined();
    const c = beginTest('something else');
    expect(await endTest(c)).toBeUndefined();

    const summary = takeSummary('this run')!;
    expect(summary).toMatch(
      /Allowed to stay open with allowOpenLeases\(\), and still open at the end of the last test checked \(no later test released it\):\n  test\/testing\/lifecycle\.test\.ts:\d+:\d+: connect\(\) lease #2 on pool 'life-handover', allowed in "opens the session" \(the next tests use it\), still open at the end of "something else"\n/,
    );
    expect(summary).not.toContain('lease #1 ');
    expect(summary).toMatch(/\nRelease hand-overs in the test that takes them over, or in an after-all hook\.$/);
    forgotten.release();
  });
});

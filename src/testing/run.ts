import { plural } from '../core/format.js';
import { check, leakCheckpoint, sharedState, type LeakCheckpoint } from './check.js';
import { callOf, transactionWords, type LeakCheckError, type LeakFinding, type OpenLeaseFinding } from './findings.js';

/**
 * What the test runners' set-up modules share: a test's window (its start, and for Mocha the end
 * of its body), its verdict, and the summary of a run's leaks by line.
 */
export interface TestWindow {
  readonly name: string;
  readonly since: LeakCheckpoint;
  /** Mocha decides after the test's last `afterEach`, later than it can note the end: see mocha.ts. */
  until?: LeakCheckpoint;
}

interface LineEntry {
  count: number;
  readonly what: Set<string>;
  readonly tests: string[];
}

interface Handover {
  readonly finding: OpenLeaseFinding;
  readonly by: string | undefined;
  lastEnd: string;
}

interface Summary {
  /** Failing open leases by the line that took them. */
  readonly leaks: Map<string, LineEntry>;
  /** Dirty releases by the line that released. */
  readonly dirty: Map<string, LineEntry>;
  /** Double releases by pool. */
  readonly doubles: Map<string, LineEntry>;
  /** Leases allowed with `allowOpenLeases()` and open at the last test's end, by `pool#id`. */
  readonly handovers: Map<string, Handover>;
}

const SUMMARY = Symbol.for('poolguard.testing.summary.v1');

function summary(): Summary {
  const g = globalThis as unknown as Record<symbol, Summary | undefined>;
  let s = g[SUMMARY];
  if (s === undefined) {
    s = { leaks: new Map(), dirty: new Map(), doubles: new Map(), handovers: new Map() };
    Object.defineProperty(globalThis, SUMMARY, { value: s, enumerable: false, configurable: false, writable: false });
  }
  return s;
}

export function beginTest(name: string): TestWindow {
  const window = { name, since: leakCheckpoint() };
  sharedState().current = window;
  return window;
}

/** The test's verdict, after its last hook: the error to fail it with, or `undefined`. Records the summary. */
export async function endTest(window: TestWindow): Promise<LeakCheckError | undefined> {
  const state = sharedState();
  try {
    const { findings, error } = await check({ since: window.since, testName: window.name }, window.until);
    record(window.name, findings);
    return error;
  } finally {
    if (state.current?.since === window.since) state.current = undefined;
  }
}

function add(map: Map<string, LineEntry>, key: string, what: string, test: string): void {
  let entry = map.get(key);
  if (entry === undefined) map.set(key, (entry = { count: 0, what: new Set(), tests: [] }));
  entry.count++;
  entry.what.add(what);
  if (!entry.tests.includes(test)) entry.tests.push(test);
}

function record(test: string, findings: readonly LeakFinding[]): void {
  const s = summary();
  const open = new Set<string>();
  for (const f of findings) {
    if (f.type === 'openLease') {
      const key = `${f.pool}#${f.lease.id}`;
      open.add(key);
      if (f.fails) {
        const tx = transactionWords(f.lease.transaction);
        add(s.leaks, f.lease.where, `${callOf(f.lease.kind)} on pool '${f.pool}'${tx === undefined ? '' : `, ${tx}`}`, test);
      } else if (f.allowed !== undefined && f.lease.exempt === undefined) {
        const known = s.handovers.get(key);
        if (known !== undefined) known.lastEnd = test;
        else s.handovers.set(key, { finding: f, by: f.takenBefore ? undefined : test, lastEnd: test });
      }
    } else if (f.fails && f.type === 'dirtyRelease') {
      add(s.dirty, f.report.releaseSite ?? 'an unknown site', `${callOf(f.report.kind)} on pool '${f.pool}' taken at ${f.report.checkoutSite ?? 'an unknown site'}, released ${transactionWords(f.report.transaction)}`, test);
    } else if (f.fails && f.type === 'doubleRelease') {
      for (let i = 0; i < f.count; i++) add(s.doubles, `pool '${f.pool}'`, 'release() of a lease already released', test);
    }
  }
  // A hand-over the last check did not see open any more was taken over and released.
  for (const key of s.handovers.keys()) if (!open.has(key)) s.handovers.delete(key);
}

const quoted = (tests: readonly string[]): string => {
  const shown = tests.slice(0, 3).map((t) => `"${t}"`);
  return tests.length > 3 ? `${shown.join(', ')} and ${tests.length - 3} more` : shown.join(', ');
};

function lines(map: Map<string, LineEntry>): string[] {
  return [...map].sort((a, b) => b[1].count - a[1].count).map(([where, e]) => `  ${where}: ${e.count} × ${[...e.what].join('; ')}; in ${quoted(e.tests)}`);
}

/**
 * The run's leaks by line, its release faults, and the hand-overs still open at the last test's
 * end; `undefined` when there is nothing to say. `scope` names what ran (`this test file`).
 */
function summaryText(scope: string): string | undefined {
  const s = summary();
  const out: string[] = [];
  if (s.leaks.size > 0) {
    const leases = [...s.leaks.values()].reduce((n, e) => n + e.count, 0);
    const tests = new Set([...s.leaks.values()].flatMap((e) => e.tests)).size;
    out.push(`${plural(leases, 'lease')} left open at the end of ${plural(tests, 'test')}, from ${plural(s.leaks.size, 'line')}:`, ...lines(s.leaks));
  }
  if (s.dirty.size > 0) out.push('Released inside a transaction:', ...lines(s.dirty));
  if (s.doubles.size > 0) out.push('Released twice:', ...lines(s.doubles));
  if (s.handovers.size > 0) {
    out.push('Allowed to stay open with allowOpenLeases(), and still open at the end of the last test checked (no later test released it):');
    for (const h of s.handovers.values()) {
      const by = h.by === undefined ? 'taken before a test started' : `allowed in "${h.by}"`;
      out.push(`  ${h.finding.lease.where}: ${callOf(h.finding.lease.kind)} lease #${h.finding.lease.id} on pool '${h.finding.pool}', ${by} (${h.finding.allowed}), still open at the end of "${h.lastEnd}"`);
    }
  }
  if (out.length === 0) return undefined;
  const next =
    s.leaks.size + s.dirty.size + s.doubles.size > 0
      ? 'Fix each line above: release every lease exactly once, on every path (try/finally), after COMMIT or ROLLBACK.'
      : 'Release hand-overs in the test that takes them over, or in an after-all hook.';
  return [`poolguard leak check, ${scope}:`, ...out, next].join('\n');
}

/** The summary's text, and a new summary from here on (a runner may run another file in this process). */
export function takeSummary(scope: string): string | undefined {
  const text = summaryText(scope);
  const s = summary();
  s.leaks.clear();
  s.dirty.clear();
  s.doubles.clear();
  s.handovers.clear();
  return text;
}

/** Prints the summary once, to stderr: past the runners' console capture, which would file it under the last test. */
export function printSummary(scope: string): void {
  const text = takeSummary(scope);
  if (text !== undefined) process.stderr.write(`\n${text}\n`);
}

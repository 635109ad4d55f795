// Every sample of poolguard's output in README.md, CONTRIBUTING.md and docs/*.md is what the code
// prints now. A block of output is marked in the Markdown by the line before it:
//
//   <!-- sample: pg-timeout -->            the whole block is the output
//   <!-- sample: demo-run excerpt numbers -->   a part of it (excerpt); every number varies (numbers)
//
// test/docs/scenarios.ts runs the code behind each name against the real servers. When the words
// change on purpose, this test fails with a diff and the real output: paste it into the doc.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers/build.js';
import { blocks, docFiles, strayMarkers } from './markdown.js';
import { expectSample, LOOKS_LIKE_OUTPUT, matches, normalise, sampleBlocks } from './sample-check.js';
import { CHECKED_ELSEWHERE, logEntries, scenarios } from './scenarios.js';

const produced = new Set([...Object.values(scenarios).flatMap((s) => s.samples), ...Object.keys(CHECKED_ELSEWHERE)]);
const marked = docFiles().flatMap((file) => blocks(file).filter((b) => b.marker !== undefined));

describe('the docs’ samples of poolguard’s output', () => {
  it('are found in the pages (README.md, CONTRIBUTING.md, docs/*.md)', () => {
    expect(docFiles()).toContain('README.md');
    expect(marked.length).toBeGreaterThan(10);
  });

  it('each name a scenario that produces it, and each scenario’s output is shown somewhere', () => {
    const unknown = marked.filter((b) => !produced.has(b.marker!.name)).map((b) => `${b.file}:${b.line}: ${b.marker!.name}`);
    expect(unknown, 'marked blocks that no scenario in test/docs/scenarios.ts produces').toEqual([]);
    const unshown = [...produced].filter((name) => sampleBlocks(name).length === 0);
    expect(unshown, 'samples produced but shown in no page').toEqual([]);
  });

  it('every marker stands right before a fenced block', () => {
    expect(docFiles().flatMap((file) => strayMarkers(file).map((m) => `${file}:${m.line}: ${m.text}`))).toEqual([]);
  });

  it('no unmarked block looks like poolguard’s output (so none escapes the check)', () => {
    const unmarked = docFiles()
      .flatMap((file) => blocks(file))
      .filter((b) => b.marker === undefined && LOOKS_LIKE_OUTPUT.some((re) => re.test(b.text)))
      .map((b) => `${b.file}:${b.line}: ${b.text.split('\n')[0]}`);
    expect(unmarked, 'blocks that look like poolguard output: mark them <!-- sample: name --> and produce them in test/docs/scenarios.ts').toEqual([]);
  });

  it('samples checked by another test are checked there', () => {
    for (const [name, file] of Object.entries(CHECKED_ELSEWHERE)) {
      expect(readFileSync(join(root, file), 'utf8'), `${file} checks the sample ${name}`).toContain(`expectSample('${name}'`);
    }
  });

  for (const [title, scenario] of Object.entries(scenarios)) {
    it(`match the real output: ${title} (${scenario.samples.join(', ')})`, async () => {
      const real = await scenario.run();
      const failures: string[] = [];
      for (const name of scenario.samples) {
        try {
          expectSample(name, real[name] ?? '');
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
      if (failures.length > 0) expect.fail(failures.join('\n\n'));
    }, 60_000);
  }
});

describe('the sample check itself', () => {
  it('normalises what varies and nothing else', () => {
    const a = normalise('held 1.2 s, last query 980 ms ago, lease 12, pid 4411, 3 in use, at 2026-01-02T03:04:05.678Z, 127.0.0.1:40123');
    const b = normalise('held 10.4 s, last query 3 ms ago, lease 1, pid 9, 0 in use, at 2027-11-12T13:14:15Z, 127.0.0.1:5999');
    expect(a).toBe(b);
    expect(normalise('2 of 2 connections checked out')).not.toBe(normalise('3 of 3 connections checked out'));
    expect(normalise('{\n  "heldMs": 251,\n  "state": "idle"\n}')).toBe(normalise('{\n  "heldMs": 9,\n  "state": "idle"\n}'));
    expect(normalise('{\n  "state": "idle"\n}')).not.toBe(normalise('{\n  "state": "busy"\n}'));
    expect(normalise('    at f (file:///a.js:1:2)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)')).toBe('    at f (file:///a.js:1:2)');
  });

  it('reads the next step for a forgotten lease alike in its two forms (Node 24+ and before), and nothing else', () => {
    const node24 = 'has been held 1.2 s. Release it on every path at that line: use "await using client = await pool.connect()" or release it in a finally block.';
    expect(normalise(node24)).toBe(normalise('has been held 3 s. Release it on every path (try/finally) at that line.'));
    expect(normalise('Next: release the client in a finally block, or take it with "await using client = await pool.connect()" at the site with idle leases; x')).toBe(
      'Next: release the client in a finally block at the site with idle leases; x',
    );
    expect(normalise('at that line, and release() in a finally block, or take it with "await using client = await pool.connect()".')).toBe('at that line, and release() in a finally block.');
    expect(normalise(node24.replace('finally', 'catch'))).not.toBe(normalise('has been held 3 s. Release it on every path (try/finally) at that line.'));
  });

  it('lets … stand for lines and for text within a line, and fails on a changed word', () => {
    expect(matches('first\n…\nlast', 'first\na\nb\nlast')).toBe(true);
    expect(matches('first\n…\nlast', 'first\nlast')).toBe(true);
    expect(matches('a … z', 'a b c z')).toBe(true);
    expect(matches('a … z', 'a b c y')).toBe(false);
    expect(matches('middle', 'top\nmiddle\nbottom', true)).toBe(true);
    expect(matches('middle', 'top\nmiddle\nbottom')).toBe(false);
    expect(() => expectSample('pg-timeout', 'timeout exceeded when trying to connect\nsomething else')).toThrow(/is not what poolguard prints now[\s\S]*--- diff/);
  });

  it('tells log entries apart by the writes that made them', () => {
    expect(logEntries('\u241epoolguard[a]: one\n  lease 1\nAt 2 s …\n\u241eKnex: warning\n\u241epoolguard[a]: two\n')).toEqual(['poolguard[a]: one\n  lease 1\nAt 2 s …', 'poolguard[a]: two']);
  });
});

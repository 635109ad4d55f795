// Compares a sample of poolguard's output shown in the docs with what the code really prints.
// Both sides are normalised for what varies from run to run (durations, times, ids, pids, ports,
// paths, Node's own frames); everything else must be the same, word for word. In a doc block a line
// that is only `…` stands for any number of lines, and `…` inside a line for any text.
import { pathToFileURL } from 'node:url';
import { root } from '../helpers/build.js';
import { blocks, docFiles, type Block } from './markdown.js';

/** Where the docs say the application runs: real paths are shown under this directory. */
export const APP_ROOT = '/srv/app';

/** Paths of this checkout (and of a scenario's working directory) written as the docs write them. */
export function asDocPaths(text: string, cwd: string = root): string {
  let out = text;
  for (const dir of [cwd, root]) {
    out = out.split(pathToFileURL(dir).href).join(`file://${APP_ROOT}`).split(dir).join(APP_ROOT);
  }
  return out;
}

const VARYING_JSON_KEYS = 'id|pid|connectionId|leaseId|heldMs|idleMs|waitMs|waitedMs|ageMs|blockedMs|expectedMs|actualMs|takenAt|checkedOutAt|traceId|spanId';

/** What varies between two runs of the same code, replaced on both sides before they are compared. */
export function normalise(text: string, flags: ReadonlySet<string> = new Set()): string {
  let out = text
    .replace(/\r\n/g, '\n')
    .split('\n')
    // Node's own frames differ between Node versions (CI runs 20, 22 and 24).
    .filter((line) => !/^\s+at .*\(?node:internal\//.test(line))
    .map((line) => line.replace(/\s+$/, ''))
    // V8 names a frame's receiver differently between Node versions (`Function.value` on 20 and 22,
    // `knex.value` on 24): inside an installed package only the file and line are compared.
    .map((line) => line.replace(/^(\s+at )[\w$.<>]+\.([\w$<>]+ \(.*node_modules\/)/, '$1<receiver>.$2'))
    .join('\n')
    .replace(/\n+$/, '')
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z/g, '<time>')
    .replace(new RegExp(`"(${VARYING_JSON_KEYS})":(\\s*)(?:"[^"]*"|-?\\d+(?:\\.\\d+)?)`, 'g'), '"$1":$2<v>')
    .replace(/\b\d+(?:\.\d+)?\s?(?:ms|s|µs)\b/g, '<duration>')
    .replace(/\blease \d+\b/g, 'lease <id>')
    .replace(/\bpid \d+\b/g, 'pid <pid>')
    .replace(/\b\d+ in use\b/g, '<n> in use')
    .replace(/\b(127\.0\.0\.1|localhost):(?!5432\b|3306\b)\d+/g, '$1:<port>')
    // The next step for a forgotten lease is the runtime's: `await using` on Node 24 and later,
    // try/finally on 20 and 22 (src/core/leak-report.ts, timeouts.ts, words.ts). A sample may show either.
    .replace(/Release it on every path at that line: use "[^"]*" or release it in a finally block\./g, 'Release it on every path (try/finally) at that line.')
    .replace(/, or take it with "[^"]*"/g, '');
  if (flags.has('numbers')) out = out.replace(/\d+(?:[.,]\d+)*/g, 'N').replace(/[ \t]+/g, ' ');
  return out;
}

function linePattern(line: string): RegExp {
  return new RegExp(`^${line.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*?')}$`);
}

/** Whether the real lines match the doc's lines, `…` lines matching any run of lines. */
export function matches(doc: string, real: string, excerpt = false): boolean {
  const pattern = doc.split('\n');
  if (excerpt) pattern.unshift('…'), pattern.push('…');
  const lines = real.split('\n');
  const memo = new Map<string, boolean>();
  const step = (p: number, r: number): boolean => {
    const key = `${p},${r}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let ok: boolean;
    if (p === pattern.length) ok = r === lines.length;
    else if (pattern[p]!.trim() === '…') ok = step(p + 1, r) || (r < lines.length && step(p, r + 1));
    else ok = r < lines.length && linePattern(pattern[p]!).test(lines[r]!) && step(p + 1, r + 1);
    memo.set(key, ok);
    return ok;
  };
  return step(0, 0);
}

/** A line diff (longest common subsequence) of the doc's block and the real output, both normalised. */
export function diff(doc: string, real: string): string {
  const a = doc.split('\n');
  const b = real.split('\n');
  const same = (x: string, y: string) => x === y || (x.includes('…') && linePattern(x).test(y));
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = same(a[i]!, b[j]!) ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && same(a[i]!, b[j]!)) out.push(`  ${a[i++]}`), j++;
    else if (j < b.length && (i === a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) out.push(`+ ${b[j++]}`);
    else out.push(`- ${a[i++]}`);
  }
  return out.join('\n');
}

/** Every block in the docs marked with this sample name. */
export function sampleBlocks(name: string): Block[] {
  return docFiles().flatMap((file) => blocks(file).filter((b) => b.marker?.name === name));
}

/**
 * Checks every doc block marked `<!-- sample: name -->` against the real output (already written with
 * the docs' paths, see `asDocPaths`). Throws with a diff and the real text to paste when they differ.
 */
export function expectSample(name: string, real: string): void {
  const found = sampleBlocks(name);
  if (found.length === 0) throw new Error(`no block in the docs is marked <!-- sample: ${name} -->`);
  const problems: string[] = [];
  for (const block of found) {
    const flags = block.marker!.flags;
    const doc = normalise(block.text, flags);
    const actual = normalise(real, flags);
    if (matches(doc, actual, flags.has('excerpt'))) continue;
    problems.push(
      [
        `${block.file}:${block.line}: the sample "${name}" is not what poolguard prints now.`,
        'If the new output is right, replace the block with the real output below (durations, ids, pids and ports may stay as they are).',
        'If it is not, the change broke the words the docs promise.',
        '--- diff (normalised; - the doc, + the real output) ---',
        diff(doc, actual),
        '--- the real output ---',
        real,
        '---',
      ].join('\n'),
    );
  }
  if (problems.length > 0) throw new Error(problems.join('\n\n'));
}

/**
 * What poolguard's output looks like, for the check that every such block in the docs is marked (and
 * so compared): its log prefix, the timeout error's words, a stack frame, a snapshot, the CLI's table.
 */
export const LOOKS_LIKE_OUTPUT: readonly RegExp[] = [
  /^poolguard\[[^\]]*\]:/m,
  /Holders by call site:/,
  /possible (connection|resource) leak|slow lease:/,
  /^\s+at \S.*:\d+:\d+\)?$/m,
  /"takenAt":|"leaseId":/,
  /^poolguard (audit|status):/m,
  /^SEVERITY\s+RULE/m,
  /^\s*\d+ × /m,
];

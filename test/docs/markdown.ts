// A reader of the project's Markdown (README.md, CONTRIBUTING.md, docs/*.md) for the docs tests:
// fenced blocks with their sample markers, links, and the anchors GitHub and npm give headings.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../helpers/build.js';

/** The pages a reader meets: the README, the contributors' guide and every page in docs/ (not the generated docs/api/). */
export function docFiles(): string[] {
  const docs = existsSync(join(root, 'docs'))
    ? readdirSync(join(root, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .sort()
        .map((f) => `docs/${f}`)
    : [];
  return ['README.md', 'CONTRIBUTING.md', ...docs].filter((f) => existsSync(join(root, f)));
}

export function read(file: string): string {
  return readFileSync(join(root, file), 'utf8');
}

/** `<!-- sample: name flag flag -->` on the line before a fenced block. */
export interface SampleMarker {
  readonly name: string;
  /** `excerpt`: the block is a part of the output (lines before and after it are skipped); `numbers`: every number varies. */
  readonly flags: ReadonlySet<string>;
}

export interface Block {
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  readonly text: string;
  readonly marker: SampleMarker | undefined;
}

const FENCE = /^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)?.*$/;
const MARKER = /^<!--\s*sample:\s*([\w-]+)((?:\s+[\w-]+)*)\s*-->$/;

/** Every fenced code block of a page, with the sample marker that names it, if any. */
export function blocks(file: string): Block[] {
  const lines = read(file).split('\n');
  const found: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, lang = ''] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j]!;
      const close = /^( {0,3})(`{3,}|~{3,})\s*$/.exec(line);
      if (close && close[2]![0] === fence![0] && close[2]!.length >= fence!.length) break;
      body.push(line.startsWith(indent!) ? line.slice(indent!.length) : line);
    }
    let k = i - 1;
    while (k >= 0 && lines[k]!.trim() === '') k--;
    const m = k >= 0 ? MARKER.exec(lines[k]!.trim()) : null;
    const marker = m ? { name: m[1]!, flags: new Set(m[2]!.trim().split(/\s+/).filter(Boolean)) } : undefined;
    found.push({ file, line: i + 1, lang, text: body.join('\n'), marker });
    i = j;
  }
  return found;
}

/** Sample markers (outside code) that do not stand right before a fenced block: a marker must name a block. */
export function strayMarkers(file: string): Array<{ line: number; text: string }> {
  const lines = read(file).split('\n');
  const stray: Array<{ line: number; text: string }> = [];
  for (const { line, text } of prose(file)) {
    if (!/<!--\s*sample:/.test(text)) continue;
    let k = line;
    while (k < lines.length && lines[k]!.trim() === '') k++;
    if (!MARKER.test(text.trim()) || k >= lines.length || !FENCE.test(lines[k]!)) stray.push({ line, text: text.trim() });
  }
  return stray;
}

/** The page's lines outside fenced blocks, with inline code spans blanked (links in code are not links). */
function prose(file: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  let fence: string | undefined;
  read(file)
    .split('\n')
    .forEach((line, i) => {
      const f = /^ {0,3}(`{3,}|~{3,})/.exec(line);
      if (fence === undefined && f) {
        fence = f[1]!;
        return;
      }
      if (fence !== undefined) {
        if (f && f[1]![0] === fence[0] && f[1]!.length >= fence.length && line.trim() === f[1]) fence = undefined;
        return;
      }
      out.push({ line: i + 1, text: line.replace(/(`+)(?:(?!\1)[\s\S])*?\1/g, (s) => ' '.repeat(s.length)) });
    });
  return out;
}

export interface Link {
  readonly file: string;
  readonly line: number;
  readonly target: string;
}

/** Inline links and images `[text](target)`, reference definitions `[x]: target`, and HTML `href`s. */
export function links(file: string): Link[] {
  const found: Link[] = [];
  for (const { line, text } of prose(file)) {
    for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) found.push({ file, line, target: m[1]! });
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$/.exec(text);
    if (def) found.push({ file, line, target: def[1]! });
    for (const m of text.matchAll(/\bhref="([^"]+)"/g)) found.push({ file, line, target: m[1]! });
  }
  return found;
}

/**
 * The anchors of a page's headings as GitHub makes them (npm's page uses the same ids, prefixed with
 * `user-content-`, and resolves a plain `#anchor` to them): the heading's text without markup, lower
 * case, with everything but letters, digits, `_`, `-` and spaces dropped, spaces as `-`, and `-1`,
 * `-2` … for repeats. Plus explicit `<a id="…">` / `<a name="…">` anchors.
 */
export function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { text } of prose(file)) {
    for (const m of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1]!);
  }
  let fence: string | undefined;
  for (const line of read(file).split('\n')) {
    const f = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (f) {
      if (fence === undefined) fence = f[1]!;
      else if (f[1]![0] === fence[0] && f[1]!.length >= fence.length && line.trim() === f[1]) fence = undefined;
      continue;
    }
    if (fence !== undefined) continue;
    const h = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const plain = h[1]!
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .replace(/`/g, '')
      .replace(/\*\*|__/g, '');
    const base = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

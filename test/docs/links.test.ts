// Every relative link in README.md, CONTRIBUTING.md and docs/*.md resolves: to a file or folder of
// the repository and, with `#anchor`, to a heading (or an explicit <a id>) of that page, with the
// ids GitHub and npm give headings. External links (https:, mailto:) are not fetched.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers/build.js';
import { anchors, docFiles, links } from './markdown.js';

function broken(file: string): string[] {
  const problems: string[] = [];
  for (const link of links(file)) {
    const { target, line } = link;
    if (/^[a-z][a-z+.-]*:/i.test(target)) continue;
    const hash = target.indexOf('#');
    const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const where = `${file}:${line}: ${target}`;
    if (path.startsWith('/')) {
      problems.push(`${where}: an absolute path resolves against the host (github.com, npmjs.com), not the repository; write it relative`);
      continue;
    }
    const resolved = path === '' ? join(root, file) : normalize(join(root, dirname(file), path));
    if (relative(root, resolved).startsWith('..')) {
      problems.push(`${where}: leaves the repository`);
      continue;
    }
    if (!existsSync(resolved)) {
      problems.push(`${where}: no such file`);
      continue;
    }
    if (anchor === undefined) continue;
    if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) {
      problems.push(`${where}: an anchor into something that is not a Markdown page`);
      continue;
    }
    const page = relative(root, resolved);
    if (!anchors(page).has(anchor)) problems.push(`${where}: ${page} has no heading with the anchor #${anchor}`);
  }
  return problems;
}

describe('links in the docs', () => {
  it('are found (a checker that finds no link checks nothing)', () => {
    const all = docFiles().flatMap((file) => links(file));
    expect(all.filter((l) => !/^[a-z]+:/i.test(l.target)).length).toBeGreaterThan(50);
    expect(all.some((l) => l.target.includes('#'))).toBe(true);
  });

  for (const file of docFiles()) {
    it(`resolve, with their anchors: ${file}`, () => {
      expect(broken(file)).toEqual([]);
    });
  }

  it('every page in docs/ is reached from the README', () => {
    const fromReadme = new Set(
      links('README.md')
        .map((l) => l.target.split('#')[0]!)
        .filter((t) => t.startsWith('docs/')),
    );
    expect(docFiles().filter((f) => f.startsWith('docs/') && !fromReadme.has(f))).toEqual([]);
  });

  it('anchors are made as GitHub makes them', () => {
    // The README's own headings, one with code and punctuation in it.
    expect(anchors('README.md')).toContain('options');
    expect(anchors('docs/operations.md')).toContain('shutdown-poolend-with-a-leak-still-open');
    expect(anchors('docs/reports.md')).toContain('events-on-poolguard');
  });
});

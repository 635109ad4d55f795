// What the README promises as a landing page, and the lists in the docs that must name every public
// field: checked against package.json, .ci/run and the committed API report (etc/poolguard.api.md),
// which changes only with the public API.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers/build.js';
import { read } from './markdown.js';

const readme = read('README.md');
const api = readFileSync(join(root, 'etc/poolguard.api.md'), 'utf8').replace(/\r\n/g, '\n');

/** The member names of an interface in the API report. */
function members(name: string): string[] {
  const body = new RegExp(`export interface ${name}(?: extends [^{]+)? \\{\\n([\\s\\S]*?)\\n\\}`).exec(api)?.[1];
  if (body === undefined) throw new Error(`etc/poolguard.api.md has no interface ${name}`);
  return [...body.matchAll(/^ {4}(?:readonly )?(\w+)\??:/gm)].map((m) => m[1]!);
}

function section(text: string, heading: string): string {
  const start = text.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`no section ${heading}`);
  const next = text.indexOf('\n## ', start + heading.length + 2);
  return text.slice(start, next === -1 ? undefined : next);
}

describe('the README', () => {
  it('keeps the demo and test commands CI runs exactly (.ci/run)', () => {
    const ci = readFileSync(join(root, '.ci/run'), 'utf8');
    for (const command of ['npm ci && npm test', 'npm ci && npm run demo']) {
      expect(ci).toContain(`\n${command}\n`);
      expect(readme).toContain(`\`${command}\``);
    }
  });

  it('names every pool it guards in its first paragraph', () => {
    const first = readme.split('\n\n')[1]!;
    for (const name of ['pg.Pool', 'postgres.js', 'mysql2', 'callback and promise', '`mysql`', 'MariaDB connector', 'generic-pool', 'Knex', 'Sequelize', 'TypeORM', 'Prisma', '@prisma/adapter-pg', 'Drizzle', 'Kysely', 'pg-boss', 'pg-promise']) {
      expect(first, name).toContain(name);
    }
  });

  it('shows the one-import change for every entry point of package.json', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    // poolguard/eslint (a lint plugin) and poolguard/testing (the test runners' leak check) are not
    // pools to import instead of the driver's: the README's "Before it ships" section shows them.
    const notPools = /^\.\/(eslint|testing)(\/|$)/;
    const entries = Object.keys(pkg.exports).filter((e) => e !== '.' && e !== './package.json' && !notPools.test(e));
    const table = section(readme, '## One import per pool');
    for (const entry of entries) expect(table, entry).toMatch(new RegExp(`['\`]poolguard/${entry.slice(2)}['\`]`));
  });

  it("has a feature table whose every driver cell links to the tests that show it", () => {
    const table = section(readme, '## What each driver gets');
    const drivers = table.split('\n').find((l) => l.startsWith('| |'))!.split(' | ').length - 1;
    const rows = table.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| |'));
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const cells = row.split(' | ').slice(1);
      expect(cells, row).toHaveLength(drivers);
      for (const cell of cells) expect(cell, row).toMatch(/^\[[^\]]+\]\(test\/[\w/.-]+\.test\.ts\)/);
    }
  });

  it('has one options table, with every guard option of the public API once', () => {
    const table = section(readme, '## Options');
    const rows = [...table.matchAll(/^\| `(\w+)`(?: \/ `(\w+)`)? \|/gm)].flatMap((m) => [m[1]!, m[2]].filter((x): x is string => x !== undefined));
    expect([...rows].sort()).toEqual([...members('GuardOptions')].sort());
  });

  it('stays a landing page', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(250);
  });
});

describe('the docs list every public field', () => {
  const reports = read('docs/reports.md');

  it('snapshot(): counts, totals and lease fields', () => {
    const text = section(reports, '## `pool.guard.snapshot()`');
    for (const field of [...members('PoolCounts'), 'leased', ...members('GuardTotals'), ...members('LeaseSnapshot')]) {
      expect(text, field).toContain(`\`${field}\``);
    }
  });

  it('LeakReport: one row per field', () => {
    const text = section(reports, '## Events on `pool.guard`');
    const rows = [...text.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]!);
    for (const field of members('LeakReport')) expect(rows, field).toContain(field);
  });
});

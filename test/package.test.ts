// What `npm pack` would publish, read without building again (scripts/ci-package.sh packs a copy
// with no dist/, installs the tarball and uses it; this is the quick check that runs with the suite).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, root } from './helpers/build.js';

interface PackageJson {
  main: string;
  module: string;
  types: string;
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, Record<string, string>>>;
  typesVersions: Record<string, Record<string, string[]>>;
  scripts: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  engines: { node: string };
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
let packed: Set<string>;

function normal(path: string): string {
  return posix.normalize(path).replace(/^\.\//, '');
}

beforeAll(() => {
  ensureBuilt();
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  const [result] = JSON.parse(out) as [{ files: Array<{ path: string }> }];
  packed = new Set(result.files.map((f) => f.path));
}, 60_000);

describe('the packed package', () => {
  it('builds when packed or published (prepack); a clone builds through its own commands, not an install hook', () => {
    expect(pkg.scripts.prepack).toBe('npm run build');
    // No prepare/postprepare: npm 11 lists those for approval, and the tests (global set-up), the
    // demo and the example build dist/ themselves.
    expect(pkg.scripts.postprepare).toBeUndefined();
  });

  it('has no install script, which npm 11 would list and ask to allow when it is installed (prepare included, from a tarball or git)', () => {
    const installScripts = ['preinstall', 'install', 'postinstall', 'prepare'].filter((name) => pkg.scripts[name] !== undefined);
    expect(installScripts).toEqual([]);
  });

  it('ships every file package.json points to', () => {
    const targets = [pkg.main, pkg.module, pkg.types, ...Object.values(pkg.bin)];
    for (const [subpath, entry] of Object.entries(pkg.exports)) {
      if (typeof entry === 'string') targets.push(entry);
      else for (const conditions of Object.values(entry)) targets.push(...Object.values(conditions));
      if (subpath !== '.' && subpath !== './package.json') {
        // moduleResolution node10 ignores exports: typesVersions is how it finds the subpath.
        expect(pkg.typesVersions['*']?.[subpath.slice(2)], `typesVersions for ${subpath}`).toBeDefined();
      }
    }
    for (const paths of Object.values(pkg.typesVersions['*'] ?? {})) targets.push(...paths);
    const missing = targets.map(normal).filter((t) => !packed.has(t));
    expect(missing).toEqual([]);
  });

  it('ships the sources every source map points to', () => {
    const maps = [...packed].filter((p) => p.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(100);
    const unresolved: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(root, map), 'utf8')) as { sources: string[] };
      for (const source of sources) {
        const target = posix.join(posix.dirname(map), source);
        if (!packed.has(target)) unresolved.push(`${map} -> ${target}`);
      }
    }
    expect(unresolved).toEqual([]);
  });

  it('engines names exactly the Node lines CI tests: the main run on the machine\'s Node 20 (.ci/run) and the lines of scripts/ci-node-versions.sh', () => {
    const script = readFileSync(join(root, 'scripts/ci-node-versions.sh'), 'utf8');
    const versions = /NODE_VERSIONS:-([\d. ]+)\}/.exec(script)![1]!.trim().split(/\s+/);
    const majors = [20, ...versions.map((v) => Number(v.split('.')[0]))];
    expect(majors).toEqual([20, 22, 24, 26]);
    expect(pkg.engines.node).toBe(majors.map((m) => `^${m}.0.0`).join(' || '));
  });

  it('the docs name the Node lines engines names (README, CONTRIBUTING, docs/design.md)', () => {
    const majors = [...pkg.engines.node.matchAll(/\^(\d+)\.0\.0/g)].map((m) => m[1]!);
    const said = majors.slice(0, -1).join(', ') + ` or ${majors.at(-1)}`;
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain(`on Node ${said}.`);
    const contributing = readFileSync(join(root, 'CONTRIBUTING.md'), 'utf8');
    expect(contributing).toContain(`Node ${said}: CI runs the tests on each`);
    const others = majors.slice(1);
    expect(contributing.replace(/\s+/g, ' ')).toContain(`runs the whole suite again on Node ${others.slice(0, -1).join(', ')} and ${others.at(-1)}`);
    expect(readFileSync(join(root, 'docs/design.md'), 'utf8').replace(/\s+/g, ' ')).toContain(`Node ${others.slice(0, -1).join(', ')} and ${others.at(-1)} (the active LTS) are tested, and Node ${majors[0]}`);
  });

  it('ships no tests, benchmarks or demo', () => {
    const extra = [...packed].filter((p) => !/^(dist|src)\//.test(p) && !/^docs\/[\w-]+\.md$/.test(p) && !['package.json', 'README.md'].includes(p));
    expect(extra).toEqual([]);
  });

  it('ships the docs pages the README links to, so that they read from node_modules/poolguard too', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const pages = [...new Set([...readme.matchAll(/\]\((docs\/[\w-]+\.md)(?:#[^)]*)?\)/g)].map((m) => m[1]!))];
    expect(pages.length).toBeGreaterThan(5);
    expect(pages.filter((page) => !packed.has(page))).toEqual([]);
  });

  it('declares @types/pg, which its declarations import, as an optional peer', () => {
    expect(pkg.peerDependencies['@types/pg']).toMatch(/^\^8\./);
    expect(pkg.peerDependenciesMeta['@types/pg']).toEqual({ optional: true });
  });

  it('declarations need no esModuleInterop: no default import of a package (CommonJS) or of a node: module', () => {
    const offenders: string[] = [];
    for (const [format, pattern] of [['cjs', /^import \w+ from '[^'.]/], ['esm', /^import \w+ from 'node:/]] as const) {
      const dir = join(root, 'dist', format);
      for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
        const path = join(entry.parentPath, entry.name);
        for (const line of readFileSync(path, 'utf8').split('\n')) {
          if (pattern.test(line)) offenders.push(`${path.slice(root.length + 1)}: ${line}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});

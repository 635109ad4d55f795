// `npm run docs` (build, api, then this): API reference in Markdown (docs/api/, not committed) from the api-extractor models
// that `npm run api` writes to temp/model/. The entry points `poolguard/pg` and
// `poolguard/generic-pool` re-export the core's names; api-documenter knows one package per model,
// so their pages keep only what each adds (Pool, guard, createPool…) and link to the core's pages
// for the rest.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

const model = 'temp/model';
const input = 'temp/docs-input';
const output = 'docs/api';
// Also run directly (CI), not only through npm, which puts node_modules/.bin on the PATH.
const env = { ...process.env, PATH: `${resolve('node_modules/.bin')}${delimiter}${process.env.PATH ?? ''}` };
const run = (cmd, args) => execFileSync(process.platform === 'win32' ? `${cmd}.cmd` : cmd, args, { stdio: 'inherit', env });

rmSync(input, { recursive: true, force: true });
mkdirSync(input, { recursive: true });
const core = JSON.parse(readFileSync(join(model, 'poolguard.api.json'), 'utf8'));
const coreNames = new Set(core.members[0].members.map((m) => m.canonicalReference));
copyFileSync(join(model, 'poolguard.api.json'), join(input, 'poolguard.api.json'));
for (const entry of ['pg', 'generic-pool', 'knex', 'sequelize', 'eslint', 'prisma', 'mysql', 'mariadb', 'mariadb-callback', 'postgres']) {
  const m = JSON.parse(readFileSync(join(model, `poolguard-${entry}.api.json`), 'utf8'));
  // api-documenter accepts npm package names only: `poolguard-pg` here, `poolguard/pg` in the pages.
  const name = `poolguard-${entry}`;
  const own = m.members[0].members.filter((x) => !coreNames.has(x.canonicalReference));
  // Only the entry point's own declarations move to its package; references to the core's names stay.
  const ownRefs = new Set(own.map((x) => x.canonicalReference.replace(/:.*$/, '')));
  const rename = (text) => text.replace(/poolguard!([A-Za-z_$][\w$]*)/g, (ref, id) => (ownRefs.has(ref) ? `${name}!${id}` : ref));
  m.name = name;
  m.canonicalReference = `${name}!`;
  m.members[0].members = JSON.parse(rename(JSON.stringify(own)));
  m.members[0].canonicalReference = `${name}!`;
  writeFileSync(join(input, `poolguard-${entry}.api.json`), JSON.stringify(m));
}

rmSync(output, { recursive: true, force: true });
run('api-documenter', ['markdown', '--input-folder', input, '--output-folder', output]);
for (const file of readdirSync(output)) {
  const path = join(output, file);
  const text = readFileSync(path, 'utf8');
  // Names as the reader imports them; file names and link targets stay as written.
  const fixed = text.replace(/(?<![./\w-])poolguard-(pg|generic-pool|knex|sequelize|eslint|prisma|postgres)(?![.\w-])/g, 'poolguard/$1').replace(/ package$/gm, ' entry point');
  if (fixed !== text) writeFileSync(path, fixed);
}
console.log(`\nAPI reference written to ${output}/index.md`);

// Loaded with `node --import` into each of mysql2's test processes by mysql2-pool-tests.mjs: the
// test files import `../index.js`, `../promise.js` and `../lib/…` from their checkout; those
// imports are answered from another place, chosen by POOLGUARD_MYSQL2_SUBSTITUTE (JSON):
//   { "checkout": "/abs/mysql2", "lib": "/abs/node_modules/mysql2", "index": "/abs/x.cjs", "promise": "/abs/y.cjs" }
// `lib` is the mysql2 that poolguard wraps (the test files' own lib/ is never loaded, so both runs
// test one copy of the driver); `index` and `promise` are that mysql2's entry points (the plain run)
// or the generated ones that swap in poolguard's createPool/createPoolCluster. The test files are
// not touched. ESM imports go through a resolve hook (module.register); require() calls through
// Module._resolveFilename, since Node 20's ESM hooks do not see them.
import Module, { register } from 'node:module';
import path from 'node:path';

const settings = JSON.parse(process.env.POOLGUARD_MYSQL2_SUBSTITUTE ?? 'null');
if (settings === null) throw new Error('mysql2-substitute.mjs: POOLGUARD_MYSQL2_SUBSTITUTE is not set (run it through scripts/upstream/mysql2-pool-tests.mjs)');

/** The file that answers for `file` in the checkout, or undefined to leave it. */
function substitute(file) {
  const rel = path.relative(settings.checkout, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  if (rel === 'index.js') return settings.index;
  if (rel === 'promise.js') return settings.promise;
  if (rel.startsWith(`lib${path.sep}`)) return path.join(settings.lib, rel);
  return undefined;
}

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function resolveWithSubstitute(request, parent, isMain, options) {
  const file = resolveFilename.call(this, request, parent, isMain, options);
  return substitute(file) ?? file;
};

register(
  'data:text/javascript,' +
    encodeURIComponent(`
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
let settings;
export function initialize(data) { settings = data; }
${substitute.toString()}
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (!result.url.startsWith('file:')) return result;
  const file = substitute(fileURLToPath(result.url));
  return file === undefined ? result : { url: pathToFileURL(file).href, format: undefined, shortCircuit: true };
}
`),
  { parentURL: import.meta.url, data: settings },
);

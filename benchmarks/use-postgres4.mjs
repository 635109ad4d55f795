// Loaded with `node --import ./benchmarks/use-postgres4.mjs …`: every `import 'postgres'` (poolguard's
// own included) resolves to postgres.js 4, installed as the devDependency `postgres4`, so that a
// benchmark written for `postgres` measures 4 beside 4.
import { register } from 'node:module';

const hook = 'export async function resolve(specifier, context, next) { return next(specifier === "postgres" ? "postgres4" : specifier, context); }';
register(`data:text/javascript,${encodeURIComponent(hook)}`);

// The package is "type": "module"; this marks the CommonJS build as CommonJS for Node.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const cjs = new URL('../dist/cjs/', import.meta.url);
writeFileSync(new URL('package.json', cjs), JSON.stringify({ type: 'commonjs' }) + '\n');

// The CommonJS declarations are what TypeScript reads under moduleResolution node10 and from
// CommonJS under node16. There a default import of a module with no default export (`import pg from
// 'pg'`) needs esModuleInterop or allowSyntheticDefaultImports in the user's tsconfig; TypeScript 5.9 with module commonjs has both off, and with skipLibCheck every pg
// type then silently becomes an error type (`'connectionString' does not exist in type
// 'PoolOptions'`). A namespace import names the same types under every setting. Declarations only:
// the JavaScript keeps the default import, which is what runs on every pg 8.
const defaultImport = /^import (\w+) from '([^'.][^']*)';$/gm;
for (const entry of readdirSync(cjs, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
  const path = `${entry.parentPath ?? entry.path}/${entry.name}`;
  const text = readFileSync(path, 'utf8');
  const rewritten = text.replace(defaultImport, "import * as $1 from '$2';");
  if (rewritten !== text) writeFileSync(path, rewritten);
}

// poolguard's own rule over this repository's examples, demo, benchmarks and tests, as a user's flat
// config applies it (the package imports itself by name: run `npm run build` first), so that
// `npx eslint examples demo benchmarks test` shows what it finds. Those directories leak on purpose
// (the examples' and the demo's bugs, the fixtures the leak tests need), and many tests release
// only after their assertions, so a failing test would leak: the findings are expected, and
// test/eslint/repository.test.ts asserts the examples' and the demo's exactly.
import tsParser from '@typescript-eslint/parser';
import poolguard from 'poolguard/eslint';

export default [
  { ignores: ['dist/', 'temp/', 'docs/', 'scratch/', 'demo-report/', 'src/', 'test/fixtures/prisma/generated/', 'test/fixtures/prisma-service/generated/'] },
  { files: ['**/*.{ts,mts,cts}'], languageOptions: { parser: tsParser } },
  poolguard.configs.recommended,
];

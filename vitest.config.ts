import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 15_000,
    hookTimeout: 15_000,
    // Tests share one local server; running files in parallel is fine, but keep it to the cores.
    maxWorkers: 2,
    projects: [
      // (include is set per project: an inherited one would be added to the other's.)
      { extends: true, test: { name: 'default', include: ['test/**/*.test.ts'] } },
      // poolguard/postgres guards postgres.js 3.4 and 4: its tests run once more with `postgres`
      // resolved to the 4.x installed as `postgres4` (the adapter's own import included).
      {
        extends: true,
        test: { name: 'postgres.js 4', include: ['test/postgres/**/*.test.ts'] },
        resolve: { alias: [{ find: /^postgres$/, replacement: 'postgres4' }] },
      },
    ],
  },
});

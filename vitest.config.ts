import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 15_000,
    hookTimeout: 15_000,
    // Tests share one local server; running files in parallel is fine, but keep it to the cores.
    maxWorkers: 2,
  },
});

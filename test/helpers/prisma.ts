import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { root } from './build.js';

/**
 * Generates a Prisma 7 client from a schema of the repository (paths from its root), offline:
 * Prisma 7's client needs no query engine, and the CLI, which still looks for a schema engine at
 * start-up (and would download one), is told where one is. Prisma's install scripts stay disabled.
 */
export function generatePrismaClient(schema: string): void {
  execFileSync(process.execPath, [join(root, 'node_modules/prisma/build/index.js'), 'generate', '--schema', join(root, schema)], {
    cwd: root,
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.execPath, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
    stdio: 'pipe',
  });
}

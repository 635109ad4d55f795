/**
 * `poolguard/prisma`: names the application's `prisma.$transaction(…)` line in leak reports for
 * Prisma 7 on `@prisma/adapter-pg`. Add one line after
 * `const prisma = new PrismaClient({ adapter: new PrismaPg(pool) })`: `guardPrisma(prisma)`.
 *
 * @packageDocumentation
 */
export { guardPrisma, type PrismaClientLike } from './adapters/prisma.js';
export * from './index.js';

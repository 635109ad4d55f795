// npm run bench: every benchmark in turn; with --write, the results replace benchmarks/RESULTS.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { machine, section } from './lib.mjs';

const names = ['checkout-release', 'query-throughput', 'stack-capture', 'stack-depth', 'scale', 'memory', 'capture-policy', 'transaction', 'data-layers', 'mysql2', 'prisma', 'postgres'];
const parts = [];
const smoke = process.argv.includes('--smoke');
for (const name of names) {
  process.stderr.write(`bench: ${name}…\n`);
  const { run } = await import(`./${name}.mjs`);
  const { title, body } = await run();
  parts.push(section(title, `node --expose-gc benchmarks/${name}.mjs`, body));
  console.log(parts.at(-1));
}
if (process.argv.includes('--write') && !smoke) {
  const header = `# Benchmark results\n\nProduced by \`npm run bench -- --write\` on ${new Date().toISOString().slice(0, 10)}.\nMachine: ${await machine()}.\nEvery table compares its variants in one process, interleaved, after a warm-up; medians and spread (min–max) over the rounds.\n\n`;
  // The hand-written analysis (targets, profiles, before/after) follows the generated tables.
  const notes = readFileSync(new URL('./NOTES.md', import.meta.url), 'utf8');
  writeFileSync(new URL('./RESULTS.md', import.meta.url), header + parts.join('\n') + '\n' + notes);
}

// Runs api-extractor for every entry point. `--check` (CI) fails when the public API differs from
// the committed reports in etc/; without it (`npm run api`) the reports are updated for review.
import { execFileSync } from 'node:child_process';

const check = process.argv.includes('--check');
const configs = ['api-extractor.json', 'api-extractor.pg.json', 'api-extractor.generic-pool.json', 'api-extractor.knex.json', 'api-extractor.sequelize.json', 'api-extractor.mysql2.json', 'api-extractor.mysql2-promise.json', 'api-extractor.prisma.json'];
let failed = false;
for (const config of configs) {
  const args = ['run', '--config', config, ...(check ? [] : ['--local'])];
  try {
    execFileSync(process.platform === 'win32' ? 'api-extractor.cmd' : 'api-extractor', args, { stdio: 'inherit' });
  } catch {
    failed = true;
    console.error(`\napi-extractor failed for ${config}.` + (check ? ' If the API change is intended, run `npm run build && npm run api` and commit etc/*.api.md.' : ''));
  }
}
process.exit(failed ? 1 : 0);

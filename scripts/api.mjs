// Runs api-extractor for every entry point. `--check` (CI) fails when the public API differs from
// the committed reports in etc/; without it (`npm run api`) the reports are updated for review.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const check = process.argv.includes('--check');
// One config per entry point, found by name, so that a new entry point is checked once its config exists.
const configs = readdirSync('.').filter((f) => /^api-extractor(\.[a-z0-9-]+)?\.json$/.test(f)).sort((a, b) => (a === 'api-extractor.json' ? -1 : b === 'api-extractor.json' ? 1 : a.localeCompare(b)));
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

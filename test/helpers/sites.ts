import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './build.js';

/**
 * For a plain JavaScript fixture whose checkouts carry `// SITE:<name>` markers: a matcher for the
 * exact `file:line:column` a report must name for that marker's line.
 */
export function siteMatchers(file: string): (name: string) => RegExp {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  return (name) => {
    const index = lines.findIndex((line) => line.includes(`// SITE:${name}`));
    if (index === -1) throw new Error(`no SITE:${name} marker in ${file}`);
    return new RegExp(`^${file.replace(/\./g, '\\.')}:${index + 1}:\\d+$`);
  };
}

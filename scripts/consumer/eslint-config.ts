// Type-checked (never run) by scripts/ci-package.sh: a typed eslint.config.ts using poolguard/eslint
// from the packed tarball, its plugin and preset where ESLint's own types expect them.
import poolguard, { configs, rules } from 'poolguard/eslint';
import type { ESLint, Linter, Rule } from 'eslint';

const plugin: ESLint.Plugin = poolguard;
const rule: Rule.RuleModule = rules['release-on-every-path'];
export default [
  configs.recommended,
  { files: ['src/**/*.ts'], plugins: { poolguard: plugin }, rules: { 'poolguard/release-on-every-path': ['warn'] } },
] satisfies Linter.Config[];

// @ts-expect-error the plugin has one rule, and this is not its name
void poolguard.rules['no-such-rule'];
void rule;

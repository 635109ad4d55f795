/**
 * `poolguard/eslint`: an ESLint plugin (flat config) with one rule, `poolguard/release-on-every-path`,
 * which flags an explicit pool checkout that is not released on every path out of the function
 * that took it. Needs `eslint` 9 or 10 (an optional peer dependency); loads neither ESLint nor any
 * pool library itself.
 *
 * ```js
 * // eslint.config.js
 * import poolguard from 'poolguard/eslint';
 * export default [poolguard.configs.recommended];
 * ```
 *
 * @packageDocumentation
 */
import type { ESLint, Linter, Rule } from 'eslint';
import { releaseOnEveryPath } from './eslint/rule.js';
import { VERSION } from './version.js';

/**
 * The plugin's rules, by name (without the `poolguard/` prefix a config gives them).
 * @public
 */
export const rules: { readonly 'release-on-every-path': Rule.RuleModule } = {
  'release-on-every-path': releaseOnEveryPath,
};

/**
 * The plugin's name and version, as ESLint reports them.
 * @public
 */
export const meta: { readonly name: string; readonly version: string } = { name: 'poolguard', version: VERSION };

/**
 * The plugin's configs, by name (see {@link configs}).
 * @public
 */
export interface PoolguardConfigs extends Record<string, Linter.Config> {
  /** Registers the plugin as `poolguard` and turns `poolguard/release-on-every-path` on as an error. */
  readonly recommended: Linter.Config;
}

/**
 * The plugin object, given as `plugins: { poolguard: plugin }` in a flat config.
 * @public
 */
export interface PoolguardPlugin extends ESLint.Plugin {
  /** {@inheritDoc meta} */
  readonly meta: typeof meta;
  /** {@inheritDoc rules} */
  readonly rules: typeof rules;
  /** {@inheritDoc configs} */
  readonly configs: PoolguardConfigs;
}

const plugins: Record<string, ESLint.Plugin> = {};

/**
 * Flat-config presets. `configs.recommended` registers the plugin as `poolguard` and turns
 * `poolguard/release-on-every-path` on as an error, for the files the config it is added to covers.
 * @public
 */
export const configs: PoolguardConfigs = {
  recommended: {
    name: 'poolguard/recommended',
    plugins,
    rules: { 'poolguard/release-on-every-path': 'error' },
  },
};

/**
 * The plugin: `import poolguard from 'poolguard/eslint'`, then `poolguard.configs.recommended`.
 * @public
 */
const plugin: PoolguardPlugin = { meta, rules, configs };
plugins['poolguard'] = plugin;

export default plugin;

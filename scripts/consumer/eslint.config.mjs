// A user's flat config (ESM), linting leaky.mjs with the packed poolguard/eslint.
import poolguard from 'poolguard/eslint';

export default [{ files: ['leaky.mjs'] }, poolguard.configs.recommended];

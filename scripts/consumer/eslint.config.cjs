'use strict';
// A user's flat config (CommonJS), linting leaky.mjs with the packed poolguard/eslint.
const poolguard = require('poolguard/eslint');

module.exports = [{ files: ['leaky.mjs'] }, poolguard.configs.recommended];

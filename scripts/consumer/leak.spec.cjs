'use strict';
// mocha --require poolguard/testing/mocha leak.spec.cjs (see leak-tests.cjs)
require('./leak-tests.cjs')({ it, after });

// node --test --import poolguard/testing/node-test leak.test.mjs (see leak-tests.cjs)
import { after, it } from 'node:test';
import leakTests from './leak-tests.cjs';

leakTests({ it, after });

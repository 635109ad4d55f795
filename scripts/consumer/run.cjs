'use strict';
// The package as a CommonJS user loads it (see checks.cjs).
const pg = require('pg');
const { Pool } = require('poolguard/pg');
const { createPool } = require('poolguard/generic-pool');
const { DoubleReleaseError } = require('poolguard');
const testing = require('poolguard/testing');
const check = require('./checks.cjs');

check('cjs', { pg, Pool, createPool, DoubleReleaseError, testing }).catch((err) => {
  console.error(err);
  process.exit(1);
});

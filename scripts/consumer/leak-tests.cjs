'use strict';
// Run by scripts/ci-package.sh under node:test and Mocha, each loading poolguard's set-up module by
// its package name, as a user's configuration does: the test that leaks fails, naming this line.
const { Pool } = require('poolguard/pg');

module.exports = function leakTests({ it, after }) {
  const connectionString = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const pool = new Pool({ connectionString, max: 2, guard: { name: 'pkgci-testing', logger: false } });
  let leaked;

  it('releases its client', async () => {
    const client = await pool.connect();
    client.release();
  });

  it('leaks its client', async () => {
    leaked = await pool.connect(); // LEAK
    await leaked.query('BEGIN');
  });

  after(async () => {
    leaked?.release(true);
    await pool.end();
  });
};

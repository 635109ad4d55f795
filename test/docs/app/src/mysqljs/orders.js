import { createPool } from 'poolguard/mysql';

export const pool = createPool({ host: '127.0.0.1', user: 'root', database: 'test', connectionLimit: 2, guard: { name: 'orders', leakThresholdMs: 1_000, acquireTimeoutMs: 2_000 } });

export function getOrder(id, done) {
  // The bug: conn.release() only on the happy path.
  // (Line 8 is the checkout the reports name.)
  pool.getConnection((err, conn) => {
    if (err) return done(err);
    conn.query('SELECT ? AS id', [id], (queryErr, rows) => {
      if (queryErr || rows.length === 0 || id % 2 === 1) return done(queryErr, null);
      conn.release();
      done(null, rows[0]);
    });
  });
}

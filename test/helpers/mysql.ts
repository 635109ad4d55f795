/** The MariaDB test server (CI and the project's machines: 127.0.0.1:3306, root, no password). */
export const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' } as const;
export const MYSQL_START_HINT = 'start it with: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd';

/** The same server as a URL (`MYSQL_URL` points elsewhere), for the mysql2 adapter's tests. */
export const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/**
 * The baseline of a MySQL-family driver without poolguard: a getConnection() behind a connection
 * that is never released is still waiting after `ms`; it is served once `held` is released.
 */
export async function expectStillWaiting(pool: { getConnection(cb: (...args: any[]) => void): void }, held: { release(): void }, ms = 300): Promise<void> {
  const { expect } = await import('vitest');
  const { sleep, until } = await import('./db.js');
  let settled = false;
  pool.getConnection(() => (settled = true));
  await sleep(ms);
  expect(settled).toBe(false);
  held.release();
  await until(() => settled, 'the waiter served after the release');
}

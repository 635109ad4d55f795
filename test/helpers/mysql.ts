/** The MariaDB test server (CI and the project's machines: 127.0.0.1:3306, root, no password). */
export const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' } as const;
export const MYSQL_START_HINT = 'start it with: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd';

/** The same server as a URL (`MYSQL_URL` points elsewhere), for the mysql2 adapter's tests. */
export const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

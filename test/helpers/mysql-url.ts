/** The mysql2 tests' server. CI and the project's machines run MariaDB 10.11 on 127.0.0.1:3306. */
export const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

export const MYSQL_START_HINT =
  'start it with: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd ' +
  '(or point MYSQL_URL at a server you can use)';

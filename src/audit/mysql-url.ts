/** `mysql://` and `mariadb://` URLs go to the MySQL/MariaDB audit and status (loaded only then). */
export const MYSQL_URL = /^(mysql|mariadb):\/\//i;

/** The MySQL/MariaDB audit's rule ids, for `--help` without loading the audit. */
export const MYSQL_RULE_IDS = 'acquire-timeout-infinite, server-unreachable, max-exceeds-server, max-exceeds-user-limit, wait-timeout-below-idle';

/** `poolguard audit` and `poolguard status` against a MySQL/MariaDB server (loaded only for a mysql:// URL). */
import { auditExitCode, findingsText, table, type CliIo } from './cli-io.js';
import { auditMysql, MYSQL_RULES, type MysqlAuditResult, type MysqlDriver } from './mysql.js';
import { readMysqlServer, readMysqlSessions, withMysqlConnection, type MysqlSession } from './mysql-server.js';
import { passwordsOf, redactConnectionString, redactDeep, redactLines, redactText } from './redact.js';

interface MysqlTarget {
  readonly url: string;
  readonly label: string;
  readonly secrets: ReadonlyArray<string | undefined>;
}

function target(url: string, source: string, options: Record<string, unknown>, io: CliIo): MysqlTarget {
  const secrets = [...passwordsOf(url), typeof options.password === 'string' ? options.password : undefined, io.env.MYSQL_PWD];
  return { url, label: `${redactConnectionString(url, secrets)} (from ${source})`, secrets };
}

/** `poolguard audit` against a MySQL/MariaDB URL: mysql2's options from --config, the same exit codes. */
export async function runMysqlAudit(
  a: { url: string; source: string; options: Record<string, unknown>; instances: number; failOn: string; json: boolean; isStatic: boolean; driver: MysqlDriver },
  io: CliIo,
): Promise<number> {
  const t = target(a.url, a.source, a.options, io);
  const result = await auditMysql({ options: a.options, instances: a.instances, server: a.isStatic ? false : a.url, driver: a.driver });
  if (a.json) io.out(JSON.stringify(redactDeep({ target: a.isStatic ? null : t.label, ...result }, t.secrets), null, 2) + '\n');
  else io.out(redactLines(auditText(result, t, !a.isStatic, a.failOn), t.secrets));
  return auditExitCode(result.counts, a.failOn);
}

function auditText(result: MysqlAuditResult, t: MysqlTarget, live: boolean, failOn: string): string {
  const { instances } = result;
  let text = `poolguard audit: ${live ? t.label : 'static checks only'}, ${instances} instance${instances === 1 ? '' : 's'}\n`;
  const s = result.server;
  if (s) {
    text +=
      `server: ${s.system === 'mariadb' ? 'MariaDB' : 'MySQL'} ${s.version.split('-')[0]}, max_connections ${s.maxConnections}, ${s.connectionsInUse} in use; ` +
      `user ${s.user} (max_user_connections ${s.maxUserConnections === 0 ? 'no limit' : s.maxUserConnections}, ${s.userConnectionsInUse} in use); wait_timeout ${s.waitTimeoutSeconds} s\n`;
  }
  text += '\n';
  if (result.findings.length === 0) return `${text}No findings: the configuration passes all ${MYSQL_RULES.filter((r) => live || !r.live).length} ${live ? '' : 'static '}MySQL/MariaDB rules.\n`;
  return text + findingsText(result.findings, result.counts, failOn);
}

/**
 * `poolguard status` against a MySQL/MariaDB URL: the sessions from information_schema.processlist
 * (longest in a transaction first), and, with --max, whether the pool's user holds more sessions
 * than connectionLimit × instances. Exit 1 when the server and the pool disagree, as for PostgreSQL.
 */
export async function runMysqlStatus(
  a: { url: string; source: string; options: Record<string, unknown>; max: number | undefined; instances: number; limit: number; json: boolean; allDatabases: boolean; snapshotPids: Set<number> | undefined },
  io: CliIo,
): Promise<number> {
  const t = target(a.url, a.source, a.options, io);
  let sessions: MysqlSession[];
  let server: Awaited<ReturnType<typeof readMysqlServer>>;
  let database: string | null;
  try {
    [sessions, server, database] = await withMysqlConnection(a.options, a.url, async (c) => {
      const [rows] = await c.query('SELECT DATABASE() AS db');
      const db = (rows as Array<{ db: string | null }>)[0]?.db ?? null;
      return [await readMysqlSessions(c), await readMysqlServer(c), db] as const;
    });
  } catch (err) {
    io.err(`poolguard status: could not read ${t.label}: ${redactText(String((err as Error)?.message ?? err), t.secrets)}. Check the URL, the network and the user's permissions.\n`);
    return 1;
  }
  const listed = a.allDatabases ? sessions : sessions.filter((s) => s.database === database);
  const user = server.user.split('@')[0]!;
  const ofUser = listed.filter((s) => s.user === user);
  const problems: string[] = [];
  if (a.max !== undefined && ofUser.length > a.max * a.instances) {
    problems.push(
      `${ofUser.length} sessions of user ${user} on ${a.allDatabases ? 'the server' : `database ${JSON.stringify(database)}`}, but ${a.instances === 1 ? `the pool's connectionLimit is ${a.max}` : `connectionLimit ${a.max} × ${a.instances} instances is ${a.max * a.instances}`}: ` +
        `${ofUser.length - a.max * a.instances} are not the pool's to count (another process with the same user, or connections opened outside the pool).`,
    );
  }
  if (a.snapshotPids !== undefined) {
    const onServer = new Set(sessions.map((s) => s.id));
    const vanished = [...a.snapshotPids].filter((id) => !onServer.has(id));
    if (vanished.length > 0) {
      problems.push(
        `${vanished.length} connection(s) the pool counts are gone from the server (thread id ${vanished.join(', ')}): closed by the server (wait_timeout ${server.waitTimeoutSeconds} s, KILL, a restart) or the network; ` +
          `the pool has not seen them close, and the next query on them fails. Close idle connections before wait_timeout does: maxIdle below connectionLimit with idleTimeout below it, or guard.maxLifetimeMs below it.`,
      );
    }
  }
  const inTx = listed.filter((s) => s.transactionSeconds !== null && s.command === 'Sleep');
  if (a.json) {
    const json = { target: t.label, database, allDatabases: a.allDatabases, server, sessions: listed, problems };
    io.out(JSON.stringify(redactDeep(json, t.secrets), null, 2) + '\n');
    return problems.length > 0 ? 1 : 0;
  }
  let text = `poolguard status: ${t.label}\n`;
  text += `server: ${server.system === 'mariadb' ? 'MariaDB' : 'MySQL'} ${server.version.split('-')[0]}, ${server.connectionsInUse} of max_connections ${server.maxConnections} in use; wait_timeout ${server.waitTimeoutSeconds} s\n`;
  text += a.allDatabases ? `listed: the sessions of every database (${listed.length})\n\n` : `listed: the ${listed.length} session(s) of database ${JSON.stringify(database)}, the one the connection names (--all-databases for every database)\n\n`;
  text += `Sessions (longest in a transaction first${listed.length > a.limit ? `; ${a.limit} of ${listed.length}, --limit for more` : ''}):\n`;
  text += table(
    ['ID', 'USER', 'DATABASE', 'COMMAND', 'FOR', 'IN TX FOR', 'STATE'],
    listed.slice(0, a.limit).map((s) => [String(s.id), s.user, s.database ?? '', s.command, `${s.timeSeconds} s`, s.transactionSeconds === null ? '' : `${s.transactionSeconds} s`, s.state ?? '']),
  );
  if (inTx.length > 0) {
    const oldest = inTx[0]!;
    text += `\n${inTx.length} session(s) idle (Sleep) inside an open transaction; the oldest, id ${oldest.id} (user ${oldest.user}), for ${oldest.transactionSeconds} s. It holds its locks until it ends: look for a leak report from that application, or end it with KILL ${oldest.id};\n`;
  }
  if (problems.length > 0) text += `\nThe pool's view and the server's disagree:\n${problems.map((p) => `- ${p}`).join('\n')}\n`;
  io.out(redactLines(text, t.secrets));
  return problems.length > 0 ? 1 : 0;
}

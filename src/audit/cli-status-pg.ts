/**
 * `poolguard status` against PostgreSQL: who holds connections now (pg_stat_activity), by
 * application and longest in a transaction first, and where the pool's view disagrees.
 */
import { formatDuration } from '../core/format.js';
import { flag, type Flags } from './cli-flags.js';
import { table, UsageError, type CliIo } from './cli-io.js';
import { chooseTarget, connected } from './cli-target.js';
import { redactDeep, redactLines, redactText } from './redact.js';

const STATUS_SQL = `SELECT pid, usename AS "user", datname AS database, coalesce(application_name, '') AS application, client_addr::text AS client, state,
  wait_event_type AS wait, left(query, 200) AS query,
  query_start, xact_start, backend_start,
  round(extract(epoch FROM now() - xact_start) * 1000) AS xact_ms,
  round(extract(epoch FROM now() - state_change) * 1000) AS state_ms,
  round(extract(epoch FROM now() - query_start) * 1000) AS query_ms
FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
ORDER BY xact_start ASC NULLS LAST, backend_start ASC`;

const LIMIT_SQL = `SELECT current_database() AS database, current_setting('server_version') AS version, current_setting('max_connections')::int AS max_connections,
  current_setting('superuser_reserved_connections')::int + coalesce(current_setting('reserved_connections', true), '0')::int AS reserved`;

interface Backend {
  pid: number;
  user: string | null;
  database: string | null;
  application: string;
  client: string | null;
  state: string | null;
  wait: string | null;
  query: string | null;
  queryStart: string | null;
  xactMs: number | null;
  stateMs: number | null;
}

function age(msValue: number | null): string {
  return msValue === null ? '' : formatDuration(Math.max(0, msValue));
}

/** What `poolguard status` was asked to compare, read from its flags and the config. */
export interface PgStatusRequest {
  readonly flags: Flags;
  readonly options: Record<string, unknown>;
  readonly app: string | undefined;
  readonly max: number | undefined;
  readonly instances: number;
  readonly limit: number;
  readonly snapshotPids: Set<number> | undefined;
}

/** Reads the server and prints its connections; resolves with the exit code. */
export async function runPgStatus({ flags, options, app, max, instances, limit, snapshotPids }: PgStatusRequest, io: CliIo): Promise<number> {
  const target = chooseTarget('status', flags, options, io);
  if (target.url === undefined && !target.hasHost) throw new UsageError('poolguard status: no server: give --url or set DATABASE_URL.');
  const secrets = target.secrets;

  let rows: Array<Record<string, unknown>>;
  let server: Record<string, unknown>;
  try {
    [rows, server] = await connected(target, { connectionTimeoutMillis: 5_000, ...options }, async (client) => {
      const activity = (await client.query(STATUS_SQL)).rows as Array<Record<string, unknown>>;
      const limits = (await client.query(LIMIT_SQL)).rows[0] ?? {};
      return [activity, limits];
    });
  } catch (err) {
    io.err(`poolguard status: could not read ${target.label}: ${redactText(String((err as Error)?.message ?? err), secrets)}. Check the URL, the network and the role's permissions.\n`);
    return 1;
  }
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v == null ? null : String(v));
  const numOrNull = (v: unknown) => (v == null ? null : Number(v));
  const everyBackend: Backend[] = rows.map((r) => ({
    pid: Number(r.pid),
    user: (r.user as string | null) ?? null,
    database: (r.database as string | null) ?? null,
    application: String(r.application ?? ''),
    client: (r.client as string | null) ?? null,
    state: (r.state as string | null) ?? null,
    wait: (r.wait as string | null) ?? null,
    query: r.query == null ? null : redactText(String(r.query).replace(/\s+/g, ' '), secrets),
    queryStart: iso(r.query_start),
    xactMs: numOrNull(r.xact_ms),
    stateMs: numOrNull(r.state_ms),
  }));
  // The database the connection landed in is the one the URL names (or pg's default for the user).
  const database = server.database == null ? null : String(server.database);
  const allDatabases = flag<boolean>(flags, 'all-databases') === true;
  const backends = allDatabases ? everyBackend : everyBackend.filter((b) => b.database === database);

  const groups = new Map<string, { application: string; total: number; active: number; idle: number; idleInTransaction: number; oldestIdleInTransactionMs: number | null }>();
  for (const b of backends) {
    let g = groups.get(b.application);
    if (!g) groups.set(b.application, (g = { application: b.application, total: 0, active: 0, idle: 0, idleInTransaction: 0, oldestIdleInTransactionMs: null }));
    g.total++;
    if (b.state === 'active') g.active++;
    else if (b.state === 'idle') g.idle++;
    else if (b.state?.startsWith('idle in transaction')) {
      g.idleInTransaction++;
      g.oldestIdleInTransactionMs = Math.max(g.oldestIdleInTransactionMs ?? 0, b.xactMs ?? 0);
    }
  }

  // Where the pool's view and the server's disagree.
  const problems: string[] = [];
  const ofApp = app === undefined ? [] : backends.filter((b) => b.application === app);
  let untracked: Backend[] = [];
  let vanished: number[] = [];
  if (snapshotPids !== undefined) {
    if (app !== undefined) {
      untracked = ofApp.filter((b) => !snapshotPids!.has(b.pid));
      if (untracked.length > 0) {
        problems.push(
          `${untracked.length} backend(s) of application_name ${JSON.stringify(app)} are not in the pool's snapshot (pid ${untracked.map((b) => b.pid).join(', ')}): ` +
            `the pool no longer counts them, yet they hold server connections. pg-pool loses a connection the server accepted just after a connect timeout; ` +
            `another process with the same application_name looks the same. If they are idle and old, end them: SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (${untracked.map((b) => b.pid).join(', ')});`,
        );
      }
    }
    const onServer = new Set(everyBackend.map((b) => b.pid));
    vanished = [...snapshotPids].filter((pid) => !onServer.has(pid));
    if (vanished.length > 0) {
      problems.push(
        `${vanished.length} connection(s) the pool counts are gone from the server (pid ${vanished.join(', ')}): closed by the server (idle_session_timeout, a restart, pg_terminate_backend) or the network; ` +
          `the pool will hand them out and fail. Check the server's log for why they ended, and set idleTimeoutMillis below the server's and the network's idle limits.`,
      );
    }
  }
  if (app !== undefined && max !== undefined && ofApp.length > max * instances) {
    problems.push(
      `${ofApp.length} backends have application_name ${JSON.stringify(app)}, but ${instances === 1 ? `the pool's max is ${max}` : `max ${max} × ${instances} instances is ${max * instances}`}: ` +
        `${ofApp.length - max * instances} are not the pool's to count (lost by pg-pool after a connect timeout, or another process using the same name).`,
    );
  }

  const inUse = everyBackend.length;
  const maxConnections = Number(server.max_connections ?? 0);
  const reserved = Number(server.reserved ?? 0);
  if (flag(flags, 'json')) {
    const json = {
      target: target.label,
      database,
      allDatabases,
      server: { version: String(server.version ?? ''), maxConnections, reservedConnections: reserved, connectionsInUse: inUse },
      applications: [...groups.values()].sort((a, b) => b.total - a.total),
      backends,
      pool: app === undefined && snapshotPids === undefined ? undefined : { applicationName: app, max, instances, backendsOfApplication: app === undefined ? undefined : ofApp.length, untrackedPids: untracked.map((b) => b.pid), vanishedPids: vanished },
      problems,
    };
    io.out(JSON.stringify(redactDeep(json, secrets), null, 2) + '\n');
    return problems.length > 0 ? 1 : 0;
  }

  let text = `poolguard status: ${target.label}\n`;
  text += `server: PostgreSQL ${String(server.version ?? '?').split(' ')[0]}, ${inUse} of ${maxConnections - reserved} client connections in use (max_connections ${maxConnections}, ${reserved} reserved)\n`;
  text += allDatabases
    ? `listed: the backends of every database (${backends.length})\n\n`
    : `listed: the ${backends.length} backend(s) of database ${JSON.stringify(database)}, the one the connection names (--all-databases for every database)\n\n`;
  text += 'By application:\n';
  text += table(
    ['APPLICATION', 'TOTAL', 'ACTIVE', 'IDLE', 'IDLE IN TX', 'OLDEST IDLE IN TX'],
    [...groups.values()].sort((a, b) => b.total - a.total).map((g) => [g.application || '(none)', String(g.total), String(g.active), String(g.idle), String(g.idleInTransaction), age(g.oldestIdleInTransactionMs)]),
  );
  text += `\nConnections (longest in a transaction first${backends.length > limit ? `; ${limit} of ${backends.length}, --limit for more` : ''}):\n`;
  text += table(
    ['PID', 'DATABASE', 'USER', 'APPLICATION', 'STATE', 'IN TX FOR', 'IN STATE FOR', 'QUERY START', 'QUERY'],
    backends.slice(0, limit).map((b) => [String(b.pid), b.database ?? '', b.user ?? '', b.application || '(none)', b.state ?? '(hidden)', age(b.xactMs), age(b.stateMs), b.queryStart ?? '', (b.query ?? '').slice(0, 60)]),
  );
  const stuck = backends.filter((b) => b.state?.startsWith('idle in transaction')).sort((a, b) => (b.xactMs ?? 0) - (a.xactMs ?? 0))[0];
  if (stuck !== undefined) {
    text += `\n${backends.filter((b) => b.state?.startsWith('idle in transaction')).length} connection(s) idle in a transaction; the oldest, pid ${stuck.pid} (${stuck.application || 'no application_name'}), for ${age(stuck.xactMs)}. ` +
      `It holds its locks until it ends: look for a leak report from that application, or end it with SELECT pg_terminate_backend(${stuck.pid});\n`;
  }
  if (problems.length > 0) text += `\nThe pool's view and the server's disagree:\n${problems.map((p) => `- ${p}`).join('\n')}\n`;
  else if (app !== undefined || snapshotPids !== undefined) text += `\nThe pool's view and the server's agree${app !== undefined ? ` (${ofApp.length} backend(s) of ${JSON.stringify(app)})` : ''}.\n`;
  io.out(redactLines(text, secrets));
  return problems.length > 0 ? 1 : 0;
}


import { formatDuration } from '../core/format.js';
import { hardLimits, longestIdleMs, ms, num, poolsOf, total, type AuditRule } from './pg-rule-context.js';

// The tightest idle cut-off of common network middleboxes (AWS NLB: 350 s; Azure LB: 4 min default).
const MIDDLEBOX_IDLE_MS = 240_000;

/**
 * The role's and the database's CONNECTION LIMIT: one rule each, the same check. Behind PgBouncer
 * the server sees PgBouncer's pool for the database and user (`pool_size`), not the clients.
 */
function connectionLimitRule(of: 'role' | 'database'): AuditRule {
  const isRole = of === 'role';
  const column = isRole ? 'rolconnlimit' : 'datconnlimit';
  return {
    id: `${of}-connection-limit`,
    severity: 'error',
    live: true,
    checks: `\`max\` × instances fits in the ${of}'s \`${column}\`${isRole ? ' (CONNECTION LIMIT)' : ''}; behind PgBouncer, its server-side \`pool_size\` does.`,
    check(ctx) {
      const s = ctx.server;
      if (s === undefined || s.roleIsSuperuser) return undefined;
      const limit = isRole ? s.roleConnectionLimit : s.databaseConnectionLimit;
      const name = isRole ? s.role : s.database;
      const alter = isRole ? `ALTER ROLE ${name}` : `ALTER DATABASE ${name}`;
      const refusal = `"too many connections for ${of}"`;
      if (limit < 0) return undefined;
      if (s.pgbouncer !== undefined) {
        if (s.pgbouncer.poolSize <= limit) return undefined;
        return {
          message: `PgBouncer opens up to ${s.pgbouncer.poolSize} server connections (pool_size) ${isRole ? `as role ${name}` : `to database ${name}`}, which has CONNECTION LIMIT ${limit}`,
          why: `PgBouncer fails to open server connections past the ${of}'s limit (${refusal}), and clients wait in PgBouncer until their query times out.`,
          fix: `Lower ${isRole ? "default_pool_size (or the database's pool_size)" : `the pool_size for ${name}`} in pgbouncer.ini to ${limit} or less, or ${alter} CONNECTION LIMIT ${s.pgbouncer.poolSize} (or more).`,
        };
      }
      if (total(ctx) <= limit) return undefined;
      return {
        message: `${poolsOf(ctx)} connections, but ${of} ${name} has CONNECTION LIMIT ${limit}`,
        why: `Connections beyond the limit fail with ${refusal}: the pool cannot grow to max and callers time out${isRole ? ' while the server has room' : ''}.`,
        fix: `Lower max so that max × instances ≤ ${limit}, or ${alter} CONNECTION LIMIT ${total(ctx)} (or more).`,
        option: 'max',
        value: ctx.pool.max,
      };
    },
  };
}

/** The rules that need the server, in the order their findings are listed within a severity. */
export const LIVE_RULES: readonly AuditRule[] = [
  {
    id: 'server-unreachable',
    severity: 'error',
    live: true,
    checks: 'The server answers, so that the live rules can run.',
    check(ctx) {
      if (ctx.serverError === undefined) return undefined;
      return {
        message: `the audit could not connect to or read the server: ${ctx.serverError}`,
        why: 'The live rules (connection limits, server timeouts) did not run; if the service cannot connect either, it will not start.',
        fix: 'Check the host, port, database, user and network from where the audit runs (the same place as the service), then run the audit again.',
      };
    },
  },
  {
    id: 'max-exceeds-server',
    severity: 'error',
    live: true,
    checks: '`max` × instances fits in `max_connections` minus `superuser_reserved_connections` (and `reserved_connections`); behind PgBouncer the `pgbouncer-*` rules apply instead.',
    check(ctx) {
      const s = ctx.server;
      // Behind PgBouncer the pools' connections end at PgBouncer; its own pool_size meets the server.
      if (s === undefined || s.pgbouncer !== undefined) return undefined;
      const limit = hardLimits(s)[0]!.limit;
      if (total(ctx) <= limit) return undefined;
      return {
        message: `${poolsOf(ctx)} connections, but the server accepts ${limit} (max_connections ${s.maxConnections}${s.roleIsSuperuser ? '' : ` − ${s.reservedConnections} reserved`})`,
        why: 'Under load the pools try to open more connections than the server has: the extra connections fail with "sorry, too many clients already", for this service and every other one on the server.',
        fix: `Lower max so that max × instances ≤ ${limit}, with room for other clients and deploys; or put a pooler (PgBouncer) in front; or raise max_connections on the server.`,
        option: 'max',
        value: ctx.pool.max,
      };
    },
  },
  {
    id: 'proxy-unread',
    severity: 'warning',
    live: true,
    checks: 'A pooler or proxy between the pool and the server (the server listens on another port than the one dialled) whose limits could not be read.',
    check(ctx) {
      const p = ctx.server?.unreadProxy;
      if (p === undefined) return undefined;
      return {
        message: `the pool dials port ${p.dialledPort ?? 'unknown'} but the server listens on ${p.serverPort}: a pooler or proxy is in between, and its limits could not be read (${p.reason})`,
        why: 'Behind PgBouncer or another proxy the limit that matters is the proxy\'s (max_client_conn, default_pool_size), not the server\'s max_connections: the server-side connection rules may pass while the proxy refuses connections.',
        fix: 'If it is PgBouncer, add the audit\'s user to stats_users (or admin_users) in pgbouncer.ini so that poolguard can read SHOW CONFIG and SHOW POOLS; otherwise check the proxy\'s connection limits by hand against max × instances.',
      };
    },
  },
  {
    id: 'pgbouncer-max-client-conn',
    severity: 'error',
    live: true,
    checks: 'Behind PgBouncer: `max` × instances fits in its `max_client_conn` (with the client connections it has now, a warning).',
    check(ctx) {
      const b = ctx.server?.pgbouncer;
      if (b === undefined) return undefined;
      if (total(ctx) <= b.maxClientConn) return undefined;
      return {
        message: `${poolsOf(ctx)} client connections, but PgBouncer accepts ${b.maxClientConn} (max_client_conn)`,
        why: 'PgBouncer refuses client connections past max_client_conn ("no more connections allowed"): pools that grow under load fail to connect, in every instance at once.',
        fix: `Lower max so that max × instances ≤ ${b.maxClientConn} (with room for other clients), or raise max_client_conn in pgbouncer.ini (mind its file-descriptor limit).`,
        option: 'max',
        value: ctx.pool.max,
      };
    },
  },
  {
    id: 'pgbouncer-pool-size',
    severity: 'warning',
    live: true,
    checks: 'Behind PgBouncer: `max` × instances against its server-side `pool_size` (`default_pool_size`): in session mode each client holds a server connection; in transaction mode the excess waits in PgBouncer.',
    check(ctx) {
      const b = ctx.server?.pgbouncer;
      if (b === undefined || total(ctx) <= b.poolSize) return undefined;
      const session = b.poolMode === 'session';
      return {
        message: `${poolsOf(ctx)} client connections share PgBouncer's pool_size ${b.poolSize} server connections (pool_mode ${b.poolMode})`,
        why: session
          ? 'In session mode a client keeps its server connection for its whole life: clients past pool_size wait in PgBouncer (until query_wait_timeout) although the pool believes it is connected.'
          : 'In transaction mode that is the point of PgBouncer, but transactions past pool_size wait in its queue: that wait is not in poolguard\'s wait_time (it happens inside a query), and a leaked lease inside BEGIN pins a server connection for everyone.',
        fix: session
          ? `Use pool_mode = transaction, or make max × instances ≤ ${b.poolSize}, or raise default_pool_size (within the server's max_connections).`
          : `Keep leases short (leak detection on, guard.leakThresholdMs low), watch SHOW POOLS cl_waiting, and size default_pool_size for the concurrent transactions, not for max × instances.`,
        option: 'max',
        value: ctx.pool.max,
      };
    },
  },
  connectionLimitRule('role'),
  connectionLimitRule('database'),
  {
    id: 'connections-in-use',
    severity: 'warning',
    live: true,
    checks: '`max` × instances fits in what the server, role and database have left after the connections already in use (not checked behind PgBouncer).',
    check(ctx) {
      const s = ctx.server;
      if (s === undefined || s.pgbouncer !== undefined) return undefined;
      const limits = hardLimits(s);
      // Over a hard limit is the error rules' finding; this one is about what is left now.
      if (limits.some((l) => total(ctx) > l.limit)) return undefined;
      const tightest = limits.map((l) => ({ ...l, free: l.limit - l.inUse })).sort((a, b) => a.free - b.free)[0]!;
      if (total(ctx) <= tightest.free) return undefined;
      return {
        message: `${poolsOf(ctx)} connections, but ${tightest.what} has ${Math.max(0, tightest.free)} of ${tightest.limit} left (${tightest.inUse} in use now)`,
        why: 'The pools can only fill up if the connections in use now go away; during a rolling deploy old and new instances run side by side and the newcomers fail to connect.',
        fix: 'Lower max, or find out who holds the connections now (`npx poolguard status`) and whether they should.',
        option: 'max',
        value: ctx.pool.max,
      };
    },
  },
  {
    id: 'idle-timeout-off',
    severity: 'warning',
    live: true,
    checks: '`idleTimeoutMillis` is not 0 (idle connections kept forever) when `max` × instances is more than half of the connections available.',
    check(ctx) {
      const s = ctx.server;
      if (s === undefined || ctx.pool.idleTimeoutMillis !== 0) return undefined;
      const limit = Math.min(...hardLimits(s).map((l) => l.limit));
      if (total(ctx) * 2 <= limit) return undefined;
      return {
        message: `idleTimeoutMillis is 0 and ${poolsOf(ctx)} connections is more than half of the ${limit} available`,
        why: 'After one busy minute every instance keeps max connections open forever, idle: the server\'s small limit is used up by connections that do nothing, and other clients cannot connect.',
        fix: 'Set idleTimeoutMillis (pg\'s default is 10000) so that idle connections are given back.',
        option: 'idleTimeoutMillis',
        value: 0,
      };
    },
  },
  {
    id: 'idle-session-timeout',
    severity: 'warning',
    live: true,
    checks: 'Idle connections are closed by the pool (`idleTimeoutMillis`, lifetime, `min`) before the server\'s `idle_session_timeout` closes them.',
    check(ctx) {
      const s = ctx.server;
      if (s === undefined || s.idleSessionTimeoutMs === 0) return undefined;
      const idle = longestIdleMs(ctx);
      if (idle.ms < s.idleSessionTimeoutMs) return undefined;
      return {
        message: `the server's idle_session_timeout is ${ms(s.idleSessionTimeoutMs)} but the pool keeps idle connections ${idle.ms === Infinity ? 'forever' : `up to ${formatDuration(idle.ms)}`} (${idle.because})`,
        why: 'The server closes idle pooled connections first: the pool emits "error" (fatal without a listener) and callers can get a connection that is already dead.',
        fix: `Set idleTimeoutMillis below ${s.idleSessionTimeoutMs}${ctx.pool.min > 0 ? ' and min to 0 (or a lifetime below it)' : ''}, or raise idle_session_timeout for this role.`,
        option: ctx.pool.min > 0 && ctx.pool.idleTimeoutMillis > 0 ? 'min' : 'idleTimeoutMillis',
        value: ctx.pool.min > 0 && ctx.pool.idleTimeoutMillis > 0 ? ctx.pool.min : ctx.pool.idleTimeoutMillis,
      };
    },
  },
  {
    id: 'tcp-keepalive',
    severity: 'info',
    live: true,
    checks: 'Connections idle longer than a network\'s idle cut-off (4 min) have TCP keepalives below it (`keepAlive` or the server\'s `tcp_keepalives_idle`).',
    check(ctx) {
      const s = ctx.server;
      // 0: a Unix socket (no network in between) or the OS default, which the server cannot report.
      if (s === undefined || s.tcpKeepalivesIdleSeconds === 0 || s.tcpKeepalivesIdleSeconds * 1000 <= MIDDLEBOX_IDLE_MS) return undefined;
      const { keepAlive, keepAliveInitialDelayMillis } = ctx.pool;
      if (keepAlive && keepAliveInitialDelayMillis <= MIDDLEBOX_IDLE_MS) return undefined;
      const idle = longestIdleMs(ctx);
      if (idle.ms <= MIDDLEBOX_IDLE_MS) return undefined;
      return {
        message: `connections may sit idle ${idle.ms === Infinity ? 'forever' : formatDuration(idle.ms)} (${idle.because}), but the server's first keepalive comes after tcp_keepalives_idle ${s.tcpKeepalivesIdleSeconds} s and keepAlive is ${keepAlive ? `on after ${keepAliveInitialDelayMillis} ms` : 'off'}`,
        why: 'Firewalls, NAT gateways and load balancers drop TCP flows idle for a few minutes without telling either side; the pool then hands out a dead connection and the query hangs until TCP gives up (often 15 min).',
        fix: 'Set keepAlive: true (keepAliveInitialDelayMillis ≤ 60000), or idleTimeoutMillis below your network\'s idle cut-off.',
        option: 'keepAlive',
        value: keepAlive,
      };
    },
  },
  {
    id: 'idle-in-transaction-timeout-off',
    severity: 'warning',
    live: true,
    checks: '`idle_in_transaction_session_timeout`, as the pool\'s connections get it, is not 0.',
    check(ctx) {
      const s = ctx.server;
      if (s === undefined) return undefined;
      const value = num(ctx.raw.idle_in_transaction_session_timeout) ?? s.idleInTransactionSessionTimeoutMs;
      if (value > 0) return undefined;
      return {
        message: `idle_in_transaction_session_timeout is 0 for role ${s.role} on ${s.database}: a transaction left open is never ended by the server`,
        why: 'A leaked lease inside BEGIN holds its row and table locks forever: other queries queue behind the locks, vacuum cannot clean up, and the outage spreads beyond the pool.',
        fix: `Set idle_in_transaction_session_timeout: 60000 in the pool's options, or ALTER ROLE ${s.role} SET idle_in_transaction_session_timeout = '1min'.`,
        option: 'idle_in_transaction_session_timeout',
        value,
      };
    },
  },
  {
    id: 'statement-timeout-off',
    severity: 'warning',
    live: true,
    checks: '`statement_timeout` (or pg\'s `query_timeout`), as the pool\'s connections get it, is not 0.',
    check(ctx) {
      const s = ctx.server;
      if (s === undefined || (num(ctx.raw.query_timeout) ?? 0) > 0) return undefined;
      const value = num(ctx.raw.statement_timeout) ?? s.statementTimeoutMs;
      if (value > 0) return undefined;
      const leak = ctx.pool.leakThresholdMs;
      return {
        message: `statement_timeout is 0 for role ${s.role} on ${s.database}${leak > 0 ? ` while guard.leakThresholdMs is ${leak}` : ''}: a query can run forever`,
        why: leak > 0
          ? 'A runaway query keeps its connection busy forever: leak detection reports it as busy (slow, not forgotten) and nothing ends it; enough of them and the pool runs dry.'
          : 'A runaway query keeps its connection forever; enough of them and the pool runs dry.',
        fix: `Set statement_timeout: 30000 (or your slowest legitimate query) in the pool's options, or ALTER ROLE ${s.role} SET statement_timeout = '30s'.`,
        option: 'statement_timeout',
        value,
      };
    },
  },
];

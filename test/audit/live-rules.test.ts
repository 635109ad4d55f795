import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit, type AuditPoolOptions } from '../../src/index.js';
import { DATABASE_URL } from '../helpers/db.js';
import { guardedPool } from '../helpers/pools.js';
import { admin, limitedRole, SOUND, uniqueName, urlAs } from './helpers.js';

const SECRET = 'audit-Pa55word-hunter2';

async function rulesFor(options: AuditPoolOptions, server: string, instances = 1): Promise<string[]> {
  const result = await audit({ options, server, instances });
  return result.findings.map((f) => f.rule);
}

describe('live audit rules, against the real server', () => {
  let maxConnections: number;
  const cleanup: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    maxConnections = Number((await admin<{ max_connections: string }>('SHOW max_connections'))[0]!.max_connections);
  });
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn();
  });

  it('a sound configuration has no findings, and the summary is what the server says', async () => {
    const result = await audit({ options: SOUND, server: DATABASE_URL, instances: 2 });
    expect(result.findings).toEqual([]);
    expect(result.server).toMatchObject({ maxConnections, role: 'postgres', roleIsSuperuser: true, database: 'test', roleConnectionLimit: -1, databaseConnectionLimit: -1 });
    expect(result.server!.version).toMatch(/^\d+/);
    // The pool's own session settings are what the audit's connection got.
    expect(result.server).toMatchObject({ statementTimeoutMs: 30_000, idleInTransactionSessionTimeoutMs: 60_000 });
  });

  it('max-exceeds-server: max × instances above max_connections', async () => {
    expect(await rulesFor({ ...SOUND, max: maxConnections + 1 }, DATABASE_URL)).toContain('max-exceeds-server');
    const instances = Math.ceil((maxConnections + 1) / 10);
    const result = await audit({ options: SOUND, server: DATABASE_URL, instances });
    const f = result.findings.find((x) => x.rule === 'max-exceeds-server')!;
    expect(f.message).toContain(`max 10 × ${instances} instances = ${instances * 10} connections, but the server accepts ${maxConnections}`);
    expect(result.ok).toBe(false);
  });

  it('role-connection-limit, connections-in-use and idle-timeout-off read the role\'s CONNECTION LIMIT and its connections now', async () => {
    const role = await limitedRole(3);
    cleanup.push(role.drop);
    const url = urlAs(role.name);
    expect(await rulesFor({ ...SOUND, max: 3 }, url)).toEqual([]);
    const over = await audit({ options: { ...SOUND, max: 4 }, server: url });
    expect(over.findings.map((f) => f.rule)).toEqual(['role-connection-limit']);
    expect(over.findings[0]!.message).toBe(`max 4 connections, but role ${role.name} has CONNECTION LIMIT 3`);
    expect(over.server).toMatchObject({ role: role.name, roleIsSuperuser: false, roleConnectionLimit: 3, roleConnectionsInUse: 0 });

    // Two of the role's three connections are taken: a pool of 2 no longer fits.
    const held = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })];
    await Promise.all(held.map((c) => c.connect()));
    try {
      const busy = await audit({ options: { ...SOUND, max: 2 }, server: url });
      expect(busy.findings.map((f) => f.rule)).toEqual(['connections-in-use']);
      expect(busy.findings[0]!.message).toBe(`max 2 connections, but role ${role.name} has 1 of 3 left (2 in use now)`);
      expect(await rulesFor({ ...SOUND, max: 1 }, url)).toEqual([]);
    } finally {
      await Promise.all(held.map((c) => c.end()));
    }

    expect(await rulesFor({ ...SOUND, max: 2, idleTimeoutMillis: 0 }, url)).toContain('idle-timeout-off');
    expect(await rulesFor({ ...SOUND, max: 1, idleTimeoutMillis: 0 }, url)).not.toContain('idle-timeout-off');
  });

  it('database-connection-limit reads datconnlimit', async () => {
    const role = await limitedRole(10);
    cleanup.push(role.drop);
    const db = uniqueName('poolguard_audit_db');
    await admin(`CREATE DATABASE ${db} CONNECTION LIMIT 2`);
    cleanup.push(async () => void (await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)));
    const url = urlAs(role.name, undefined, db);
    const result = await audit({ options: { ...SOUND, max: 3 }, server: url });
    expect(result.findings.map((f) => f.rule)).toEqual(['database-connection-limit']);
    expect(result.findings[0]!.message).toBe(`max 3 connections, but database ${db} has CONNECTION LIMIT 2`);
    expect(await rulesFor({ ...SOUND, max: 2 }, url)).toEqual([]);
  });

  it('idle-in-transaction-timeout-off and statement-timeout-off read role-level settings', async () => {
    const { statement_timeout: _s, idle_in_transaction_session_timeout: _i, ...withoutSession } = SOUND;
    const bare = await limitedRole(20);
    const configured = await limitedRole(20, { statement_timeout: '30s', idle_in_transaction_session_timeout: '1min' });
    cleanup.push(bare.drop, configured.drop);
    const fired = await audit({ options: withoutSession, server: urlAs(bare.name) });
    expect(fired.findings.map((f) => f.rule)).toEqual(['idle-in-transaction-timeout-off', 'statement-timeout-off']);
    expect(fired.findings[0]!.message).toBe(`idle_in_transaction_session_timeout is 0 for role ${bare.name} on test: a transaction left open is never ended by the server`);
    expect(fired.findings[1]!.message).toContain('while guard.leakThresholdMs is 5000: a query can run forever');
    expect(await rulesFor(withoutSession, urlAs(configured.name))).toEqual([]);
    // A session-level 0 in the pool's own options overrides the role's setting: the audit sees it.
    expect(await rulesFor({ ...withoutSession, options: '-c idle_in_transaction_session_timeout=0' }, urlAs(configured.name))).toEqual(['idle-in-transaction-timeout-off']);
  });

  it('idle-session-timeout: the pool must close idle connections before the server does', async () => {
    const session = { ...SOUND, options: '-c idle_session_timeout=5000' };
    const fired = await audit({ options: { ...session, idleTimeoutMillis: 10_000 }, server: DATABASE_URL });
    expect(fired.findings.map((f) => f.rule)).toEqual(['idle-session-timeout']);
    expect(fired.findings[0]!.message).toBe("the server's idle_session_timeout is 5000 (5.0 s) but the pool keeps idle connections up to 10.0 s (idleTimeoutMillis 10000)");
    expect(await rulesFor({ ...session, min: 2 }, DATABASE_URL)).toEqual(['idle-session-timeout']);
    expect(await rulesFor({ ...session, idleTimeoutMillis: 1_000 }, DATABASE_URL)).toEqual([]);
  });

  it('tcp-keepalive: long idle connections need keepalives below a network\'s idle cut-off', async () => {
    const { keepAlive: _k, ...noKeepAlive } = SOUND;
    const fired = await audit({ options: { ...noKeepAlive, idleTimeoutMillis: 600_000 }, server: DATABASE_URL });
    expect(fired.findings.map((f) => f.rule)).toEqual(['tcp-keepalive']);
    expect(fired.findings[0]!.message).toMatch(/^connections may sit idle 10\.0 min \(idleTimeoutMillis 600000\), but the server's first keepalive comes after tcp_keepalives_idle \d+ s and keepAlive is off$/);
    expect(await rulesFor({ ...SOUND, idleTimeoutMillis: 600_000 }, DATABASE_URL)).toEqual([]);
    expect(await rulesFor({ ...noKeepAlive, idleTimeoutMillis: 600_000, options: '-c tcp_keepalives_idle=60' }, DATABASE_URL)).toEqual([]);
  });

  it('server-unreachable is a finding, static rules still run, and no password is printed', async () => {
    const url = urlAs('postgres', SECRET).replace(':5432/', ':1/');
    const result = await audit({ options: { ...SOUND, max: 1, min: 3, password: SECRET }, server: url });
    expect(result.findings.map((f) => f.rule)).toEqual(['max-below-min', 'server-unreachable']);
    expect(result.findings[1]!.message).toContain('the audit could not connect to or read the server: connect ECONNREFUSED');
    const text = JSON.stringify(result);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(encodeURIComponent(SECRET));
    const missingRole = await audit({ options: SOUND, server: urlAs(uniqueName('nobody'), SECRET) });
    expect(missingRole.findings[0]!.message).toMatch(/role "nobody_\d+_\w+" does not exist/);
    expect(JSON.stringify(missingRole)).not.toContain(SECRET);
  });

  it('takes a connected client instead of a URL', async () => {
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      const { statement_timeout: _s, ...rest } = SOUND;
      const result = await audit({ options: rest, server: client });
      expect(result.findings.map((f) => f.rule)).toEqual(['statement-timeout-off']);
      expect(result.server!.maxConnections).toBe(maxConnections);
    } finally {
      await client.end();
    }
  });

  it('audits a guarded pool: its pg options, its resolved guard options, live through its own settings', async () => {
    const pool = guardedPool({ ...SOUND, password: SECRET, guard: { leakThresholdMs: 0 } });
    const result = await audit(pool, { instances: 2 });
    expect(result.findings.map((f) => f.rule)).toEqual(['leak-detection-off']);
    expect(result.instances).toBe(2);
    expect(result.server).toMatchObject({ statementTimeoutMs: 30_000, role: 'postgres' });
    expect(pool.totalCount).toBe(0);
    expect((await audit(pool, { server: false })).server).toBeUndefined();
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });
});

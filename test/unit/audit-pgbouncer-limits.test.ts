import { describe, expect, it } from 'vitest';
import { effectiveOptions, RULES, type RuleContext } from '../../src/audit/rules.js';
import type { AuditServerSummary } from '../../src/audit/types.js';

const rule = (id: string) => RULES.find((r) => r.id === id)!;

function ctx(server: Partial<AuditServerSummary>, max = 10, instances = 6): RuleContext {
  const raw = { max, connectionTimeoutMillis: 5_000 };
  return { raw, guard: {}, pool: effectiveOptions(raw, {}), instances, serverError: undefined, server: { role: 'app', database: 'orders', roleIsSuperuser: false, roleConnectionLimit: -1, databaseConnectionLimit: -1, ...server } as AuditServerSummary };
}

const bouncer = { version: 'PgBouncer 1.18.0', poolMode: 'transaction', poolSize: 20, maxClientConn: 1000, maxDbConnections: 0, clientConnections: 3 };

describe('connection-limit rules behind PgBouncer', () => {
  it('compare the role and database limits with PgBouncer’s pool_size, not max × instances', () => {
    // 10 × 6 = 60 clients, but PgBouncer opens only 20 server connections: a limit of 30 is enough.
    expect(rule('role-connection-limit').check(ctx({ roleConnectionLimit: 30, pgbouncer: bouncer }))).toBeUndefined();
    expect(rule('database-connection-limit').check(ctx({ databaseConnectionLimit: 30, pgbouncer: bouncer }))).toBeUndefined();
    // A limit below pool_size fails PgBouncer's server connections.
    const role = rule('role-connection-limit').check(ctx({ roleConnectionLimit: 10, pgbouncer: bouncer })) as { message: string; fix: string };
    expect(role.message).toBe('PgBouncer opens up to 20 server connections (pool_size) as role app, which has CONNECTION LIMIT 10');
    expect(role.fix).toContain('default_pool_size');
    const db = rule('database-connection-limit').check(ctx({ databaseConnectionLimit: 10, pgbouncer: bouncer })) as { message: string };
    expect(db.message).toBe('PgBouncer opens up to 20 server connections (pool_size) to database orders, which has CONNECTION LIMIT 10');
  });

  it('without PgBouncer they still compare max × instances', () => {
    const role = rule('role-connection-limit').check(ctx({ roleConnectionLimit: 30 })) as { message: string };
    expect(role.message).toMatch(/60 connections, but role app has CONNECTION LIMIT 30/);
  });
});

import type { AuditInput, AuditPoolSettings, AuditResult } from './types.js';

/**
 * The public `audit()`. Its rules, its connection-string parsing and its server probes are loaded
 * at its first call, not with the pool: a service that never audits does not keep them in its heap,
 * and a larger heap at start moves V8's collector into a state that costs every request more
 * (benchmarks/RESULTS.md, "mysql2 HTTP GET/POST: the heap state and the per-request code").
 */

/**
 * Checks a pool's configuration against itself and, when given a server, against the live
 * server's limits and timeouts. Resolves with the findings; it rejects only on bad arguments
 * (an unreachable server is a finding, `server-unreachable`). Never includes a password.
 *
 * ```ts
 * const result = await audit({ options: { max: 20, connectionTimeoutMillis: 5000 }, instances: 4, server: process.env.DATABASE_URL });
 * for (const f of result.findings) console.log(f.severity, f.rule, f.message);
 * ```
 * @public
 */
export function audit(input: AuditInput): Promise<AuditResult>;
/**
 * Audits a guarded pool (`poolguard/pg`'s `Pool`, or a pool passed to `guard()`): its own options
 * and poolguard's, and by default the live server through a short-lived connection made with the
 * pool's own settings. A postgres.js `sql` (`poolguard/postgres`'s, or any) is read as the
 * pg-named options its own map to (see the README), and its server through the `sql` itself.
 * @public
 */
export function audit(pool: object, settings?: AuditPoolSettings): Promise<AuditResult>;
export async function audit(input: AuditInput | object, settings?: AuditPoolSettings): Promise<AuditResult> {
  const { audit: run } = await import('./audit.js');
  return run(input as object, settings);
}

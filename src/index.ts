/**
 * `poolguard`: shared types and errors, and the configuration audit. Imports none of pg,
 * generic-pool, knex, tarn, sequelize or sequelize-pool (the live audit loads pg only when given a
 * connection string).
 *
 * @packageDocumentation
 */
export type { GuardOptions } from './core/config.js';
export type { GuardLogger } from './core/logger.js';
export type { LeaseKind, GuardTotals } from './core/ledger.js';
export type { RetireReason } from './core/recycle-policy.js';
export type { TraceRef } from './core/telemetry.js';
export {
  PoolGuard,
  type LeakReport,
  type LeaseState,
  type LeaseSnapshot,
  type GuardSnapshot,
  type GuardEvents,
  type ConnectionSummary,
  type PoolCounts,
  type DirtyReleaseReport,
  type RetireReport,
  type UnhandledErrorReport,
  type EndReport,
  type EndLease,
  type StallReport,
} from './core/guard.js';
export { CheckoutTimeoutError, DirtyReleaseError, DoubleReleaseError, LeaseReclaimedError, type HolderGroup } from './core/errors.js';
export { DEFAULT_IGNORED_FRAMES } from './core/stack.js';
export { DIAGNOSTICS_CHANNELS } from './core/diagnostics.js';
export { audit } from './audit/audit.js';
export type {
  AuditFinding,
  AuditSeverity,
  AuditResult,
  AuditInput,
  AuditPoolOptions,
  AuditGuardOptions,
  AuditPoolSettings,
  AuditQueryable,
  AuditServerSummary,
  PgBouncerSummary,
} from './audit/types.js';

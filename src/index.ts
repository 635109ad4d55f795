/**
 * `poolguard`: shared types and errors, and the configuration audit. Imports none of pg,
 * generic-pool, knex, tarn, sequelize or sequelize-pool (the live audit loads pg only when given a
 * connection string).
 *
 * @packageDocumentation
 */
export type { GuardOptions, GuardLogger } from './core/options.js';
export type {
  LeaseKind,
  GuardTotals,
  RetireReason,
  TraceRef,
  LeakReport,
  LeaseState,
  LeaseSnapshot,
  GuardSnapshot,
  GuardEvents,
  ConnectionSummary,
  PoolCounts,
  DirtyReleaseReport,
  RetireReport,
  UnhandledErrorReport,
  EndReport,
  EndLease,
  StallReport,
  HolderGroup,
} from './core/types.js';
export { PoolGuard } from './core/handle.js';
export { CheckoutTimeoutError, DirtyReleaseError, DoubleReleaseError, LeaseReclaimedError } from './core/errors.js';
export { DEFAULT_IGNORED_FRAMES } from './core/stack.js';
export { DIAGNOSTICS_CHANNELS } from './core/diagnostics.js';
export { audit } from './audit/on-demand.js';
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

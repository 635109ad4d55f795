import { LIVE_RULES } from './rules-live.js';
import { STATIC_RULES } from './rules-static.js';
import type { AuditRule } from './pg-rule-context.js';

export { effectiveOptions, type AuditRule, type EffectiveOptions, type RuleContext } from './pg-rule-context.js';

/**
 * The PostgreSQL audit's rules, one entry each: the static ones, then those that need the server;
 * within a severity their findings are listed in this order.
 */
export const RULES: readonly AuditRule[] = Object.freeze([...STATIC_RULES, ...LIVE_RULES]);

import type { AuditFinding, AuditSeverity } from './types.js';

/** A finding before the audit stamps it with its rule's id and severity. */
export interface Draft {
  message: string;
  why: string;
  fix: string;
  option?: string;
  value?: unknown;
}

const ORDER = { error: 0, warning: 1, info: 2 } as const;

/**
 * Runs a list of rules (PostgreSQL's or MySQL's) against their context: each draft stamped with
 * its rule's id and severity, errors first, counted. A rule that throws becomes a finding saying
 * so, rather than hiding every other one.
 */
export function runRules<C>(
  rules: ReadonlyArray<{ readonly id: string; readonly severity: AuditSeverity; check(ctx: C): Draft | Draft[] | undefined }>,
  ctx: C,
): { ok: boolean; findings: AuditFinding[]; counts: { error: number; warning: number; info: number } } {
  const findings: AuditFinding[] = [];
  for (const rule of rules) {
    let drafts;
    try {
      drafts = rule.check(ctx);
    } catch (err) {
      drafts = { message: `rule ${rule.id} could not run: ${String((err as Error)?.message ?? err)}`, why: 'This is a bug in poolguard\'s audit.', fix: 'Report it with the options you audited (without the password).' };
    }
    for (const d of drafts === undefined ? [] : Array.isArray(drafts) ? drafts : [drafts]) {
      const finding: AuditFinding = { rule: rule.id, severity: rule.severity, message: d.message, why: d.why, fix: d.fix };
      if (d.option !== undefined) Object.assign(finding, { option: d.option });
      if (d.value !== undefined) Object.assign(finding, { value: d.value });
      findings.push(finding);
    }
  }
  // A stable sort keeps the rules' own order within a severity.
  findings.sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
  const counts = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return { ok: counts.error === 0, findings, counts };
}

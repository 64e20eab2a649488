// Rule outcomes as values, and the one pure function that decides whether an outcome blocks the request.
import type { GovernanceMode, RuleFamily, RuleName } from '../policy/governance-policy.js';

/**
 * pass: evaluated and satisfied (only reported in summaries); fail: violated; warn: violated but never blocking
 * (pre-existing on UPDATE, made by a workload controller from an admitted template); skip: excused by an exception; error: could not be evaluated.
 */
export type RuleStatus = 'pass' | 'fail' | 'warn' | 'skip' | 'error';

export interface ExceptionUse {
  readonly via: 'policy' | 'annotation';
  readonly reason: string;
}

export interface RuleResult {
  /** Policy name; for protect-migration-source the MigrationPolicy that protects the workload. */
  readonly policy: string;
  readonly rule: RuleName;
  readonly family: RuleFamily;
  readonly mode: GovernanceMode;
  readonly status: RuleStatus;
  /** Dotted field path inside the object the user applied: spec.template.spec.containers[0].resources.limits.memory */
  readonly path: string;
  /** What is wrong, phrased so that it says the fix: "is required", "must be one of a, b (is \"c\")". */
  readonly message: string;
  readonly exception?: ExceptionUse;
}

/** One pure decision: only an enforce-mode failure denies. */
export function blocks(r: RuleResult): boolean {
  return r.status === 'fail' && r.mode === 'enforce';
}

/** Results that are shown to the user as warnings (audit failures, non-blocking violations, evaluation errors). */
export function warns(r: RuleResult): boolean {
  return (r.status === 'fail' && r.mode === 'audit') || r.status === 'warn' || r.status === 'error';
}

export interface Decision {
  readonly allowed: boolean;
  readonly denials: readonly RuleResult[];
  readonly warnings: readonly RuleResult[];
  readonly exceptions: readonly RuleResult[];
}

export function decide(results: readonly RuleResult[]): Decision {
  const denials = results.filter(blocks);
  return { allowed: denials.length === 0, denials, warnings: results.filter(warns), exceptions: results.filter((r) => r.status === 'skip' && r.exception) };
}

/** "spec.template.spec.containers[0].resources.limits.memory is required (policy team-defaults, rule require-limits)" */
export function formatViolation(r: RuleResult): string {
  return `${r.path ? `${r.path} ` : ''}${r.message} (policy ${r.policy}, rule ${r.rule})`;
}

export const MAX_WARNING_LENGTH = 120;

/** An admission warning: at most 120 characters, as the API server advises; the full text goes to the log. */
export function formatWarning(r: RuleResult): string {
  const text = `${r.status === 'fail' ? '[audit] ' : ''}${formatViolation(r)}`;
  return text.length <= MAX_WARNING_LENGTH ? text : `${text.slice(0, MAX_WARNING_LENGTH - 3)}...`;
}

/** The denial message: every blocking violation, one per line. */
export function denialMessage(denials: readonly RuleResult[]): string {
  return denials.map(formatViolation).join('\n');
}

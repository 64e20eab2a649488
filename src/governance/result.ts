// Rule outcomes as values, and the one pure function that decides whether an outcome blocks the request.
import type { CelRuleName, GovernanceMode, RuleFamily, RuleName } from '../policy/governance-policy.js';
import type { DenialReason } from '../policy/cel-validations.js';

/**
 * pass: evaluated and satisfied (only reported in summaries); fail: violated; warn: violated but never blocking
 * (pre-existing on UPDATE, made by a workload controller from an admitted template); skip: excused by an exception, or
 * not applicable because a `when` condition does not hold (then `condition` says which); error: could not be evaluated.
 */
export type RuleStatus = 'pass' | 'fail' | 'warn' | 'skip' | 'error';

export interface ExceptionUse {
  readonly via: 'policy' | 'annotation';
  readonly reason: string;
}

export interface RuleResult {
  /** Policy name; for protect-migration-source the MigrationPolicy that protects the workload. */
  readonly policy: string;
  readonly rule: RuleName | CelRuleName;
  readonly family: RuleFamily;
  readonly mode: GovernanceMode;
  readonly status: RuleStatus;
  /** Dotted field path inside the object the user applied: spec.template.spec.containers[0].resources.limits.memory */
  readonly path: string;
  /** What is wrong, phrased so that it says the fix: "is required", "must be one of a, b (is \"c\")". */
  readonly message: string;
  readonly exception?: ExceptionUse;
  /** For a rule skipped because its `when` does not hold: where that condition is written (spec.resources.when). */
  readonly condition?: string;
  /** A failed CEL validation's `reason` (spec.validations[].reason): the denial's status reason and code when first. */
  readonly reason?: DenialReason;
}

/**
 * One pure decision: an enforce-mode failure denies, and so does an enforce-mode CEL error (an expression that could
 * not be evaluated or ran out of budget fails closed, as a ValidatingAdmissionPolicy with failurePolicy Fail).
 */
export function blocks(r: RuleResult): boolean {
  return r.mode === 'enforce' && (r.status === 'fail' || (r.status === 'error' && r.family === 'cel'));
}

/** Results that are shown to the user as warnings (audit failures, non-blocking violations, evaluation errors). */
export function warns(r: RuleResult): boolean {
  return !blocks(r) && ((r.status === 'fail' && r.mode === 'audit') || r.status === 'warn' || r.status === 'error');
}

/** The outcome of reviewing one object against the governance policies (not the scaling planner's Decision). */
export interface GovernanceVerdict {
  readonly allowed: boolean;
  readonly denials: readonly RuleResult[];
  readonly warnings: readonly RuleResult[];
  readonly exceptions: readonly RuleResult[];
  /** Results past MAX_REPORTED of their kind, counted instead of kept (absent: none). */
  readonly omitted?: Omitted;
}

/** How many results of each kind a review counted but did not keep. */
export interface Omitted {
  denials: number;
  warnings: number;
  exceptions: number;
  /** Rules skipped by a `when` condition (ValidateOutcome.results), past MAX_REPORTED. */
  skipped?: number;
}

export function decide(results: readonly RuleResult[], omitted?: Omitted): GovernanceVerdict {
  const denials = results.filter(blocks);
  const d = { allowed: denials.length === 0 && !omitted?.denials, denials, warnings: results.filter(warns), exceptions: results.filter((r) => r.status === 'skip' && r.exception) };
  return omitted ? { ...d, omitted } : d;
}

/** Longest value quoted in a message: a 2 MB label value is shown by its start, never whole. */
export const MAX_QUOTED_LENGTH = 64;
/** Longest violation line (path, message, policy, rule): messages, warnings, audit annotations, Events and logs. */
export const MAX_VIOLATION_LENGTH = 512;
/** Violations (and warnings, and exceptions used) reported per review; the rest are counted ("… and N more"). */
export const MAX_REPORTED = 50;

/** Clips text to `max` characters with an ellipsis. */
export function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** A user's value as shown in a message: a string quoted and clipped; anything else by its type. */
export function quoteValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > MAX_QUOTED_LENGTH ? `${v.slice(0, MAX_QUOTED_LENGTH - 1)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? 'a list' : `a ${typeof v}`;
}

/** "spec.template.spec.containers[0].resources.limits.memory is required (policy team-defaults, rule require-limits)" */
export function formatViolation(r: RuleResult): string {
  const text = `${r.path ? `${r.path} ` : ''}${r.message} (policy ${r.policy}, rule ${r.rule})`;
  return text.length <= MAX_VIOLATION_LENGTH ? text : clip(text, MAX_VIOLATION_LENGTH);
}

export const MAX_WARNING_LENGTH = 120;
/** The shortest message part a warning keeps when the policy and rule names alone nearly fill MAX_WARNING_LENGTH. */
export const MIN_WARNING_MESSAGE = 24;

/**
 * An admission warning, `[audit] <policy>/<rule>: <path> <message>` (`[audit]` for audit-mode failures): at most
 * MAX_WARNING_LENGTH characters, as the API server advises and kubectl shows best. Only the message part is shortened
 * (an ellipsis ends it), never the identity: a reader can always look the rule up, and the full text goes to the log,
 * the audit annotation and the Event. With names too long for the line the identity stays whole and the line longer.
 */
export function formatWarning(r: RuleResult): string {
  const prefix = `${r.status === 'fail' ? '[audit] ' : ''}${r.policy}/${r.rule}: `;
  const message = r.path ? `${r.path} ${r.message}` : r.message;
  const room = Math.max(MAX_WARNING_LENGTH - prefix.length, MIN_WARNING_MESSAGE);
  if (message.length <= room) return prefix + message;
  let end = room - 3;
  const c = message.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--; // not half a surrogate pair
  return `${prefix}${message.slice(0, end)}...`;
}

/** The denial message: each blocking violation kept, one per line, then how many more there were. */
export function denialMessage(denials: readonly RuleResult[], more = 0): string {
  const lines = denials.map(formatViolation);
  if (more > 0) lines.push(`… and ${more} more violation${more === 1 ? '' : 's'}`);
  return lines.join('\n');
}

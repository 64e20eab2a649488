// The cel rule family: a policy's spec.validations evaluated on the object under review with
// ValidatingAdmissionPolicy's variables. Each expression (and each variable) has its own cost budget and time limit.
import { celValue, DEFAULT_CEL_TIME_LIMIT_MS, plainValue, type CelLimits } from '../common/cel.js';
import type { CompiledValidation, CompiledValidations, DenialReason } from '../policy/cel-validations.js';
import { getIn } from './json-patch.js';
import type { ReviewContext, Target } from './types.js';

export interface CelFinding {
  readonly rule: string;
  readonly status: 'fail' | 'error';
  readonly message: string;
  /** The validation's `reason` when it evaluated to false (ValidatingAdmissionPolicy applies it to failures only). */
  readonly reason?: DenialReason;
}

/** The variables of one review, converted once for every policy's validations. */
export interface CelInputs {
  readonly object: unknown;
  readonly oldObject: unknown;
  readonly request: unknown;
  readonly namespaceObject: unknown;
}

/** ValidatingAdmissionPolicy's inputs from what the engine knows of the request. */
export function celInputs(t: Target, ctx: ReviewContext): CelInputs {
  const apiVersion = getIn(t.obj, ['apiVersion']);
  const [group, version] = typeof apiVersion === 'string' && apiVersion.includes('/') ? apiVersion.split('/', 2) : ['', typeof apiVersion === 'string' ? apiVersion : ''];
  const kind = { group: ctx.group ?? group, version, kind: ctx.kind ?? t.kind };
  return {
    object: celValue(t.obj),
    oldObject: t.operation === 'UPDATE' && ctx.oldObject !== undefined ? celValue(ctx.oldObject) : null,
    request: celValue({
      operation: t.operation,
      namespace: t.namespace,
      name: t.name,
      kind,
      resource: kind,
      userInfo: { username: ctx.requestedBy ?? '' },
      dryRun: false,
    }),
    namespaceObject: t.namespace
      ? celValue({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: t.namespace, labels: { 'kubernetes.io/metadata.name': t.namespace, ...t.namespaceInfo.labels }, annotations: { ...t.namespaceInfo.annotations } } })
      : null,
  };
}

function limits(t: Target): CelLimits {
  if (!t.deadline) return {};
  const left = t.deadline.at - t.deadline.now();
  return { timeLimitMs: Math.max(0, Math.min(DEFAULT_CEL_TIME_LIMIT_MS, left)), now: t.deadline.now };
}

function message(v: CompiledValidation, vars: Record<string, unknown>, t: Target): string {
  if (v.messageProgram) {
    const m = v.messageProgram.evaluate(vars, limits(t));
    // As the API server: a message expression that fails or is not a non-empty string falls back to message.
    if ('value' in m && typeof m.value === 'string' && m.value.trim()) return m.value.slice(0, 1024);
  }
  return v.message ?? `failed expression: ${v.program.source}`;
}

/** Evaluates the validations; a false expression is a fail, an error (or an exhausted budget) an error. */
export function evaluateValidations(cel: CompiledValidations, inputs: CelInputs, t: Target): CelFinding[] {
  const variables: Record<string, unknown> = {};
  const failedVariables: string[] = [];
  const vars = { ...inputs, variables };
  for (const v of cel.variables) {
    const r = v.program.evaluate(vars, limits(t));
    if ('value' in r) variables[v.name] = r.value;
    else failedVariables.push(`variables.${v.name}: ${r.error}`);
  }
  const out: CelFinding[] = [];
  for (const v of cel.validations) {
    const r = v.program.evaluate(vars, limits(t));
    if ('error' in r) {
      const why = failedVariables.length ? `${r.error} (${failedVariables.join('; ')})` : r.error;
      out.push({ rule: v.rule, status: 'error', message: `expression could not be evaluated: ${why}` });
    } else if (r.value === false) out.push({ rule: v.rule, status: 'fail', message: message(v, vars, t), ...(v.reason ? { reason: v.reason } : {}) });
    else if (r.value !== true) out.push({ rule: v.rule, status: 'error', message: `expression must evaluate to a bool, got ${JSON.stringify(plainValue(r.value))?.slice(0, 80)}` });
  }
  return out;
}

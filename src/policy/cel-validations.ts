// spec.validations and spec.variables of a GovernancePolicy: CEL expressions with ValidatingAdmissionPolicy's
// variables, compiled at load so that a broken expression is a load (and lint) error, never a surprise at admission.
import { CelCompileError, compileCel, type CelProgram } from '../common/cel.js';
import type { Issue } from './kind.js';

/**
 * A failed validation's status reason, as in a ValidatingAdmissionPolicy: the webhook answers a denial whose first
 * violation is such a validation with this reason and its HTTP code (DENIAL_CODES).
 */
export type DenialReason = 'Unauthorized' | 'Forbidden' | 'Invalid' | 'RequestEntityTooLarge';
export const DENIAL_CODES: Readonly<Record<DenialReason, number>> = { Unauthorized: 401, Forbidden: 403, Invalid: 422, RequestEntityTooLarge: 413 };

export interface ValidationSpec {
  readonly expression: string;
  readonly message?: string;
  readonly messageExpression?: string;
  readonly reason?: DenialReason;
  /** The rule name of this validation in findings and exceptions (default validations[i]). */
  readonly name?: string;
}

export interface VariableSpec {
  readonly name: string;
  readonly expression: string;
}

/** The variables every expression sees (ValidatingAdmissionPolicy's, without params and authorizer). */
export const CEL_VARIABLES = ['object', 'oldObject', 'request', 'namespaceObject', 'variables'] as const;

export interface CompiledValidation {
  readonly rule: string;
  readonly index: number;
  readonly program: CelProgram;
  readonly message?: string;
  readonly messageProgram?: CelProgram;
  readonly reason?: ValidationSpec['reason'];
}

export interface CompiledVariable {
  readonly name: string;
  readonly program: CelProgram;
}

export interface CompiledValidations {
  readonly variables: readonly CompiledVariable[];
  readonly validations: readonly CompiledValidation[];
}

function compileOne(source: string, path: (string | number)[], issues: Issue[]): CelProgram | undefined {
  try {
    return compileCel(source, CEL_VARIABLES);
  } catch (e) {
    if (!(e instanceof CelCompileError)) throw e;
    const at = e.line !== undefined ? ` (at ${e.line}:${e.column} of the expression)` : '';
    issues.push({ path, message: `invalid CEL: ${e.message}${at}` });
    return undefined;
  }
}

export function compileValidations(validations: readonly ValidationSpec[], variables: readonly VariableSpec[], issues: Issue[]): CompiledValidations {
  const vars: CompiledVariable[] = [];
  const seen = new Set<string>();
  variables.forEach((v, i) => {
    if (seen.has(v.name)) issues.push({ path: ['spec', 'variables', i, 'name'], message: `variable "${v.name}" is defined twice` });
    seen.add(v.name);
    const program = compileOne(v.expression, ['spec', 'variables', i, 'expression'], issues);
    if (program) vars.push({ name: v.name, program });
  });
  const out: CompiledValidation[] = [];
  const names = new Set<string>();
  validations.forEach((v, i) => {
    const rule = v.name ?? `validations[${i}]`;
    if (names.has(rule)) issues.push({ path: ['spec', 'validations', i, 'name'], message: `validation name "${rule}" is used twice` });
    names.add(rule);
    const program = compileOne(v.expression, ['spec', 'validations', i, 'expression'], issues);
    const messageProgram = v.messageExpression !== undefined ? compileOne(v.messageExpression, ['spec', 'validations', i, 'messageExpression'], issues) : undefined;
    if (!program) return;
    out.push({ rule, index: i, program, ...(v.message !== undefined ? { message: v.message } : {}), ...(messageProgram ? { messageProgram } : {}), ...(v.reason ? { reason: v.reason } : {}) });
  });
  return { variables: vars, validations: out };
}

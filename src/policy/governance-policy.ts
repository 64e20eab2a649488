// GovernancePolicy: schema plus compile-time checks (regexes, quantities) so the admission path only reads compiled values.
import schema from './schemas/governance-policy.schema.json' with { type: 'json' };
import { tryParseQuantity } from '../common/quantity.js';
import type { LabelSelector } from '../common/labels.js';
import type { Issue, PolicyKindSpec } from './kind.js';
import type { PolicyOrigin } from './types.js';

export type GovernanceMode = 'enforce' | 'audit';
export type ResourceName = 'cpu' | 'memory' | 'ephemeral-storage';

export interface TagRuleSpec {
  readonly required?: boolean;
  readonly allowed?: readonly string[];
  readonly pattern?: string;
  readonly default?: string;
  readonly fromNamespace?: boolean;
}

export interface MatchSpec {
  readonly kinds?: readonly string[];
  readonly namespaces?: readonly string[];
  readonly namespaceSelector?: LabelSelector;
  readonly selector?: LabelSelector;
}

export interface ExceptionSpec {
  readonly namespace?: string;
  readonly name?: string;
  readonly kinds?: readonly string[];
  readonly selector?: LabelSelector;
  readonly rules?: readonly string[];
  readonly reason: string;
}

/** The validated document as written (defaults applied); the engine compiles it further into its own index. */
export interface GovernancePolicySpec {
  readonly mode: GovernanceMode;
  readonly match?: MatchSpec;
  readonly exclude?: MatchSpec;
  readonly resources?: {
    readonly require?: readonly string[];
    readonly max?: Partial<Record<ResourceName, string | number>>;
    readonly maxLimitRequestRatio?: Partial<Record<'cpu' | 'memory', number>>;
    readonly defaults?: { readonly requests?: Partial<Record<ResourceName, string | number>>; readonly limits?: Partial<Record<ResourceName, string | number>> };
  };
  readonly labels?: Readonly<Record<string, TagRuleSpec>>;
  readonly annotations?: Readonly<Record<string, TagRuleSpec>>;
  readonly exceptions?: readonly ExceptionSpec[];
}

export interface GovernancePolicy {
  readonly kind: 'GovernancePolicy';
  readonly name: string;
  readonly origin: PolicyOrigin;
  readonly spec: GovernancePolicySpec;
}

function checkQuantities(map: Record<string, unknown> | undefined, path: (string | number)[], issues: Issue[]): void {
  for (const [k, v] of Object.entries(map ?? {})) {
    if (tryParseQuantity(v) === undefined) issues.push({ path: [...path, k], message: `"${String(v)}" is not a Kubernetes quantity` });
  }
}

function checkTags(rules: Record<string, TagRuleSpec> | undefined, field: string, issues: Issue[]): void {
  for (const [key, r] of Object.entries(rules ?? {})) {
    const at = ['spec', field, key];
    if (r.pattern !== undefined) {
      try {
        new RegExp(r.pattern);
      } catch (e) {
        issues.push({ path: [...at, 'pattern'], message: `invalid regular expression: ${(e as Error).message}` });
      }
    }
    if (r.default !== undefined && r.allowed && !r.allowed.includes(r.default)) {
      issues.push({ path: [...at, 'default'], message: `default "${r.default}" is not one of the allowed values (${r.allowed.join(', ')})` });
    }
  }
}

export const governancePolicyKind: PolicyKindSpec<GovernancePolicy> = {
  kind: 'GovernancePolicy',
  schema,
  compile(doc, origin) {
    const spec = doc.spec ?? {};
    const issues: Issue[] = [];
    checkQuantities(spec.resources?.max, ['spec', 'resources', 'max'], issues);
    checkQuantities(spec.resources?.defaults?.requests, ['spec', 'resources', 'defaults', 'requests'], issues);
    checkQuantities(spec.resources?.defaults?.limits, ['spec', 'resources', 'defaults', 'limits'], issues);
    checkTags(spec.labels, 'labels', issues);
    checkTags(spec.annotations, 'annotations', issues);
    if (issues.length) return { issues };
    return { value: { kind: 'GovernancePolicy', name: doc.metadata.name, origin, spec: { mode: 'enforce', ...spec } } };
  },
};

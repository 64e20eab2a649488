// GovernancePolicy: schema plus the compile step (regexes, quantities, selectors, rule names) so the admission path only reads compiled values.
import schema from './schemas/governance-policy.schema.json' with { type: 'json' };
import { compareQuantities, exactNumber, multiplyQuantities, parseQuantity, quantityToNumber, readQuantity, tryParseQuantity, type Quantity } from '../common/quantity.js';
import { isValidLabelKey, isValidLabelValue, selectorRequirements, type LabelSelector, type Requirement } from '../common/labels.js';
import { compilePattern, type Pattern } from '../common/pattern.js';
import { compileValidations, type CompiledValidations, type ValidationSpec, type VariableSpec } from './cel-validations.js';
import type { Issue, PolicyKindSpec } from './kind.js';
import type { PolicyOrigin } from './types.js';

export type GovernanceMode = 'enforce' | 'audit';
export type ResourceName = 'cpu' | 'memory' | 'ephemeral-storage';
export const RESOURCE_NAMES: readonly ResourceName[] = ['cpu', 'memory', 'ephemeral-storage'];

/** The kinds a GovernancePolicy can match (the schema's enum); every one of them carries a pod spec. */
export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Pod'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

// Well-known keys: one name per concept across code, docs and the migration engine.
export const MIGRATION_LABEL = 'governor.io/migration';
export const MIGRATION_GROUP_LABEL = 'governor.io/migration-group';
/** A workload's declared part in a migration (checked at admission); not the metric label governor.io/role (scaling/contract.ts) an HPA selects a side by. */
export const MIGRATION_ROLE_LABEL = 'governor.io/migration-role';
export const MIGRATION_MODES = ['live', 'restart', 'pinned'] as const;
export const MIGRATION_ROLES = ['source', 'target'] as const;
export const EXCEPTION_ANNOTATION_PREFIX = 'governor.io/exception.';
export const FORCE_DELETE_ANNOTATION = 'governor.io/force-delete';

export type RuleFamily = 'resources' | 'labels' | 'annotations' | 'migration' | 'cel';
export const RULE_FAMILIES: readonly RuleFamily[] = ['resources', 'labels', 'annotations', 'migration', 'cel'];
/** A CEL validation's rule name: its `name`, else `validations[i]` (family cel). */
export type CelRuleName = string;

/** Every rule the engine evaluates, with its family. Exceptions and exception annotations name a family or a rule. */
export const GOVERNANCE_RULES = {
  'default-resources': 'resources',
  'require-requests': 'resources',
  'require-limits': 'resources',
  'max-resources': 'resources',
  'max-limit-request-ratio': 'resources',
  'default-labels': 'labels',
  'require-labels': 'labels',
  'label-values': 'labels',
  'default-annotations': 'annotations',
  'require-annotations': 'annotations',
  'annotation-values': 'annotations',
  'default-migration-labels': 'migration',
  'require-migration-labels': 'migration',
  'migration-label-values': 'migration',
  'pinned-not-source': 'migration',
  'protect-migration-source': 'migration',
} as const satisfies Record<string, RuleFamily>;
export type RuleName = keyof typeof GOVERNANCE_RULES;

export function isRuleOrFamily(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(GOVERNANCE_RULES, name) || (RULE_FAMILIES as readonly string[]).includes(name);
}

/** Labels under governor.io/migration* belong to the migration family (with its built-in values and cross-field rules). */
export function isMigrationKey(key: string): boolean {
  return key.startsWith(MIGRATION_LABEL);
}

// ---------------------------------------------------------------- the document as written

export interface TagRuleSpec {
  readonly required?: boolean;
  readonly allowed?: readonly string[];
  readonly pattern?: string;
  readonly default?: string;
  readonly fromNamespace?: boolean;
}

export interface MatchSpec {
  readonly kinds?: readonly WorkloadKind[];
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

type ResourceMap = Partial<Record<ResourceName, string | number>>;

/** The validated document as written (defaults applied). */
export interface GovernancePolicySpec {
  readonly mode: GovernanceMode;
  readonly match?: MatchSpec;
  readonly exclude?: MatchSpec;
  readonly resources?: {
    readonly require?: readonly string[];
    readonly max?: ResourceMap;
    readonly maxLimitRequestRatio?: Partial<Record<'cpu' | 'memory', number>>;
    readonly defaults?: { readonly requests?: ResourceMap; readonly limits?: ResourceMap };
  };
  readonly labels?: Readonly<Record<string, TagRuleSpec>>;
  readonly annotations?: Readonly<Record<string, TagRuleSpec>>;
  readonly exceptions?: readonly ExceptionSpec[];
  readonly allowExceptionAnnotations?: readonly string[];
  readonly allowExistingViolations?: boolean;
  readonly validations?: readonly ValidationSpec[];
  readonly variables?: readonly VariableSpec[];
}

// ---------------------------------------------------------------- the compiled form the engine reads

/** A name that may contain * and ? wildcards, compiled once. */
export interface NamePattern {
  readonly text: string;
  /** Exact names are indexed; patterns are tested. */
  readonly exact: boolean;
  test(name: string): boolean;
}

export interface CompiledMatch {
  /** undefined: every workload kind. Pod in the document expands to every pod controller (autogen). */
  readonly kinds?: ReadonlySet<WorkloadKind>;
  readonly namespaces?: readonly NamePattern[];
  readonly namespaceSelector?: readonly Requirement[];
  readonly selector?: readonly Requirement[];
}

export interface CompiledTagRule {
  readonly key: string;
  readonly family: 'labels' | 'annotations' | 'migration';
  readonly required: boolean;
  readonly allowed?: readonly string[];
  /** RE2 (linear time): a value of any length is tested in time proportional to its length. */
  readonly pattern?: Pattern;
  readonly default?: string;
  readonly fromNamespace: boolean;
}

export interface ResourceAmount {
  readonly resource: ResourceName;
  readonly text: string;
  /** Exact (compareQuantities): a float would turn "1e309" into Infinity. */
  readonly value: Quantity;
}

export interface RatioLimit {
  readonly resource: 'cpu' | 'memory';
  /** As written, for messages. */
  readonly value: number;
  /** The same ratio as an exact quantity: a limit is over it when limit > ratio × request. */
  readonly exact: Quantity;
}

export interface CompiledResources {
  readonly require: readonly { readonly section: 'requests' | 'limits'; readonly resource: ResourceName }[];
  readonly max: readonly ResourceAmount[];
  readonly maxLimitRequestRatio: readonly RatioLimit[];
  readonly defaults: { readonly requests: readonly ResourceAmount[]; readonly limits: readonly ResourceAmount[] };
}

export interface CompiledException {
  readonly namespace?: NamePattern;
  readonly name?: NamePattern;
  readonly kinds?: ReadonlySet<string>;
  readonly selector?: readonly Requirement[];
  /** Families or rule names; undefined: every rule of the policy. */
  readonly rules?: ReadonlySet<string>;
  readonly reason: string;
}

export interface GovernancePolicy {
  readonly kind: 'GovernancePolicy';
  readonly name: string;
  readonly origin: PolicyOrigin;
  /** As written, for display; the engine reads the compiled fields below. */
  readonly spec: GovernancePolicySpec;
  readonly mode: GovernanceMode;
  readonly match: CompiledMatch;
  /** undefined: nothing is excluded (an empty exclude block excludes nothing). */
  readonly exclude?: CompiledMatch;
  readonly resources?: CompiledResources;
  readonly labels: readonly CompiledTagRule[];
  readonly annotations: readonly CompiledTagRule[];
  /** True when the policy governs any governor.io/migration* label: the built-in migration rules then apply. */
  readonly migration: boolean;
  readonly exceptions: readonly CompiledException[];
  readonly allowExceptionAnnotations: ReadonlySet<string>;
  readonly allowExistingViolations: boolean;
  /** spec.validations and spec.variables, compiled (absent: none). */
  readonly cel?: CompiledValidations;
}

// ---------------------------------------------------------------- compile

export function compileNamePattern(text: string): NamePattern {
  if (!text.includes('*') && !text.includes('?')) return { text, exact: true, test: (n) => n === text };
  return { text, exact: false, test: (n) => globMatch(text, n) };
}

/**
 * Whether `name` matches a wildcard pattern (* any run, ? one character). A regex built from the pattern (`^a.*b.*c$`)
 * backtracks in time growing with the power of the number of stars; this keeps only the last star's position, so a
 * test takes at most pattern × name steps.
 */
export function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    const c = pattern[p];
    if (c === '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.length && (c === '?' || c === name[n])) {
      p++;
      n++;
    } else if (star >= 0) {
      p = star + 1;
      n = ++resume;
    } else return false;
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

const POD_CONTROLLERS: readonly WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob'];

function compileMatch(m: MatchSpec | undefined): CompiledMatch | undefined {
  if (!m) return undefined;
  const kinds = m.kinds ? new Set<WorkloadKind>(m.kinds.flatMap((k) => (k === 'Pod' ? ['Pod', ...POD_CONTROLLERS] : [k]))) : undefined;
  const out: CompiledMatch = {
    ...(kinds ? { kinds } : {}),
    ...(m.namespaces ? { namespaces: m.namespaces.map(compileNamePattern) } : {}),
    ...(m.namespaceSelector ? { namespaceSelector: selectorRequirements(m.namespaceSelector) } : {}),
    ...(m.selector ? { selector: selectorRequirements(m.selector) } : {}),
  };
  return out;
}

function isEmptyMatch(m: CompiledMatch | undefined): boolean {
  return !m || (m.kinds === undefined && m.namespaces === undefined && m.namespaceSelector === undefined && m.selector === undefined);
}

// An unreadable amount is reported by checkQuantities, and the policy is then refused: the zero is never used.
const UNUSED = parseQuantity('0');

function amount(resource: ResourceName, v: string | number): ResourceAmount {
  return { resource, text: String(v), value: tryParseQuantity(v) ?? UNUSED };
}

function amounts(map: ResourceMap | undefined): ResourceAmount[] {
  return RESOURCE_NAMES.filter((r) => map?.[r] !== undefined).map((r) => amount(r, map![r]!));
}

function checkQuantities(map: Record<string, unknown> | undefined, path: (string | number)[], issues: Issue[]): void {
  for (const [k, v] of Object.entries(map ?? {})) {
    const q = readQuantity(v);
    if (typeof q === 'string') issues.push({ path: [...path, k], message: `"${String(v).slice(0, 80)}" is not a Kubernetes quantity: it ${q}` });
  }
}

function compileTags(rules: Record<string, TagRuleSpec> | undefined, field: 'labels' | 'annotations', issues: Issue[]): CompiledTagRule[] {
  const out: CompiledTagRule[] = [];
  for (const [key, r] of Object.entries(rules ?? {})) {
    const at = ['spec', field, key];
    const before = issues.length;
    if (!isValidLabelKey(key)) issues.push({ path: at, message: `"${key}" is not a valid ${field === 'labels' ? 'label' : 'annotation'} key (optional DNS prefix/, then up to 63 of [A-Za-z0-9-_.])` });
    let pattern: Pattern | undefined;
    if (r.pattern !== undefined) {
      try {
        pattern = compilePattern(r.pattern);
      } catch (e) {
        issues.push({ path: [...at, 'pattern'], message: `invalid regular expression: ${(e as Error).message}` });
      }
    }
    const migration = field === 'labels' && isMigrationKey(key);
    const builtIn = migration && key === MIGRATION_LABEL ? MIGRATION_MODES : migration && key === MIGRATION_ROLE_LABEL ? MIGRATION_ROLES : undefined;
    if (builtIn && r.allowed) {
      const extra = r.allowed.filter((v) => !(builtIn as readonly string[]).includes(v));
      if (extra.length) issues.push({ path: [...at, 'allowed'], message: `${key} can only be ${builtIn.join(', ')}; remove ${extra.join(', ')}` });
    }
    const values = [...(r.allowed ?? []).map((v, i) => ({ v, path: [...at, 'allowed', i] })), ...(r.default !== undefined ? [{ v: r.default, path: [...at, 'default'] }] : [])];
    if (field === 'labels') {
      for (const { v, path } of values) if (!isValidLabelValue(v)) issues.push({ path, message: `"${v}" is not a valid label value (up to 63 of [A-Za-z0-9-_.], alphanumeric at both ends)` });
    }
    if (r.default !== undefined) {
      if (r.allowed && !r.allowed.includes(r.default)) issues.push({ path: [...at, 'default'], message: `default "${r.default}" is not one of the allowed values (${r.allowed.join(', ')})` });
      else if (builtIn && !(builtIn as readonly string[]).includes(r.default)) issues.push({ path: [...at, 'default'], message: `default "${r.default}" must be one of ${builtIn.join(', ')}` });
      if (pattern && !pattern.test(r.default)) issues.push({ path: [...at, 'default'], message: `default "${r.default}" does not match the pattern ${r.pattern}` });
    }
    if (issues.length > before) continue;
    out.push({
      key,
      family: migration ? 'migration' : field,
      required: r.required === true,
      ...(r.allowed ? { allowed: r.allowed } : {}),
      ...(pattern ? { pattern } : {}),
      ...(r.default !== undefined ? { default: r.default } : {}),
      fromNamespace: r.fromNamespace === true,
    });
  }
  return out;
}

function compileResources(spec: GovernancePolicySpec['resources'], issues: Issue[]): CompiledResources | undefined {
  if (!spec) return undefined;
  const base = ['spec', 'resources'];
  checkQuantities(spec.max, [...base, 'max'], issues);
  checkQuantities(spec.defaults?.requests, [...base, 'defaults', 'requests'], issues);
  checkQuantities(spec.defaults?.limits, [...base, 'defaults', 'limits'], issues);
  const max = amounts(spec.max);
  const requests = amounts(spec.defaults?.requests);
  const limits = amounts(spec.defaults?.limits);
  const ratio: RatioLimit[] = (['cpu', 'memory'] as const)
    .filter((r) => spec.maxLimitRequestRatio?.[r] !== undefined)
    .map((r) => {
      const value = spec.maxLimitRequestRatio![r]!;
      // The schema makes it a number >= 1; its shortest decimal text ("1.5", "1e+21") reads exactly.
      return { resource: r, value, exact: exactNumber(value) };
    });
  // Defaults that the policy itself would reject make every defaulted object fail: catch them at load time.
  for (const section of ['requests', 'limits'] as const) {
    for (const d of section === 'requests' ? requests : limits) {
      const m = max.find((x) => x.resource === d.resource);
      if (m && compareQuantities(d.value, m.value) > 0) issues.push({ path: [...base, 'defaults', section, d.resource], message: `default ${d.text} is above spec.resources.max.${d.resource} (${m.text})` });
    }
  }
  for (const req of requests) {
    const lim = limits.find((x) => x.resource === req.resource);
    if (!lim) continue;
    if (compareQuantities(req.value, lim.value) > 0) issues.push({ path: [...base, 'defaults', 'requests', req.resource], message: `default request ${req.text} is above the default limit ${lim.text}` });
    const r = ratio.find((x) => x.resource === req.resource);
    if (r && req.value.sign > 0 && compareQuantities(lim.value, multiplyQuantities(r.exact, req.value)) > 0) {
      const shown = +(quantityToNumber(lim.value) / quantityToNumber(req.value)).toFixed(3);
      issues.push({ path: [...base, 'defaults', 'limits', lim.resource], message: `default limit/request ratio ${shown} is above maxLimitRequestRatio.${lim.resource} (${r.value})` });
    }
  }
  const require = (spec.require ?? []).map((s) => {
    const [section, resource] = s.split('.') as ['requests' | 'limits', ResourceName];
    return { section, resource };
  });
  return { require, max, maxLimitRequestRatio: ratio, defaults: { requests, limits } };
}

function compileRuleNames(names: readonly string[] | undefined, path: (string | number)[], issues: Issue[], celRules: ReadonlySet<string> = new Set()): ReadonlySet<string> | undefined {
  if (!names) return undefined;
  names.forEach((n, i) => {
    if (!isRuleOrFamily(n) && !celRules.has(n)) issues.push({ path: [...path, i], message: `unknown rule "${n}"; expected a family (${RULE_FAMILIES.join(', ')}), a rule name (${Object.keys(GOVERNANCE_RULES).join(', ')}) or a validation's name` });
  });
  return new Set(names);
}

export function compileGovernancePolicy(doc: any, origin: PolicyOrigin): { value: GovernancePolicy; issues?: undefined } | { issues: Issue[] } {
  const spec: GovernancePolicySpec = { mode: 'enforce', ...(doc.spec ?? {}) };
  const issues: Issue[] = [];
  const resources = compileResources(spec.resources, issues);
  const labels = compileTags(spec.labels as Record<string, TagRuleSpec> | undefined, 'labels', issues);
  const annotations = compileTags(spec.annotations as Record<string, TagRuleSpec> | undefined, 'annotations', issues);
  const cel = spec.validations?.length || spec.variables?.length ? compileValidations(spec.validations ?? [], spec.variables ?? [], issues) : undefined;
  const celRules = new Set(cel?.validations.map((v) => v.rule));
  spec.validations?.forEach((v, i) => {
    if (v.name !== undefined && isRuleOrFamily(v.name)) issues.push({ path: ['spec', 'validations', i, 'name'], message: `"${v.name}" is a built-in rule or family name; choose another` });
  });
  const exceptions: CompiledException[] = (spec.exceptions ?? []).map((e, i) => {
    const rules = e.rules && e.rules.length ? compileRuleNames(e.rules, ['spec', 'exceptions', i, 'rules'], issues, celRules) : undefined;
    return {
      ...(e.namespace !== undefined ? { namespace: compileNamePattern(e.namespace) } : {}),
      ...(e.name !== undefined ? { name: compileNamePattern(e.name) } : {}),
      ...(e.kinds ? { kinds: new Set(e.kinds) } : {}),
      ...(e.selector ? { selector: selectorRequirements(e.selector) } : {}),
      ...(rules ? { rules } : {}),
      reason: e.reason,
    };
  });
  const allowExceptionAnnotations = compileRuleNames(spec.allowExceptionAnnotations, ['spec', 'allowExceptionAnnotations'], issues, celRules) ?? new Set<string>();
  for (const n of allowExceptionAnnotations) {
    if (!isValidLabelKey(EXCEPTION_ANNOTATION_PREFIX + n)) issues.push({ path: ['spec', 'allowExceptionAnnotations'], message: `"${n}" cannot form an annotation key` });
  }
  if (issues.length) return { issues };
  const exclude = compileMatch(spec.exclude);
  return {
    value: {
      kind: 'GovernancePolicy',
      name: doc.metadata.name,
      origin,
      spec,
      mode: spec.mode,
      match: compileMatch(spec.match) ?? {},
      ...(isEmptyMatch(exclude) ? {} : { exclude: exclude! }),
      ...(resources ? { resources } : {}),
      labels,
      annotations,
      migration: labels.some((l) => l.family === 'migration'),
      exceptions,
      allowExceptionAnnotations,
      allowExistingViolations: spec.allowExistingViolations !== false,
      ...(cel ? { cel } : {}),
    },
  };
}

export const governancePolicyKind: PolicyKindSpec<GovernancePolicy> = {
  kind: 'GovernancePolicy',
  schema,
  compile: compileGovernancePolicy,
};

// GovernancePolicy: schema plus the compile step (regexes, quantities, selectors, rule names) so the admission path only reads compiled values.
import schema from './schemas/governance-policy.schema.json' with { type: 'json' };
import { compareQuantities, exactNumber, multiplyQuantities, parseQuantity, quantityToNumber, readQuantity, tryParseQuantity, type Quantity } from '../common/quantity.js';
import { isValidLabelKey, isValidLabelValue, selectorRequirements, type LabelSelector, type Requirement } from '../common/labels.js';
import { compilePattern, type Pattern } from '../common/pattern.js';
import { normalizeHostPath } from '../common/host-path.js';
import { compileValidations, type CompiledValidations, type ValidationSpec, type VariableSpec } from './cel-validations.js';
import type { Issue, PolicyKindSpec } from './kind.js';
import { DEFAULT_KIND_REFS, expandPod, isPodRef, kindRefMatches, parseKindRef, WORKLOAD_KINDS, workloadKindOf, type KindRef } from './kinds.js';
import type { PolicyOrigin } from './types.js';

export { WORKLOAD_KINDS, type WorkloadKind } from './kinds.js';

export type GovernanceMode = 'enforce' | 'audit';
/**
 * A Kubernetes resource name a container can request or limit: cpu, memory, ephemeral-storage, hugepages-<size>, or
 * an extended resource written with its domain (nvidia.com/gpu, example.com/foo).
 */
export type ResourceName = string;
export const STANDARD_RESOURCE_NAMES: readonly string[] = ['cpu', 'memory', 'ephemeral-storage'];
/** Entries of a resource map or list a policy may hold: each is checked per container, so their number is bounded. */
export const MAX_RESOURCE_ENTRIES = 32;

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
  'forbid-resources': 'resources',
  'default-labels': 'labels',
  'require-labels': 'labels',
  'label-values': 'labels',
  'forbidden-labels': 'labels',
  'default-annotations': 'annotations',
  'require-annotations': 'annotations',
  'annotation-values': 'annotations',
  'forbidden-annotations': 'annotations',
  'immutable-labels': 'labels',
  'immutable-annotations': 'annotations',
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

/** Where a label/annotation rule applies: the object's own metadata, the pod template's (the pod's own for a Pod), or both. */
export type TagTarget = 'object' | 'podTemplate' | 'both';
export const TAG_TARGETS: readonly TagTarget[] = ['object', 'podTemplate', 'both'];

export interface TagRuleSpec {
  readonly required?: boolean;
  readonly forbidden?: boolean;
  readonly allowed?: readonly string[];
  readonly forbiddenValues?: readonly string[];
  readonly pattern?: string;
  readonly default?: string;
  readonly overwrite?: boolean;
  readonly fromNamespace?: boolean;
  readonly target?: TagTarget;
  readonly copyToPodTemplate?: boolean;
  readonly allowedKeys?: readonly string[];
  readonly when?: ConditionSpec;
  readonly immutable?: boolean;
  readonly transitions?: readonly TransitionSpec[];
}

/** A change an immutable key may make on UPDATE: `from`/`to` absent = the key is absent, "*" = any value. */
export interface TransitionSpec {
  readonly from?: string;
  readonly to?: string;
}

export const OPERATIONS = ['CREATE', 'UPDATE'] as const;

/** `when`: every listed condition must hold (AND); inside a list, any item (OR). */
export interface ConditionSpec {
  readonly volumeTypes?: readonly string[];
  readonly hostPaths?: readonly string[];
  readonly containerResources?: readonly string[];
  readonly labels?: LabelSelector;
  readonly operations?: readonly (typeof OPERATIONS)[number][];
}

export interface MatchSpec {
  /** Kind, group/Kind or group/version/Kind (kinds.ts). */
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

type ResourceMap = Readonly<Record<ResourceName, string | number>>;

/** The validated document as written (defaults applied). */
export interface GovernancePolicySpec {
  readonly mode: GovernanceMode;
  readonly match?: MatchSpec;
  readonly exclude?: MatchSpec;
  /** Default placement of the label/annotation rules; absent: podTemplate when the policy matches Pod (or no kinds), else object. */
  readonly target?: TagTarget;
  readonly when?: ConditionSpec;
  readonly resources?: {
    readonly when?: ConditionSpec;
    readonly containers?: 'all' | 'any';
    readonly initContainers?: boolean;
    readonly require?: readonly string[];
    readonly forbid?: readonly string[];
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

/** A compiled kind list: kind names for the index, then the group/version test. */
export interface KindSet {
  readonly refs: readonly KindRef[];
  /** The kind names the refs name (an index key). */
  readonly names: ReadonlySet<string>;
  has(group: string, version: string, kind: string): boolean;
}

export interface CompiledMatch {
  /** undefined: every workload kind. Pod in the document expands to every pod controller (autogen). */
  readonly kinds?: KindSet;
  readonly namespaces?: readonly NamePattern[];
  readonly namespaceSelector?: readonly Requirement[];
  readonly selector?: readonly Requirement[];
}

export interface CompiledTagRule {
  readonly key: string;
  /** Set when the key holds * or ?: the rule applies to every present key it matches (linear glob). */
  readonly wildcard?: NamePattern;
  readonly family: 'labels' | 'annotations' | 'migration';
  /** Present and non-empty (a wildcard: at least one matching key with a non-empty value). */
  readonly required: boolean;
  readonly forbidden: boolean;
  readonly allowed?: readonly string[];
  readonly forbiddenValues?: readonly string[];
  /** RE2 (linear time): a value of any length is tested in time proportional to its length. */
  readonly pattern?: Pattern;
  /** Wildcard rules: every matching key must match one of these. */
  readonly allowedKeys?: readonly NamePattern[];
  readonly default?: string;
  /** The default replaces a value that is set and differs. */
  readonly overwrite: boolean;
  readonly fromNamespace: boolean;
  /** Where the rule applies on a pod controller (a Pod and a kind without pod template have one metadata: both apply there). */
  readonly onObject: boolean;
  readonly onTemplate: boolean;
  /** Mutation: the object's value is copied into the pod template where absent there. */
  readonly copyToPodTemplate: boolean;
  readonly when?: CompiledCondition;
  /** On UPDATE the value must equal the stored object's, except for `transitions`. */
  readonly immutable?: { readonly transitions: readonly CompiledTransition[] };
}

/** undefined `from`/`to`: the key is absent; ANY_VALUE: any value (present). */
export interface CompiledTransition {
  readonly from?: string;
  readonly to?: string;
}
export const ANY_VALUE = '*';

/** A compiled `when`; absent lists impose nothing. Evaluated against an object's facts (src/governance/conditions.ts). */
export interface CompiledCondition {
  /** Where it is written, for the reason a rule was skipped ("spec.resources.when"). */
  readonly at: string;
  readonly volumeTypes?: ReadonlySet<string>;
  readonly hostPaths?: readonly NamePattern[];
  readonly containerResources?: ReadonlySet<string>;
  readonly labels?: readonly Requirement[];
  readonly operations?: ReadonlySet<string>;
  /**
   * The last decision and the object facts it was made on (written by the engine, src/governance/conditions.ts):
   * shared by every condition with the same content, so N policies with the same `when` decide it once per object.
   */
  readonly memo: ConditionMemo;
}

export interface ConditionMemo {
  /** Which object's facts (a number, so a memo never keeps an object alive); 0: none yet. */
  facts: number;
  value: boolean;
}

// Memos by condition content. Bounded: past the bound a new condition gets a memo of its own (sharing is only an
// optimisation; an identical condition decides the same for the same object either way).
const MEMOS = new Map<string, ConditionMemo>();
const MAX_MEMOS = 4096;

function conditionMemo(c: ConditionSpec): ConditionMemo {
  const key = JSON.stringify([c.volumeTypes, c.hostPaths, c.containerResources, c.labels, c.operations]);
  let m = MEMOS.get(key);
  if (!m) {
    m = { facts: 0, value: false };
    if (MEMOS.size < MAX_MEMOS) MEMOS.set(key, m);
  }
  return m;
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

export interface ResourceField {
  readonly section: 'requests' | 'limits';
  readonly resource: ResourceName;
}

export interface CompiledResources {
  readonly when?: CompiledCondition;
  /** all: every container must satisfy each check; any: at least one container must (per check). */
  readonly containers: 'all' | 'any';
  /** Init containers are checked and defaulted too (ephemeral containers never: they cannot declare resources). */
  readonly initContainers: boolean;
  readonly require: readonly ResourceField[];
  readonly forbid: readonly ResourceField[];
  readonly max: readonly ResourceAmount[];
  readonly maxLimitRequestRatio: readonly RatioLimit[];
  readonly defaults: { readonly requests: readonly ResourceAmount[]; readonly limits: readonly ResourceAmount[] };
}

export interface CompiledException {
  readonly namespace?: NamePattern;
  readonly name?: NamePattern;
  readonly kinds?: KindSet;
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
  readonly when?: CompiledCondition;
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

/** Compiles a kind list; `autogen`: Pod also stands for the pod controllers (match and exclude, not exceptions). */
export function compileKinds(texts: readonly string[], path: (string | number)[], issues: Issue[], autogen: boolean): KindSet {
  const refs: KindRef[] = [];
  texts.forEach((t, i) => {
    const r = parseKindRef(t);
    if (typeof r === 'string') issues.push({ path: [...path, i], message: r });
    else refs.push(r);
  });
  return kindSet(autogen ? expandPod(refs) : refs);
}

export function kindSet(refs: readonly KindRef[]): KindSet {
  const names = new Set(refs.map((r) => r.kind));
  return { refs, names, has: (group, version, kind) => names.has(kind) && refs.some((r) => kindRefMatches(r, group, version, kind)) };
}

const DEFAULT_KINDS = kindSet(DEFAULT_KIND_REFS);

/** The kinds a match stands for (no list: the workload kinds). */
export function matchKinds(m: CompiledMatch): KindSet {
  return m.kinds ?? DEFAULT_KINDS;
}

/** Whether a kind set names anything that carries a pod spec (resource rules act on nothing else). */
export function namesPodBearingKind(k: KindSet): boolean {
  return k.refs.some((r) => (r.group === undefined ? (WORKLOAD_KINDS as readonly string[]).includes(r.kind) : workloadKindOf(r.group, r.kind) !== undefined));
}

function compileMatch(m: MatchSpec | undefined, path: (string | number)[], issues: Issue[]): CompiledMatch | undefined {
  if (!m) return undefined;
  const kinds = m.kinds ? compileKinds(m.kinds, [...path, 'kinds'], issues, true) : undefined;
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
  return Object.entries(map ?? {}).map(([r, v]) => amount(r, v));
}

/**
 * Why `name` is not a resource a container can request, or undefined: cpu, memory, ephemeral-storage,
 * hugepages-<quantity>, or an extended resource with its domain (nvidia.com/gpu), as the API server accepts.
 */
export function resourceNameProblem(name: string): string | undefined {
  if (STANDARD_RESOURCE_NAMES.includes(name)) return undefined;
  if (name.startsWith('hugepages-')) {
    const q = readQuantity(name.slice('hugepages-'.length));
    return typeof q === 'string' || q.sign <= 0 ? `"${name.slice(0, 80)}" is not a hugepages size (hugepages-2Mi, hugepages-1Gi)` : undefined;
  }
  if (name.includes('/') && isValidLabelKey(name)) return undefined;
  return `"${name.slice(0, 80)}" is not a container resource: cpu, memory, ephemeral-storage, hugepages-<size>, or an extended resource with its domain (nvidia.com/gpu)`;
}

function checkQuantities(map: Record<string, unknown> | undefined, path: (string | number)[], issues: Issue[]): void {
  for (const [k, v] of Object.entries(map ?? {})) {
    const bad = resourceNameProblem(k);
    if (bad) {
      issues.push({ path: [...path, k], message: bad });
      continue;
    }
    const q = readQuantity(v);
    if (typeof q === 'string') issues.push({ path: [...path, k], message: `"${String(v).slice(0, 80)}" is not a Kubernetes quantity: it ${q}` });
  }
}

/** A key with * or ? is a wildcard: validated as a key with each wildcard read as one letter. */
function isWildcardKey(key: string): boolean {
  return key.includes('*') || key.includes('?');
}

/** `requests.<name>` / `limits.<name>`: the section is before the first dot (resource names may hold dots). */
function resourceFields(list: readonly string[] | undefined, path: (string | number)[], issues: Issue[]): ResourceField[] {
  const out: ResourceField[] = [];
  (list ?? []).forEach((s, i) => {
    const dot = s.indexOf('.');
    const section = s.slice(0, dot);
    const resource = s.slice(dot + 1);
    if (dot < 0 || (section !== 'requests' && section !== 'limits')) {
      issues.push({ path: [...path, i], message: `"${s.slice(0, 80)}" must be requests.<resource> or limits.<resource>` });
      return;
    }
    const bad = resourceNameProblem(resource);
    if (bad) issues.push({ path: [...path, i], message: bad });
    else out.push({ section, resource });
  });
  return out;
}

/** The `when` at `path`, compiled; undefined when absent. */
export function compileCondition(c: ConditionSpec | undefined, path: (string | number)[], issues: Issue[]): CompiledCondition | undefined {
  if (!c) return undefined;
  const at = formatConditionPath(path);
  (c.containerResources ?? []).forEach((r, i) => {
    const bad = resourceNameProblem(r);
    if (bad) issues.push({ path: [...path, 'containerResources', i], message: bad });
  });
  const labels = c.labels ? selectorRequirements(c.labels) : undefined;
  return {
    at,
    ...(c.volumeTypes ? { volumeTypes: new Set(c.volumeTypes) } : {}),
    // Compared with normalized paths (src/common/host-path.ts): written `/var/run/` it still matches `/var/run`.
    ...(c.hostPaths ? { hostPaths: c.hostPaths.map((h) => compileNamePattern(normalizeHostPath(h))) } : {}),
    ...(c.containerResources ? { containerResources: new Set(c.containerResources) } : {}),
    ...(labels ? { labels } : {}),
    ...(c.operations ? { operations: new Set(c.operations) } : {}),
    memo: conditionMemo(c),
  };
}

function formatConditionPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg) ? (out ? `.${seg}` : seg) : `[${JSON.stringify(seg)}]`;
  return out;
}

function compileTags(rules: Record<string, TagRuleSpec> | undefined, field: 'labels' | 'annotations', defaultTarget: TagTarget, issues: Issue[]): CompiledTagRule[] {
  const out: CompiledTagRule[] = [];
  const what = field === 'labels' ? 'label' : 'annotation';
  for (const [key, r] of Object.entries(rules ?? {})) {
    const at = ['spec', field, key];
    const before = issues.length;
    const wildcard = isWildcardKey(key);
    if (!isValidLabelKey(wildcard ? key.replace(/[*?]/g, 'x') : key)) issues.push({ path: at, message: `"${key}" is not a valid ${what} key (optional DNS prefix/, then up to 63 of [A-Za-z0-9-_.]${wildcard ? '; * and ? are wildcards' : ''})` });
    let pattern: Pattern | undefined;
    if (r.pattern !== undefined) {
      try {
        pattern = compilePattern(r.pattern);
      } catch (e) {
        issues.push({ path: [...at, 'pattern'], message: `invalid regular expression: ${(e as Error).message}` });
      }
    }
    if (wildcard) {
      for (const f of ['default', 'fromNamespace', 'overwrite'] as const) {
        if (r[f] !== undefined && r[f] !== false) issues.push({ path: [...at, f], message: `a wildcard key cannot have ${f}: it names no single key to fill` });
      }
    } else if (r.allowedKeys) issues.push({ path: [...at, 'allowedKeys'], message: 'allowedKeys needs a wildcard key (such as example.com/*): it lists the keys allowed under it' });
    if (r.overwrite && r.default === undefined && !r.fromNamespace) issues.push({ path: [...at, 'overwrite'], message: 'overwrite needs a default (or fromNamespace) to write' });
    if (r.forbidden && (r.required || r.default !== undefined || r.fromNamespace)) issues.push({ path: [...at, 'forbidden'], message: 'a forbidden key cannot also be required, defaulted or taken from the namespace' });
    const migration = field === 'labels' && !wildcard && isMigrationKey(key);
    const builtIn = migration && key === MIGRATION_LABEL ? MIGRATION_MODES : migration && key === MIGRATION_ROLE_LABEL ? MIGRATION_ROLES : undefined;
    if (builtIn && r.allowed) {
      const extra = r.allowed.filter((v) => !(builtIn as readonly string[]).includes(v));
      if (extra.length) issues.push({ path: [...at, 'allowed'], message: `${key} can only be ${builtIn.join(', ')}; remove ${extra.join(', ')}` });
    }
    if (migration && r.target !== undefined && r.target !== 'object') issues.push({ path: [...at, 'target'], message: `${key} is a migration label: it is the workload's own label (target object), copied into the pod template` });
    const values = [...(r.allowed ?? []).map((v, i) => ({ v, path: [...at, 'allowed', i] })), ...(r.default !== undefined ? [{ v: r.default, path: [...at, 'default'] }] : [])];
    if (field === 'labels') {
      for (const { v, path } of values) if (!isValidLabelValue(v)) issues.push({ path, message: `"${v}" is not a valid label value (up to 63 of [A-Za-z0-9-_.], alphanumeric at both ends)` });
    }
    if (r.default !== undefined) {
      if (r.allowed && !r.allowed.includes(r.default)) issues.push({ path: [...at, 'default'], message: `default "${r.default}" is not one of the allowed values (${r.allowed.join(', ')})` });
      else if (builtIn && !(builtIn as readonly string[]).includes(r.default)) issues.push({ path: [...at, 'default'], message: `default "${r.default}" must be one of ${builtIn.join(', ')}` });
      if (pattern && !pattern.test(r.default)) issues.push({ path: [...at, 'default'], message: `default "${r.default}" does not match the pattern ${r.pattern}` });
      if (r.forbiddenValues?.includes(r.default)) issues.push({ path: [...at, 'default'], message: `default "${r.default}" is one of the forbidden values` });
      if (r.required && r.default === '') issues.push({ path: [...at, 'default'], message: 'an empty default never satisfies required (present and non-empty)' });
    }
    const when = compileCondition(r.when, [...at, 'when'], issues);
    if (r.transitions && r.immutable !== true) issues.push({ path: [...at, 'transitions'], message: 'needs immutable: true (transitions are the changes an immutable key may make)' });
    r.transitions?.forEach((tr, i) => {
      if (tr.from === undefined && tr.to === undefined) issues.push({ path: [...at, 'transitions', i], message: 'names neither from nor to (absent to absent is no change)' });
      if (field === 'labels') {
        for (const side of ['from', 'to'] as const) {
          const v = tr[side];
          if (v !== undefined && v !== ANY_VALUE && !isValidLabelValue(v)) issues.push({ path: [...at, 'transitions', i, side], message: `"${v}" is not a valid label value (up to 63 of [A-Za-z0-9-_.], alphanumeric at both ends)` });
        }
      }
    });
    if (issues.length > before) continue;
    // Migration labels keep their placement: the workload's own labels, copied into its pod template.
    const target = migration ? 'object' : (r.target ?? defaultTarget);
    out.push({
      key,
      ...(wildcard ? { wildcard: compileNamePattern(key) } : {}),
      family: migration ? 'migration' : field,
      required: r.required === true,
      forbidden: r.forbidden === true,
      ...(r.allowed ? { allowed: r.allowed } : {}),
      ...(r.forbiddenValues ? { forbiddenValues: r.forbiddenValues } : {}),
      ...(pattern ? { pattern } : {}),
      ...(r.allowedKeys ? { allowedKeys: r.allowedKeys.map(compileNamePattern) } : {}),
      ...(r.default !== undefined ? { default: r.default } : {}),
      overwrite: r.overwrite === true,
      fromNamespace: r.fromNamespace === true,
      onObject: target !== 'podTemplate',
      onTemplate: target !== 'object',
      copyToPodTemplate: migration || r.copyToPodTemplate === true,
      ...(when ? { when } : {}),
      ...(r.immutable === true ? { immutable: { transitions: (r.transitions ?? []).map((tr) => ({ ...(tr.from !== undefined ? { from: tr.from } : {}), ...(tr.to !== undefined ? { to: tr.to } : {}) })) } } : {}),
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
  const require = resourceFields(spec.require, [...base, 'require'], issues);
  const forbid = resourceFields(spec.forbid, [...base, 'forbid'], issues);
  // A default for a forbidden field would make every defaulted object fail.
  for (const f of forbid) {
    if ((f.section === 'requests' ? requests : limits).some((d) => d.resource === f.resource)) issues.push({ path: [...base, 'defaults', f.section, f.resource], message: `is forbidden by spec.resources.forbid (${f.section}.${f.resource})` });
    if (require.some((r) => r.section === f.section && r.resource === f.resource)) issues.push({ path: [...base, 'forbid'], message: `${f.section}.${f.resource} is both required and forbidden` });
  }
  const when = compileCondition(spec.when, [...base, 'when'], issues);
  return {
    ...(when ? { when } : {}),
    containers: spec.containers ?? 'all',
    initContainers: spec.initContainers !== false,
    require,
    forbid,
    max,
    maxLimitRequestRatio: ratio,
    defaults: { requests, limits },
  };
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
  const when = compileCondition(spec.when, ['spec', 'when'], issues);
  const resources = compileResources(spec.resources, issues);
  const match = compileMatch(spec.match, ['spec', 'match'], issues) ?? {};
  const exclude = compileMatch(spec.exclude, ['spec', 'exclude'], issues);
  // Kyverno's default: a policy about pods (Pod, or no kinds) checks pods and pod templates; one naming other kinds checks those objects.
  const defaultTarget: TagTarget = spec.target ?? (!match.kinds || match.kinds.refs.some(isPodRef) ? 'podTemplate' : 'object');
  if (resources && match.kinds && !namesPodBearingKind(match.kinds)) {
    issues.push({ path: ['spec', 'resources'], message: `resource rules act on pods and pod controllers only, and match.kinds names none (${match.kinds.refs.map((r) => r.text).join(', ')})` });
  }
  const labels = compileTags(spec.labels as Record<string, TagRuleSpec> | undefined, 'labels', defaultTarget, issues);
  const annotations = compileTags(spec.annotations as Record<string, TagRuleSpec> | undefined, 'annotations', defaultTarget, issues);
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
      ...(e.kinds ? { kinds: compileKinds(e.kinds, ['spec', 'exceptions', i, 'kinds'], issues, false) } : {}),
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
  return {
    value: {
      kind: 'GovernancePolicy',
      name: doc.metadata.name,
      origin,
      spec,
      mode: spec.mode,
      match,
      ...(when ? { when } : {}),
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

// `governor export vap`: GovernancePolicies as ValidatingAdmissionPolicies (+ bindings), and MutatingAdmissionPolicies
// for label/annotation defaults where the cluster serves them, so the API server can enforce without the webhook.
//
// One translator per rule kind turns a policy's rules into checks (CEL over `object`) and mutations; what a
// translator cannot express exactly is reported per rule with a reason, never dropped. Every check keeps the engine's
// semantics around it: the policy's match and exclude (matchConstraints, matchConditions), its exceptions and
// exception annotations, UPDATE grandfathering (allowExistingViolations) and the workload-controller relaxation.
import { BUILTIN_KINDS } from '../policy/kinds.js';
import type { Requirement } from '../common/labels.js';
import { re2Source } from '../common/pattern.js';
import {
  ANY_VALUE,
  EXCEPTION_ANNOTATION_PREFIX,
  GOVERNANCE_RULES,
  MIGRATION_LABEL,
  MIGRATION_MODES,
  MIGRATION_ROLE_LABEL,
  MIGRATION_ROLES,
  WORKLOAD_KINDS,
  type CelRuleName,
  type CompiledCondition,
  type CompiledException,
  type CompiledMatch,
  type CompiledTagRule,
  compileNamePattern,
  type GovernancePolicy,
  type NamePattern,
  type RuleFamily,
  type RuleName,
} from '../policy/governance-policy.js';
import { MAX_CONTAINERS } from './pod-template.js';
import { skippedNamespaces } from './engine.js';
import { WORKLOAD_CONTROLLER_USERNAMES } from './workload-controllers.js';
import { VOLUME_TYPES } from './lint-checks.js';

export interface KubeVersion {
  readonly major: number;
  readonly minor: number;
}

/** What each Kubernetes version serves (upstream defaults, no feature gates). */
export const KUBE_FEATURES = {
  /** admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy: GA and on by default. */
  validatingAdmissionPolicy: { major: 1, minor: 30 },
  /**
   * The CEL quantity library (quantity(), compareTo): in the API server's CEL environment from 1.28
   * (k8s.io/apiserver/pkg/cel/environment/base.go, with optional types), usable in new expressions one release later
   * (the environment's compatibility version is the previous minor).
   */
  quantity: { major: 1, minor: 29 },
  /** admissionregistration.k8s.io/v1 MutatingAdmissionPolicy: GA and on by default. */
  mutatingAdmissionPolicy: { major: 1, minor: 36 },
} as const satisfies Record<string, KubeVersion>;

export const DEFAULT_KUBE_VERSION: KubeVersion = KUBE_FEATURES.validatingAdmissionPolicy;

export function atLeast(v: KubeVersion, min: KubeVersion): boolean {
  return v.major > min.major || (v.major === min.major && v.minor >= min.minor);
}

/** "1.37", "v1.37.2" → {1, 37}; undefined when unreadable. */
export function parseKubeVersion(text: string): KubeVersion | undefined {
  const m = /^v?(\d+)\.(\d+)(\.\d+)?([-+].*)?$/.exec(text.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/** Where each kind a policy can name is served: resourceRules need the resource (plural), not the kind. */
// The namespaced built-in kinds (src/policy/kinds.ts, the table the webhook registration reads); cluster-scoped kinds
// are left out as the webhook leaves them out.
export const KIND_RESOURCES: Readonly<Record<string, { readonly group: string; readonly resource: string }>> = Object.fromEntries(
  Object.entries(BUILTIN_KINDS)
    .filter(([, b]) => b.namespaced)
    .map(([k, b]) => [k, { group: b.group, resource: b.resource }]),
);

export interface ExportOptions {
  readonly kubeVersion?: KubeVersion;
  /** The webhook's namespace: never evaluated (nor is kube-system), so the exported policies skip it too. */
  readonly serviceNamespace?: string;
}

/** A rule (or part of one) that was not exported, and why. */
export interface NotExported {
  readonly policy: string;
  readonly rule: string;
  /** The policy field it comes from: spec.resources.maxLimitRequestRatio.cpu */
  readonly path: string;
  readonly reason: string;
}

export interface ExportResult {
  readonly objects: readonly Record<string, unknown>[];
  readonly notExported: readonly NotExported[];
}

/** One check: `expression` must hold (over object, oldObject, request, namespaceObject, variables). */
export interface Check {
  readonly rule: RuleName | CelRuleName;
  readonly family: RuleFamily;
  readonly expression: string;
  readonly message?: string;
  readonly messageExpression?: string;
  readonly reason?: string;
  /** Built-in rules: a violation of a workload controller's own object is a warning in the webhook (engine.ts). */
  readonly controllerRelaxed: boolean;
}

/**
 * One mutation: a CEL expression of a list of [key, value] string pairs to add to metadata.<family> (the JSONPatch
 * type only exists inside the mutation's own expression, not in variables).
 */
export interface Mutation {
  readonly rule: RuleName;
  readonly family: RuleFamily;
  readonly field: 'labels' | 'annotations';
  readonly pairs: string;
  /** Where the pairs go: the object's own metadata (default) or a controller's pod template. */
  readonly template?: boolean;
}

interface Translation {
  checks: Check[];
  mutations: Mutation[];
  variables: { name: string; expression: string }[];
  notExported: NotExported[];
}

interface TranslateContext {
  readonly policy: GovernancePolicy;
  readonly version: KubeVersion;
  readonly mutations: boolean;
  /**
   * What any exported policy fills before validation ("labels/key", "annotations/key", "requests.cpu"): the webhook
   * mutates with every matching policy before it validates, so another policy's default can satisfy this one's rule.
   */
  readonly filled: ReadonlySet<string>;
  /** Of `filled`, the keys filled by defaults the export does not write. */
  readonly unexportedFill: ReadonlySet<string>;
  /** Keys the webhook fills in pod templates ("labels/key"): copied (copyToPodTemplate) or template defaults. */
  readonly copied: ReadonlySet<string>;
  /** Of `copied`, the keys whose template fill the export writes (a MutatingAdmissionPolicy). */
  readonly templateFilled: ReadonlySet<string>;
  /** Wildcard keys whose matching keys are copied into pod templates (never exported): "labels/prefix/*". */
  readonly wildcardCopies: readonly string[];
  /** The policies that fill each key of `filled`. */
  readonly fillers: ReadonlyMap<string, readonly string[]>;
}

type Translator = (ctx: TranslateContext, out: Translation) => void;

// ------------------------------------------------------------------ CEL text helpers

/** A CEL string literal. */
export function str(s: string): string {
  return JSON.stringify(s);
}

function list(items: readonly string[]): string {
  return `[${items.map(str).join(', ')}]`;
}

/** A name glob (* and ?) as an anchored RE2 pattern. */
export function globRegex(glob: string): string {
  let out = '^';
  for (const c of glob) out += c === '*' ? '.*' : c === '?' ? '.' : /[\\^$.|?*+()[\]{}]/.test(c) ? `\\${c}` : c;
  return `${out}$`;
}

function nameTest(subject: string, p: NamePattern): string {
  return p.exact ? `${subject} == ${str(p.text)}` : `${subject}.matches(${str(globRegex(p.text))})`;
}

/** A label selector's requirements over a map expression. */
export function selectorCel(reqs: readonly Requirement[], labels: string): string {
  if (!reqs.length) return 'true';
  return reqs
    .map((r) => {
      const v = `${labels}[?${str(r.key)}]`;
      switch (r.operator) {
        case 'In':
          return `(${v}.hasValue() && ${v}.value() in ${list(r.values)})`;
        case 'NotIn':
          return `!(${v}.hasValue() && ${v}.value() in ${list(r.values)})`;
        case 'Exists':
          return `${v}.hasValue()`;
        case 'DoesNotExist':
          return `!${v}.hasValue()`;
      }
    })
    .join(' && ');
}

const OBJECT_LABELS = 'object.?metadata.?labels.orValue({})';
const NAMESPACE_LABELS = 'namespaceObject.?metadata.?labels.orValue({})';

/** The pod controllers (a pod template and a pod spec inside it); the exported policies only match built-in kinds. */
const CONTROLLER_KINDS = WORKLOAD_KINDS.filter((k) => k !== 'Pod' && k !== 'CronJob');
/** CEL: the request's object is a pod controller (it has a pod template besides its own metadata). */
const HAS_TEMPLATE = `request.kind.kind in ${JSON.stringify([...CONTROLLER_KINDS, 'CronJob'])}`;
/** CEL: the request's object carries a pod spec (resource and volume rules apply to these kinds only). */
const IS_WORKLOAD = `request.kind.kind in ${JSON.stringify(WORKLOAD_KINDS)}`;

/**
 * A value at the pod template or pod spec of whichever pod-bearing kind `root` is, `empty` for other kinds (their
 * `spec.template`, if any, is no pod template to the engine). Each branch ends in a list or a map of strings, so the
 * branches have one type: a conditional over the specs themselves (CronJobSpec vs PodSpec) makes the API server's
 * typed optional selection on the result miss fields.
 */
function perKind(root: string, pod: string, controller: string, empty: string): string {
  return `request.kind.kind == "Pod" ? ${pod ? `${root}.?${pod}.orValue(${empty})` : empty} : request.kind.kind == "CronJob" ? ${root}.?spec.?jobTemplate.?spec.?template.?${controller}.orValue(${empty}) : request.kind.kind in ${JSON.stringify(CONTROLLER_KINDS)} ? ${root}.?spec.?template.?${controller}.orValue(${empty}) : ${empty}`;
}

type PodPart = 'containers' | 'initContainers' | 'volumes' | 'templateLabels' | 'templateAnnotations';

/** Where the pod-bearing kinds keep their containers, volumes and pod template metadata: variables of every exported policy (evaluated lazily). */
const POD_VARIABLES = (['object', 'oldObject'] as const).flatMap((root) => {
  const p = root === 'object' ? 'governor_' : 'governor_old_';
  return [
    { name: `${p}containers`, expression: perKind(root, 'spec.?containers', 'spec.?containers', '[]') },
    { name: `${p}initContainers`, expression: perKind(root, 'spec.?initContainers', 'spec.?initContainers', '[]') },
    { name: `${p}volumes`, expression: perKind(root, 'spec.?volumes', 'spec.?volumes', '[]') },
    { name: `${p}templateLabels`, expression: perKind(root, '', 'metadata.?labels', '{}') },
    { name: `${p}templateAnnotations`, expression: perKind(root, '', 'metadata.?annotations', '{}') },
  ];
});
const podVar = (root: string, what: PodPart) => `variables.governor_${root === 'object' ? '' : 'old_'}${what}`;

// ------------------------------------------------------------------ conditions (`when`)

type Root = 'object' | 'oldObject';

/**
 * Why a `when` cannot be exported exactly, or undefined when conditionCel decides it as the engine does. The engine
 * reads conditions on the object after every mutation: a condition on what an unexported fill may change is not exact.
 */
function conditionProblem(c: CompiledCondition | undefined, ctx: TranslateContext): string | undefined {
  if (!c) return undefined;
  if (c.hostPaths) {
    return `${c.at}.hostPaths compares normalized paths (repeated slashes collapsed, "." and ".." applied), which CEL cannot do exactly`;
  }
  if (c.labels) {
    const keys = c.labels.map((r) => r.key).filter((k) => ctx.filled.has(`labels/${k}`) && (!ctx.mutations || ctx.unexportedFill.has(`labels/${k}`)));
    if (keys.length) return `${c.at}.labels reads ${keys.join(', ')}, which a default the export does not write fills before the webhook decides the condition`;
  }
  if (c.containerResources) {
    const filled = [...c.containerResources].filter((r) => ctx.filled.has(`requests.${r}`) || ctx.filled.has(`limits.${r}`));
    if (filled.length) return `${c.at}.containerResources reads ${filled.join(', ')}, which resource defaults (not exported) fill before the webhook decides the condition`;
  }
  return undefined;
}

/** A `when` as CEL over `root` (the object, or the stored object for UPDATE grandfathering); 'true' when absent. */
function conditionCel(c: CompiledCondition | undefined, root: Root, version: KubeVersion): string {
  if (!c) return 'true';
  const parts: string[] = [];
  if (c.operations) parts.push(`request.operation in ${list([...c.operations])}`);
  if (c.volumeTypes) {
    // Typed objects: has() on a field the version's schema lacks would not compile (image volumes from 1.31).
    const known = [...c.volumeTypes].filter((t) => VOLUME_TYPES.includes(t) && (t !== 'image' || atLeast(version, { major: 1, minor: 31 })));
    parts.push(known.length ? `${podVar(root, 'volumes')}.exists(v, ${known.map((t) => `has(v.${t})`).join(' || ')})` : 'false');
  }
  if (c.containerResources) {
    const set = (c: string, s: string) => `${c}.?resources.?${s}[?r].orValue("") != ""`;
    parts.push(`(${podVar(root, 'containers')} + ${podVar(root, 'initContainers')}).exists(c, ${list([...c.containerResources])}.exists(r, ${set('c', 'requests')} || ${set('c', 'limits')}))`);
  }
  if (c.labels) parts.push(`(${selectorCel(c.labels, `${root}.?metadata.?labels.orValue({})`)})`);
  return parts.length ? parts.join(' && ') : 'true';
}

// ------------------------------------------------------------------ translators

/** spec.validations as they are: the engine evaluates them with VAP's own variables and semantics. */
const celValidations: Translator = ({ policy }, out) => {
  if (!policy.cel) return;
  for (const v of policy.spec.variables ?? []) out.variables.push({ name: v.name, expression: v.expression });
  const named = policy.spec.match?.kinds;
  // The engine runs validations on the kinds named only (no Pod autogen): narrow the policy's wider match.
  const kindGuard = named && policy.match.kinds && policy.match.kinds.names.size !== new Set(named).size ? `!(request.kind.kind in ${list(named)}) || ` : '';
  policy.spec.validations?.forEach((v, i) => {
    out.checks.push({
      rule: v.name ?? `validations[${i}]`,
      family: 'cel',
      expression: kindGuard ? `${kindGuard}(${v.expression})` : v.expression,
      ...(v.message !== undefined ? { message: v.message } : v.messageExpression === undefined ? { message: `failed expression: ${v.expression}` } : {}),
      ...(v.messageExpression !== undefined ? { messageExpression: v.messageExpression } : {}),
      ...(v.reason ? { reason: v.reason } : {}),
      controllerRelaxed: false,
    });
  });
};

const TAG_RULES = {
  labels: { default: 'default-labels', require: 'require-labels', values: 'label-values', forbidden: 'forbidden-labels', immutable: 'immutable-labels' },
  annotations: { default: 'default-annotations', require: 'require-annotations', values: 'annotation-values', forbidden: 'forbidden-annotations', immutable: 'immutable-annotations' },
  migration: { default: 'default-migration-labels', require: 'require-migration-labels', values: 'migration-label-values', forbidden: 'forbidden-labels', immutable: 'immutable-labels' },
} as const;

/** CEL: the value `v` (a string) passes forbiddenValues, allowed and pattern; undefined when the rule checks no value. */
function valueOk(r: CompiledTagRule, v: string): string | undefined {
  const parts: string[] = [];
  if (r.forbiddenValues) parts.push(`!(${v} in ${list(r.forbiddenValues)})`);
  if (r.allowed) parts.push(`${v} in ${list(r.allowed)}`);
  else if (r.pattern) parts.push(`${v}.matches(${str(re2Source(r.pattern.source))})`);
  return parts.length ? parts.join(' && ') : undefined;
}

function valueHint(r: CompiledTagRule): string {
  const parts = [...(r.allowed ? [`one of ${r.allowed.join(', ')}`] : r.pattern ? [`matching ${r.pattern.source}`] : []), ...(r.forbiddenValues ? [`not ${r.forbiddenValues.join(', ')}`] : [])];
  return parts.join(', ');
}

/** Whether an unexported fill (or the copy into pod templates) may add `key` (or, for a wildcard rule, a key it matches) at a place. */
function unexportedFillAt(ctx: TranslateContext, field: 'labels' | 'annotations', r: CompiledTagRule, template: boolean): boolean {
  const test = (k: string) => (r.wildcard ? k.startsWith(`${field}/`) && r.wildcard.test(k.slice(field.length + 1)) : k === `${field}/${r.key}`);
  const any = (s: ReadonlySet<string>) => [...s].some(test);
  // Pod template fills (template defaults, copyToPodTemplate) are never exported; the object's are from 1.36.
  if (template) {
    // Keys a wildcard copies: a wildcard rule may overlap any of them; a plain key when the glob matches it.
    const overlaps = ctx.wildcardCopies.some((w) => w.startsWith(`${field}/`) && (r.wildcard !== undefined || compileNamePattern(w.slice(field.length + 1)).test(r.key)));
    return overlaps || [...ctx.copied].some((k) => test(k) && !ctx.templateFilled.has(k));
  }
  return [...ctx.filled].some((k) => test(k) && (!ctx.mutations || ctx.unexportedFill.has(k)));
}

/**
 * labels / annotations where each rule is placed (target): the object's metadata and/or its pod template's (a Pod's
 * one metadata either way). Plain keys: required (present, non-empty), forbidden, forbiddenValues, allowed, pattern,
 * immutable and transitions; wildcard keys: every present key they match, allowedKeys, and required as "at least one".
 * A rule's `when` guards its checks (and on UPDATE, decides on the stored object whether it had the same violation).
 */
function tagRules(field: 'labels' | 'annotations'): Translator {
  return (ctx, out) => {
    const { policy, version } = ctx;
    const rules = field === 'labels' ? policy.labels : policy.annotations;
    const grandfather = policy.allowExistingViolations;
    for (const r of rules) {
      const names = TAG_RULES[r.family];
      const at = `spec.${field}[${str(r.key)}]`;
      // A rule with fields no translator reads is reported by unhandledFields.
      if (!tagRuleExportable(policy, field, r)) continue;
      const why = conditionProblem(r.when, ctx);
      if (why) {
        for (const rule of tagRuleNames(r)) out.notExported.push({ policy: policy.name, rule, path: `${at}.when`, reason: why });
        continue;
      }
      const cond = (root: Root) => conditionCel(r.when, root, version);
      const when = r.when ? `!(${cond('object')}) || ` : '';
      // On UPDATE, the stored object had the same violation only where the rule applied to it too.
      const oldWhen = r.when ? ` && (${cond('oldObject')})` : '';
      const what = field === 'labels' ? 'label' : 'annotation';
      // Where the webhook checks the rule: `applies` is CEL true where this place is the rule's (a Pod and a kind
      // without a pod template have one metadata, checked whatever the target).
      const places = [
        ...(r.onObject ? [{ where: 'metadata', map: (root: Root) => `${root}.?metadata.?${field}.orValue({})`, skip: '', template: false }] : [{ where: 'metadata', map: (root: Root) => `${root}.?metadata.?${field}.orValue({})`, skip: `${HAS_TEMPLATE} || `, template: false }]),
        ...(r.onTemplate ? [{ where: 'the pod template', map: (root: Root) => podVar(root, field === 'labels' ? 'templateLabels' : 'templateAnnotations'), skip: `!(${HAS_TEMPLATE}) || `, template: true }] : []),
      ];
      const push = (rule: RuleName, expression: string, message: string) => out.checks.push({ rule, family: GOVERNANCE_RULES[rule], expression, message: `${message} (policy ${policy.name}, rule ${rule})`, controllerRelaxed: true });
      for (const place of places) {
        const m = place.map('object');
        const om = place.map('oldObject');
        const guard = `${place.skip}${when}`;
        const placeText = place.template ? "the pod template's " : '';
        // The export checks before any mutation it does not write: a key some unexported default or the copy into
        // pod templates may fill here is checked as written (values, forbidden keys), and its requirement and
        // immutability, which the fill may satisfy, are left out.
        const unfilled = !unexportedFillAt(ctx, field, r, place.template);
        const fillReason = `the webhook fills this ${what} on ${place.where} (a default, fromNamespace or copyToPodTemplate) before checking it, and the export does not write that fill${ctx.mutations ? '' : ` (defaults need a MutatingAdmissionPolicy: --kube-version ${KUBE_FEATURES.mutatingAdmissionPolicy.major}.${KUBE_FEATURES.mutatingAdmissionPolicy.minor} or later)`}`;
        if (!unfilled) {
          if (r.required) out.notExported.push({ policy: policy.name, rule: names.require, path: `${at}.required`, reason: fillReason });
          if (r.immutable) out.notExported.push({ policy: policy.name, rule: names.immutable, path: `${at}.immutable`, reason: fillReason });
          if (valueOk(r, 'v')) out.notExported.push({ policy: policy.name, rule: names.values, path: at, reason: `${fillReason}: values written in the object are checked, a filled value is not` });
          if (r.forbidden || r.allowedKeys) out.notExported.push({ policy: policy.name, rule: names.forbidden, path: at, reason: `${fillReason}: keys written in the object are checked, a filled key is not` });
        }
        const ok = valueOk(r, 'v');
        if (r.wildcard) {
          const re = str(globRegex(r.wildcard.text));
          const inKeys = (k: string) => (r.allowedKeys ? `(${r.allowedKeys.map((p) => nameTest(k, p)).join(' || ')})` : 'true');
          // The stored object had the same key with the same value (the same finding), where the rule applied to it.
          const same = (k: string) => (grandfather ? ` || (oldObject != null${oldWhen} && ${om}[?${k}] == optional.of(${m}[${k}]))` : '');
          if (r.immutable) out.notExported.push({ policy: policy.name, rule: names.immutable, path: `${at}.immutable`, reason: 'immutable on a wildcard key compares the key as written, not the keys it matches: not exported' });
          if (r.forbidden) {
            push(names.forbidden, `${guard}${m}.all(k, !k.matches(${re})${same('k')})`, `${placeText}${field} matching ${r.key} are forbidden`);
            continue;
          }
          if (r.allowedKeys) push(names.forbidden, `${guard}${m}.all(k, !k.matches(${re}) || ${inKeys('k')}${same('k')})`, `${placeText}${field} under ${r.key} must be one of ${r.allowedKeys.map((p) => p.text).join(', ')}`);
          if (ok) push(names.values, `${guard}${m}.all(k, !k.matches(${re}) || !${inKeys('k')} || [${m}[k]].all(v, ${ok})${same('k')})`, `${placeText}${field} matching ${r.key} must be ${valueHint(r)}`);
          if (r.required && unfilled) {
            const found = (x: string) => `${x}.exists(k, k.matches(${re}) && ${inKeys('k')} && ${x}[k] != "")`;
            push(names.require, `${guard}${found(m)}${grandfather ? ` || (oldObject != null${oldWhen} && !${found(om)})` : ''}`, `${placeText}metadata.${field} needs at least one key matching ${r.key} with a non-empty value`);
          }
          continue;
        }
        const key = str(r.key);
        const v = `${m}[?${key}]`;
        const ov = `${om}[?${key}]`;
        const nonEmpty = (x: string) => `(${x}.hasValue() && ${x}.value() != "")`;
        if (r.forbidden) {
          push(names.forbidden, `${guard}!${v}.hasValue()${grandfather ? ` || (oldObject != null${oldWhen} && ${ov} == ${v})` : ''}`, `${placeText}metadata.${field}[${key}] is forbidden`);
        } else {
          if (r.required && unfilled) {
            // Absent and empty are different findings: the stored object had the same one when its value equals.
            push(names.require, `${guard}${nonEmpty(v)}${grandfather ? ` || (oldObject != null${oldWhen} && ${ov} == ${v})` : ''}`, `${placeText}metadata.${field}[${key}] is required${valueHint(r) ? ` (${valueHint(r)})` : ''}`);
          }
          if (ok) {
            // The engine checks no value where the key is absent, nor an empty one the requirement reports.
            push(names.values, `${guard}!${v}.hasValue()${r.required ? ` || ${v}.value() == ""` : ''} || [${v}.value()].all(v, ${ok})${grandfather ? ` || (oldObject != null${oldWhen} && ${ov} == ${v})` : ''}`, `${what} ${r.key} on ${place.where} must be ${valueHint(r)}`);
          }
        }
        if (r.immutable && unfilled) {
          const side = (x: string, s: string | undefined) => (s === undefined ? `!${x}.hasValue()` : s === ANY_VALUE ? `${x}.hasValue()` : `${x} == optional.of(${str(s)})`);
          const allowed = r.immutable.transitions.map((t) => `(${side(ov, t.from)} && ${side(v, t.to)})`);
          // CREATE is never checked; never grandfathered (the change is the violation).
          push(names.immutable, `request.operation != "UPDATE" || oldObject == null || ${guard}${ov} == ${v}${allowed.length ? ` || ${allowed.join(' || ')}` : ''}`, `${placeText}metadata.${field}[${key}] cannot be added, changed or removed by an update${allowed.length ? ' outside its transitions' : ''}`);
        }
      }
      const filled = r.default !== undefined || r.fromNamespace;
      const key = `${field}/${r.key}`;
      const templateWhy = "the webhook fills pod templates with copies (copyToPodTemplate) before defaults, across policies in name order, after the objects' own defaults: a template fill is exported only where it is the key's one template fill (and a copied key has no default on the object's own metadata)";
      // A controller's pod template: not on UPDATE of a Job (its template is immutable), as in the engine.
      const templateGuard = `${HAS_TEMPLATE} && !(request.operation == "UPDATE" && request.kind.kind == "Job")${r.when ? ` && (${cond('object')})` : ''}`;
      const inTemplate = podVar('object', field === 'labels' ? 'templateLabels' : 'templateAnnotations');
      if (r.copyToPodTemplate) {
        if (r.wildcard || !ctx.mutations || !ctx.templateFilled.has(key)) {
          out.notExported.push({ policy: policy.name, rule: names.default, path: `${at}${r.family === 'migration' ? '' : '.copyToPodTemplate'}`, reason: !ctx.mutations ? `copying into pod templates needs a MutatingAdmissionPolicy (--kube-version ${KUBE_FEATURES.mutatingAdmissionPolicy.major}.${KUBE_FEATURES.mutatingAdmissionPolicy.minor} or later)` : r.wildcard ? 'copying the keys a wildcard matches is not exported' : templateWhy });
        } else {
          const own = `object.?metadata.?${field}[?${str(r.key)}]`;
          out.mutations.push({ rule: names.default, family: r.family, field, template: true, pairs: `(${templateGuard} && ${own}.hasValue() && !${inTemplate}[?${str(r.key)}].hasValue() ? [[${str(r.key)}, ${own}.value()]] : [])` });
        }
      }
      if (filled && r.onTemplate) {
        if (!ctx.mutations || !ctx.templateFilled.has(key)) {
          out.notExported.push({ policy: policy.name, rule: names.default, path: `${at}.${r.default !== undefined ? 'default' : 'fromNamespace'}`, reason: !ctx.mutations ? `defaults need a MutatingAdmissionPolicy (--kube-version ${KUBE_FEATURES.mutatingAdmissionPolicy.major}.${KUBE_FEATURES.mutatingAdmissionPolicy.minor} or later)` : `a default on a controller's pod template: ${templateWhy}` });
        } else {
          out.mutations.push({ rule: names.default, family: r.family, field, template: true, pairs: `(${templateGuard} ? ${tagDefaultPatch(field, r, `${inTemplate}[?${str(r.key)}]`)} : [])` });
        }
      }
      if (filled) {
        if (!ctx.mutations) {
          out.notExported.push({ policy: policy.name, rule: names.default, path: `${at}.${r.default !== undefined ? 'default' : 'fromNamespace'}`, reason: `defaults need a MutatingAdmissionPolicy (--kube-version ${KUBE_FEATURES.mutatingAdmissionPolicy.major}.${KUBE_FEATURES.mutatingAdmissionPolicy.minor} or later)` });
        } else if (r.overwrite && (ctx.fillers.get(`${field}/${r.key}`) ?? []).length > 1) {
          out.notExported.push({ policy: policy.name, rule: names.default, path: `${at}.overwrite`, reason: 'another policy fills this key too: the webhook applies them in policy name order, the API server its MutatingAdmissionPolicies in an order of its own' });
        } else {
          const pairs = tagDefaultPatch(field, r, `object.?metadata.?${field}[?${str(r.key)}]`);
          // The object's own metadata: where the rule is placed there, or the kind has no pod template (a Pod).
          const guards = [...(r.onObject ? [] : [`!(${HAS_TEMPLATE})`]), ...(r.when ? [`(${cond('object')})`] : [])];
          out.mutations.push({ rule: names.default, family: r.family, field, pairs: guards.length ? `(${guards.join(' && ')} ? ${pairs} : [])` : pairs });
        }
      }
    }
  };
}

/** The rule names a tag rule can report (for listing a rule that is not exported). */
function tagRuleNames(r: CompiledTagRule): RuleName[] {
  const n = TAG_RULES[r.family];
  const out: RuleName[] = [];
  if (r.default !== undefined || r.fromNamespace) out.push(n.default);
  if (r.required) out.push(n.require);
  if (r.allowed || r.pattern || r.forbiddenValues) out.push(n.values);
  if (r.forbidden || r.allowedKeys) out.push(n.forbidden);
  if (r.immutable) out.push(n.immutable);
  return out;
}

/** [key, value] pairs (zero or one) filling the key where `cur` (its optional value there) is absent (fromNamespace first, then default), or when it differs and the rule overwrites. */
function tagDefaultPatch(field: 'labels' | 'annotations', r: CompiledTagRule, cur: string): string {
  const key = str(r.key);
  const sources: string[] = [];
  if (r.fromNamespace) {
    const [first, second] = field === 'labels' ? ['labels', 'annotations'] : ['annotations', 'labels'];
    // A namespace annotation only becomes a label when it is a valid label value.
    const labelValue = (x: string) => (field === 'labels' ? `${x}.hasValue() && ${x}.value().matches("^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$") && ${x}.value().size() <= 63` : `${x}.hasValue()`);
    for (const from of [first, second]) {
      const x = `namespaceObject.?metadata.?${from}[?${key}]`;
      sources.push(`${from === 'labels' && field === 'labels' ? `${x}.hasValue()` : labelValue(x)} ? [${x}.value()]`);
    }
  }
  const fallback = r.default !== undefined ? `[${str(r.default)}]` : '[]';
  const value = sources.length ? `(namespaceObject == null ? ${fallback} : ${sources.join(' : ')} : ${fallback})` : fallback;
  // overwrite: a value that is set and differs is replaced (a JSON Patch add on an existing member replaces it).
  return r.overwrite ? `${value}.filter(v, ${cur} != optional.of(v)).map(v, [${key}, v])` : `(!${cur}.hasValue() ? ${value} : []).map(v, [${key}, v])`;
}

/**
 * The migration rules beyond its labels' own values: the built-in modes and roles where the policy declares none, and
 * a pinned workload that claims to be a source. Whether the workload is the source of a running migration (pinned, and
 * its DELETE) needs the MigrationPolicies' state, which only the webhook has.
 */
const migrationRules: Translator = ({ policy }, out) => {
  if (!policy.migration) return;
  const grandfather = policy.allowExistingViolations;
  const label = (root: string, key: string) => `${root}.?metadata.?labels[?${str(key)}]`;
  const declared = (key: string) => policy.labels.some((l) => l.key === key && (l.allowed || l.pattern));
  for (const [key, values] of [
    [MIGRATION_LABEL, MIGRATION_MODES],
    [MIGRATION_ROLE_LABEL, MIGRATION_ROLES],
  ] as const) {
    if (declared(key)) continue;
    const v = label('object', key);
    out.checks.push({
      rule: 'migration-label-values',
      family: 'migration',
      expression: `!${v}.hasValue() || ${v}.value() in ${list(values)}${grandfather ? ` || (oldObject != null && ${label('oldObject', key)} == ${v})` : ''}`,
      message: `label ${key} must be one of ${values.join(', ')} (policy ${policy.name}, rule migration-label-values)`,
      controllerRelaxed: true,
    });
  }
  const pinnedSource = (root: string) => `${label(root, MIGRATION_LABEL)} == optional.of("pinned") && ${label(root, MIGRATION_ROLE_LABEL)} == optional.of("source")`;
  out.checks.push({
    rule: 'pinned-not-source',
    family: 'migration',
    expression: `!(${pinnedSource('object')})${grandfather ? ` || (oldObject != null && ${pinnedSource('oldObject')})` : ''}`,
    message: `${MIGRATION_ROLE_LABEL} must not be "source" on a pinned workload (${MIGRATION_LABEL}=pinned) (policy ${policy.name}, rule pinned-not-source)`,
    controllerRelaxed: true,
  });
  out.notExported.push({ policy: policy.name, rule: 'pinned-not-source', path: `spec.labels[${str(MIGRATION_LABEL)}]`, reason: 'pinning a workload while it is the source of a running migration is refused by the webhook from the MigrationPolicies\' state, which a ValidatingAdmissionPolicy cannot read' });
  out.notExported.push({ policy: policy.name, rule: 'protect-migration-source', path: `spec.labels[${str(MIGRATION_LABEL)}]`, reason: 'the DELETE of a running migration\'s source is refused from the MigrationPolicies\' state, which a ValidatingAdmissionPolicy cannot read' });
};

/**
 * resources: require, forbid, max (quantity library) over containers and, unless initContainers is false, init
 * containers; every container (`all`) or at least one (`any`); guarded by resources.when. The ratio and the defaults
 * are reported.
 */
const resourceRules: Translator = (ctx, out) => {
  const { policy, version, filled } = ctx;
  const res = policy.resources;
  // A field no translator reads changes the other checks: unhandledFields reports it.
  if (!res || unhandledResourceFields(policy).length) return;
  const why = conditionProblem(res.when, ctx);
  const ruleNames = (): RuleName[] => [
    ...(res.require.some((x) => x.section === 'requests') ? ['require-requests' as const] : []),
    ...(res.require.some((x) => x.section === 'limits') ? ['require-limits' as const] : []),
    ...(res.forbid.length ? ['forbid-resources' as const] : []),
    ...(res.max.length || res.require.length || res.forbid.length ? ['max-resources' as const] : []),
  ];
  for (const d of [...res.defaults.requests.map((x) => ['requests', x] as const), ...res.defaults.limits.map((x) => ['limits', x] as const)]) {
    out.notExported.push({ policy: policy.name, rule: 'default-resources', path: `spec.resources.defaults.${d[0]}.${d[1].resource}`, reason: 'per-container resource defaults (a request follows the limit, a limit follows a larger request) are not exported' });
  }
  for (const r of res.maxLimitRequestRatio) {
    out.notExported.push({
      policy: policy.name,
      rule: 'max-limit-request-ratio',
      path: `spec.resources.maxLimitRequestRatio.${r.resource}`,
      reason: 'the CEL quantity library cannot multiply a quantity by a ratio exactly; a float comparison would not deny exactly the objects the webhook denies',
    });
  }
  if (why) {
    for (const rule of ruleNames()) out.notExported.push({ policy: policy.name, rule, path: 'spec.resources.when', reason: why });
    return;
  }
  const grandfather = policy.allowExistingViolations;
  // Resource rules act on pod-bearing kinds only, where resources.when holds (on the stored object too for grandfathering).
  const guard = `!(${IS_WORKLOAD}) || ${res.when ? `!(${conditionCel(res.when, 'object', version)}) || ` : ''}`;
  const oldWhen = res.when ? ` && (${conditionCel(res.when, 'oldObject', version)})` : '';
  const lists = res.initContainers ? (['containers', 'initContainers'] as const) : (['containers'] as const);
  const which = res.initContainers ? 'container or init container' : 'container';
  const all = (root: Root) => lists.map((f) => podVar(root, f)).join(' + ');
  const defaulted = new Set([...res.defaults.requests.map((d) => `requests.${d.resource}`), ...res.defaults.limits.map((d) => `limits.${d.resource}`)]);
  const set = (c: string, section: string, resource: string) => `${c}.?resources.?${section}[?${str(resource)}].orValue("") != ""`;
  const push = (rule: RuleName, expression: string, message: string) => out.checks.push({ rule, family: 'resources', expression: `${guard}${expression}`, message: `${message} (policy ${policy.name}, rule ${rule})`, controllerRelaxed: true });
  const count = (root: Root) => lists.map((f) => `${podVar(root, f)}.size()`).join(' + ');
  if (res.require.length || res.forbid.length || res.max.length || res.maxLimitRequestRatio.length) {
    push('max-resources', `${count('object')} <= ${MAX_CONTAINERS}${grandfather ? ` || (oldObject != null${oldWhen} && ${count('object')} <= ${count('oldObject')})` : ''}`, `a pod spec may list at most ${MAX_CONTAINERS} containers${res.initContainers ? ' and init containers' : ''}`);
  }
  /**
   * One check: `ok(c)` must hold for every container (all), with the stored object's same container (by list and
   * name) failing it too as grandfathering (`oldFails(o, c)`); or for at least one container (any), the stored object
   * having none as grandfathering.
   */
  const check = (rule: RuleName, ok: (c: string) => string, oldFails: (o: string, c: string) => string, message: string) => {
    if (res.containers === 'any') {
      push(rule, `(${all('object')}).exists(c, ${ok('c')})${grandfather ? ` || (oldObject != null${oldWhen} && !(${all('oldObject')}).exists(c, ${ok('c')}))` : ''}`, `at least one ${which} ${message}`);
      return;
    }
    for (const field of lists) {
      push(rule, `${podVar('object', field)}.all(c, ${ok('c')}${grandfather ? ` || (oldObject != null${oldWhen} && ${podVar('oldObject', field)}.exists(o, o.name == c.name && ${oldFails('o', 'c')}))` : ''})`, `every ${field === 'containers' ? 'container' : 'init container'} ${message}`);
    }
  };
  for (const req of res.require) {
    const rule = req.section === 'requests' ? 'require-requests' : 'require-limits';
    const name = `${req.section}.${req.resource}`;
    if (defaulted.has(name) || filled.has(name)) {
      out.notExported.push({ policy: policy.name, rule, path: 'spec.resources.require', reason: `${name} is filled by ${defaulted.has(name) ? "the policy's" : "another policy's"} defaults before the webhook checks it, and resource defaults are not exported` });
      continue;
    }
    check(rule, (c) => set(c, req.section, req.resource), (o) => `!(${set(o, req.section, req.resource)})`, `must set resources.${name}`);
  }
  for (const f of res.forbid) {
    const name = `${f.section}.${f.resource}`;
    // Set in the object is denied as by the webhook; a value another policy's default adds is not seen.
    if (filled.has(name)) out.notExported.push({ policy: policy.name, rule: 'forbid-resources', path: 'spec.resources.forbid', reason: `${name} is filled by another policy's defaults before the webhook checks it, and resource defaults are not exported` });
    // A forbidden field the stored container had set (whatever its value) is pre-existing.
    check('forbid-resources', (c) => `!(${set(c, f.section, f.resource)})`, (o) => set(o, f.section, f.resource), `must leave resources.${name} unset`);
  }
  if (res.max.length) {
    if (!atLeast(version, KUBE_FEATURES.quantity)) {
      for (const m of res.max) out.notExported.push({ policy: policy.name, rule: 'max-resources', path: `spec.resources.max.${m.resource}`, reason: `needs the CEL quantity library (Kubernetes ${KUBE_FEATURES.quantity.major}.${KUBE_FEATURES.quantity.minor} or later)` });
      return;
    }
    for (const m of res.max) {
      for (const section of ['requests', 'limits'] as const) if ((ctx.fillers.get(`${section}.${m.resource}`) ?? []).some((n) => n !== policy.name)) out.notExported.push({ policy: policy.name, rule: 'max-resources', path: `spec.resources.max.${m.resource}`, reason: `${section}.${m.resource} is filled by another policy's defaults before the webhook checks it, and resource defaults are not exported: values written in the object are checked, a filled value is not` });
      const at = (c: string, section: string) => `${c}.?resources.?${section}[?${str(m.resource)}]`;
      const q = (c: string, section: string) => `quantity(${at(c, section)}.value())`;
      const within = (c: string, section: string) => `!(${set(c, section, m.resource)}) || ${q(c, section)}.compareTo(quantity(${str(m.text)})) <= 0`;
      if (res.containers === 'any') {
        // Under any, a container satisfies max when its requests and limits are both within (or absent).
        check('max-resources', (c) => `(${within(c, 'requests')}) && (${within(c, 'limits')})`, () => 'false', `must have ${m.resource} at most ${m.text}`);
        continue;
      }
      for (const section of ['requests', 'limits'] as const) {
        // Grandfathered when the stored container had a value at least as high (not made worse).
        check('max-resources', (c) => within(c, section), (o, c) => `${set(o, section, m.resource)} && ${q(o, section)}.compareTo(${q(c, section)}) >= 0`, `must have ${section}.${m.resource} at most ${m.text}`);
      }
    }
  }
};

/**
 * The policy fields the translators (and the match/exception handling below) read. A field outside these lists, from a
 * newer policy shape, is reported as not exported instead of being dropped without a word: a new rule kind adds its
 * translator and its field here.
 */
const HANDLED_SPEC_FIELDS = new Set(['target', 'when', 'mode', 'match', 'exclude', 'resources', 'labels', 'annotations', 'exceptions', 'allowExceptionAnnotations', 'allowExistingViolations', 'validations', 'variables']);
const HANDLED_TAG_FIELDS = new Set(['required', 'forbidden', 'allowed', 'forbiddenValues', 'pattern', 'allowedKeys', 'default', 'overwrite', 'fromNamespace', 'target', 'copyToPodTemplate', 'when', 'immutable', 'transitions']);

/** Whether the exporter reads every field of this tag rule. */
function tagRuleExportable(policy: GovernancePolicy, field: 'labels' | 'annotations', r: CompiledTagRule): boolean {
  const spec = (policy.spec[field] ?? {})[r.key] as Record<string, unknown> | undefined;
  return Object.keys(spec ?? {}).every((k) => HANDLED_TAG_FIELDS.has(k));
}
const HANDLED_RESOURCE_FIELDS = new Set(['when', 'containers', 'initContainers', 'require', 'forbid', 'max', 'maxLimitRequestRatio', 'defaults']);

/** Fields of spec.resources no translator reads. */
function unhandledResourceFields(policy: GovernancePolicy): string[] {
  return Object.keys(policy.spec.resources ?? {}).filter((k) => !HANDLED_RESOURCE_FIELDS.has(k));
}
const HANDLED_MATCH_FIELDS = new Set(['kinds', 'namespaces', 'namespaceSelector', 'selector']);
const HANDLED_EXCEPTION_FIELDS = new Set(['namespace', 'name', 'kinds', 'selector', 'rules', 'reason']);

const unhandledFields: Translator = ({ policy }, out) => {
  const report = (path: string, field: string) =>
    out.notExported.push({ policy: policy.name, rule: field, path, reason: `no translator reads ${path} yet: the exported policy would not hold this rule` });
  const spec = policy.spec as unknown as Record<string, unknown>;
  for (const k of Object.keys(spec)) if (!HANDLED_SPEC_FIELDS.has(k)) report(`spec.${k}`, k);
  for (const field of ['labels', 'annotations'] as const) {
    for (const [key, rule] of Object.entries(policy.spec[field] ?? {})) {
      for (const k of Object.keys(rule)) if (!HANDLED_TAG_FIELDS.has(k)) report(`spec.${field}[${str(key)}].${k}`, k);
    }
  }
  for (const k of unhandledResourceFields(policy)) report(`spec.resources.${k}`, k);
  for (const m of ['match', 'exclude'] as const) for (const k of Object.keys(policy.spec[m] ?? {})) if (!HANDLED_MATCH_FIELDS.has(k)) report(`spec.${m}.${k}`, k);
  policy.spec.exceptions?.forEach((e, i) => {
    for (const k of Object.keys(e)) if (!HANDLED_EXCEPTION_FIELDS.has(k)) report(`spec.exceptions[${i}].${k}`, k);
  });
};

/** Translators per rule kind, in the order their checks are listed. New rule kinds add a translator here. */
export const TRANSLATORS: readonly Translator[] = [unhandledFields, tagRules('labels'), tagRules('annotations'), migrationRules, resourceRules, celValidations];

// ------------------------------------------------------------------ match, exclude, exceptions

function matchCel(m: CompiledMatch, withNamespaceSelector: boolean, withKinds = true): string[] {
  const parts: string[] = [];
  if (m.kinds && withKinds) parts.push(`request.kind.kind in ${list([...m.kinds.names])}`);
  if (m.namespaces) parts.push(`(${m.namespaces.map((p) => nameTest('request.namespace', p)).join(' || ') || 'false'})`);
  if (withNamespaceSelector && m.namespaceSelector) parts.push(`(${selectorCel(m.namespaceSelector, NAMESPACE_LABELS)})`);
  if (m.selector) parts.push(`(${selectorCel(m.selector, OBJECT_LABELS)})`);
  return parts;
}

function exceptionCel(e: CompiledException): string {
  const parts: string[] = [];
  if (e.namespace) parts.push(nameTest('request.namespace', e.namespace));
  if (e.name) parts.push(nameTest('request.name', e.name));
  if (e.kinds) parts.push(`request.kind.kind in ${list([...e.kinds.names])}`);
  if (e.selector) parts.push(`(${selectorCel(e.selector, OBJECT_LABELS)})`);
  return parts.length ? parts.join(' && ') : 'true';
}

/** Conditions under which the webhook excuses `rule` (exceptions, then allowed exception annotations). */
function excuses(p: GovernancePolicy, rule: string, family: RuleFamily): string[] {
  const out: string[] = [];
  p.exceptions.forEach((e, i) => {
    if (!e.rules || e.rules.has(rule) || e.rules.has(family)) out.push(`variables.governor_exception${i}`);
  });
  const allow = p.allowExceptionAnnotations;
  if (allow.has(rule) || allow.has(family)) {
    for (const key of [EXCEPTION_ANNOTATION_PREFIX + rule, EXCEPTION_ANNOTATION_PREFIX + family]) {
      out.push(`object.?metadata.?annotations[?${str(key)}].orValue("").trim() != ""`);
    }
  }
  return out;
}

const CONTROLLER_OWNED = `request.userInfo.username in ${list(WORKLOAD_CONTROLLER_USERNAMES)} && object.?metadata.?ownerReferences.orValue([]).exists(r, r.?controller.orValue(false) && r.kind in ${list(WORKLOAD_KINDS)})`;

function resourceRules_(kinds: readonly string[]): Record<string, unknown>[] {
  const byGroup = new Map<string, string[]>();
  for (const k of kinds) {
    const r = KIND_RESOURCES[k];
    if (!r) continue;
    const l = byGroup.get(r.group) ?? [];
    if (!l.includes(r.resource)) l.push(r.resource);
    byGroup.set(r.group, l);
  }
  return [...byGroup].map(([group, resources]) => ({ apiGroups: [group], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources, scope: 'Namespaced' }));
}

function namespaceSelector(p: GovernancePolicy, serviceNamespace: string): Record<string, unknown> {
  const exprs: Record<string, unknown>[] = [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...skippedNamespaces(serviceNamespace)] }];
  const sel = p.spec.match?.namespaceSelector;
  if (sel?.matchExpressions) exprs.push(...sel.matchExpressions.map((e) => ({ ...e })));
  if (sel?.matchLabels) for (const [key, value] of Object.entries(sel.matchLabels)) exprs.push({ key, operator: 'In', values: [value] });
  return { matchExpressions: exprs };
}

function exportName(p: GovernancePolicy): string {
  return `governor-${p.name}`.slice(0, 253);
}

const LABELS = { 'app.kubernetes.io/managed-by': 'governor-export' };

// ------------------------------------------------------------------ export

export function exportPolicies(policies: readonly GovernancePolicy[], o: ExportOptions = {}): ExportResult {
  const version = o.kubeVersion ?? DEFAULT_KUBE_VERSION;
  const serviceNamespace = o.serviceNamespace ?? 'kube-governor';
  const objects: Record<string, unknown>[] = [];
  const notExported: NotExported[] = [];
  const mutations = atLeast(version, KUBE_FEATURES.mutatingAdmissionPolicy);
  const filled = new Set<string>();
  const unexportedFill = new Set<string>();
  // Keys the webhook copies from a controller's metadata into its pod template (copyToPodTemplate, migration labels).
  const copied = new Set<string>();
  const fillers = new Map<string, string[]>();
  const addFiller = (key: string, p: GovernancePolicy) => {
    filled.add(key);
    fillers.set(key, [...(fillers.get(key) ?? []), p.name]);
  };
  // What fills each key of a controller's pod template (copies and template defaults), and which keys a controller's
  // own metadata gets a default for (a copy reads them).
  const templateSources = new Map<string, { p: GovernancePolicy; r: CompiledTagRule }[]>();
  const addSource = (key: string, p: GovernancePolicy, r: CompiledTagRule) => templateSources.set(key, [...(templateSources.get(key) ?? []), { p, r }]);
  const ownDefaults = new Set<string>();
  const wildcardCopies: string[] = [];
  for (const p of policies) {
    for (const field of ['labels', 'annotations'] as const) {
      for (const r of p[field]) {
        const key = `${field}/${r.key}`;
        const fills = r.default !== undefined || r.fromNamespace;
        if (r.copyToPodTemplate && r.wildcard) wildcardCopies.push(key);
        else if (r.copyToPodTemplate) addSource(key, p, r);
        if (fills && r.onTemplate) addSource(key, p, r);
        if (fills && r.onObject) ownDefaults.add(key);
        if (r.copyToPodTemplate || (fills && r.onTemplate)) copied.add(key);
      }
    }
    for (const field of ['labels', 'annotations'] as const) {
      for (const r of p[field]) {
        if (r.default === undefined && !r.fromNamespace) continue;
        addFiller(`${field}/${r.key}`, p);
      }
    }
    for (const d of p.resources?.defaults.requests ?? []) addFiller(`requests.${d.resource}`, p);
    for (const d of p.resources?.defaults.limits ?? []) addFiller(`limits.${d.resource}`, p);
  }
  // Keys some default fills that the export does not write: placed on the pod template, in a rule or policy not
  // exported, behind a condition that is not, or an overwrite another policy's fill competes with.
  const templateFilled = new Set<string>();
  const base = { version, mutations, filled, unexportedFill, copied, fillers, templateFilled, wildcardCopies };
  const ruleExported = (p: GovernancePolicy, field: 'labels' | 'annotations', r: CompiledTagRule) =>
    !Object.keys(p.spec).some((k) => !HANDLED_SPEC_FIELDS.has(k)) && conditionProblem(p.when, { policy: p, ...base }) === undefined && tagRuleExportable(p, field, r) && conditionProblem(r.when, { policy: p, ...base }) === undefined;
  for (const p of policies) {
    for (const field of ['labels', 'annotations'] as const) {
      for (const r of p[field]) {
        if (r.default === undefined && !r.fromNamespace) continue;
        const key = `${field}/${r.key}`;
        if (!ruleExported(p, field, r) || (r.overwrite && fillers.get(key)!.length > 1)) unexportedFill.add(key);
      }
    }
  }
  // A template fill is exported where it is the key's one fill there (a copy or a template default: the webhook's
  // order between them, and between policies, then never matters) and a copied key gets no default on the object's
  // own metadata (the webhook copies what is there when the copying policy runs, in name order).
  for (const [key, sources] of templateSources) {
    const [only] = sources;
    if (!mutations || sources.length !== 1 || !only) continue;
    const field = key.startsWith('labels/') ? 'labels' : 'annotations';
    const copies = only.r.copyToPodTemplate;
    if (copies && (ownDefaults.has(key) || (only.r.default !== undefined || only.r.fromNamespace))) continue;
    if (wildcardCopies.some((w) => w.startsWith(`${field}/`) && compileNamePattern(w.slice(field.length + 1)).test(only.r.key))) continue;
    if (ruleExported(only.p, field, only.r)) templateFilled.add(key);
  }
  for (const p of policies) {
    const t: Translation = { checks: [], mutations: [], variables: [], notExported: [] };
    const ctx: TranslateContext = { policy: p, ...base };
    if (Object.keys(p.spec).some((k) => !HANDLED_SPEC_FIELDS.has(k))) {
      // A policy-wide field no translator reads changes every rule: none is exported.
      unhandledFields(ctx, t);
      notExported.push(...t.notExported);
      continue;
    }
    const whenWhy = conditionProblem(p.when, ctx);
    if (whenWhy) {
      // spec.when decides every rule: a condition CEL cannot decide exactly leaves the whole policy out.
      notExported.push({ policy: p.name, rule: 'when', path: 'spec.when', reason: `${whenWhy}: every rule of the policy depends on it, none is exported` });
      continue;
    }
    for (const translate of TRANSLATORS) translate(ctx, t);
    notExported.push(...t.notExported);
    if (!t.checks.length && !t.mutations.length) continue;
    const reserved = t.variables.filter((v) => v.name.startsWith('governor_'));
    if (reserved.length) {
      notExported.push({ policy: p.name, rule: 'cel', path: 'spec.variables', reason: `variable names starting with governor_ are used by the export (${reserved.map((v) => v.name).join(', ')}): rename them` });
      continue;
    }
    // A Pod rule also covers pod controllers (autogen): p.match.kinds is already expanded; no kinds: every workload kind.
    const kinds = p.match.kinds ? [...p.match.kinds.names] : [...WORKLOAD_KINDS];
    const unknown = kinds.filter((k) => !KIND_RESOURCES[k]);
    if (unknown.length) {
      notExported.push({ policy: p.name, rule: 'match', path: 'spec.match.kinds', reason: `no API resource is known for ${unknown.join(', ')} (KIND_RESOURCES in src/governance/vap.ts): objects of ${unknown.length > 1 ? 'these kinds are' : 'this kind is'} not matched by the exported policy` });
      if (unknown.length === kinds.length) continue;
    }
    const matchConstraints = { resourceRules: resourceRules_(kinds), namespaceSelector: namespaceSelector(p, serviceNamespace), matchPolicy: 'Equivalent' };
    // matchConditions see object, oldObject and request (not namespaceObject): the exclude's namespace selector, if
    // any, is a variable that every check consults instead.
    // Updates of an object being deleted (finalizer removal) always pass, as in the engine, or it could never go away.
    const matchConditions: { name: string; expression: string }[] = [{ name: 'governor-not-deleting', expression: '!has(object.metadata.deletionTimestamp)' }];
    // Kinds and the namespace selector are in matchConstraints already.
    const m = matchCel(p.match, false, false);
    if (m.length) matchConditions.push({ name: 'governor-match', expression: m.join(' && ') });
    const variables: { name: string; expression: string }[] = [];
    let excludedGuard = '';
    if (p.exclude) {
      const ex = matchCel(p.exclude, true);
      if (p.exclude.namespaceSelector) {
        variables.push({ name: 'governor_excluded', expression: ex.join(' && ') });
        excludedGuard = 'variables.governor_excluded';
      } else matchConditions.push({ name: 'governor-exclude', expression: `!(${ex.join(' && ')})` });
    }
    p.exceptions.forEach((e, i) => variables.push({ name: `governor_exception${i}`, expression: exceptionCel(e) }));
    variables.push({ name: 'governor_controllerOwned', expression: CONTROLLER_OWNED }, ...POD_VARIABLES);
    // spec.when: every rule applies only where it holds (in mutation too); it reads the pod variables above.
    if (p.when) variables.push({ name: 'governor_when', expression: conditionCel(p.when, 'object', version) });
    variables.push(...t.variables);
    const validations = t.checks.map((c) => {
      const guards = [...(p.when ? ['!variables.governor_when'] : []), ...(excludedGuard ? [excludedGuard] : []), ...excuses(p, c.rule, c.family), ...(c.controllerRelaxed ? ['variables.governor_controllerOwned'] : [])];
      return {
        expression: guards.length ? `${guards.join(' || ')} || (${c.expression})` : c.expression,
        ...(c.messageExpression !== undefined ? { messageExpression: c.messageExpression } : {}),
        ...(c.message !== undefined ? { message: c.message } : {}),
        // VAP's default reason is Invalid (422); the webhook denies with Forbidden (403) unless a validation says.
        reason: c.reason ?? 'Forbidden',
      };
    });
    const name = exportName(p);
    const labels = { ...LABELS, 'governor.io/policy': p.name.slice(0, 63) };
    if (validations.length) {
      objects.push({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name, labels },
        // Fail: an expression that errors takes the binding's action (a denial in enforce, a warning in audit), as the
        // engine's cel errors do.
        spec: { failurePolicy: 'Fail', matchConstraints, ...(matchConditions.length ? { matchConditions } : {}), variables, validations },
      });
      objects.push({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        metadata: { name, labels },
        spec: { policyName: name, validationActions: p.mode === 'enforce' ? ['Deny'] : ['Warn', 'Audit'] },
      });
    }
    if (t.mutations.length) {
      const patches = t.mutations.map((mu) => {
        const guards = [...(p.when ? ['!variables.governor_when'] : []), ...(excludedGuard ? [excludedGuard] : []), ...excuses(p, mu.rule, mu.family)];
        return guards.length ? `(${guards.join(' || ')} ? [] : ${mu.pairs})` : mu.pairs;
      });
      // One JSON Patch per map: the object's own labels/annotations, then a controller's pod template's.
      const groups = (['labels', 'annotations'] as const)
        .flatMap((f) => [false, true].map((template) => ({ f, template, name: `governor_${template ? 'template_' : ''}${f}` })))
        .filter((g) => t.mutations.some((mu) => mu.field === g.f && Boolean(mu.template) === g.template));
      const TEMPLATE_METADATA = `(request.kind.kind == "CronJob" ? "/spec/jobTemplate/spec/template/metadata" : "/spec/template/metadata")`;
      const templateHas = (f?: string) =>
        `(request.kind.kind == "CronJob" ? object.?spec.?jobTemplate.?spec.?template.?metadata${f ? `.?${f}` : ''}.hasValue() : object.?spec.?template.?metadata${f ? `.?${f}` : ''}.hasValue())`;
      objects.push({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingAdmissionPolicy',
        metadata: { name, labels },
        spec: {
          // The engine's mutation never denies: a default that cannot be written is left out.
          failurePolicy: 'Ignore',
          reinvocationPolicy: 'IfNeeded',
          matchConstraints,
          ...(matchConditions.length ? { matchConditions } : {}),
          // The pod variables stay: conditions read volumes and containers.
          variables: [
            ...variables.filter((v) => v.name !== 'governor_controllerOwned'),
            ...groups.map((g) => ({ name: g.name, expression: patches.filter((_, i) => t.mutations[i]!.field === g.f && Boolean(t.mutations[i]!.template) === g.template).join(' + ') })),
          ],
          // The parent maps first when absent and some key is added, then each key (the engine's "add where absent";
          // an add on a member that is set replaces it: overwrite).
          mutations: groups.map(({ f, template, name: v }) => ({
            patchType: 'JSONPatch',
            jsonPatch: {
              expression: template
                ? `(variables.${v}.size() == 0 ? [] : (${templateHas()} ? [] : [JSONPatch{op: "add", path: ${TEMPLATE_METADATA}, value: {}}]) + (${templateHas(f)} ? [] : [JSONPatch{op: "add", path: ${TEMPLATE_METADATA} + "/${f}", value: {}}])) + variables.${v}.map(e, JSONPatch{op: "add", path: ${TEMPLATE_METADATA} + "/${f}/" + jsonpatch.escapeKey(e[0]), value: e[1]})`
                : `(variables.${v}.size() == 0 || has(object.metadata.${f}) ? [] : [JSONPatch{op: "add", path: "/metadata/${f}", value: {}}]) + variables.${v}.map(e, JSONPatch{op: "add", path: "/metadata/${f}/" + jsonpatch.escapeKey(e[0]), value: e[1]})`,
            },
          })),
        },
      });
      objects.push({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingAdmissionPolicyBinding',
        metadata: { name, labels },
        spec: { policyName: name },
      });
    }
  }
  return { objects, notExported };
}

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
  EXCEPTION_ANNOTATION_PREFIX,
  MIGRATION_LABEL,
  MIGRATION_MODES,
  MIGRATION_ROLE_LABEL,
  MIGRATION_ROLES,
  WORKLOAD_KINDS,
  type CelRuleName,
  type CompiledException,
  type CompiledMatch,
  type CompiledTagRule,
  type GovernancePolicy,
  type NamePattern,
  type RuleFamily,
  type RuleName,
} from '../policy/governance-policy.js';
import { MAX_CONTAINERS } from './pod-template.js';
import { skippedNamespaces } from './engine.js';
import { WORKLOAD_CONTROLLER_USERNAMES } from './workload-controllers.js';

export interface KubeVersion {
  readonly major: number;
  readonly minor: number;
}

/** What each Kubernetes version serves (upstream defaults, no feature gates). */
export const KUBE_FEATURES = {
  /** admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy: GA and on by default. */
  validatingAdmissionPolicy: { major: 1, minor: 30 },
  /** The CEL quantity library (quantity(), compareTo). */
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
  /** Keys copied into pod templates by the webhook (not exported). */
  readonly copied: ReadonlySet<string>;
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

/**
 * A value at the pod template or pod spec of whichever pod-bearing kind `root` is. Each branch ends in a list or a
 * map of strings, so the three branches have one type: a conditional over the specs themselves (CronJobSpec vs PodSpec)
 * makes the API server's typed optional selection on the result miss fields.
 */
function perKind(root: string, pod: string, controller: string, empty: string): string {
  return `request.kind.kind == "Pod" ? ${pod ? `${root}.?${pod}.orValue(${empty})` : empty} : request.kind.kind == "CronJob" ? ${root}.?spec.?jobTemplate.?spec.?template.?${controller}.orValue(${empty}) : ${root}.?spec.?template.?${controller}.orValue(${empty})`;
}

/** Where the pod-bearing kinds keep their containers and pod template metadata: variables of every exported policy (evaluated lazily). */
const POD_VARIABLES = (['object', 'oldObject'] as const).flatMap((root) => {
  const p = root === 'object' ? 'governor_' : 'governor_old_';
  return [
    { name: `${p}containers`, expression: perKind(root, 'spec.?containers', 'spec.?containers', '[]') },
    { name: `${p}initContainers`, expression: perKind(root, 'spec.?initContainers', 'spec.?initContainers', '[]') },
    { name: `${p}templateLabels`, expression: perKind(root, '', 'metadata.?labels', '{}') },
    { name: `${p}templateAnnotations`, expression: perKind(root, '', 'metadata.?annotations', '{}') },
  ];
});
const podVar = (root: string, what: 'containers' | 'initContainers' | 'templateLabels' | 'templateAnnotations') => `variables.governor_${root === 'object' ? '' : 'old_'}${what}`;

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
  labels: { default: 'default-labels', require: 'require-labels', values: 'label-values' },
  annotations: { default: 'default-annotations', require: 'require-annotations', values: 'annotation-values' },
  migration: { default: 'default-migration-labels', require: 'require-migration-labels', values: 'migration-label-values' },
} as const;

function valueOk(r: CompiledTagRule, v: string): string | undefined {
  if (r.allowed) return `${v} in ${list(r.allowed)}`;
  if (r.pattern) return `${v}.matches(${str(re2Source(r.pattern.source))})`;
  return undefined;
}

/** labels / annotations: required and allowed/pattern where the rule is placed (target): the object's metadata and/or its pod template's. */
function tagRules(field: 'labels' | 'annotations'): Translator {
  return ({ policy, mutations, filled: filledByAny, unexportedFill, copied }, out) => {
    const rules = field === 'labels' ? policy.labels : policy.annotations;
    const grandfather = policy.allowExistingViolations;
    for (const r of rules) {
      const names = TAG_RULES[r.family];
      const at = `spec.${field}[${str(r.key)}]`;
      if (!tagRuleExportable(policy, field, r)) {
        // A wildcard key, or a rule with fields no translator reads, would decide differently from the webhook.
        if (r.wildcard) out.notExported.push({ policy: policy.name, rule: names.require, path: at, reason: 'wildcard keys are not exported yet' });
        continue;
      }
      const key = `${field}/${r.key}`;
      const filled = r.default !== undefined || r.fromNamespace;
      const nonEmpty = (x: string) => `(${x}.hasValue() && ${x}.value() != "")`;
      // Where the webhook checks the rule: a controller's own metadata and/or its pod template (target); a Pod has
      // one metadata, checked whatever the target. `skip`: CEL that is true where the place does not apply.
      const places = [
        { where: 'metadata', loc: (root: string) => `${root}.?metadata.?${field}[?${str(r.key)}]`, skip: r.onObject ? '' : 'request.kind.kind != "Pod" || ', template: false },
        ...(r.onTemplate ? [{ where: 'the pod template', loc: (root: string) => `${podVar(root, field === 'labels' ? 'templateLabels' : 'templateAnnotations')}[?${str(r.key)}]`, skip: 'request.kind.kind == "Pod" || ', template: true }] : []),
      ];
      for (const place of places) {
        // The export checks before any mutation it does not write: a place some unexported default or the copy into
        // pod templates fills would be denied here and admitted by the webhook.
        const unfilled = place.template ? !filledByAny.has(key) && !copied.has(key) : !filledByAny.has(key) || (mutations && !unexportedFill.has(key));
        const fillReason = `the webhook fills this ${field === 'labels' ? 'label' : 'annotation'} on ${place.where} (a default, fromNamespace or copyToPodTemplate) before checking it, and the export does not write that fill${mutations ? '' : ` (defaults need a MutatingAdmissionPolicy: --kube-version ${KUBE_FEATURES.mutatingAdmissionPolicy.major}.${KUBE_FEATURES.mutatingAdmissionPolicy.minor} or later)`}`;
        if (!unfilled) {
          // Values written in the object are still checked (a fill only adds what is absent); a filled value is not.
          if (r.required) out.notExported.push({ policy: policy.name, rule: names.require, path: `${at}.required`, reason: fillReason });
          if (valueOk(r, 'v')) out.notExported.push({ policy: policy.name, rule: names.values, path: at, reason: `${fillReason}: values written in the object are checked, a filled value is not` });
        }
        if (r.required && unfilled) {
          out.checks.push({
            rule: names.require,
            family: r.family,
            expression: `${place.skip}${nonEmpty(place.loc('object'))}${grandfather ? ` || (oldObject != null && !${nonEmpty(place.loc('oldObject'))})` : ''}`,
            message: `${place.template ? 'the pod template\'s ' : ''}metadata.${field}[${str(r.key)}] is required${r.allowed ? ` (one of ${r.allowed.join(', ')})` : r.pattern ? ` (matching ${r.pattern.source})` : ''} (policy ${policy.name}, rule ${names.require})`,
            controllerRelaxed: true,
          });
        }
        const ok = valueOk(r, 'v');
        if (ok) {
          const v = place.loc('object');
          const same = grandfather ? ` || (oldObject != null && ${place.loc('oldObject')} == ${v})` : '';
          out.checks.push({
            rule: names.values,
            family: r.family,
            expression: `${place.skip}!${v}.hasValue() || [${v}.value()].all(v, ${ok})${same}`,
            message: `${field === 'labels' ? 'label' : 'annotation'} ${r.key} on ${place.where} must be ${r.allowed ? `one of ${r.allowed.join(', ')}` : `matching ${r.pattern!.source}`} (policy ${policy.name}, rule ${names.values})`,
            controllerRelaxed: true,
          });
        }
      }
      if (filled && r.onTemplate) {
        out.notExported.push({ policy: policy.name, rule: names.default, path: `${at}.${r.default !== undefined ? 'default' : 'fromNamespace'}`, reason: 'defaults placed on the pod template (target podTemplate or both) are not exported yet' });
        continue;
      }
      if (filled) {
        if (!mutations) {
          out.notExported.push({ policy: policy.name, rule: names.default, path: `${at}.${r.default !== undefined ? 'default' : 'fromNamespace'}`, reason: `defaults need a MutatingAdmissionPolicy (--kube-version ${KUBE_FEATURES.mutatingAdmissionPolicy.major}.${KUBE_FEATURES.mutatingAdmissionPolicy.minor} or later)` });
        } else {
          out.mutations.push({ rule: names.default, family: r.family, field, pairs: tagDefaultPatch(field, r) });
        }
      }
    }
    if (rules.some((r) => r.copyToPodTemplate)) {
      out.notExported.push({
        policy: policy.name,
        rule: TAG_RULES[field].default,
        path: `spec.${field}`,
        reason: `the webhook copies ${field} of a controller into its pod template when absent there (copyToPodTemplate); the copy is not exported, so checks of those keys on pod templates are not either`,
      });
    }
  };
}

/** [key, value] pairs (zero or one) filling the key on the object's own metadata when absent (fromNamespace first, then default). */
function tagDefaultPatch(field: 'labels' | 'annotations', r: CompiledTagRule): string {
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
  const absent = `!object.?metadata.?${field}[?${key}].hasValue()`;
  return `(${absent} ? ${value} : []).map(v, [${key}, v])`;
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

/** resources: require requests/limits, max (quantity library); the ratio and the defaults are reported. */
const resourceRules: Translator = ({ policy, version, filled }, out) => {
  const res = policy.resources;
  // A field no translator reads (containers: any, forbid, when...) changes the other checks: unhandledFields reports it.
  if (!res || unhandledResourceFields(policy).length) return;
  const grandfather = policy.allowExistingViolations;
  const lists = ['containers', 'initContainers'] as const;
  const defaulted = new Set([...res.defaults.requests.map((d) => `requests.${d.resource}`), ...res.defaults.limits.map((d) => `limits.${d.resource}`)]);
  for (const d of [...res.defaults.requests.map((x) => ['requests', x] as const), ...res.defaults.limits.map((x) => ['limits', x] as const)]) {
    out.notExported.push({ policy: policy.name, rule: 'default-resources', path: `spec.resources.defaults.${d[0]}.${d[1].resource}`, reason: 'per-container resource defaults (a request follows the limit, a limit follows a larger request) are not exported' });
  }
  const count = (root: string) => `${podVar(root, 'containers')}.size() + ${podVar(root, 'initContainers')}.size()`;
  const each = (field: 'containers' | 'initContainers', body: (c: string, old: string) => string) =>
    `${podVar('object', field)}.all(c, ${body('c', podVar('oldObject', field))})`;
  if (res.require.length || res.max.length || res.maxLimitRequestRatio.length) {
    out.checks.push({
      rule: 'max-resources',
      family: 'resources',
      expression: `${count('object')} <= ${MAX_CONTAINERS}${grandfather ? ` || (oldObject != null && ${count('object')} <= ${count('oldObject')})` : ''}`,
      message: `a pod spec may list at most ${MAX_CONTAINERS} containers and init containers (policy ${policy.name}, rule max-resources)`,
      controllerRelaxed: true,
    });
  }
  for (const req of res.require) {
    const rule = req.section === 'requests' ? 'require-requests' : 'require-limits';
    const name = `${req.section}.${req.resource}`;
    if (defaulted.has(name) || filled.has(name)) {
      out.notExported.push({ policy: policy.name, rule, path: 'spec.resources.require', reason: `${name} is filled by ${defaulted.has(name) ? "the policy's" : "another policy's"} defaults before the webhook checks it, and resource defaults are not exported` });
      continue;
    }
    const v = (c: string) => `${c}.?resources.?${req.section}[?${str(req.resource)}].orValue("") != ""`;
    for (const field of lists) {
      out.checks.push({
        rule,
        family: 'resources',
        expression: each(field, (c, old) => `${v(c)}${grandfather ? ` || (oldObject != null && ${old}.exists(o, o.name == ${c}.name && !(${v('o')})))` : ''}`),
        message: `every ${field === 'containers' ? 'container' : 'init container'} must set resources.${name} (policy ${policy.name}, rule ${rule})`,
        controllerRelaxed: true,
      });
    }
  }
  if (res.max.length) {
    if (!atLeast(version, KUBE_FEATURES.quantity)) {
      for (const m of res.max) out.notExported.push({ policy: policy.name, rule: 'max-resources', path: `spec.resources.max.${m.resource}`, reason: `needs the CEL quantity library (Kubernetes ${KUBE_FEATURES.quantity.major}.${KUBE_FEATURES.quantity.minor} or later)` });
    } else {
      for (const m of res.max) {
        for (const section of ['requests', 'limits'] as const) {
          const at = (c: string) => `${c}.?resources.?${section}[?${str(m.resource)}]`;
          const q = (c: string) => `quantity(${at(c)}.value())`;
          const set = (c: string) => `${at(c)}.orValue("") != ""`;
          for (const field of lists) {
            out.checks.push({
              rule: 'max-resources',
              family: 'resources',
              expression: each(
                field,
                (c, old) =>
                  `!(${set(c)}) || ${q(c)}.compareTo(quantity(${str(m.text)})) <= 0${grandfather ? ` || (oldObject != null && ${old}.exists(o, o.name == ${c}.name && ${set('o')} && ${q('o')}.compareTo(${q(c)}) >= 0))` : ''}`,
              ),
              message: `${section}.${m.resource} of every ${field === 'containers' ? 'container' : 'init container'} must be at most ${m.text} (policy ${policy.name}, rule max-resources)`,
              controllerRelaxed: true,
            });
          }
        }
      }
    }
  }
  for (const r of res.maxLimitRequestRatio) {
    out.notExported.push({
      policy: policy.name,
      rule: 'max-limit-request-ratio',
      path: `spec.resources.maxLimitRequestRatio.${r.resource}`,
      reason: 'the CEL quantity library cannot multiply a quantity by a ratio exactly; a float comparison would not deny exactly the objects the webhook denies',
    });
  }
};

/**
 * The policy fields the translators (and the match/exception handling below) read. A field outside these lists, from a
 * newer policy shape, is reported as not exported instead of being dropped without a word: a new rule kind adds its
 * translator and its field here.
 */
const HANDLED_SPEC_FIELDS = new Set(['target', 'mode', 'match', 'exclude', 'resources', 'labels', 'annotations', 'exceptions', 'allowExceptionAnnotations', 'allowExistingViolations', 'validations', 'variables']);
const HANDLED_TAG_FIELDS = new Set(['required', 'allowed', 'pattern', 'default', 'fromNamespace', 'target', 'copyToPodTemplate']);

/** Whether the exporter writes this tag rule: a plain key with only fields it reads. */
function tagRuleExportable(policy: GovernancePolicy, field: 'labels' | 'annotations', r: CompiledTagRule): boolean {
  const spec = (policy.spec[field] ?? {})[r.key] as Record<string, unknown> | undefined;
  return !r.wildcard && Object.keys(spec ?? {}).every((k) => HANDLED_TAG_FIELDS.has(k));
}
const HANDLED_RESOURCE_FIELDS = new Set(['require', 'max', 'maxLimitRequestRatio', 'defaults']);

/** Fields of spec.resources no translator reads; containers and initContainers at their defaults (all, true) change nothing. */
function unhandledResourceFields(policy: GovernancePolicy): string[] {
  const res = (policy.spec.resources ?? {}) as Record<string, unknown>;
  return Object.keys(res).filter((k) => !HANDLED_RESOURCE_FIELDS.has(k) && !(k === 'containers' && res[k] === 'all') && !(k === 'initContainers' && res[k] === true));
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
  // Keys some default fills that the export does not write (placed on the pod template, or in a rule not exported).
  const unexportedFill = new Set<string>();
  // Keys the webhook copies from a controller's metadata into its pod template (copyToPodTemplate, migration labels).
  const copied = new Set<string>();
  for (const p of policies) {
    for (const field of ['labels', 'annotations'] as const) for (const r of p[field]) if (r.copyToPodTemplate) copied.add(`${field}/${r.key}`);
    for (const field of ['labels', 'annotations'] as const) {
      for (const r of p[field]) {
        if (r.default === undefined && !r.fromNamespace) continue;
        filled.add(`${field}/${r.key}`);
        if (!tagRuleExportable(p, field, r) || r.onTemplate || Object.keys(p.spec).some((k) => !HANDLED_SPEC_FIELDS.has(k))) unexportedFill.add(`${field}/${r.key}`);
      }
    }
    for (const d of p.resources?.defaults.requests ?? []) filled.add(`requests.${d.resource}`);
    for (const d of p.resources?.defaults.limits ?? []) filled.add(`limits.${d.resource}`);
  }
  for (const p of policies) {
    const t: Translation = { checks: [], mutations: [], variables: [], notExported: [] };
    if (Object.keys(p.spec).some((k) => !HANDLED_SPEC_FIELDS.has(k))) {
      // A policy-wide field no translator reads (spec.when...) changes every rule: none is exported.
      unhandledFields({ policy: p, version, mutations, filled, unexportedFill, copied }, t);
      notExported.push(...t.notExported);
      continue;
    }
    for (const translate of TRANSLATORS) translate({ policy: p, version, mutations, filled, unexportedFill, copied }, t);
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
    variables.push(...t.variables);
    const validations = t.checks.map((c) => {
      const guards = [...(excludedGuard ? [excludedGuard] : []), ...excuses(p, c.rule, c.family), ...(c.controllerRelaxed ? ['variables.governor_controllerOwned'] : [])];
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
        const guards = [...(excludedGuard ? [excludedGuard] : []), ...excuses(p, mu.rule, mu.family)];
        return guards.length ? `(${guards.join(' || ')} ? [] : ${mu.pairs})` : mu.pairs;
      });
      const families = (['labels', 'annotations'] as const).filter((f) => t.mutations.some((mu) => mu.field === f));
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
          variables: [...variables.filter((v) => v.name !== 'governor_controllerOwned' && !POD_VARIABLES.includes(v)), ...families.map((f) => ({ name: `governor_${f}`, expression: patches.filter((_, i) => t.mutations[i]!.field === f).join(' + ') }))],
          // The parent map first when it is absent and some key is added, then each key (the engine's "add where absent").
          mutations: families.map((f) => ({
            patchType: 'JSONPatch',
            jsonPatch: {
              expression: `(variables.governor_${f}.size() == 0 || has(object.metadata.${f}) ? [] : [JSONPatch{op: "add", path: "/metadata/${f}", value: {}}]) + variables.governor_${f}.map(e, JSONPatch{op: "add", path: "/metadata/${f}/" + jsonpatch.escapeKey(e[0]), value: e[1]})`,
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

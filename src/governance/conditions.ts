// `when` conditions: what an object has (volume types, hostPath paths, container resources, labels) read once per
// object, and each compiled condition decided once per object against it, however many rules and containers ask.
import { normalizeHostPath } from '../common/host-path.js';
import { matches, type Labels } from '../common/labels.js';
import type { CompiledCondition, CompiledResources, ConditionMemo, CompiledTagRule, GovernancePolicy, RuleName } from '../policy/governance-policy.js';
import { formatPath } from '../policy/parse.js';
import { getIn, isRecord } from './json-patch.js';
import { containersOf, MAX_CONTAINERS, podSpec } from './pod-template.js';
import { checkDeadline, type Target } from './types.js';

/** Volumes of a pod spec read for conditions; like containers, a real pod has a handful. */
export const MAX_VOLUMES = MAX_CONTAINERS;

interface Volumes {
  readonly types: ReadonlySet<string>;
  readonly hostPaths: readonly string[];
}

/**
 * A node cannot open a path this long (Linux PATH_MAX is 4096 bytes with its terminating NUL), so the kubelet cannot
 * mount it: a longer hostPath matches no condition, and a glob is never run over more.
 */
export const MAX_HOST_PATH = 4096;

// Safe integers last for 2^53 reviews.
let nextFactsId = 1;

/** What the conditions read of one object, each part read when a condition first asks. */
class Facts {
  private volumes?: Volumes;
  private resources?: ReadonlySet<string>;
  private labels?: Labels;
  /**
   * The decisions of conditions on what a mutation can change (labels, container resources) made on this object,
   * for conditionsChanged.
   */
  readonly mutableDecisions = new Map<ConditionMemo, boolean>();
  /** Identifies these facts in the conditions' memos. */
  readonly id = nextFactsId++;

  constructor(private readonly t: Target) {}

  volumeFacts(): Volumes {
    if (this.volumes) return this.volumes;
    const types = new Set<string>();
    const hostPaths: string[] = [];
    // A kind without a pod spec has no volumes and no containers.
    const list = this.t.workload ? podSpec(this.t.obj, this.t.workload)?.volumes : undefined;
    if (Array.isArray(list)) {
      for (let i = 0; i < list.length && i < MAX_VOLUMES; i++) {
        checkDeadline(this.t.deadline, i);
        const v = list[i];
        if (!isRecord(v)) continue;
        // A volume is its name plus one source field named by its type (emptyDir, hostPath, configMap...).
        for (const k in v) if (k !== 'name' && isRecord(v[k])) types.add(k);
        const hp = v.hostPath;
        if (isRecord(hp) && typeof hp.path === 'string' && hp.path.length < MAX_HOST_PATH) hostPaths.push(normalizeHostPath(hp.path));
      }
    }
    return (this.volumes = { types, hostPaths });
  }

  /** Resource names some container or init container requests or limits (with a value set). */
  resourceNames(): ReadonlySet<string> {
    if (this.resources) return this.resources;
    const out = new Set<string>();
    for (const { container } of this.t.workload ? containersOf(this.t.obj, this.t.workload, this.t.deadline) : []) {
      const r = container.resources;
      if (!isRecord(r)) continue;
      for (const s of [r.requests, r.limits]) {
        if (!isRecord(s)) continue;
        for (const k in s) if (s[k] !== undefined && s[k] !== null && s[k] !== '') out.add(k);
      }
    }
    return (this.resources = out);
  }

  ownLabels(): Labels {
    if (this.labels) return this.labels;
    const m = getIn(this.t.obj, ['metadata', 'labels']);
    const out: Record<string, string> = {};
    if (isRecord(m)) for (const [k, v] of Object.entries(m)) if (typeof v === 'string') out[k] = v;
    return (this.labels = out);
  }
}

// One Facts per Target: the engine makes a new Target for each object it reviews (the old object on UPDATE, each
// mutation pass), so what was read of one object is never used for another. The last Target is kept aside: a
// review asks about the same one many times in a row.
const FACTS = new WeakMap<Target, Facts>();
let lastTarget: Target | undefined;
let lastFacts: Facts | undefined;

function factsOf(t: Target): Facts {
  if (t === lastTarget) return lastFacts!;
  let f = FACTS.get(t);
  if (!f) FACTS.set(t, (f = new Facts(t)));
  lastTarget = t;
  lastFacts = f;
  return f;
}

function someIn(wanted: ReadonlySet<string>, have: ReadonlySet<string>): boolean {
  for (const x of wanted) if (have.has(x)) return true;
  return false;
}

/** A glob test takes up to pattern × path steps: the deadline is checked for every path. */
function someHostPath(c: CompiledCondition, paths: readonly string[], t: Target): boolean {
  for (let i = 0; i < paths.length; i++) {
    checkDeadline(t.deadline, i | 63);
    for (const g of c.hostPaths!) if (g.test(paths[i]!)) return true;
  }
  return false;
}

/** Why the condition does not hold for the object, or undefined when it holds. */
function failing(c: CompiledCondition, t: Target, f: Facts): string | undefined {
  if (c.operations && !c.operations.has(t.operation)) return `operation is ${t.operation}`;
  if (c.volumeTypes && !someIn(c.volumeTypes, f.volumeFacts().types)) return `no volume of type ${[...c.volumeTypes].join(', ')}`;
  if (c.hostPaths && !someHostPath(c, f.volumeFacts().hostPaths, t)) return `no hostPath volume with path ${c.hostPaths.map((g) => g.text).join(', ')}`;
  if (c.containerResources && !someIn(c.containerResources, f.resourceNames())) return `no container requests or limits ${[...c.containerResources].join(', ')}`;
  if (c.labels && !matches(c.labels, f.ownLabels())) return "the object's labels do not match";
  return undefined;
}

/** Whether `c` holds for the object under review; decided once per object and condition. */
export function conditionHolds(c: CompiledCondition | undefined, t: Target): boolean {
  if (c === undefined) return true;
  const f = factsOf(t);
  // Reviews are synchronous: the memo holds the decision for the object asked about last (another object's Facts
  // simply decide again).
  const m = c.memo;
  if (m.facts === f.id) return m.value;
  const v = failing(c, t, f) === undefined;
  m.facts = f.id;
  m.value = v;
  if (c.labels || c.containerResources) f.mutableDecisions.set(m, v);
  return v;
}

/** A rule skipped because its `when` does not hold. */
export interface ConditionSkip {
  readonly rule: RuleName;
  readonly path: string;
  /** Where the condition is written ("spec.labels.team.when"). */
  readonly condition: string;
  /** "spec.resources.when does not hold: no volume of type hostPath" */
  readonly message: string;
}

/** Whether a policy has any `when` (only such policies pay for conditionSkips). */
export function hasConditions(p: GovernancePolicy): boolean {
  return p.when !== undefined || p.resources?.when !== undefined || p.labels.some((r) => r.when) || p.annotations.some((r) => r.when);
}

/** Whether a `when` of the policy reads the object's labels (a label a default adds can then change it). */
export function readsLabelConditions(p: GovernancePolicy): boolean {
  return Boolean(p.when?.labels || p.resources?.when?.labels || p.labels.some((r) => r.when?.labels) || p.annotations.some((r) => r.when?.labels));
}

/** What the engine needs of a policy's conditions, worked out once per policy. */
interface PolicyConditions {
  /** Conditions on what a mutation can change (labels, container resources). */
  readonly mutable: readonly CompiledCondition[];
  /** Every rule name of the policy, for a policy-wide `when`. */
  readonly all: readonly RuleName[];
  readonly resources: readonly RuleName[];
  /** Rule names and path of each tag rule with a `when`. */
  readonly tags: readonly { readonly rule: CompiledTagRule; readonly names: readonly RuleName[]; readonly path: string }[];
}

const POLICIES = new WeakMap<GovernancePolicy, PolicyConditions>();

function policyConditions(p: GovernancePolicy): PolicyConditions {
  let pc = POLICIES.get(p);
  if (pc) return pc;
  const whens = [p.when, p.resources?.when, ...p.labels.map((r) => r.when), ...p.annotations.map((r) => r.when)];
  const resources = p.resources ? resourceRules(p.resources) : [];
  const tags = [
    ...p.labels.filter((r) => r.when).map((rule) => ({ rule, names: tagRules(rule), path: formatPath(['metadata', 'labels', rule.key]) })),
    ...p.annotations.filter((r) => r.when).map((rule) => ({ rule, names: tagRules(rule), path: formatPath(['metadata', 'annotations', rule.key]) })),
  ];
  pc = {
    mutable: whens.filter((c): c is CompiledCondition => c !== undefined && (c.labels !== undefined || c.containerResources !== undefined)),
    all: [...new Set<RuleName>([...resources, ...p.labels.flatMap(tagRules), ...p.annotations.flatMap(tagRules)])],
    resources,
    tags,
  };
  POLICIES.set(p, pc);
  return pc;
}

/**
 * Whether a condition of `p` on labels or container resources, decided on `before` (the object earlier in the
 * mutation), decides otherwise on `after` (the same object with what a pass added): mutation then runs another pass.
 */
export function conditionsChanged(p: GovernancePolicy, before: Target, after: Target): boolean {
  const decided = FACTS.get(before)?.mutableDecisions;
  if (!decided?.size) return false;
  for (const c of policyConditions(p).mutable) {
    const was = decided.get(c.memo);
    if (was !== undefined && conditionHolds(c, after) !== was) return true;
  }
  return false;
}

function resourceRules(r: CompiledResources): RuleName[] {
  const out: RuleName[] = [];
  if (r.defaults.requests.length || r.defaults.limits.length) out.push('default-resources');
  if (r.require.some((x) => x.section === 'requests')) out.push('require-requests');
  if (r.require.some((x) => x.section === 'limits')) out.push('require-limits');
  if (r.forbid.length) out.push('forbid-resources');
  if (r.max.length) out.push('max-resources');
  if (r.maxLimitRequestRatio.length) out.push('max-limit-request-ratio');
  return out;
}

const TAG_RULES = {
  labels: { default: 'default-labels', require: 'require-labels', values: 'label-values', immutable: 'immutable-labels' },
  annotations: { default: 'default-annotations', require: 'require-annotations', values: 'annotation-values', immutable: 'immutable-annotations' },
  migration: { default: 'default-migration-labels', require: 'require-migration-labels', values: 'migration-label-values', immutable: 'immutable-labels' },
} as const;

function tagRules(r: CompiledTagRule): RuleName[] {
  const names = TAG_RULES[r.family];
  const out: RuleName[] = [];
  if (r.default !== undefined || r.fromNamespace) out.push(names.default);
  if (r.required) out.push(names.require);
  if (r.allowed || r.pattern || out.length === 0) out.push(names.values);
  if (r.immutable) out.push(names.immutable);
  return out;
}

function message(c: CompiledCondition, t: Target): string {
  return `skipped: ${c.at} does not hold (${failing(c, t, factsOf(t)) ?? 'changed during the review'})`;
}

/**
 * The rules of `p` skipped for this object because a `when` does not hold: the whole policy's rules for `spec.when`,
 * the resource rules for `spec.resources.when`, a key's rules for its own `when`. Call only for a policy with
 * conditions (hasConditions). At most `room` are built (messages cost); the count of the others is returned too.
 */
export function conditionSkips(p: GovernancePolicy, t: Target, room: number): { readonly skips: ConditionSkip[]; readonly more: number } {
  const pc = policyConditions(p);
  const acc = { skips: [] as ConditionSkip[], more: 0 };
  if (!conditionHolds(p.when, t)) {
    addSkips(acc, room, pc.all, '', p.when!, t);
    return acc;
  }
  if (p.resources && !conditionHolds(p.resources.when, t)) addSkips(acc, room, pc.resources, '', p.resources.when!, t);
  for (const { rule, names, path } of pc.tags) if (!conditionHolds(rule.when, t)) addSkips(acc, room, names, path, rule.when!, t);
  return acc;
}

function addSkips(acc: { skips: ConditionSkip[]; more: number }, room: number, rules: readonly RuleName[], path: string, c: CompiledCondition, t: Target): void {
  const fit = Math.max(0, Math.min(rules.length, room - acc.skips.length));
  acc.more += rules.length - fit;
  if (!fit) return;
  const msg = message(c, t);
  for (let i = 0; i < fit; i++) acc.skips.push({ rule: rules[i]!, path, condition: c.at, message: msg });
}

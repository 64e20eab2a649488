// The governance engine: one pure pipeline (match → exclude → exceptions → evaluate) shared by the webhook and the CLI.
import { matches, type Labels, type Requirement } from '../common/labels.js';
import { formatPath } from '../policy/parse.js';
import {
  EXCEPTION_ANNOTATION_PREFIX,
  FORCE_DELETE_ANNOTATION,
  GOVERNANCE_RULES,
  WORKLOAD_KINDS,
  matchKinds,
  type CelRuleName,
  type CompiledMatch,
  type GovernanceMode,
  type GovernancePolicy,
  type RuleFamily,
  type RuleName,
} from '../policy/governance-policy.js';
import { getIn, isRecord, PatchRecorder } from './json-patch.js';
import type { JsonPatchOp } from '../wire/json-patch-text.js';
import { checkDeleteOfMigrationSource, validateMigration } from './migration.js';
import { groupOf, podLocation, versionOf, workloadKind } from './pod-template.js';
import { PolicyIndex } from './policy-index.js';
import { mutateResources, validateResources } from './resources.js';
import { describeBefore, findingKey, indexFindings, notWorse } from './existing.js';
import { conditionHolds, conditionsChanged, conditionSkips, hasConditions, readsLabelConditions } from './conditions.js';
import { validateImmutable } from './immutable.js';
import { blocks, clip, decide, MAX_REPORTED, type GovernanceVerdict, type ExceptionUse, type Omitted, type RuleResult } from './result.js';
import { celInputs, evaluateValidations, type CelFinding, type CelInputs } from './cel.js';
import { ALL_ALLOWED, metadataMap, mutateTags, validateTags } from './tags.js';
import { ReviewDeadlineExceeded, type ActiveMigrationSource, type Finding, type NamespaceInfo, type Operation, type ReviewContext, type Target } from './types.js';
import { isWorkloadController } from './workload-controllers.js';

/** The namespace governor is installed in (--service-namespace's default). */
export const DEFAULT_SERVICE_NAMESPACE = 'kube-governor';
/** Namespaces never evaluated whatever the service namespace is, so the cluster cannot be locked out. */
export const ALWAYS_SKIPPED_NAMESPACES: readonly string[] = ['kube-system'];

/**
 * The namespaces the webhook never evaluates: kube-system and its own. The one list for the webhook, `governor review`,
 * `governor test` and lint's warning, so that what they report is what the cluster does.
 */
export function skippedNamespaces(serviceNamespace: string = DEFAULT_SERVICE_NAMESPACE): readonly string[] {
  return [...new Set([...ALWAYS_SKIPPED_NAMESPACES, serviceNamespace])];
}

export interface GovernanceEngineOptions {
  /** Namespaces never evaluated (default ALWAYS_SKIPPED_NAMESPACES; the webhook passes skippedNamespaces()). */
  readonly skipNamespaces?: readonly string[];
  /** Default: no migration is running anywhere. */
  readonly activeMigrationSource?: ActiveMigrationSource;
  /** The clock ReviewContext.deadline is read on (ms); default performance.now. */
  readonly now?: () => number;
}

/** A policy the review did not get to evaluate before its deadline. */
export interface UnfinishedPolicy {
  readonly policy: string;
  readonly mode: GovernanceMode;
}

export type SkipReason = 'namespace' | 'kind' | 'operation' | 'deleting' | 'not-an-object';

export interface PolicySummary {
  readonly policy: string;
  readonly mode: GovernanceMode;
  /** fail: at least one blocking result; warn: only non-blocking problems; pass otherwise (skip: fully excused). */
  readonly result: 'pass' | 'fail' | 'warn' | 'skip';
}

export interface MutateOutcome {
  readonly patch: readonly JsonPatchOp[];
  /**
   * The object with the patch applied (the input itself when nothing changed). It shares unchanged subtrees with the
   * input, and the patch's values with its own new maps: treat both as read-only.
   */
  readonly mutated: unknown;
  /** Only skips (mutations excused by exceptions) and errors: a mutation has nothing to deny. */
  readonly results: readonly RuleResult[];
  readonly policies: readonly PolicySummary[];
  readonly skipped?: SkipReason;
  /** The deadline passed: no patch (a partial one could break another policy's rule), these were not applied. */
  readonly unfinished?: readonly UnfinishedPolicy[];
}

export interface ValidateOutcome {
  readonly results: readonly RuleResult[];
  readonly policies: readonly PolicySummary[];
  readonly decision: GovernanceVerdict;
  readonly skipped?: SkipReason;
  /** The deadline passed before these were evaluated: the caller decides by their mode (enforce fails closed). */
  readonly unfinished?: readonly UnfinishedPolicy[];
}

export interface ReviewOutcome {
  readonly mutation: MutateOutcome;
  readonly validation: ValidateOutcome;
}

const IMMUTABLE_RULES: ReadonlySet<RuleName> = new Set(['immutable-labels', 'immutable-annotations']);

const NO_NAMESPACE_INFO: NamespaceInfo = { labels: {}, annotations: {} };
const EMPTY: GovernanceVerdict = decide([]);
// Mutation runs to a fixed point (a default can make another policy's selector match); this bounds the passes.
const MAX_MUTATION_PASSES = 4;
// The deadline is read every this many policies: a clock read costs about what a small policy's evaluation does.
const DEADLINE_EVERY = 8;

function unfinished(policies: readonly GovernancePolicy[]): UnfinishedPolicy[] {
  return policies.map((p) => ({ policy: p.name, mode: p.mode }));
}

/** A mutation past its deadline: no patch at all (a partial one could break another policy's rule), so no matched policy's defaults apply. */
function mutationCutOff(object: unknown, results: Map<string, RuleResult> | undefined, seen: readonly GovernancePolicy[], matched: readonly GovernancePolicy[]): MutateOutcome {
  const list = results ? [...results.values()] : [];
  const all = [...seen, ...matched.filter((q) => !seen.includes(q))];
  return { patch: [], mutated: object, results: list, policies: all.map((q) => summarize(q, list)), unfinished: unfinished(all) };
}

/** A validation past its deadline: policies from `i` on were not (fully) evaluated; what was found so far still counts. */
function validationCutOff(results: RuleResult[], policies: readonly GovernancePolicy[], i: number, omitted?: Omitted): ValidateOutcome {
  return { results, policies: policies.slice(0, i).map((q) => summarize(q, results)), decision: results.length ? decide(results, omitted) : EMPTY, unfinished: unfinished(policies.slice(i)) };
}

function labelsOf(obj: unknown): Labels {
  const m = metadataMap(obj, ['metadata'], 'labels');
  if (!m) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** The annotations that excuse a rule (when the policy allows it): by rule name, then by family. */
const EXCEPTION_KEYS = Object.fromEntries(
  (Object.keys(GOVERNANCE_RULES) as RuleName[]).map((r) => [r, [EXCEPTION_ANNOTATION_PREFIX + r, EXCEPTION_ANNOTATION_PREFIX + GOVERNANCE_RULES[r]]]),
) as unknown as Record<RuleName, readonly [string, string]>;

/**
 * A policy whose match holds for a kind and namespace, with what is left to check on the object itself: its match
 * selector, and its exclude's selector when the exclude's namespace part holds (an exclude without a selector is
 * decided with the namespace).
 */
interface Candidate {
  readonly policy: GovernancePolicy;
  readonly selector?: readonly Requirement[];
  readonly excludeSelector?: readonly Requirement[];
  /** The match, the exclude, an exception or a `when` reads the object's labels. */
  readonly readsLabels: boolean;
}

/** The part of a match (or, `exclude`, of an exclude: no kinds there means any kind) that depends on the kind and the namespace only, not on the object. */
function matchNamespace(m: CompiledMatch, t: Target, nsLabels: Labels, exclude: boolean): boolean {
  const kinds = exclude ? m.kinds : matchKinds(m);
  if (kinds && !kinds.has(t.group, t.version, t.kind)) return false;
  if (m.namespaces && !m.namespaces.some((p) => p.test(t.namespace))) return false;
  if (m.namespaceSelector && !matches(m.namespaceSelector, nsLabels)) return false;
  return true;
}

/** Longest exception reason taken from an annotation (annotation values may be 256 KiB). */
const MAX_REASON_LENGTH = 256;

/** Bounds the per-namespace memo (entries are per kind and namespace name; a cluster has far fewer). */
const MAX_NAMESPACE_MEMO = 10_000;
/** Bounds the kinds (group/version/kind) memoized per namespace version: a direct caller may send any version. */
const MAX_KIND_MEMO = 1_000;

/** The controller that owns the object (a Pod of a ReplicaSet, a Job of a CronJob…), if it is a workload kind. */
function controllerOwner(obj: Record<string, unknown>): { kind: string; name: string } | undefined {
  const refs = getIn(obj, ['metadata', 'ownerReferences']);
  if (!Array.isArray(refs)) return undefined;
  for (const r of refs) {
    if (isRecord(r) && r.controller === true && typeof r.kind === 'string' && (WORKLOAD_KINDS as readonly string[]).includes(r.kind)) {
      return { kind: r.kind, name: typeof r.name === 'string' ? r.name : '' };
    }
  }
  return undefined;
}

/**
 * CEL validations read the object as it is, so they run on the kinds the policy names, without Pod's autogen onto
 * pod controllers (an expression written for a Pod's spec does not hold for a Deployment's); no kinds: every kind.
 */
function celApplies(p: GovernancePolicy, t: Target): boolean {
  const kinds = p.spec.match?.kinds;
  return !kinds || kinds.some((k) => String(k).split('/').pop() === t.kind);
}

function summarize(policy: GovernancePolicy, results: readonly RuleResult[]): PolicySummary {
  if (!results.length) return { policy: policy.name, mode: policy.mode, result: 'pass' };
  const mine = results.filter((r) => r.policy === policy.name);
  const result = mine.some(blocks)
    ? 'fail'
    : mine.some((r) => r.status === 'fail' || r.status === 'warn' || r.status === 'error')
      ? 'warn'
      : mine.length && mine.every((r) => r.status === 'skip')
        ? 'skip'
        : 'pass';
  return { policy: policy.name, mode: policy.mode, result };
}

export class GovernanceEngine {
  private readonly index: PolicyIndex;
  private readonly skipNamespaces: ReadonlySet<string>;
  private readonly activeMigrationSource: ActiveMigrationSource;
  private readonly now: () => number;
  /**
   * Candidates whose match holds for a kind and namespace, keyed by the namespace's labels object (the namespace
   * cache replaces it when the namespace changes): namespaceSelectors are evaluated once per namespace version, not
   * per request: with many policies selected by namespace labels, evaluating them on every review would dominate its
   * cost.
   */
  private readonly byNamespaceLabels = new WeakMap<Labels, Map<string, Map<string, readonly Candidate[]>>>();

  /** Some policy fills an exception annotation: then an annotation a mutation adds can excuse a rule. */
  private readonly defaultsExceptionAnnotations: boolean;
  /** Policies with a `when` somewhere: only they report rules skipped by conditions. */
  private readonly conditional: ReadonlySet<GovernancePolicy>;
  /** Policies with an immutable label or annotation: only they read the stored object on UPDATE for it. */
  private readonly immutable: ReadonlySet<GovernancePolicy>;

  constructor(policies: readonly GovernancePolicy[], options: GovernanceEngineOptions = {}) {
    this.index = new PolicyIndex(policies);
    this.skipNamespaces = new Set(options.skipNamespaces ?? ALWAYS_SKIPPED_NAMESPACES);
    this.activeMigrationSource = options.activeMigrationSource ?? (() => undefined);
    this.now = options.now ?? (() => performance.now());
    this.defaultsExceptionAnnotations = policies.some((p) => p.annotations.some((r) => r.key.startsWith(EXCEPTION_ANNOTATION_PREFIX)));
    this.conditional = new Set(policies.filter(hasConditions));
    this.immutable = new Set(policies.filter((p) => p.labels.some((r) => r.immutable) || p.annotations.some((r) => r.immutable)));
  }

  get policyCount(): number {
    return this.index.size;
  }

  /** Resolves what is under review, or why it is not reviewed. */
  private target(obj: unknown, ctx: ReviewContext): Target | SkipReason {
    if (this.skipNamespaces.has(ctx.namespace)) return 'namespace';
    const o = isRecord(obj) ? obj : undefined;
    const kind = ctx.kind ?? (typeof o?.kind === 'string' ? o.kind : '');
    const group = ctx.group ?? groupOf(o?.apiVersion);
    const workload = workloadKind(group, kind);
    // Workload kinds always go on (DELETE protects migration sources whatever the policies); others only when named.
    if (!workload && !this.index.knows(group, kind)) return 'kind';
    if (!o) return 'not-an-object';
    const name = ctx.name ?? getIn(o, ['metadata', 'name']);
    const t: { -readonly [K in keyof Target]: Target[K] } = {
      kind,
      group,
      version: ctx.version ?? versionOf(o.apiVersion),
      workload,
      namespace: ctx.namespace,
      name: typeof name === 'string' ? name : '',
      operation: ctx.operation ?? 'CREATE',
      obj: o,
      location: workload ? podLocation(workload) : undefined,
      namespaceInfo: ctx.namespaceInfo ?? NO_NAMESPACE_INFO,
      activeMigrationSource: this.activeMigrationSource,
    };
    if (ctx.deadline !== undefined) t.deadline = { at: ctx.deadline, now: this.now };
    return t;
  }

  private nsLabels(t: Target): Labels {
    // The API server sets this label on every namespace; namespaces known only by name get it too.
    return { 'kubernetes.io/metadata.name': t.namespace, ...t.namespaceInfo.labels };
  }

  private namespaceCandidates(t: Target): readonly Candidate[] {
    let byKind = this.byNamespaceLabels.get(t.namespaceInfo.labels);
    if (!byKind) this.byNamespaceLabels.set(t.namespaceInfo.labels, (byKind = new Map()));
    // Workload kinds at v1 (nearly every review) are keyed by their name: no key is built on the hot path.
    const kindKey = t.workload !== undefined && t.version === 'v1' ? t.kind : `${t.group}/${t.version}/${t.kind}`;
    let memo = byKind.get(kindKey);
    if (!memo) {
      if (byKind.size >= MAX_KIND_MEMO) byKind.clear();
      byKind.set(kindKey, (memo = new Map()));
    }
    let list = memo.get(t.namespace);
    if (!list) {
      const ns = this.nsLabels(t);
      const out: Candidate[] = [];
      for (const p of this.index.candidates(t.kind, t.namespace)) {
        if (!matchNamespace(p.match, t, ns, false)) continue;
        const excludeHere = p.exclude !== undefined && matchNamespace(p.exclude, t, ns, true);
        if (excludeHere && !p.exclude!.selector) continue;
        const selector = p.match.selector;
        const excludeSelector = excludeHere ? p.exclude!.selector : undefined;
        out.push({ policy: p, ...(selector ? { selector } : {}), ...(excludeSelector ? { excludeSelector } : {}), readsLabels: Boolean(selector || excludeSelector || p.exceptions.some((e) => e.selector) || readsLabelConditions(p)) });
      }
      if (memo.size >= MAX_NAMESPACE_MEMO) memo.clear();
      memo.set(t.namespace, (list = out));
    }
    return list;
  }

  /** Policies whose match holds and whose exclude does not, in policy order. */
  private matching(t: Target): GovernancePolicy[] {
    const out: GovernancePolicy[] = [];
    let own: Labels | undefined;
    for (const c of this.namespaceCandidates(t)) {
      if (c.selector && !matches(c.selector, (own ??= labelsOf(t.obj)))) continue;
      if (c.excludeSelector && matches(c.excludeSelector, (own ??= labelsOf(t.obj)))) continue;
      out.push(c.policy);
    }
    return out;
  }

  /**
   * What excuses a rule of `policy` for this object: the policy's exceptions first, then an allowed annotation. The
   * object-dependent part (namespace, name, kind, labels, annotations) is evaluated once, when the first rule asks;
   * each rule then only checks which rules an exception names.
   */
  private excuser(policy: GovernancePolicy, t: Target): (rule: RuleName | CelRuleName, family?: RuleFamily) => ExceptionUse | undefined {
    let listed: GovernancePolicy['exceptions'] | undefined;
    let annotations: Record<string, unknown> | undefined | null = null;
    return (rule, family = GOVERNANCE_RULES[rule as RuleName]) => {
      if (rule === 'protect-migration-source') return undefined;
      if (policy.exceptions.length) {
        if (!listed) {
          let own: Labels | undefined;
          listed = policy.exceptions.filter(
            (e) =>
              (!e.namespace || e.namespace.test(t.namespace)) &&
              (!e.name || e.name.test(t.name)) &&
              (!e.kinds || e.kinds.has(t.group, t.version, t.kind)) &&
              (!e.selector || matches(e.selector, (own ??= labelsOf(t.obj)))),
          );
        }
        for (const e of listed) if (!e.rules || e.rules.has(rule) || e.rules.has(family)) return { via: 'policy', reason: e.reason };
      }
      const allow = policy.allowExceptionAnnotations;
      if (allow.size && (allow.has(rule) || allow.has(family))) {
        if (annotations === null) annotations = metadataMap(t.obj, ['metadata'], 'annotations');
        for (const key of EXCEPTION_KEYS[rule as RuleName] ?? [EXCEPTION_ANNOTATION_PREFIX + rule, EXCEPTION_ANNOTATION_PREFIX + family]) {
          const reason = annotations?.[key];
          // The reason is the user's text (logged, shown, annotated): kept to its start.
          if (typeof reason === 'string' && reason.trim()) return { via: 'annotation', reason: clip(reason.trim(), MAX_REASON_LENGTH) };
        }
      }
      return undefined;
    };
  }

  // ------------------------------------------------------------------ mutate

  /**
   * Fills defaults. Never throws; the patch is empty when the object is already complete (idempotent).
   * `inPlace`: the defaults go into `object` itself (a caller that owns it, like the webhook with the object it just
   * parsed); otherwise `object` is left as it was and `mutated` shares its unchanged parts.
   */
  mutate(object: unknown, ctx: ReviewContext, opts: { readonly inPlace?: boolean } = {}): MutateOutcome {
    const op: Operation = ctx.operation ?? 'CREATE';
    if (op !== 'CREATE' && op !== 'UPDATE') return { patch: [], mutated: object, results: [], policies: [], skipped: 'operation' };
    const t0 = this.target(object, ctx);
    if (typeof t0 === 'string') return { patch: [], mutated: object, results: [], policies: [], skipped: t0 };
    if (getIn(t0.obj, ['metadata', 'deletionTimestamp'])) return { patch: [], mutated: object, results: [], policies: [], skipped: 'deleting' };
    const rec = new PatchRecorder(t0.obj, opts);
    const working = rec.doc;
    let t: Target = working === t0.obj ? t0 : { ...t0, obj: working };
    // Pod specs are immutable on UPDATE, and so is a Job's whole pod template.
    const specMutable = t.location !== undefined && !(op === 'UPDATE' && (t.workload === 'Pod' || t.workload === 'Job'));
    const templateMutable = !(op === 'UPDATE' && t.workload === 'Job');
    // Made when first needed: most reviews have no exception and no error (a review's Maps are part of its cost).
    let results: Map<string, RuleResult> | undefined;
    const seen: GovernancePolicy[] = [];
    // Whether an exception excuses a policy's rule, per pass: tag rules ask once per key.
    let excused: Map<GovernancePolicy, Map<RuleName, boolean>> | undefined;
    let matched = this.matching(t);
    const deadline = ctx.deadline;
    let steps = 0;
    for (let pass = 0; pass < MAX_MUTATION_PASSES; pass++) {
      const before = rec.edits;
      const labelsBefore = rec.labelEdits;
      const annotationsBefore = rec.annotationEdits;
      for (const p of matched) {
        if (deadline !== undefined && steps++ % DEADLINE_EVERY === 0 && this.now() >= deadline) return mutationCutOff(object, results, seen, matched);
        const excusable = p.exceptions.length > 0 || p.allowExceptionAnnotations.size > 0;
        let mine: Map<RuleName, boolean> | undefined;
        let excuse: ((rule: RuleName) => ExceptionUse | undefined) | undefined;
        const allowed = !excusable ? ALL_ALLOWED : (rule: RuleName) => {
          if (!mine) (excused ??= new Map()).set(p, (mine = new Map()));
          let skip = mine.get(rule);
          if (skip === undefined) {
            const e = (excuse ??= this.excuser(p, t))(rule);
            mine.set(rule, (skip = e !== undefined));
            const key = `${p.name}|${rule}`;
            if (e && !(results ??= new Map()).has(key)) results.set(key, { policy: p.name, rule, family: GOVERNANCE_RULES[rule], mode: p.mode, status: 'skip', path: '', message: `skipped by exception: ${e.reason}`, exception: e });
          }
          return !skip;
        };
        try {
          // Reading what a condition needs checks the deadline (an object may hold thousands of volumes).
          if (!conditionHolds(p.when, t)) continue;
          if (!seen.includes(p)) seen.push(p);
          if (p.resources && specMutable && conditionHolds(p.resources.when, t) && allowed('default-resources')) mutateResources(p.resources, t, rec);
          if (p.labels.length) mutateTags(p, 'labels', t, rec, allowed, templateMutable);
          if (p.annotations.length) mutateTags(p, 'annotations', t, rec, allowed, templateMutable);
        } catch (e) {
          if (e instanceof ReviewDeadlineExceeded) return mutationCutOff(object, results, seen, matched);
          (results ??= new Map()).set(`${p.name}|error`, this.internalError(p, e));
        }
      }
      if (rec.edits === before) break;
      // Every edit is "add where absent", so running the same policies with the same exceptions again adds nothing:
      // another pass is needed only when a label or annotation added here changes which policies match or which
      // exceptions apply. Deciding that costs a fraction of a pass.
      const labelsChanged = rec.labelEdits !== labelsBefore && this.namespaceCandidates(t).some((c) => c.readsLabels);
      const exceptionAnnotationsChanged = this.defaultsExceptionAnnotations && rec.annotationEdits !== annotationsBefore && matched.some((p) => p.allowExceptionAnnotations.size > 0);
      // A `when` on labels or container resources may decide otherwise once this pass's defaults are in. The next
      // pass gets a new Target: conditions are read once per object as it stands.
      const fresh: Target = { ...t };
      let whenChanged: boolean;
      try {
        whenChanged = this.conditional.size > 0 && matched.some((p) => this.conditional.has(p) && conditionsChanged(p, t, fresh));
      } catch (e) {
        if (e instanceof ReviewDeadlineExceeded) return mutationCutOff(object, results, seen, matched);
        throw e;
      }
      if (!labelsChanged && !exceptionAnnotationsChanged && !whenChanged) break;
      t = fresh;
      const next = this.matching(t);
      const sameExceptions = [...(excused ?? [])].every(([p, rules]) => {
        const excuse = this.excuser(p, t);
        return [...rules].every(([rule, skip]) => (excuse(rule) !== undefined) === skip);
      });
      if (!whenChanged && sameExceptions && next.length === matched.length && next.every((p, i) => p === matched[i])) break;
      matched = next;
      excused = undefined;
    }
    const patch = rec.finish();
    const list = results ? [...results.values()] : [];
    return { patch, mutated: patch.length ? working : object, results: list, policies: seen.map((p) => summarize(p, list)) };
  }

  private internalError(p: GovernancePolicy, e: unknown): RuleResult {
    // Unreachable by design (the property tests feed arbitrary objects); kept so one bad object never fails a request.
    return { policy: p.name, rule: 'default-resources', family: 'resources', mode: p.mode, status: 'error', path: '', message: `could not be evaluated: ${(e as Error)?.message ?? String(e)}` };
  }

  // ------------------------------------------------------------------ validate

  /** `oldObject`: the stored object on UPDATE, for the immutable keys (absent when the old object is itself checked). */
  private findings(p: GovernancePolicy, t: Target, oldObject?: Record<string, unknown>): Finding[] {
    const out: Finding[] = [];
    if (p.resources && t.location && conditionHolds(p.resources.when, t)) validateResources(p.resources, t, out);
    if (p.labels.length) validateTags(p, 'labels', t, out);
    if (p.annotations.length) validateTags(p, 'annotations', t, out);
    if (p.migration && t.location) out.push(...validateMigration(p, t));
    if (oldObject && this.immutable.has(p)) {
      validateImmutable(p, 'labels', t, oldObject, out);
      validateImmutable(p, 'annotations', t, oldObject, out);
    }
    return out;
  }

  /** Checks the object as mutated. Never throws. */
  validate(object: unknown, ctx: ReviewContext): ValidateOutcome {
    const op: Operation = ctx.operation ?? 'CREATE';
    if (op === 'DELETE') return this.validateDelete(ctx);
    if (op !== 'CREATE' && op !== 'UPDATE') return { results: [], policies: [], decision: EMPTY, skipped: 'operation' };
    const t = this.target(object, ctx);
    if (typeof t === 'string') return { results: [], policies: [], decision: EMPTY, skipped: t };
    // Updates of an object being deleted (finalizer removal) must always pass, or it could never go away.
    if (getIn(t.obj, ['metadata', 'deletionTimestamp'])) return { results: [], policies: [], decision: EMPTY, skipped: 'deleting' };
    const policies = this.matching(t);
    // A controller ownerReference is written by the creator and proves nothing (a user may forge one); only an object
    // that a workload controller itself creates or updates is let through with a warning.
    const owner = isWorkloadController(ctx.requestedBy) ? controllerOwner(t.obj) : undefined;
    const old = op === 'UPDATE' && isRecord(ctx.oldObject) ? { ...t, obj: ctx.oldObject } : undefined;
    const results: RuleResult[] = [];
    let inputs: CelInputs | undefined;
    // Bounded answer: at most MAX_REPORTED results of each kind are kept (denials, warnings, exceptions); the rest
    // are counted. Counters only: a review without findings allocates nothing for this.
    let denied = 0;
    let warned = 0;
    let excused = 0;
    let skipped = 0;
    let omitted: Omitted | undefined;
    const deadline = ctx.deadline;
    for (let i = 0; i < policies.length; i++) {
      const p = policies[i]!;
      if (deadline !== undefined && i % DEADLINE_EVERY === 0 && this.now() >= deadline) return validationCutOff(results, policies, i, omitted);
      let found: Finding[];
      let cel: CelFinding[] = [];
      try {
        if (this.conditional.has(p)) {
          const { skips, more } = conditionSkips(p, t, MAX_REPORTED - skipped);
          skipped += skips.length;
          for (const sk of skips) results.push({ policy: p.name, rule: sk.rule, family: GOVERNANCE_RULES[sk.rule], mode: p.mode, status: 'skip', path: sk.path, message: sk.message, condition: sk.condition });
          if (more) {
            const o = (omitted ??= { denials: 0, warnings: 0, exceptions: 0 });
            o.skipped = (o.skipped ?? 0) + more;
          }
          if (!conditionHolds(p.when, t)) continue;
        }
        found = this.findings(p, t, old?.obj);
        if (p.cel && celApplies(p, t)) cel = evaluateValidations(p.cel, (inputs ??= celInputs(t, ctx)), t);
      } catch (e) {
        if (e instanceof ReviewDeadlineExceeded) return validationCutOff(results, policies, i, omitted);
        results.push(this.internalError(p, e));
        continue;
      }
      if (!found.length && !cel.length) continue;
      let before: Map<string, Finding> | undefined;
      if (old && p.allowExistingViolations) {
        try {
          before = indexFindings(this.findings(p, old));
        } catch (e) {
          if (e instanceof ReviewDeadlineExceeded) return validationCutOff(results, policies, i, omitted);
          before = undefined;
        }
      }
      const excuse = this.excuser(p, t);
      for (let k = 0; k < found.length; k++) {
        if (deadline !== undefined && (k & 255) === 255 && this.now() >= deadline) return validationCutOff(results, policies, i, omitted);
        const f = found[k]!;
        const exception = excuse(f.rule);
        let status: RuleResult['status'];
        let message = f.message;
        if (exception) status = 'skip';
        else if (f.status === 'error') status = 'error';
        else {
          // Grandfathered only when the old object had the same violation (same container name) and it is not worse.
          // Never for an immutable key: the change itself is the violation, and the stored object cannot have made it.
          const was = IMMUTABLE_RULES.has(f.rule) ? undefined : before?.get(findingKey(f));
          if (was && notWorse(f, was)) {
            status = 'warn';
            message = `${message} (pre-existing)`;
          } else {
            if (was) message = `${message} (made worse by this update: was ${describeBefore(was)})`;
            status = owner ? 'warn' : 'fail';
            if (owner) message = `${message} (owned by ${owner.kind} ${owner.name})`;
          }
        }
        const kind = status === 'skip' ? 'exceptions' : status === 'fail' && p.mode === 'enforce' ? 'denials' : 'warnings';
        const n = kind === 'denials' ? denied++ : kind === 'warnings' ? warned++ : excused++;
        if (n >= MAX_REPORTED) {
          (omitted ??= { denials: 0, warnings: 0, exceptions: 0 })[kind]++;
          continue;
        }
        const base = { policy: p.name, rule: f.rule, family: GOVERNANCE_RULES[f.rule], mode: p.mode, path: formatPath(f.path) };
        results.push(exception ? { ...base, status, message, exception } : { ...base, status, message });
      }
      // CEL validations see oldObject themselves (no grandfathering), and an error fails closed in enforce (blocks()).
      for (const f of cel) {
        const exception = excuse(f.rule, 'cel');
        const status: RuleResult['status'] = exception ? 'skip' : f.status;
        const kind = status === 'skip' ? 'exceptions' : p.mode === 'enforce' ? 'denials' : 'warnings';
        const n = kind === 'denials' ? denied++ : kind === 'warnings' ? warned++ : excused++;
        if (n >= MAX_REPORTED) {
          (omitted ??= { denials: 0, warnings: 0, exceptions: 0 })[kind]++;
          continue;
        }
        const base = { policy: p.name, rule: f.rule, family: 'cel' as const, mode: p.mode, path: '', ...(f.reason ? { reason: f.reason } : {}) };
        results.push(exception ? { ...base, status, message: f.message, exception } : { ...base, status, message: f.message });
      }
    }
    return { results, policies: policies.map((p) => summarize(p, results)), decision: results.length ? decide(results, omitted) : EMPTY };
  }

  private validateDelete(ctx: ReviewContext): ValidateOutcome {
    const t = this.target(ctx.oldObject ?? {}, ctx);
    if (typeof t === 'string') return { results: [], policies: [], decision: EMPTY, skipped: t };
    const hit = checkDeleteOfMigrationSource(t, ctx.oldObject);
    if (!hit) return { results: [], policies: [], decision: EMPTY };
    const base = { policy: hit.migration, rule: 'protect-migration-source' as const, family: 'migration' as const, mode: 'enforce' as const };
    const r: RuleResult = hit.forced
      ? { ...base, status: 'warn', path: '', message: `${t.kind} ${t.namespace}/${t.name} is the source of a running migration; deleted anyway (${FORCE_DELETE_ANNOTATION}=true)` }
      : {
          ...base,
          status: 'fail',
          path: '',
          message: `${t.kind} ${t.namespace}/${t.name} is the source of a running migration: wait until it ends, or annotate ${FORCE_DELETE_ANNOTATION}="true" to delete anyway`,
        };
    return { results: [r], policies: [{ policy: hit.migration, mode: 'enforce', result: hit.forced ? 'warn' : 'fail' }], decision: decide([r]) };
  }

  // ------------------------------------------------------------------ both

  /** What `kubectl apply` would get: mutate, then validate the mutated object (the same order as the API server). */
  review(object: unknown, ctx: ReviewContext): ReviewOutcome {
    const mutation = this.mutate(object, ctx);
    const validation = this.validate(mutation.mutated, ctx);
    return { mutation, validation };
  }
}

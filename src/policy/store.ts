// Holds the policy set in force. Each source (files, cluster) offers its complete candidate; every valid document in it
// is taken, and an invalid one keeps its last good version (same kind/namespace/name) in force, so one bad file or
// object never empties or freezes the set. The cross-checks leave out only the policies that fail them.
import { buildPolicySet, EMPTY_POLICY_SET, policyId, type PolicySet } from './policy-set.js';
import type { AnyPolicy } from './parse.js';
import type { PolicyError } from './types.js';

export type PolicyListener = (set: PolicySet) => void;

export interface ReloadOutcome {
  /** True when every document of the candidate is in force as offered; false when some were held back. */
  readonly applied: boolean;
  /** This source's problems: invalid documents and policies the cross-checks left out. */
  readonly errors: readonly PolicyError[];
  /** Policies (kind/namespace/name) whose new version is invalid, so their last good version stays in force. */
  readonly kept: readonly string[];
  readonly set: PolicySet;
}

/** What a source last offered, for readiness and metrics. */
export interface SourceState {
  readonly source: string;
  /** Every problem of the source as of its last offer (and the last cross-check). */
  readonly errors: readonly PolicyError[];
  /** When the source last offered a candidate without any error (ms since the epoch); undefined: never. */
  readonly lastSuccessMs?: number;
}

/**
 * The policyId() of the policy an error names (`ScalingPolicy/shop/x`; `ScalingPolicy/x` is in the default namespace;
 * GovernancePolicy is cluster-scoped), or undefined when it names none.
 */
function namedPolicy(e: PolicyError): string | undefined {
  if (!e.policy) return undefined;
  const parts = e.policy.split('/');
  const [kind, name] = [parts[0]!, parts[parts.length - 1]!];
  if (parts.length < 2 || name === '?') return undefined;
  return kind === 'GovernancePolicy' ? `${kind}/${name}` : `${kind}/${parts.length === 3 ? parts[1] : 'default'}/${name}`;
}

/** A problem with a whole file or directory (cannot read or list it), not with one of its documents. */
function wholeFile(e: PolicyError): boolean {
  return e.document === undefined && !e.policy;
}

/**
 * The last good versions that stay in force: for each invalid document, the previous policy it names; when it names
 * none (a syntax error, an unknown kind), every previous policy of its file; for an unreadable file or directory,
 * every previous policy under it. A policy the candidate defines again is never kept. Indexed: linear in the sizes.
 */
function keepPrevious(previous: readonly AnyPolicy[], candidate: readonly AnyPolicy[], errors: readonly PolicyError[]): AnyPolicy[] {
  if (!errors.length || !previous.length) return [];
  const offered = new Set(candidate.map(policyId));
  const byId = new Map<string, AnyPolicy>();
  const byFile = new Map<string, AnyPolicy[]>();
  for (const p of previous) {
    byId.set(policyId(p), p);
    const list = byFile.get(p.origin.file);
    if (list) list.push(p);
    else byFile.set(p.origin.file, [p]);
  }
  const kept = new Map<string, AnyPolicy>();
  const keep = (p: AnyPolicy | undefined) => {
    if (p && !offered.has(policyId(p))) kept.set(policyId(p), p);
  };
  for (const e of errors) {
    const id = namedPolicy(e);
    if (id) keep(byId.get(id));
    else if (!wholeFile(e)) byFile.get(e.file)?.forEach(keep);
    else {
      const dir = e.file.endsWith('/') ? e.file : `${e.file}/`;
      for (const [file, list] of byFile) if (file === e.file || file.startsWith(dir)) list.forEach(keep);
    }
  }
  return [...kept.values()];
}

export class PolicyStore {
  private set: PolicySet = EMPTY_POLICY_SET;
  /** Per source: what it contributes (its valid documents plus kept last good versions). */
  private readonly contributions = new Map<string, readonly AnyPolicy[]>();
  private readonly parseErrors = new Map<string, readonly PolicyError[]>();
  private crossErrors = new Map<string, PolicyError[]>();
  /** Per source: policies whose new version failed a cross-check and whose version in force stays. */
  private crossKept = new Map<string, string[]>();
  private readonly lastSuccess = new Map<string, number>();
  private readonly listeners = new Set<PolicyListener>();

  constructor(private readonly now: () => number = Date.now) {}

  current(): PolicySet {
    return this.set;
  }

  /** Every current problem of every source; empty when everything offered is in force. */
  lastErrors(): readonly PolicyError[] {
    return this.sources().flatMap((s) => s.errors);
  }

  /** The sources that offered at least once, in the order they first did. */
  sources(): SourceState[] {
    return [...this.contributions.keys()].map((source) => {
      const at = this.lastSuccess.get(source);
      return { source, errors: this.errorsOf(source), ...(at !== undefined ? { lastSuccessMs: at } : {}) };
    });
  }

  private errorsOf(source: string): PolicyError[] {
    return [...(this.parseErrors.get(source) ?? []), ...(this.crossErrors.get(source) ?? [])];
  }

  /** Offers the complete candidate of one source (default "files"): its valid policies and its invalid documents' errors. */
  offer(policies: readonly AnyPolicy[], parseErrors: readonly PolicyError[], source = 'files'): ReloadOutcome {
    const kept = keepPrevious(this.contributions.get(source) ?? [], policies, parseErrors);
    this.contributions.set(source, [...policies, ...kept]);
    this.parseErrors.set(source, parseErrors);
    this.rebuild();
    const errors = this.errorsOf(source);
    if (!errors.length) this.lastSuccess.set(source, this.now());
    for (const l of this.listeners) l(this.set);
    const keptIds = [...new Set([...kept.map(policyId), ...(this.crossKept.get(source) ?? [])])];
    return { applied: errors.length === 0, errors, kept: keptIds, set: this.set };
  }

  /** Merges every source's contribution and cross-checks it; a policy that fails keeps its version in force, if any. */
  private rebuild(): void {
    const owner = new Map<AnyPolicy, string>();
    const merged: AnyPolicy[] = [];
    for (const [source, list] of this.contributions) {
      for (const p of list) {
        owner.set(p, source);
        merged.push(p);
      }
    }
    const before = new Map<string, AnyPolicy>();
    for (const p of [...this.set.scaling, ...this.set.migration, ...this.set.governance]) before.set(policyId(p), p);
    const incumbent = (p: AnyPolicy) => {
      const b = before.get(policyId(p));
      if (!b || b.origin.file !== p.origin.file) return false;
      return p.kind !== 'ScalingPolicy' || b.kind !== 'ScalingPolicy' || (b.target.kind === p.target.kind && b.target.name === p.target.name);
    };
    const generation = this.set.generation + 1;
    let built = buildPolicySet(merged, generation, { incumbent });
    const errors = [...built.errors];
    // A policy whose new version fails a cross-check keeps the version in force, if it had one: one more pass.
    const inSet = new Set([...built.set.scaling, ...built.set.migration, ...built.set.governance].map(policyId));
    const excluded = new Set(built.excluded);
    const substituted = new Map<string, string[]>();
    const second = merged.map((p) => {
      if (!excluded.has(p) || inSet.has(policyId(p))) return p;
      const b = before.get(policyId(p));
      if (!b || b === p) return p;
      const source = owner.get(p)!;
      owner.set(b, source);
      substituted.set(source, [...(substituted.get(source) ?? []), policyId(p)]);
      inSet.add(policyId(p));
      return b;
    });
    this.crossKept = substituted;
    if (substituted.size) {
      built = buildPolicySet(second, generation, { incumbent });
      const known = new Set(errors.map((e) => `${e.policy}|${e.path}|${e.message}`));
      for (const e of built.errors) if (!known.has(`${e.policy}|${e.path}|${e.message}`)) errors.push(e);
    }
    const bySource = new Map<string, PolicyError[]>();
    const sourceOf = new Map<string, string>();
    for (const [p, s] of owner) sourceOf.set(`${p.origin.file}#${p.origin.document}|${policyId(p)}`, s);
    for (const e of errors) {
      const s = sourceOf.get(`${e.file}#${e.document}|${e.policy}`) ?? 'files';
      bySource.set(s, [...(bySource.get(s) ?? []), e]);
    }
    this.crossErrors = bySource;
    this.set = built.set;
  }

  onChange(listener: PolicyListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

// An immutable, cross-checked set of policies: what the servers use until a newer set replaces it.
import type { GovernancePolicy } from './governance-policy.js';
import type { AnyPolicy } from './parse.js';
import type { MigrationPolicy, PolicyError, ScalingPolicy } from './types.js';

export interface PolicySet {
  /** Increments on every reload. */
  readonly generation: number;
  readonly scaling: readonly ScalingPolicy[];
  readonly migration: readonly MigrationPolicy[];
  readonly governance: readonly GovernancePolicy[];
}

export const EMPTY_POLICY_SET: PolicySet = Object.freeze({ generation: 0, scaling: [], migration: [], governance: [] });

/** The identity of a policy across reloads and sources: kind/name (cluster-scoped GovernancePolicy) or kind/namespace/name. */
export function policyId(p: AnyPolicy): string {
  return p.kind === 'GovernancePolicy' ? `${p.kind}/${p.name}` : `${p.kind}/${p.namespace}/${p.name}`;
}

export interface BuildOptions {
  /**
   * Which of two clashing policies keeps its place (the one already in force), so that adding a duplicate or a second
   * policy for the same workload never displaces the one that enforces today. Default: the first in order.
   */
  readonly incumbent?: (p: AnyPolicy) => boolean;
}

export interface BuildResult {
  /** Every policy that passed the cross-checks; the offending ones are left out, never the whole set. */
  readonly set: PolicySet;
  /** One error per policy left out. */
  readonly errors: PolicyError[];
  readonly excluded: AnyPolicy[];
}

/** Indexes of `list`, incumbents first, otherwise in order (a stable partition). */
function incumbentsFirst(list: readonly AnyPolicy[], which: readonly number[], incumbent: (p: AnyPolicy) => boolean): number[] {
  return [...which.filter((i) => incumbent(list[i]!)), ...which.filter((i) => !incumbent(list[i]!))];
}

/**
 * Checks what no single document can: duplicate names, one scaling policy per workload, and references between
 * policies. Each offending policy is left out with an error; the rest form the set (in their original order).
 */
export function buildPolicySet(policies: readonly AnyPolicy[], generation: number, o: BuildOptions = {}): BuildResult {
  const incumbent = o.incumbent ?? (() => false);
  const errors: PolicyError[] = [];
  // By index: the same object may be offered twice.
  const out = new Set<number>();
  const exclude = (i: number, path: string, message: string) => {
    const p = policies[i]!;
    out.add(i);
    errors.push({ file: p.origin.file, document: p.origin.document, policy: policyId(p), path, message });
  };
  const all = policies.map((_, i) => i);

  const seen = new Map<string, AnyPolicy>();
  for (const i of incumbentsFirst(policies, all, incumbent)) {
    const p = policies[i]!;
    const prev = seen.get(policyId(p));
    if (prev) exclude(i, 'metadata.name', `duplicate policy name: already defined in ${prev.origin.file} (document ${prev.origin.document})`);
    else seen.set(policyId(p), p);
  }
  // One workload scaled by two policies would publish two competing decisions.
  const targets = new Map<string, AnyPolicy>();
  const scalingIdx = all.filter((i) => policies[i]!.kind === 'ScalingPolicy' && !out.has(i));
  for (const i of incumbentsFirst(policies, scalingIdx, incumbent)) {
    const s = policies[i] as ScalingPolicy;
    const key = `${s.namespace}/${s.target.kind}/${s.target.name}`;
    const prev = targets.get(key);
    if (prev) exclude(i, 'spec.target', `${s.target.kind} ${s.namespace}/${s.target.name} is already scaled by ${policyId(prev)} (${prev.origin.file})`);
    else targets.set(key, s);
  }
  // References last: a migration whose ScalingPolicy was left out above is left out too.
  const scaling = new Set(all.filter((i) => policies[i]!.kind === 'ScalingPolicy' && !out.has(i)).map((i) => policyId(policies[i]!)));
  for (const i of all) {
    const m = policies[i]!;
    if (m.kind !== 'MigrationPolicy' || out.has(i) || !m.capacity || !('scalingPolicy' in m.capacity)) continue;
    const ref = m.capacity.scalingPolicy;
    if (!scaling.has(`ScalingPolicy/${m.namespace}/${ref}`)) {
      exclude(i, 'spec.capacity.scalingPolicy', `no ScalingPolicy "${ref}" in namespace ${m.namespace}`);
    }
  }
  const kept = policies.filter((_, i) => !out.has(i));
  const set: PolicySet = Object.freeze({
    generation,
    scaling: kept.filter((p): p is ScalingPolicy => p.kind === 'ScalingPolicy'),
    migration: kept.filter((p): p is MigrationPolicy => p.kind === 'MigrationPolicy'),
    governance: kept.filter((p): p is GovernancePolicy => p.kind === 'GovernancePolicy'),
  });
  return { set, errors, excluded: [...out].sort((a, b) => a - b).map((i) => policies[i]!) };
}

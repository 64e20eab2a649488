// An immutable, cross-checked set of policies: what the servers use until a newer valid set replaces it.
import type { GovernancePolicy } from './governance-policy.js';
import type { AnyPolicy } from './parse.js';
import type { MigrationPolicy, PolicyError, ScalingPolicy } from './types.js';

export interface PolicySet {
  /** Increments on every successful reload. */
  readonly generation: number;
  readonly scaling: readonly ScalingPolicy[];
  readonly migration: readonly MigrationPolicy[];
  readonly governance: readonly GovernancePolicy[];
}

export const EMPTY_POLICY_SET: PolicySet = Object.freeze({ generation: 0, scaling: [], migration: [], governance: [] });

function id(p: AnyPolicy): string {
  return p.kind === 'GovernancePolicy' ? `${p.kind}/${p.name}` : `${p.kind}/${p.namespace}/${p.name}`;
}

/** Checks what no single document can: duplicate names and references between policies. */
export function buildPolicySet(policies: readonly AnyPolicy[], generation: number): { set?: PolicySet; errors: PolicyError[] } {
  const errors: PolicyError[] = [];
  const seen = new Map<string, AnyPolicy>();
  for (const p of policies) {
    const key = id(p);
    const prev = seen.get(key);
    if (prev) {
      errors.push({
        file: p.origin.file,
        document: p.origin.document,
        policy: key,
        path: 'metadata.name',
        message: `duplicate policy name: already defined in ${prev.origin.file} (document ${prev.origin.document})`,
      });
    } else seen.set(key, p);
  }
  const scaling = policies.filter((p): p is ScalingPolicy => p.kind === 'ScalingPolicy');
  const migration = policies.filter((p): p is MigrationPolicy => p.kind === 'MigrationPolicy');
  const governance = policies.filter((p): p is GovernancePolicy => p.kind === 'GovernancePolicy');
  for (const m of migration) {
    if (m.capacity && 'scalingPolicy' in m.capacity) {
      const ref = m.capacity.scalingPolicy;
      if (!scaling.some((s) => s.namespace === m.namespace && s.name === ref)) {
        errors.push({
          file: m.origin.file,
          document: m.origin.document,
          policy: id(m),
          path: 'spec.capacity.scalingPolicy',
          message: `no ScalingPolicy "${ref}" in namespace ${m.namespace}`,
        });
      }
    }
  }
  // One workload scaled by two policies would publish two competing decisions.
  const targets = new Map<string, AnyPolicy>();
  for (const s of scaling) {
    const key = `${s.namespace}/${s.target.kind}/${s.target.name}`;
    const prev = targets.get(key);
    if (prev) {
      errors.push({
        file: s.origin.file,
        document: s.origin.document,
        policy: id(s),
        path: 'spec.target',
        message: `${s.target.kind} ${s.namespace}/${s.target.name} is already scaled by ${id(prev)} (${prev.origin.file})`,
      });
    } else targets.set(key, s);
  }
  if (errors.length) return { errors };
  return { set: Object.freeze({ generation, scaling, migration, governance }), errors };
}

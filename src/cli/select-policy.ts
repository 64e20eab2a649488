// Loads policy files for the offline commands (simulate, hpa) and picks the ScalingPolicy or MigrationPolicy to use.
import { loadCheckedPolicies } from '../policy/load-files.js';
import { formatPolicyError, type MigrationPolicy, type ScalingPolicy } from '../policy/types.js';

export class PolicySelectionError extends Error {
  override name = 'PolicySelectionError';
}

export interface SelectedPolicies {
  /** Every scaling and migration policy in the files, for --all and capacity references. */
  readonly scaling: readonly ScalingPolicy[];
  readonly migration: readonly MigrationPolicy[];
}

/** Reads and validates the files; any policy error fails the command with the errors listed. */
export async function loadScalingPolicies(paths: readonly string[]): Promise<SelectedPolicies> {
  const r = await loadCheckedPolicies(paths);
  if (!r.files.length && !r.errors.length) throw new PolicySelectionError(`no policy files found in ${paths.join(', ')}`);
  if (r.errors.length) throw new PolicySelectionError(`invalid policies:\n${r.errors.map((e) => `  ${formatPolicyError(e)}`).join('\n')}`);
  return {
    scaling: r.policies.filter((p): p is ScalingPolicy => p.kind === 'ScalingPolicy'),
    migration: r.policies.filter((p): p is MigrationPolicy => p.kind === 'MigrationPolicy'),
  };
}

/**
 * The policy to act on: the one named by `name` (optionally "namespace/name"), else the only one. When a file holds a
 * MigrationPolicy and the ScalingPolicy it takes its capacity from, the MigrationPolicy is the one meant.
 */
export function selectPolicy(set: SelectedPolicies, name?: string): ScalingPolicy | MigrationPolicy {
  const all: (ScalingPolicy | MigrationPolicy)[] = [...set.migration, ...set.scaling];
  const describe = (p: ScalingPolicy | MigrationPolicy) => `${p.kind} ${p.namespace}/${p.name}`;
  if (name) {
    const [ns, n] = name.includes('/') ? name.split('/', 2) : [undefined, name];
    const hits = all.filter((p) => p.name === n && (ns === undefined || p.namespace === ns));
    if (hits.length === 1) return hits[0]!;
    if (!hits.length) throw new PolicySelectionError(`no ScalingPolicy or MigrationPolicy named "${name}"; found: ${all.map(describe).join(', ') || 'none'}`);
    throw new PolicySelectionError(`"${name}" is ambiguous: ${hits.map(describe).join(', ')}; use --name namespace/name`);
  }
  if (all.length === 1) return all[0]!;
  if (!all.length) throw new PolicySelectionError('the files hold no ScalingPolicy or MigrationPolicy');
  if (set.migration.length === 1) {
    const m = set.migration[0]!;
    const ref = m.capacity && 'scalingPolicy' in m.capacity ? m.capacity.scalingPolicy : undefined;
    if (set.scaling.every((s) => s.name === ref && s.namespace === m.namespace)) return m;
  }
  throw new PolicySelectionError(`the files hold several policies (${all.map(describe).join(', ')}); pick one with --name`);
}

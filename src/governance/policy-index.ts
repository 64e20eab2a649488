// Policies indexed by kind and namespace once per policy set, so a request only looks at the policies that can match it.
import { WORKLOAD_KINDS, type GovernancePolicy, type WorkloadKind } from '../policy/governance-policy.js';

interface KindBucket {
  /** Policies that name this exact namespace. */
  readonly byNamespace: Map<string, GovernancePolicy[]>;
  /** Policies with no namespace list or with wildcard patterns: checked for every namespace. */
  readonly anyNamespace: GovernancePolicy[];
}

export class PolicyIndex {
  private readonly byKind = new Map<WorkloadKind, KindBucket>();
  private readonly order = new Map<GovernancePolicy, number>();
  readonly size: number;

  /** Policies apply in name order, so the first policy's default wins when two set the same value. */
  constructor(policies: readonly GovernancePolicy[]) {
    const sorted = [...policies].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.size = sorted.length;
    sorted.forEach((p, i) => this.order.set(p, i));
    for (const kind of WORKLOAD_KINDS) this.byKind.set(kind, { byNamespace: new Map(), anyNamespace: [] });
    for (const p of sorted) {
      const kinds = p.match.kinds ?? WORKLOAD_KINDS;
      for (const kind of kinds) {
        const bucket = this.byKind.get(kind)!;
        const names = p.match.namespaces;
        if (!names || names.some((n) => !n.exact)) {
          bucket.anyNamespace.push(p);
          continue;
        }
        for (const n of new Set(names.map((x) => x.text))) {
          let list = bucket.byNamespace.get(n);
          if (!list) bucket.byNamespace.set(n, (list = []));
          list.push(p);
        }
      }
    }
  }

  /** Candidates in policy order; the caller still checks selectors, wildcards and exclude. */
  candidates(kind: WorkloadKind, namespace: string): readonly GovernancePolicy[] {
    const bucket = this.byKind.get(kind);
    if (!bucket) return [];
    const named = bucket.byNamespace.get(namespace);
    if (!named) return bucket.anyNamespace;
    if (!bucket.anyNamespace.length) return named;
    return [...named, ...bucket.anyNamespace].sort((a, b) => this.order.get(a)! - this.order.get(b)!);
  }
}

// Policies indexed by kind and namespace once per policy set, so a request only looks at the policies that can match it.
import { matchKinds, type GovernancePolicy } from '../policy/governance-policy.js';

interface KindBucket {
  /** Policies that name this exact namespace. */
  readonly byNamespace: Map<string, GovernancePolicy[]>;
  /** Policies with no namespace list or with wildcard patterns: checked for every namespace. */
  readonly anyNamespace: GovernancePolicy[];
  /** The API groups policies name this kind in; undefined: some policy names it in any group. */
  groups: Set<string> | undefined;
}

export class PolicyIndex {
  /** By kind name; the group and version are checked with the rest of the match. */
  private readonly byKind = new Map<string, KindBucket>();
  private readonly order = new Map<GovernancePolicy, number>();
  readonly size: number;

  /** Policies apply in name order, so the first policy's default wins when two set the same value. */
  constructor(policies: readonly GovernancePolicy[]) {
    const sorted = [...policies].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.size = sorted.length;
    sorted.forEach((p, i) => this.order.set(p, i));
    for (const p of sorted) {
      const kinds = matchKinds(p.match);
      for (const kind of kinds.names) {
        let bucket = this.byKind.get(kind);
        if (!bucket) this.byKind.set(kind, (bucket = { byNamespace: new Map(), anyNamespace: [], groups: new Set() }));
        for (const r of kinds.refs) if (r.kind === kind) bucket.groups = r.group === undefined || !bucket.groups ? undefined : bucket.groups.add(r.group);
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
  /** Whether some policy names this kind in this group: the engine skips every other kind at once. */
  knows(group: string, kind: string): boolean {
    const b = this.byKind.get(kind);
    return b !== undefined && (b.groups === undefined || b.groups.has(group));
  }

  candidates(kind: string, namespace: string): readonly GovernancePolicy[] {
    const bucket = this.byKind.get(kind);
    if (!bucket) return [];
    const named = bucket.byNamespace.get(namespace);
    if (!named) return bucket.anyNamespace;
    if (!bucket.anyNamespace.length) return named;
    return [...named, ...bucket.anyNamespace].sort((a, b) => this.order.get(a)! - this.order.get(b)!);
  }
}

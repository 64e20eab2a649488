// Cross-policy checks of GovernancePolicies that no single document can fail: reported by `governor lint` as warnings.
import type { GovernancePolicy } from '../policy/governance-policy.js';
import type { PolicyError } from '../policy/types.js';
import { skippedNamespaces } from './engine.js';

export function governanceWarnings(policies: readonly GovernancePolicy[]): PolicyError[] {
  const out: PolicyError[] = [];
  const warn = (p: GovernancePolicy, path: string, message: string) =>
    out.push({ file: p.origin.file, document: p.origin.document, policy: `GovernancePolicy/${p.name}`, path, message });
  const sorted = [...policies].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const defaults = new Map<string, { policy: GovernancePolicy; value: string }>();
  for (const p of sorted) {
    for (const [field, rules] of [
      ['labels', p.labels],
      ['annotations', p.annotations],
    ] as const) {
      for (const r of rules) {
        if (r.default === undefined) continue;
        const key = `${field}/${r.key}`;
        const first = defaults.get(key);
        if (!first) defaults.set(key, { policy: p, value: r.default });
        else if (first.value !== r.default) {
          warn(p, `spec.${field}.${r.key}.default`, `default "${r.default}" conflicts with "${first.value}" of policy ${first.policy.name}; where both match, ${first.policy.name} applies first and wins`);
        }
      }
    }
    for (const n of p.match.namespaces ?? []) {
      if (n.exact && skippedNamespaces().includes(n.text)) warn(p, 'spec.match.namespaces', `${n.text} is never evaluated by the webhook (so the cluster cannot be locked out)`);
    }
    if (p.spec.validations?.length && p.spec.match?.kinds?.some((k) => String(k).split('/').pop() === 'Pod')) {
      warn(p, 'spec.validations', 'CEL validations read the object itself: with kind Pod they run on Pods only, not on the pod templates of controllers (Pod autogen applies to the built-in rules); name the controller kinds to check them too');
    }
    p.spec.exceptions?.forEach((e, i) => {
      if (e.namespace === undefined && e.name === undefined && e.kinds === undefined && e.selector === undefined) {
        warn(p, `spec.exceptions[${i}]`, `names no namespace, name, kinds or selector: it excuses every object${e.rules?.length ? ` from ${e.rules.join(', ')}` : ' from the whole policy'}`);
      }
    });
  }
  return out;
}

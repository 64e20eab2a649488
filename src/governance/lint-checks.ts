// Cross-policy checks of GovernancePolicies that no single document can fail: reported by `governor lint` as warnings.
import { namesPodBearingKind, type CompiledCondition, type GovernancePolicy } from '../policy/governance-policy.js';
import { BUILTIN_KINDS, WORKLOAD_KINDS } from '../policy/kinds.js';
import type { PolicyError } from '../policy/types.js';
import { skippedNamespaces } from './engine.js';

/** The PodSpec volume sources (core/v1 Volume): a `when.volumeTypes` entry outside them never matches. */
export const VOLUME_TYPES: readonly string[] = [
  'awsElasticBlockStore', 'azureDisk', 'azureFile', 'cephfs', 'cinder', 'configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral',
  'fc', 'flexVolume', 'flocker', 'gcePersistentDisk', 'gitRepo', 'glusterfs', 'hostPath', 'image', 'iscsi', 'nfs', 'persistentVolumeClaim',
  'photonPersistentDisk', 'portworxVolume', 'projected', 'quobyte', 'rbd', 'scaleIO', 'secret', 'storageos', 'vsphereVolume',
];

/** Warnings about a `when` that can never hold, or that makes what it guards never apply. */
function conditionWarnings(c: CompiledCondition | undefined, warn: (path: string, message: string) => void, immutable: boolean): void {
  if (!c) return;
  for (const v of c.volumeTypes ?? []) {
    if (!VOLUME_TYPES.includes(v)) warn(`${c.at}.volumeTypes`, `"${v}" is not a volume type Kubernetes knows (${VOLUME_TYPES.includes(v[0]!.toLowerCase() + v.slice(1)) ? `did you mean ${v[0]!.toLowerCase() + v.slice(1)}?` : 'emptyDir, hostPath, configMap, secret, persistentVolumeClaim...'}): the condition never holds for it`);
  }
  if (immutable && c.operations && !c.operations.has('UPDATE')) warn(`${c.at}.operations`, 'immutable is only checked on UPDATE, which this condition excludes: it never applies');
}

export function governanceWarnings(policies: readonly GovernancePolicy[]): PolicyError[] {
  const out: PolicyError[] = [];
  const warn = (p: GovernancePolicy, path: string, message: string) =>
    out.push({ file: p.origin.file, document: p.origin.document, policy: `GovernancePolicy/${p.name}`, path, message });
  const sorted = [...policies].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const defaults = new Map<string, { policy: GovernancePolicy; value: string; overwrite: boolean }>();
  for (const p of sorted) {
    for (const [field, rules] of [
      ['labels', p.labels],
      ['annotations', p.annotations],
    ] as const) {
      for (const r of rules) {
        if (r.default === undefined) continue;
        const key = `${field}/${r.key}`;
        const first = defaults.get(key);
        if (!first) defaults.set(key, { policy: p, value: r.default, overwrite: r.overwrite });
        else if (first.value !== r.default) {
          // A later overwrite replaces the first one's value; when both overwrite, they do so again on every review.
          const outcome = !r.overwrite
            ? `${first.policy.name} applies first and wins`
            : first.overwrite
              ? `both overwrite: the value changes twice on every review (the patch is never empty)`
              : `${p.name} overwrites it and wins`;
          warn(p, `spec.${field}.${r.key}.default`, `default "${r.default}" conflicts with "${first.value}" of policy ${first.policy.name}; where both match, ${outcome}`);
        }
      }
    }
    for (const r of p.match.kinds?.refs ?? []) {
      const b = BUILTIN_KINDS[r.kind];
      if (b && !b.namespaced && (r.group === undefined || r.group === b.group)) {
        warn(p, 'spec.match.kinds', `${r.text} is cluster-scoped: governor review and governor test check it, but the webhook never registers writes of cluster-scoped kinds (a broken webhook could lock the cluster out)`);
      }
    }
    if (p.resources && p.match.kinds && namesPodBearingKind(p.match.kinds)) {
      const others = p.match.kinds.refs.filter((r) => !(WORKLOAD_KINDS as readonly string[]).includes(r.kind));
      if (others.length) warn(p, 'spec.resources', `resource rules act on pods and pod controllers only: not on ${others.map((r) => r.text).join(', ')}`);
    }
    const at = (path: string, message: string) => warn(p, path, message);
    const anyImmutable = p.labels.some((r) => r.immutable) || p.annotations.some((r) => r.immutable);
    conditionWarnings(p.when, at, anyImmutable);
    conditionWarnings(p.resources?.when, at, false);
    for (const r of [...p.labels, ...p.annotations]) {
      conditionWarnings(r.when, at, r.immutable !== undefined);
      r.immutable?.transitions.forEach((tr, i) => {
        if (tr.from !== undefined && tr.from === tr.to && tr.from !== '*') warn(p, `spec.${r.family === 'annotations' ? 'annotations' : 'labels'}.${r.key}.transitions[${i}]`, 'from and to are the same value: an unchanged value is always allowed');
      });
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

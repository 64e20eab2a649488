// Kinds a policy names (match/exclude/exceptions kinds), in Kyverno's forms: Kind, group/Kind, group/version/Kind.
// The table of built-in kinds gives their API group (so a bare "Deployment" keeps meaning apps' Deployment), their
// resource name and scope (the webhook's registration rules) and whether they carry a pod spec.

/** The kinds that carry a pod spec: resource and container rules act on these only. */
export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Pod'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** The pod controllers whose pod templates `Pod` also covers (autogen). */
export const POD_CONTROLLERS: readonly WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob'];

export interface BuiltinKind {
  readonly group: string;
  readonly version: string;
  /** Plural resource name, as in a webhook rule. */
  readonly resource: string;
  readonly namespaced: boolean;
}

/**
 * Built-in kinds by name. A kind outside this table (a custom resource, or a built-in missing here) is resolved by
 * API discovery when the webhook registers it.
 */
export const BUILTIN_KINDS: Readonly<Record<string, BuiltinKind>> = {
  Pod: { group: '', version: 'v1', resource: 'pods', namespaced: true },
  Deployment: { group: 'apps', version: 'v1', resource: 'deployments', namespaced: true },
  StatefulSet: { group: 'apps', version: 'v1', resource: 'statefulsets', namespaced: true },
  DaemonSet: { group: 'apps', version: 'v1', resource: 'daemonsets', namespaced: true },
  ReplicaSet: { group: 'apps', version: 'v1', resource: 'replicasets', namespaced: true },
  Job: { group: 'batch', version: 'v1', resource: 'jobs', namespaced: true },
  CronJob: { group: 'batch', version: 'v1', resource: 'cronjobs', namespaced: true },
  Service: { group: '', version: 'v1', resource: 'services', namespaced: true },
  ConfigMap: { group: '', version: 'v1', resource: 'configmaps', namespaced: true },
  Secret: { group: '', version: 'v1', resource: 'secrets', namespaced: true },
  PersistentVolumeClaim: { group: '', version: 'v1', resource: 'persistentvolumeclaims', namespaced: true },
  ServiceAccount: { group: '', version: 'v1', resource: 'serviceaccounts', namespaced: true },
  ReplicationController: { group: '', version: 'v1', resource: 'replicationcontrollers', namespaced: true },
  LimitRange: { group: '', version: 'v1', resource: 'limitranges', namespaced: true },
  ResourceQuota: { group: '', version: 'v1', resource: 'resourcequotas', namespaced: true },
  Ingress: { group: 'networking.k8s.io', version: 'v1', resource: 'ingresses', namespaced: true },
  NetworkPolicy: { group: 'networking.k8s.io', version: 'v1', resource: 'networkpolicies', namespaced: true },
  HorizontalPodAutoscaler: { group: 'autoscaling', version: 'v2', resource: 'horizontalpodautoscalers', namespaced: true },
  PodDisruptionBudget: { group: 'policy', version: 'v1', resource: 'poddisruptionbudgets', namespaced: true },
  Role: { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'roles', namespaced: true },
  RoleBinding: { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'rolebindings', namespaced: true },
  Namespace: { group: '', version: 'v1', resource: 'namespaces', namespaced: false },
  Node: { group: '', version: 'v1', resource: 'nodes', namespaced: false },
  PersistentVolume: { group: '', version: 'v1', resource: 'persistentvolumes', namespaced: false },
  StorageClass: { group: 'storage.k8s.io', version: 'v1', resource: 'storageclasses', namespaced: false },
  IngressClass: { group: 'networking.k8s.io', version: 'v1', resource: 'ingressclasses', namespaced: false },
  ClusterRole: { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterrolebindings', namespaced: false },
};

/** A kind as a policy names it. `group` undefined: any group; `version` undefined: any version. */
export interface KindRef {
  /** As written, for messages. */
  readonly text: string;
  readonly group?: string;
  readonly version?: string;
  readonly kind: string;
}

const VERSION = /^v[0-9]+((alpha|beta)[0-9]+)?$/;
const KIND = /^[A-Za-z][A-Za-z0-9]{0,62}$/;
const GROUP = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Kyverno's parse: `Kind` (a built-in kind in its own group, any other kind in any group), `group/Kind` (or
 * `version/Kind` for the core group when the first segment looks like a version: `v1/Pod`), `group/version/Kind`.
 * `core` is the core group. Returns a message for anything else.
 */
export function parseKindRef(text: string): KindRef | string {
  const parts = text.split('/');
  const kind = parts[parts.length - 1]!;
  if (!KIND.test(kind)) return `"${text.slice(0, 80)}": the kind must be a name such as Deployment (no wildcards)`;
  const groupOf = (g: string) => (g === 'core' ? '' : g);
  const badGroup = (g: string) => `"${text.slice(0, 80)}": "${g.slice(0, 80)}" is not an API group`;
  if (parts.length === 1) {
    const b = BUILTIN_KINDS[kind];
    return b ? { text, group: b.group, kind } : { text, kind };
  }
  if (parts.length === 2) {
    const first = parts[0]!;
    if (VERSION.test(first)) return { text, group: '', version: first, kind };
    if (first !== 'core' && !GROUP.test(first)) return badGroup(first);
    return { text, group: groupOf(first), kind };
  }
  if (parts.length === 3) {
    const [g, v] = parts as [string, string, string];
    if (g !== 'core' && g !== '' && !GROUP.test(g)) return badGroup(g);
    if (!VERSION.test(v)) return `"${text.slice(0, 80)}": "${v.slice(0, 80)}" is not an API version (v1, v1beta1...)`;
    return { text, group: groupOf(g), version: v, kind };
  }
  return `"${text.slice(0, 80)}": expected Kind, group/Kind or group/version/Kind`;
}

export function isPodRef(r: KindRef): boolean {
  return r.kind === 'Pod' && (r.group === undefined || r.group === '');
}

/** Whether an object of (group, version, kind) is one the ref names. */
export function kindRefMatches(r: KindRef, group: string, version: string, kind: string): boolean {
  return r.kind === kind && (r.group === undefined || r.group === group) && (r.version === undefined || r.version === version);
}

/** The workload kind for a group and kind (pod-bearing), or undefined. */
export function workloadKindOf(group: string, kind: string): WorkloadKind | undefined {
  return (WORKLOAD_KINDS as readonly string[]).includes(kind) && BUILTIN_KINDS[kind]!.group === group ? (kind as WorkloadKind) : undefined;
}

/** The refs a policy's kind list stands for: `Pod` adds the pod controllers (autogen). */
export function expandPod(refs: readonly KindRef[]): KindRef[] {
  const out = [...refs];
  if (refs.some(isPodRef)) {
    for (const k of POD_CONTROLLERS) if (!out.some((r) => r.kind === k && r.group === BUILTIN_KINDS[k]!.group && r.version === undefined)) out.push({ text: 'Pod', group: BUILTIN_KINDS[k]!.group, kind: k });
  }
  return out;
}

/** The refs of no kind list: the workload kinds (what a policy without kinds has always matched). */
export const DEFAULT_KIND_REFS: readonly KindRef[] = WORKLOAD_KINDS.map((k) => ({ text: k, group: BUILTIN_KINDS[k]!.group, kind: k }));

/**
 * The namespace a review reads for an object (the CLI; the webhook gets it from the request): a Namespace is in
 * itself (as Kyverno matches it), other cluster-scoped built-in kinds in none, anything else where its metadata says
 * or `fallback`.
 */
export function reviewNamespace(obj: unknown, fallback: string): string {
  const o = typeof obj === 'object' && obj !== null ? (obj as Record<string, any>) : {};
  const meta = typeof o.metadata === 'object' && o.metadata !== null ? o.metadata : {};
  const core = o.apiVersion === 'v1';
  if (core && o.kind === 'Namespace') return typeof meta.name === 'string' ? meta.name : '';
  const b = typeof o.kind === 'string' ? BUILTIN_KINDS[o.kind] : undefined;
  const group = typeof o.apiVersion === 'string' && o.apiVersion.includes('/') ? o.apiVersion.slice(0, o.apiVersion.indexOf('/')) : '';
  if (b && !b.namespaced && b.group === group) return '';
  return typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : fallback;
}

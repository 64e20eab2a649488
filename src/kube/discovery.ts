// API discovery for the registrar: which resource serves a kind a policy names (custom resources, built-ins missing
// from src/policy/kinds.ts). Discovery is readable by every authenticated client (system:discovery): no RBAC added.
import { ApisApi, KubernetesObjectApi, type KubeConfig } from '@kubernetes/client-node';
import type { KindDiscovery } from './registration.js';

/** KubernetesObjectApi keeps its cached per-group-version resource lookup protected: this exposes it. */
class ResourceLookup extends KubernetesObjectApi {
  lookup(apiVersion: string, kind: string) {
    return this.resource(apiVersion, kind);
  }
}

export function clientDiscovery(kc: KubeConfig): KindDiscovery {
  const apis = kc.makeApiClient(ApisApi);
  const objects = kc.makeApiClient(ResourceLookup);
  return {
    async groups() {
      const list = await apis.getAPIVersions();
      return [{ group: '', preferredVersion: 'v1' }, ...(list.groups ?? []).map((g) => ({ group: g.name, preferredVersion: g.preferredVersion?.version ?? g.versions[0]?.version ?? 'v1' }))];
    },
    async resource(group, version, kind) {
      try {
        const r = await objects.lookup(group ? `${group}/${version}` : version, kind);
        // A subresource (deployments/status) serves the same kind: the resource is the part before the slash.
        return r ? { name: r.name.split('/')[0]!, namespaced: r.namespaced } : undefined;
      } catch (e) {
        // A group/version the server does not serve: not this kind.
        if ((e as { code?: number }).code === 404) return undefined;
        throw e;
      }
    },
  };
}

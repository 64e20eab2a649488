// The kubeconfig of the commands that talk to a cluster (certs, migrate): apart from src/cli/conventions.ts so that
// the other commands never load @kubernetes/client-node.
import type { KubeConfig } from '@kubernetes/client-node';
import { loadCliKubeConfig } from '../kube/client.js';
import type { KubeFlags } from './conventions.js';

/** The kubeconfig of a CLI command (kubectl's loading rules); undefined when there is none at all. */
export function cliKubeConfig(f: KubeFlags): KubeConfig | undefined {
  return loadCliKubeConfig({ kubeconfig: f.kubeconfig, context: f.context });
}

/** The namespace: -n, else the context's namespace, else "default" (kubectl's). */
export function contextNamespace(kc: KubeConfig | undefined, flag: string | undefined): string {
  return flag ?? (kc ? kc.getContextObject(kc.getCurrentContext())?.namespace : undefined) ?? 'default';
}

// Where the Kubernetes API credentials come from: an explicit kubeconfig file, else the in-cluster ServiceAccount, else none.
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

/** A kubeconfig file that was named explicitly but could not be read or parsed. */
export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super(`cannot load kubeconfig ${path}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/** Seam for tests; production callers pass nothing. */
export interface InClusterProbe {
  /** Prefix before /var/run/secrets/kubernetes.io/serviceaccount (client-node's `pathPrefix`). */
  readonly pathPrefix?: string;
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Loads credentials for the Kubernetes API.
 * - `kubeconfigPath` given: that file (a missing or broken file throws KubeConfigError, never falls through,
 *   so a typo cannot silently talk to another cluster).
 * - else in a Pod (KUBERNETES_SERVICE_HOST/PORT set and a ServiceAccount token mounted): in-cluster config.
 * - else undefined: the caller runs without the API (e.g. policies from files only).
 * The KUBECONFIG variable is deliberately not read here; CLIs may pass it as the default path.
 */
export function loadKubeConfig(kubeconfigPath?: string, probe: InClusterProbe = {}): KubeConfig | undefined {
  const kc = new KubeConfig();
  if (kubeconfigPath) {
    try {
      kc.loadFromFile(kubeconfigPath);
    } catch (e) {
      throw new KubeConfigError(kubeconfigPath, e);
    }
    if (!kc.getCurrentCluster()) throw new KubeConfigError(kubeconfigPath, new Error('no current cluster (check current-context)'));
    return kc;
  }
  const prefix = probe.pathPrefix ?? '';
  const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } = process.env;
  if (host && port && existsSync(prefix + SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster(prefix);
    return kc;
  }
  return undefined;
}

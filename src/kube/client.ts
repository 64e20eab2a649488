// Where the Kubernetes API credentials come from. One loader for the server and the CLI:
// - the server (`loadKubeConfig`): an explicit kubeconfig file, else the in-cluster ServiceAccount, else none;
// - the CLI (`loadCliKubeConfig`): kubectl's order: --kubeconfig, else $KUBECONFIG (a list, merged), else ~/.kube/config,
//   else in-cluster.
// Both take --context.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
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

/** Seam for tests (pathPrefix) and --context. */
export interface InClusterProbe {
  /** Prefix before /var/run/secrets/kubernetes.io/serviceaccount (client-node's `pathPrefix`). */
  readonly pathPrefix?: string;
  /** --context: the kubeconfig context to use instead of current-context (an unknown name throws KubeConfigError). */
  readonly context?: string;
}

/** --context applied to a loaded config: an unknown context is an error, never a fall-back to current-context. */
function useContext(kc: KubeConfig, source: string, context: string | undefined): KubeConfig {
  if (context !== undefined) {
    if (!kc.getContextObject(context)) {
      throw new KubeConfigError(source, new Error(`context "${context}" does not exist (contexts: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`));
    }
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) throw new KubeConfigError(source, new Error('no current cluster (check current-context or --context)'));
  return kc;
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
    return useContext(kc, kubeconfigPath, probe.context);
  }
  const prefix = probe.pathPrefix ?? '';
  const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } = process.env;
  if (host && port && existsSync(prefix + SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster(prefix);
    return useContext(kc, 'in-cluster config', probe.context);
  }
  if (probe.context !== undefined) throw new KubeConfigError('(none)', new Error(`--context "${probe.context}" needs a kubeconfig (--kubeconfig)`));
  return undefined;
}

/** The server's loader from its options (--kubeconfig, --context): file, else in-cluster, else none. */
export function serverKubeConfig(o: { readonly kubeconfig?: string | undefined; readonly kubeContext?: string | undefined }): KubeConfig | undefined {
  return loadKubeConfig(o.kubeconfig, o.kubeContext !== undefined ? { context: o.kubeContext } : {});
}

export interface CliKubeConfigOptions {
  /** --kubeconfig: this file only (missing or broken: KubeConfigError). */
  readonly kubeconfig?: string | undefined;
  /** --context. */
  readonly context?: string | undefined;
  /** Seams for tests: the environment (KUBECONFIG, HOME) and the in-cluster prefix. */
  readonly env?: NodeJS.ProcessEnv;
  readonly pathPrefix?: string;
}

/**
 * kubectl's loading rules (client-go's clientcmd; client-node's `loadFromDefault` order):
 * 1. --kubeconfig: that file only;
 * 2. $KUBECONFIG: a list of files (":"-separated), merged: the first file to set current-context wins, and so does the first
 *    definition of each named cluster, user and context; files that do not exist are skipped;
 * 3. ~/.kube/config ($HOME);
 * 4. the in-cluster ServiceAccount;
 * else undefined. --context then picks the context (unknown: KubeConfigError).
 */
export function loadCliKubeConfig(o: CliKubeConfigOptions = {}): KubeConfig | undefined {
  const env = o.env ?? process.env;
  if (o.kubeconfig) return loadKubeConfig(o.kubeconfig, { ...(o.context !== undefined ? { context: o.context } : {}) });
  const list = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const files = list.length ? list.filter((f) => existsSync(f)) : [join(env.HOME || homedir(), '.kube', 'config')].filter((f) => existsSync(f));
  if (list.length && !files.length) throw new KubeConfigError(list.join(delimiter), new Error('none of the files in KUBECONFIG exists'));
  if (files.length) {
    const merged = { clusters: [] as KubeConfig['clusters'], users: [] as KubeConfig['users'], contexts: [] as KubeConfig['contexts'], currentContext: '' };
    for (const f of files) {
      const one = new KubeConfig();
      try {
        one.loadFromFile(f);
      } catch (e) {
        throw new KubeConfigError(f, e);
      }
      if (!merged.currentContext && one.getCurrentContext()) merged.currentContext = one.getCurrentContext();
      for (const [to, from] of [
        [merged.clusters, one.clusters],
        [merged.users, one.users],
        [merged.contexts, one.contexts],
      ] as [{ name: string }[], { name: string }[]][]) {
        for (const x of from) if (!to.some((y) => y.name === x.name)) to.push(x);
      }
    }
    const kc = new KubeConfig();
    kc.loadFromOptions(merged);
    return useContext(kc, files.join(delimiter), o.context);
  }
  return loadKubeConfig(undefined, { ...(o.pathPrefix !== undefined ? { pathPrefix: o.pathPrefix } : {}), ...(o.context !== undefined ? { context: o.context } : {}) });
}

// Installs kube-governor inside a cluster that runs pods (kind, hack/kind-e2e.sh) the way users do: `kubectl apply -k`
// of manifests/base through a generated kustomization (the e2e image, the suite's policies in the policies ConfigMap,
// --allowed-source-hosts for the load endpoint), then `governor certs` with the certificate job's own ServiceAccount
// token (real Secrets, real caBundle patches), then waits for the Deployment and the APIService to be Available.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, type LocalCluster } from '../harness/cluster.js';
import { CHART_DIR, helmBinary, localImageArgs } from '../../lib/helm.js';
import { governorCli } from './governor-process.js';
import { apiServiceAvailable, APISERVICE, CERTS_SERVICE_ACCOUNT, NAMESPACE, SERVICE, WEBHOOK_CONFIGURATION } from './install.js';
import { E2E_IMAGE, writeInstallKustomization, type InstallKustomizationOptions } from './incluster-manifests.js';
import { waitFor } from './wait.js';

export const DEPLOYMENT = 'kube-governor';
export const SERVER_SELECTOR = 'app.kubernetes.io/name=kube-governor,app.kubernetes.io/component=server';

export interface InClusterInstallOptions extends InstallKustomizationOptions {
  readonly cluster: LocalCluster;
  /** Scratch directory owned by the caller (kustomization, certificates, kubeconfig). */
  readonly workDir: string;
  /** Deadline for the Deployment to become Available (image already in the node; Secret mount retries). */
  readonly availableTimeoutMs?: number;
}

export interface InClusterInstallation {
  readonly kustomizationDir: string;
  /** ca.crt written by `governor certs --out-dir` (the bundle patched into caBundle). */
  readonly caFile: string;
  /** Output of `governor certs`, for assertions. */
  readonly certsOutput: string;
  /** Names of the server pods once Available. */
  readonly pods: readonly string[];
  /** Seconds per install phase, where the method records them (reported by the suite). */
  readonly phases?: Readonly<Record<string, number>>;
  /** Pod and Deployment state, events and the server logs, for failure messages. */
  diagnostics(namespaces?: readonly string[]): Promise<string>;
  uninstall(): Promise<void>;
}

async function kubectlOk(cluster: LocalCluster, args: string[], input?: string, timeoutMs?: number): Promise<string> {
  const r = await cluster.kubectl(args, { ...(input !== undefined ? { input } : {}), ...(timeoutMs ? { timeoutMs } : {}) });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A kubeconfig that authenticates with a ServiceAccount token, so the command gets exactly that account's RBAC. */
function tokenKubeconfig(cluster: LocalCluster, file: string, user: string, token: string): void {
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'e2e', cluster: { server: cluster.apiserverUrl, 'certificate-authority': cluster.caFile } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: user, context: { cluster: 'e2e', user, namespace: NAMESPACE } }],
      'current-context': user,
    }),
    { mode: 0o600 },
  );
}

interface DeploymentState {
  replicas: number;
  updated: number;
  available: number;
  ready: number;
  conditions: string[];
}

async function deploymentState(cluster: LocalCluster, ns: string, name: string): Promise<DeploymentState | string> {
  const r = await cluster.kubectl(['-n', ns, 'get', 'deployment', name, '-o', 'json']);
  if (r.code !== 0) return r.stderr.trim();
  const d = JSON.parse(r.stdout);
  return {
    replicas: d.spec?.replicas ?? 0,
    updated: d.status?.updatedReplicas ?? 0,
    available: d.status?.availableReplicas ?? 0,
    ready: d.status?.readyReplicas ?? 0,
    conditions: (d.status?.conditions ?? []).map((c: { type: string; status: string; reason?: string }) => `${c.type}=${c.status}${c.reason ? `(${c.reason})` : ''}`),
  };
}

/** Waits until every replica of the Deployment is updated and available, and Available=True. */
export async function waitDeploymentAvailable(cluster: LocalCluster, ns: string, name: string, timeoutMs: number): Promise<void> {
  await waitFor(
    `Deployment ${ns}/${name} Available with every replica updated and available`,
    async () => {
      const s = await deploymentState(cluster, ns, name);
      const done = typeof s !== 'string' && s.replicas > 0 && s.updated === s.replicas && s.available === s.replicas && s.conditions.some((c) => c.startsWith('Available=True'));
      return { done, seen: s };
    },
    { timeoutMs, intervalMs: 1000 },
  );
}

/** A previous run's `delete --wait=false` may still be finishing: apply into a Terminating namespace fails. */
async function waitNamespaceGone(cluster: LocalCluster, ns: string, timeoutMs: number): Promise<void> {
  await waitFor(
    `namespace ${ns} of an earlier run to finish terminating`,
    async () => {
      const r = await cluster.kubectl(['get', 'namespace', ns, '-o', 'jsonpath={.status.phase}', '--ignore-not-found']);
      return { done: r.code === 0 && r.stdout.trim() !== 'Terminating', seen: r.stdout.trim() || r.stderr.trim() };
    },
    { timeoutMs, intervalMs: 1000 },
  );
}

/**
 * How the suite installs kube-governor (E2E_INSTALL): each method yields the same installation (Secrets from
 * `governor certs`, Deployment and APIService Available) so every test after the install runs unchanged. A method is
 * one entry here (e.g. `helm install` of charts/kube-governor once the chart exists).
 */
export const INSTALL_METHODS = {
  kustomize: (o: InClusterInstallOptions) => installInCluster(o),
  helm: (o: InClusterInstallOptions) => installWithHelm(o),
} as const satisfies Record<string, (o: InClusterInstallOptions) => Promise<InClusterInstallation>>;
export type InstallMethod = keyof typeof INSTALL_METHODS;

/** The method named by E2E_INSTALL (default kustomize); an unknown name is an error that lists the known ones. */
export function installMethod(name: string = process.env.E2E_INSTALL ?? 'kustomize'): InstallMethod {
  if (!Object.hasOwn(INSTALL_METHODS, name)) throw new Error(`E2E_INSTALL=${name}: known install methods are ${Object.keys(INSTALL_METHODS).join(', ')}`);
  return name as InstallMethod;
}

/** `kubectl apply -k` of a kustomization over manifests/base, then `governor certs`. */
export async function installInCluster(o: InClusterInstallOptions): Promise<InClusterInstallation> {
  const { cluster, workDir } = o;
  const kustomizationDir = join(workDir, 'kustomization');
  const certDir = join(workDir, 'certs');
  mkdirSync(certDir, { recursive: true });

  const diagnostics = async (namespaces: readonly string[] = []): Promise<string> => {
    const parts: string[] = [];
    const add = async (title: string, args: string[], lines = 60) => {
      const r = await cluster.kubectl(args, { timeoutMs: 20_000 });
      parts.push(`--- ${title} ---\n${(r.stdout + r.stderr).trim().split('\n').slice(-lines).join('\n')}`);
    };
    parts.push(`--- APIService Available: ${JSON.stringify(await apiServiceAvailable(cluster))}`);
    parts.push(`--- Deployment ${NAMESPACE}/${DEPLOYMENT}: ${JSON.stringify(await deploymentState(cluster, NAMESPACE, DEPLOYMENT))}`);
    await add(`pods in ${NAMESPACE}`, ['-n', NAMESPACE, 'get', 'pods', '-o', 'wide']);
    await add(`events in ${NAMESPACE}`, ['-n', NAMESPACE, 'get', 'events', '--sort-by=.lastTimestamp'], 30);
    await add('server logs', ['-n', NAMESPACE, 'logs', '-l', SERVER_SELECTOR, '--prefix', '--tail=40', '--all-containers'], 80);
    for (const ns of namespaces) {
      await add(`deployments in ${ns}`, ['-n', ns, 'get', 'deploy', '-o', 'wide']);
      await add(`kubectl describe hpa -n ${ns}`, ['-n', ns, 'describe', 'hpa']);
      await add(`events in ${ns}`, ['-n', ns, 'get', 'events', '--sort-by=.lastTimestamp'], 30);
    }
    return parts.join('\n');
  };

  let uninstalled = false;
  const uninstall = async () => {
    if (uninstalled) return;
    uninstalled = true;
    // Webhook configurations first: with failurePolicy Fail, a configuration whose server is going away would block
    // Deployment writes in every other namespace.
    await cluster.kubectl(['delete', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', WEBHOOK_CONFIGURATION, '--ignore-not-found']);
    await cluster.kubectl(['delete', 'apiservice', APISERVICE, '--ignore-not-found']);
    await cluster.kubectl(['delete', '-k', kustomizationDir, '--ignore-not-found', '--wait=false'], { timeoutMs: 120_000 });
    rmSync(workDir, { recursive: true, force: true });
  };

  try {
    await waitNamespaceGone(cluster, NAMESPACE, 120_000);
    writeInstallKustomization(kustomizationDir, o);
    // 1. The manifests, as users apply them. The pods wait for the TLS Secret that step 2 creates.
    await kubectlOk(cluster, ['apply', '-k', kustomizationDir], undefined, 120_000);

    // 2. `governor certs` as the certificate job's ServiceAccount (rbac-certs.yaml is all it gets): creates the CA and
    //    serving certificate, stores them in the Secrets the Deployment mounts, patches caBundle into the APIService
    //    and both webhook configurations.
    const token = (await kubectlOk(cluster, ['-n', NAMESPACE, 'create', 'token', CERTS_SERVICE_ACCOUNT, '--duration=1h'])).trim();
    const certsKubeconfig = join(workDir, 'certs.kubeconfig');
    tokenKubeconfig(cluster, certsKubeconfig, CERTS_SERVICE_ACCOUNT, token);
    const certs = await governorCli(['certs', `--kubeconfig=${certsKubeconfig}`, `--namespace=${NAMESPACE}`, `--service-name=${SERVICE}`, `--out-dir=${certDir}`]);
    const certsOutput = certs.stdout + certs.stderr;
    if (certs.code !== 0) throw new Error(`governor certs failed (exit ${certs.code}):\n${certsOutput}`);

    // 3. The server pods: two replicas of the image, ready once they serve and enforce (readinessProbe /readyz on the metrics port).
    await waitDeploymentAvailable(cluster, NAMESPACE, DEPLOYMENT, o.availableTimeoutMs ?? 240_000);
    // 4. The aggregator's availability check (discovery through the Service with the front-proxy certificate).
    await waitFor(
      `APIService ${APISERVICE} Available=True`,
      async () => {
        const a = await apiServiceAvailable(cluster);
        return { done: a.status === 'True', seen: a };
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    const pods = (await kubectlOk(cluster, ['-n', NAMESPACE, 'get', 'pods', '-l', SERVER_SELECTOR, '--field-selector=status.phase=Running', '-o', 'jsonpath={.items[*].metadata.name}']))
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    return { kustomizationDir, caFile: join(certDir, 'ca.crt'), certsOutput, pods, diagnostics, uninstall };
  } catch (e) {
    const diag = await diagnostics().catch((d) => `(diagnostics failed: ${(d as Error).message})`);
    await uninstall().catch(() => undefined);
    throw new Error(`installing kube-governor in the cluster failed: ${(e as Error).message}\n${diag}`);
  }
}

/** The release name that keeps the names of manifests/base (docs/install.md#helm). */
export const HELM_RELEASE = 'kube-governor';

/**
 * `helm install` of charts/kube-governor, as docs/install.md#helm says: the namespace with its Pod Security label, the
 * policies as inline files, the local image, certificates by the chart's certs Job (certificates.mode=self). Yields
 * the same installation as the kustomize method; uninstall is `helm uninstall`, after which the garbage collector
 * removes the webhook configurations and the APIService the server registered (owned by the ClusterRole).
 */
export async function installWithHelm(o: InClusterInstallOptions): Promise<InClusterInstallation> {
  const { cluster, workDir } = o;
  const certDir = join(workDir, 'certs');
  const policyDir = join(workDir, 'policies');
  mkdirSync(certDir, { recursive: true });
  mkdirSync(policyDir, { recursive: true });
  // helm's own cache and config stay in the scratch directory (nothing written to $HOME).
  const env = {
    ...process.env,
    ...cluster.env,
    KUBECONFIG: cluster.kubeconfig,
    HELM_CACHE_HOME: join(workDir, 'helm', 'cache'),
    HELM_CONFIG_HOME: join(workDir, 'helm', 'config'),
    HELM_DATA_HOME: join(workDir, 'helm', 'data'),
  };
  const helm = async (args: string[], timeoutMs = 300_000) => {
    const r = await run(helmBinary(), args, { env, timeoutMs });
    if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const diagnostics = async (namespaces: readonly string[] = []): Promise<string> => {
    const parts: string[] = [`--- APIService Available: ${JSON.stringify(await apiServiceAvailable(cluster))}`];
    parts.push(`--- Deployment ${NAMESPACE}/${DEPLOYMENT}: ${JSON.stringify(await deploymentState(cluster, NAMESPACE, DEPLOYMENT))}`);
    for (const [title, args] of [
      [`pods and jobs in ${NAMESPACE}`, ['-n', NAMESPACE, 'get', 'pods,jobs', '-o', 'wide']],
      [`events in ${NAMESPACE}`, ['-n', NAMESPACE, 'get', 'events', '--sort-by=.lastTimestamp']],
      ['certs job logs', ['-n', NAMESPACE, 'logs', `job/${HELM_RELEASE}-certs-1`, '--tail=40']],
      ['server logs', ['-n', NAMESPACE, 'logs', '-l', SERVER_SELECTOR, '--prefix', '--tail=40']],
      ...namespaces.map((ns) => [`events in ${ns}`, ['-n', ns, 'get', 'events', '--sort-by=.lastTimestamp']] as const),
    ] as const) {
      const r = await cluster.kubectl([...args], { timeoutMs: 20_000 });
      parts.push(`--- ${title} ---\n${(r.stdout + r.stderr).trim().split('\n').slice(-40).join('\n')}`);
    }
    return parts.join('\n');
  };

  let uninstalled = false;
  const uninstall = async () => {
    if (uninstalled) return;
    uninstalled = true;
    try {
      await helm(['uninstall', HELM_RELEASE, '-n', NAMESPACE, '--wait', '--timeout=120s']);
      await waitFor(
        'the registered webhook configurations and APIService to be garbage-collected after helm uninstall',
        async () => {
          const hooks = await cluster.kubectl(['get', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', WEBHOOK_CONFIGURATION, '-o', 'name', '--ignore-not-found']);
          const api = await cluster.kubectl(['get', 'apiservice', APISERVICE, '-o', 'name', '--ignore-not-found']);
          const left = (hooks.stdout + api.stdout).trim();
          return { done: hooks.code === 0 && api.code === 0 && left === '', seen: left };
        },
        { timeoutMs: 120_000, intervalMs: 1000 },
      );
    } finally {
      // Whatever happened above, never leave a webhook or APIService without a server behind it.
      await cluster.kubectl(['delete', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', WEBHOOK_CONFIGURATION, '--ignore-not-found']);
      await cluster.kubectl(['delete', 'apiservice', APISERVICE, '--ignore-not-found']);
      await cluster.kubectl(['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=false']);
      rmSync(workDir, { recursive: true, force: true });
    }
  };

  const phases: Record<string, number> = {};
  let mark = Date.now();
  const phase = (name: string) => {
    phases[name] = Math.round((Date.now() - mark) / 100) / 10;
    mark = Date.now();
  };
  try {
    await waitNamespaceGone(cluster, NAMESPACE, 120_000);
    phase('namespace of the previous install gone');
    await kubectlOk(cluster, ['create', 'namespace', NAMESPACE]);
    await kubectlOk(cluster, ['label', 'namespace', NAMESPACE, 'pod-security.kubernetes.io/enforce=restricted']);
    const policyArgs: string[] = [];
    for (const [name, text] of Object.entries(o.policyFiles ?? {})) {
      if (!/^[\w.-]+$/.test(name)) throw new Error(`policy file name ${name}: letters, digits, . _ - only`);
      writeFileSync(join(policyDir, name), text);
      policyArgs.push('--set-file', `policies.files.${name.replaceAll('.', '\\.')}=${join(policyDir, name)}`);
    }
    // --wait: the Deployment Ready; the pods wait for the Secret the certs Job writes (no deadlock: docs/install.md).
    await helm([
      'install', HELM_RELEASE, CHART_DIR, '-n', NAMESPACE, '--wait', '--timeout=5m',
      ...localImageArgs(o.image ?? E2E_IMAGE, 'IfNotPresent'),
      ...policyArgs,
      ...(o.allowedSourceHosts?.length ? ['--set-json', `allowedSourceHosts=${JSON.stringify(o.allowedSourceHosts)}`] : []),
    ], 360_000);
    phase('helm install --wait');
    await kubectlOk(cluster, ['-n', NAMESPACE, 'wait', '--for=condition=complete', `job/${HELM_RELEASE}-certs-1`, '--timeout=120s'], undefined, 130_000);
    const certsOutput = await kubectlOk(cluster, ['-n', NAMESPACE, 'logs', `job/${HELM_RELEASE}-certs-1`]);
    await waitDeploymentAvailable(cluster, NAMESPACE, DEPLOYMENT, o.availableTimeoutMs ?? 240_000);
    await waitFor(
      `APIService ${APISERVICE} Available=True`,
      async () => {
        const a = await apiServiceAvailable(cluster);
        return { done: a.status === 'True', seen: a };
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    phase('certs Job, Deployment and APIService Available');
    const ca = (await kubectlOk(cluster, ['-n', NAMESPACE, 'get', 'secret', 'kube-governor-tls', '-o', "jsonpath={.data['ca\\.crt']}"])).trim();
    const caFile = join(certDir, 'ca.crt');
    writeFileSync(caFile, Buffer.from(ca, 'base64'));
    const pods = (await kubectlOk(cluster, ['-n', NAMESPACE, 'get', 'pods', '-l', SERVER_SELECTOR, '--field-selector=status.phase=Running', '-o', 'jsonpath={.items[*].metadata.name}']))
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    return { kustomizationDir: '', caFile, certsOutput, pods, phases, diagnostics, uninstall };
  } catch (e) {
    const diag = await diagnostics().catch((d) => `(diagnostics failed: ${(d as Error).message})`);
    await uninstall().catch(() => undefined);
    throw new Error(`installing kube-governor with helm failed: ${(e as Error).message}\n${diag}`);
  }
}

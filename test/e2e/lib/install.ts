// Installs kube-governor on the e2e control plane the way users do (kubectl apply -k of the real manifests, then
// `governor certs`), except that the server runs as a host process on loopback: the overlay manifests/overlays/local
// swaps the Deployment for an ExternalName Service (localhost), and this module patches the ports it names to the free
// ports the host process listens on.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT, type LocalCluster } from '../harness/cluster.js';
import { freePort } from '../harness/prometheus.js';
import { governorCli, startGovernorServe, waitServing, type GovernorProcess } from './governor-process.js';
import { waitFor } from './wait.js';

export const NAMESPACE = 'kube-governor';
export const SERVICE = 'kube-governor';
export const SERVICE_ACCOUNT = 'kube-governor';
export const CERTS_SERVICE_ACCOUNT = 'kube-governor-certs';
export const APISERVICE = 'v1beta1.external.metrics.k8s.io';
export const WEBHOOK_CONFIGURATION = 'kube-governor';
const OVERLAY = join(REPO_ROOT, 'manifests', 'overlays', 'local');

export interface InstallOptions {
  readonly cluster: LocalCluster;
  /** Passed as --policies (files or directories). */
  readonly policies: readonly string[];
  readonly prometheusUrl: string;
  /** Scratch directory owned by the caller (overlay, certificates, kubeconfigs, logs). */
  readonly workDir: string;
}

export interface Installation {
  readonly ports: { readonly adapter: number; readonly webhook: number; readonly metrics: number };
  /** CA bundle that signs the serving certificate (what `governor certs` patched into caBundle). */
  readonly caFile: string;
  readonly governor: GovernorProcess;
  /** Token kubeconfigs of the two ServiceAccounts the manifests create. */
  readonly kubeconfigs: { readonly server: string; readonly certs: string };
  readonly overlayDir: string;
  /** Output of the `governor certs` runs, for assertions. */
  readonly certsOutput: readonly string[];
  /** kubectl describe/get output and the governor log tail, for failure messages. */
  diagnostics(namespaces?: readonly string[]): Promise<string>;
  uninstall(): Promise<void>;
}

async function kubectlOk(cluster: LocalCluster, args: string[], input?: string): Promise<string> {
  const r = await cluster.kubectl(args, input !== undefined ? { input } : {});
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A kustomization beside the test's files that uses the local overlay and points the apiserver at our ports. */
async function writeOverlay(cluster: LocalCluster, dir: string, ports: { adapter: number; webhook: number }): Promise<void> {
  // How many webhooks each configuration has decides the JSON patch paths; read it from the overlay itself.
  const rendered = await kubectlOk(cluster, ['kustomize', OVERLAY]);
  const webhookCounts = new Map<string, number>();
  for (const doc of parseAllDocuments(rendered)) {
    const o = doc.toJS() as { kind?: string; webhooks?: unknown[] } | null;
    if (o?.kind === 'MutatingWebhookConfiguration' || o?.kind === 'ValidatingWebhookConfiguration') webhookCounts.set(o.kind, o.webhooks?.length ?? 0);
  }
  if (!webhookCounts.get('MutatingWebhookConfiguration') || !webhookCounts.get('ValidatingWebhookConfiguration')) {
    throw new Error(`manifests/overlays/local renders no Mutating/ValidatingWebhookConfiguration:\n${rendered.slice(0, 2000)}`);
  }
  const portPatch = (kind: string) =>
    Array.from({ length: webhookCounts.get(kind)! }, (_, i) => ({ op: 'replace', path: `/webhooks/${i}/clientConfig/service/port`, value: ports.webhook }));
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    // kustomize refuses absolute paths; a relative one may leave the kustomization root.
    resources: [relative(dir, OVERLAY)],
    patches: [
      {
        target: { kind: 'APIService', name: APISERVICE },
        patch: JSON.stringify([{ op: 'replace', path: '/spec/service/port', value: ports.adapter }]),
      },
      { target: { kind: 'MutatingWebhookConfiguration', name: WEBHOOK_CONFIGURATION }, patch: JSON.stringify(portPatch('MutatingWebhookConfiguration')) },
      { target: { kind: 'ValidatingWebhookConfiguration', name: WEBHOOK_CONFIGURATION }, patch: JSON.stringify(portPatch('ValidatingWebhookConfiguration')) },
    ],
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'kustomization.yaml'), JSON.stringify(kustomization, null, 2));
}

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

/** A previous run's `delete --wait=false` may still be finishing: apply into a Terminating namespace fails. */
async function waitNamespaceGone(cluster: LocalCluster, ns: string, timeoutMs: number): Promise<void> {
  await waitFor(
    `namespace ${ns} of an earlier run to finish terminating`,
    async () => {
      const r = await cluster.kubectl(['get', 'namespace', ns, '-o', 'jsonpath={.status.phase}', '--ignore-not-found']);
      return { done: r.code === 0 && r.stdout.trim() !== 'Terminating', seen: r.stdout.trim() || r.stderr.trim() };
    },
    { timeoutMs, intervalMs: 500 },
  );
}

export async function apiServiceAvailable(cluster: LocalCluster): Promise<{ status: string; reason: string; message: string }> {
  const r = await cluster.kubectl(['get', 'apiservice', APISERVICE, '-o', 'json']);
  if (r.code !== 0) return { status: 'Missing', reason: '', message: r.stderr.trim() };
  const cond = (JSON.parse(r.stdout).status?.conditions ?? []).find((c: { type: string }) => c.type === 'Available') ?? {};
  return { status: cond.status ?? 'Unknown', reason: cond.reason ?? '', message: cond.message ?? '' };
}

export async function installGovernor(o: InstallOptions): Promise<Installation> {
  const { cluster, workDir } = o;
  if ((process.env.E2E_TARGET ?? 'local') !== 'local') {
    // kind's apiserver runs in a container: localhost there is not this machine, and its pods cannot reach the
    // test's loopback Prometheus. test/e2e/incluster_test.ts installs the image in the cluster instead.
    throw new Error(`E2E_TARGET=${process.env.E2E_TARGET}: this suite installs kube-governor as a host process behind an ExternalName Service, which only works with hack/local-cluster.sh; kind runs test/e2e/incluster_test.ts`);
  }
  const overlayDir = join(workDir, 'overlay');
  const certDir = join(workDir, 'certs');
  const logFile = join(workDir, 'governor.log');
  const ports = { adapter: await freePort(), webhook: await freePort(), metrics: await freePort() };
  while (ports.webhook === ports.adapter) ports.webhook = await freePort();
  while (ports.metrics === ports.adapter || ports.metrics === ports.webhook) ports.metrics = await freePort();

  await waitNamespaceGone(cluster, NAMESPACE, 90_000);
  await writeOverlay(cluster, overlayDir, ports);
  // 1. The manifests, as users apply them (through the overlay for the host process).
  await kubectlOk(cluster, ['apply', '-k', overlayDir]);

  // 2. Identities: the server and the certificate job run with their own ServiceAccounts' tokens, so the RBAC in
  //    manifests/base (auth-delegator, extension-apiserver-authentication-reader, the least-privilege ClusterRole,
  //    rbac-certs) is what they get. Nothing below uses the admin kubeconfig on their behalf.
  const token = async (sa: string) => (await kubectlOk(cluster, ['-n', NAMESPACE, 'create', 'token', sa, '--duration=2h'])).trim();
  const kubeconfigs = { server: join(workDir, 'server.kubeconfig'), certs: join(workDir, 'certs.kubeconfig') };
  tokenKubeconfig(cluster, kubeconfigs.server, SERVICE_ACCOUNT, await token(SERVICE_ACCOUNT));
  tokenKubeconfig(cluster, kubeconfigs.certs, CERTS_SERVICE_ACCOUNT, await token(CERTS_SERVICE_ACCOUNT));

  // 3. Certificates: first without the caBundle patch (the server is not up yet), so the aggregator's first
  //    availability check after the patch finds a serving process; the second run keeps the material and patches.
  const certsOutput: string[] = [];
  const certs = async (extra: string[]) => {
    const r = await governorCli(['certs', `--kubeconfig=${kubeconfigs.certs}`, `--namespace=${NAMESPACE}`, `--service-name=${SERVICE}`, `--out-dir=${certDir}`, ...extra]);
    certsOutput.push(r.stdout + r.stderr);
    if (r.code !== 0) throw new Error(`governor certs ${extra.join(' ')} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  };
  await certs(['--no-patch']);

  // 4. The server, with the flags of manifests/base/deployment.yaml except for paths and ports. No
  //    --requestheader-client-ca-file: as in a pod, the front-proxy CA comes from the
  //    kube-system/extension-apiserver-authentication ConfigMap, read with the server's own token.
  const governor = startGovernorServe(
    [
      ...o.policies.map((p) => `--policies=${p}`),
      `--tls-cert-file=${join(certDir, 'tls.crt')}`,
      `--tls-private-key-file=${join(certDir, 'tls.key')}`,
      `--cert-dir=${join(workDir, 'cert-dir')}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${ports.adapter}`,
      `--webhook-port=${ports.webhook}`,
      `--metrics-port=${ports.metrics}`,
      `--service-name=${SERVICE}`,
      `--service-namespace=${NAMESPACE}`,
      `--kubeconfig=${kubeconfigs.server}`,
      `--prometheus-url=${o.prometheusUrl}`,
      // Load sources stay on loopback (the SSRF fence would refuse anything else).
      '--allowed-source-hosts=127.0.0.1',
      '--policy-poll=500',
      '--shutdown-grace=2000',
      // The local API server presents no client certificate to the webhook, so Events (checked by the suite) are
      // opted into; by default they need --webhook-client-ca-file (docs/security.md).
      '--webhook-events=always',
    ],
    logFile,
  );

  const diagnostics = async (namespaces: readonly string[] = []): Promise<string> => {
    const parts: string[] = [];
    const add = async (title: string, args: string[]) => {
      const r = await cluster.kubectl(args, { timeoutMs: 15_000 });
      parts.push(`--- ${title} ---\n${(r.stdout + r.stderr).trim().split('\n').slice(-60).join('\n')}`);
    };
    parts.push(`--- APIService Available: ${JSON.stringify(await apiServiceAvailable(cluster))}`);
    for (const ns of namespaces) {
      await add(`deployments in ${ns}`, ['-n', ns, 'get', 'deploy', '-o', 'wide']);
      await add(`kubectl describe hpa -n ${ns}`, ['-n', ns, 'describe', 'hpa']);
      await add(`events in ${ns}`, ['-n', ns, 'get', 'events', '--sort-by=.lastTimestamp']);
    }
    parts.push(`--- governor log (pid ${governor.pid}, ${logFile}) ---\n${governor.logTail(40)}`);
    return parts.join('\n');
  };

  let uninstalled = false;
  const uninstall = async () => {
    if (uninstalled) return;
    uninstalled = true;
    // Webhook configurations first: with failurePolicy Fail, a configuration pointing at a stopped server would block
    // Deployment writes of every other test on this cluster.
    await cluster.kubectl(['delete', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', WEBHOOK_CONFIGURATION, '--ignore-not-found']);
    await cluster.kubectl(['delete', 'apiservice', APISERVICE, '--ignore-not-found']);
    await cluster.kubectl(['delete', '-k', overlayDir, '--ignore-not-found', '--wait=false']);
    await governor.stop();
    rmSync(workDir, { recursive: true, force: true });
  };

  try {
    await waitServing(governor, ports.metrics);
    await certs([]);
    await waitFor(
      `APIService ${APISERVICE} Available=True`,
      async () => {
        const a = await apiServiceAvailable(cluster);
        return { done: a.status === 'True', seen: a };
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
  } catch (e) {
    const diag = await diagnostics().catch((d) => `(diagnostics failed: ${(d as Error).message})`);
    await uninstall().catch(() => undefined);
    throw new Error(`installing kube-governor failed: ${(e as Error).message}\n${diag}`);
  }

  return { ports, caFile: join(certDir, 'ca.crt'), governor, kubeconfigs, overlayDir, certsOutput, diagnostics, uninstall };
}

// Installs kube-governor on the e2e control plane the way users do (kubectl apply -k of the real manifests, then
// `governor certs`), except that the server runs as a host process on loopback: the overlay manifests/overlays/local
// swaps the Deployment for an ExternalName Service (localhost), and the server registers copies of the webhook and
// APIService templates that name the free ports it listens on.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** A kustomization beside the test's files that uses the local overlay (kustomize refuses absolute paths). */
function writeOverlay(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const kustomization = { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: [relative(dir, OVERLAY)] };
  writeFileSync(join(dir, 'kustomization.yaml'), JSON.stringify(kustomization, null, 2));
}

/**
 * Copies of the registration templates (manifests/base/webhooks.yaml, apiservice.yaml) that name the host process's
 * ports: the API server dials the port of an ExternalName Service that the APIService / webhook names. Everything
 * else is registered as shipped.
 */
export function writeRegistrationTemplates(dir: string, ports: { adapter: number; webhook: number }): string[] {
  mkdirSync(dir, { recursive: true });
  return ['webhooks.yaml', 'apiservice.yaml'].map((file) => {
    const docs = parseAllDocuments(readFileSync(join(REPO_ROOT, 'manifests', 'base', file), 'utf8')).map((d) => d.toJS() as any);
    for (const o of docs) {
      if (o?.kind === 'APIService') o.spec.service.port = ports.adapter;
      for (const w of o?.webhooks ?? []) w.clientConfig.service.port = ports.webhook;
    }
    const out = join(dir, file);
    writeFileSync(out, docs.map((d) => JSON.stringify(d)).join('\n---\n'));
    return out;
  });
}

/** Waits until the server registered both webhook configurations with a caBundle (and the APIService). */
export async function waitRegistered(cluster: LocalCluster, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    'governor serve to register its webhook configurations and APIService',
    async () => {
      const r = await cluster.kubectl(['get', 'mutatingwebhookconfiguration,validatingwebhookconfiguration', WEBHOOK_CONFIGURATION, '-o', 'json']);
      const a = await cluster.kubectl(['get', 'apiservice', APISERVICE, '-o', 'jsonpath={.spec.caBundle}']);
      if (r.code !== 0 || a.code !== 0) return { done: false, seen: (r.stderr + a.stderr).trim() };
      const items = JSON.parse(r.stdout).items ?? [];
      const done = items.length === 2 && items.every((i: any) => i.webhooks.every((w: any) => w.clientConfig.caBundle)) && a.stdout.trim() !== '';
      return { done, seen: `${items.length} configurations` };
    },
    { timeoutMs, intervalMs: 300 },
  );
}

export function tokenKubeconfig(cluster: LocalCluster, file: string, user: string, token: string): void {
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
export async function waitNamespaceGone(cluster: LocalCluster, ns: string, timeoutMs: number): Promise<void> {
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
  writeOverlay(overlayDir);
  const templates = writeRegistrationTemplates(join(workDir, 'registration'), ports);
  // 1. The manifests, as users apply them (through the overlay for the host process).
  await kubectlOk(cluster, ['apply', '-k', overlayDir]);

  // 2. Identities: the server and the certificate job run with their own ServiceAccounts' tokens, so the RBAC in
  //    manifests/base (auth-delegator, extension-apiserver-authentication-reader, the least-privilege ClusterRole,
  //    rbac-certs) is what they get. Nothing below uses the admin kubeconfig on their behalf.
  const token = async (sa: string) => (await kubectlOk(cluster, ['-n', NAMESPACE, 'create', 'token', sa, '--duration=2h'])).trim();
  const kubeconfigs = { server: join(workDir, 'server.kubeconfig'), certs: join(workDir, 'certs.kubeconfig') };
  tokenKubeconfig(cluster, kubeconfigs.server, SERVICE_ACCOUNT, await token(SERVICE_ACCOUNT));
  tokenKubeconfig(cluster, kubeconfigs.certs, CERTS_SERVICE_ACCOUNT, await token(CERTS_SERVICE_ACCOUNT));

  // 3. Certificates: first before anything is registered (the server registers with this bundle once it serves); the
  //    second run, after registration, finds every caBundle as it would have written it.
  const certsOutput: string[] = [];
  const certs = async (extra: string[]) => {
    const r = await governorCli(['certs', `--kubeconfig=${kubeconfigs.certs}`, `--namespace=${NAMESPACE}`, `--service-name=${SERVICE}`, `--out-dir=${certDir}`, ...extra]);
    certsOutput.push(r.stdout + r.stderr);
    if (r.code !== 0) throw new Error(`governor certs ${extra.join(' ')} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  };
  await certs([]);

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
      '--policy-poll=500ms',
      '--shutdown-grace=2s',
      `--registration-manifests=${templates.join(',')}`,
      `--ca-bundle-file=${join(certDir, 'ca.crt')}`,
      '--registration-interval=1s',
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
    // The server first (it would repair what is deleted), then the manifests: deleting the ClusterRole garbage-collects
    // the registrations. The explicit deletes only make sure no other test on this cluster waits for the collector.
    await governor.stop();
    await cluster.kubectl(['delete', '-k', overlayDir, '--ignore-not-found', '--wait=false']);
    await cluster.kubectl(['delete', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', WEBHOOK_CONFIGURATION, '--ignore-not-found']);
    await cluster.kubectl(['delete', 'apiservice', APISERVICE, '--ignore-not-found']);
    rmSync(workDir, { recursive: true, force: true });
  };

  try {
    await waitServing(governor, ports.metrics);
    await waitRegistered(cluster);
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

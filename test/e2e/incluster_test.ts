// End to end with kube-governor running as pods: the real manifests/base with the image built from the Dockerfile,
// the suite's policies in the policies ConfigMap, `governor certs` for the Secrets and caBundles. Proves that the
// Deployment becomes Available, that the aggregator serves our external metric from the pods through the Service,
// that kubectl apply is governed by the in-cluster webhooks, that a native HPA follows a ScalingPolicy on real, Ready
// pods with its load from an in-cluster HTTP JSON endpoint (loadgen), holding while that source is down; that both
// replicas answer alike; that a rolling upgrade and a forced pod deletion under steady admission load fail no
// request; and that uninstalling leaves nothing that could fail requests.
//
// Where it runs: `npm test` (E2E_TARGET=local) starts the local cluster with its node (hack/local-cluster.sh up
// --node, its own state dir and ports beside the node-less cluster of the other e2e files), builds the image with
// podman (hack/image-test.sh) and imports it into the node's containerd; hack/kind-e2e.sh runs the same file on kind
// (E2E_TARGET=kind). One file on purpose: the APIService and the webhook configurations are cluster-wide singletons.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, run, startLocalCluster, type LocalCluster } from './harness/cluster.js';
import { AdmissionLoad, webhookDelta, webhookMetrics, type LoadSummary } from './lib/incluster-load.js';
import { governorCli, kubeVersionArgs } from './lib/governor-process.js';
import { apiServiceAvailable, APISERVICE, NAMESPACE, SERVICE, WEBHOOK_CONFIGURATION } from './lib/install.js';
import { directGet } from './lib/https.js';
import { deployment, formulaReplicas, runNames, SMALL_RESOURCES, writePolicies } from './lib/fixtures.js';
import { DEPLOYMENT, INSTALL_METHODS, installMethod, SERVER_SELECTOR, waitDeploymentAvailable, type InClusterInstallation } from './lib/incluster-install.js';
import { E2E_IMAGE, IN_CLUSTER_MIG as MIG, IN_CLUSTER_WEB as WEB, inClusterMigrationPolicy, inClusterScalingPolicy, loadgenHost, POLICIES_CONFIGMAP } from './lib/incluster-manifests.js';
import { Loadgen } from './lib/incluster-loadgen.js';
import { ReplicaRecorder } from './lib/replicas.js';
import { sleep, waitFor } from './lib/wait.js';

const names = runNames();
const INITIAL_LOAD = 5;
/** E2E_TARGET=local: the local cluster with a node; kind: the cluster in KUBECONFIG. */
const ON_NODE = (process.env.E2E_TARGET ?? 'local') === 'local';
/** The node cluster's own state dir and ports (KG_NODE_CLUSTER_DIR, KG_NODE_*_PORT), apart from the node-less one. */
const NODE_CLUSTER = {
  stateDir: process.env.KG_NODE_CLUSTER_DIR ?? '/tmp/kube-governor-node',
  env: {
    KG_APISERVER_PORT: process.env.KG_NODE_APISERVER_PORT ?? '16543',
    KG_ETCD_PORT: process.env.KG_NODE_ETCD_PORT ?? '16479',
    KG_ETCD_PEER_PORT: process.env.KG_NODE_ETCD_PEER_PORT ?? '16480',
    KG_KCM_PORT: process.env.KG_NODE_KCM_PORT ?? '16357',
  },
};
const WEBHOOKS = ['mutate.governor.io', 'validate.governor.io', 'protect-migration-source.governor.io'];
const metricPath = (ns: string, policy: string) =>
  `/apis/external.metrics.k8s.io/v1beta1/namespaces/${ns}/desired-replicas?labelSelector=${encodeURIComponent(`governor.io/policy=${policy}`)}`;

let cluster: LocalCluster;
let workDir: string;
let inst: InClusterInstallation | undefined;
let helmInst: InClusterInstallation | undefined;
let installOptions: Omit<Parameters<(typeof INSTALL_METHODS)['kustomize']>[0], 'workDir'>;
let loadgen: Loadgen;
let scalingFile: string;
let loadHost: string;
let migLoadgen: Loadgen;
let migrationFile: string;
const recorders: ReplicaRecorder[] = [];
const loads: AdmissionLoad[] = [];

/** Runs a test body; on failure the error carries pod state, kubectl describe hpa, events and the server logs. */
function withDiagnostics(namespaces: readonly string[], body: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await body();
    } catch (e) {
      const diag = (helmInst ?? inst) ? await (helmInst ?? inst)!.diagnostics(namespaces).catch((d) => `(diagnostics failed: ${(d as Error).message})`) : '(not installed)';
      const err = new Error(`${(e as Error).message}\n===== diagnostics =====\n${diag}`);
      err.stack = `Error: ${err.message}\n${((e as Error).stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)).join('\n')}`;
      throw err;
    }
  };
}

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await cluster.kubectl(args, input !== undefined ? { input } : {});
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

const getJson = async (args: string[]) => JSON.parse(await kubectlOk([...args, '-o', 'json']));

/**
 * The suite's Deployments (fixtures.deployment) with imagePullPolicy Never: their image does not exist, and a cluster
 * with a kubelet would otherwise try to pull it. Their pods never start: for the admission tests only.
 */
function workload(ns: string, name: string, o: Parameters<typeof deployment>[2] = {}): string {
  const d = JSON.parse(deployment(ns, name, o));
  for (const c of d.spec.template.spec.containers) c.imagePullPolicy = 'Never';
  return JSON.stringify(d);
}

/**
 * A Deployment whose pods run and become Ready: the node's pause image (already in containerd), or on kind the image
 * under test idling. The scaling tests count these Ready pods, not spec.replicas.
 */
function runningWorkload(ns: string, name: string, o: Parameters<typeof deployment>[2] = {}): string {
  const d = JSON.parse(deployment(ns, name, o));
  const pause = cluster.env.KG_PAUSE_IMAGE;
  d.spec.template.spec.terminationGracePeriodSeconds = 1;
  d.spec.template.spec.securityContext = { runAsNonRoot: true, runAsUser: 65535, seccompProfile: { type: 'RuntimeDefault' } };
  for (const c of d.spec.template.spec.containers) {
    c.image = pause ?? E2E_IMAGE;
    c.imagePullPolicy = pause ? 'Never' : 'IfNotPresent';
    if (!pause) c.command = ['node', '-e', 'setInterval(() => {}, 1 << 30); process.on("SIGTERM", () => process.exit(0))'];
    c.securityContext = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };
  }
  return JSON.stringify(d);
}

/** Ready pods of a Deployment's selector `app=<name>` that are not being deleted. */
async function readyPods(ns: string, app: string): Promise<number> {
  const pods = await getJson(['-n', ns, 'get', 'pods', '-l', `app=${app}`]);
  return pods.items.filter(
    (p: any) => !p.metadata.deletionTimestamp && (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'),
  ).length;
}

/** Waits until exactly `n` pods of the Deployment are Ready. */
async function waitReadyPods(ns: string, app: string, n: number, timeoutMs = 90_000): Promise<void> {
  await waitFor(
    `${n} Ready pods of ${ns}/${app}`,
    async () => {
      const ready = await readyPods(ns, app);
      return { done: ready === n, seen: { ready } };
    },
    { timeoutMs, intervalMs: 1000 },
  );
}

/** Total count of FailedGetExternalMetric events in a namespace (an aggregated Event carries its repeat count). */
async function failedMetricEvents(ns: string): Promise<number> {
  const ev = await getJson(['-n', ns, 'get', 'events', '--field-selector=reason=FailedGetExternalMetric']);
  return ev.items.reduce((n: number, e: any) => n + (e.series?.count ?? e.count ?? 1), 0);
}

/** The server pods' names and the args of their container. */
async function serverPods(): Promise<{ name: string; args: string[] }[]> {
  const pods = await getJson(['-n', NAMESPACE, 'get', 'pods', '-l', SERVER_SELECTOR]);
  return pods.items
    .filter((p: any) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running')
    .map((p: any) => ({ name: p.metadata.name, args: p.spec.containers[0].args }));
}

async function rawMetric(ns: string, policy: string): Promise<{ code: number; body: any; stderr: string }> {
  const r = await cluster.kubectl(['get', '--raw', metricPath(ns, policy)]);
  let body: any;
  try {
    body = JSON.parse(r.stdout);
  } catch {
    body = r.stdout;
  }
  return { code: r.code, body, stderr: r.stderr };
}

/** Sum of one counter over every server pod (through the apiserver's pod proxy to the metrics port), by label. */
async function serverCounter(name: string, labels: Record<string, string>): Promise<number> {
  let sum = 0;
  for (const pod of inst!.pods) {
    const text = await kubectlOk(['get', '--raw', `/api/v1/namespaces/${NAMESPACE}/pods/${pod}:9100/proxy/metrics`]);
    for (const line of text.split('\n')) {
      const m = /^(\w+)\{([^}]*)\}\s+(\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const have = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
      if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
    }
  }
  return sum;
}

/** `governor hpa` for the policy, applied with kubectl; --kube-version writes per-HPA tolerance only where the cluster has it. */
async function applyGeneratedHpa(ns: string, policy: string): Promise<void> {
  const r = await governorCli(['hpa', scalingFile, `--name=${ns}/${policy}`, ...kubeVersionArgs(cluster.version)]);
  assert.equal(r.code, 0, `governor hpa failed:\n${r.stderr}`);
  await kubectlOk(['apply', '-f', '-'], r.stdout);
}

before(async () => {
  cluster = ON_NODE ? await startLocalCluster({ ...NODE_CLUSTER, node: true }) : await startLocalCluster();
  workDir = mkdtempSync(join(tmpdir(), 'kg-e2e-incluster-'));
  if (ON_NODE) {
    // The image as users build it (hack/image-test.sh: podman build of the Dockerfile, then it must serve read-only
    // and stop on SIGTERM), then into the node's containerd; the manifests' IfNotPresent never pulls it.
    const t0 = Date.now();
    const built = await run('bash', ['hack/image-test.sh'], { cwd: REPO_ROOT, env: { ...process.env, IMAGE: E2E_IMAGE }, timeoutMs: 30 * 60_000 });
    assert.equal(built.code, 0, `hack/image-test.sh failed:\n${built.stdout.slice(-3000)}${built.stderr.slice(-3000)}`);
    const loaded = await run('bash', ['hack/local-cluster.sh', 'load-image', E2E_IMAGE], { cwd: REPO_ROOT, env: { ...process.env, ...cluster.env }, timeoutMs: 5 * 60_000 });
    assert.equal(loaded.code, 0, `load-image failed:\n${loaded.stderr}`);
    process.stdout.write(`image ${E2E_IMAGE} built and imported into the node in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }

  const nsDoc = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kg-e2e': names.id } } });
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [nsDoc(names.adm), nsDoc(names.scale), nsDoc(names.mig)] }));
  for (const ns of [names.adm, names.scale, names.mig]) {
    await waitFor(`ServiceAccount default in ${ns}`, async () => ({ done: (await cluster.kubectl(['-n', ns, 'get', 'sa', 'default'])).code === 0 }), { timeoutMs: 60_000 });
  }

  // The load source first: the governor pods start querying it as soon as they load the policy.
  loadgen = await new Loadgen(cluster, names.scale).deploy(INITIAL_LOAD, { image: E2E_IMAGE });
  // No cluster DNS on the node cluster: the governor pods reach the loadgen Service by its ClusterIP.
  loadHost = ON_NODE ? (await kubectlOk(['-n', names.scale, 'get', 'service', 'loadgen', '-o', 'jsonpath={.spec.clusterIP}'])).trim() : loadgenHost(names.scale);
  migLoadgen = await new Loadgen(cluster, names.mig).deploy(0, { image: E2E_IMAGE });
  const migHost = ON_NODE ? (await kubectlOk(['-n', names.mig, 'get', 'service', 'loadgen', '-o', 'jsonpath={.spec.clusterIP}'])).trim() : loadgenHost(names.mig);

  // Policies: the admission policies of the local suite (same messages), and `web` reading the loadgen Service.
  const policyDir = join(workDir, 'policies');
  mkdirSync(policyDir);
  const governance = readFileSync(writePolicies(policyDir, names).governance, 'utf8');
  scalingFile = join(workDir, 'scaling-incluster.yaml');
  writeFileSync(scalingFile, inClusterScalingPolicy(names.scale, 'web', loadHost));
  migrationFile = join(workDir, 'migration-incluster.yaml');
  writeFileSync(migrationFile, inClusterMigrationPolicy(names.mig, migHost));

  const t0 = Date.now();
  const method = installMethod();
  installOptions = {
    cluster,
    image: E2E_IMAGE,
    policyFiles: { 'governance.yaml': governance, 'scaling.yaml': readFileSync(scalingFile, 'utf8'), 'migration.yaml': readFileSync(migrationFile, 'utf8') },
    allowedSourceHosts: [loadHost, migHost],
  };
  inst = await INSTALL_METHODS[method]({ ...installOptions, workDir: join(workDir, 'install') });
  process.stdout.write(`install (${method}) to Deployment and APIService Available: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
});

after(async () => {
  for (const r of recorders) r.stop();
  for (const l of loads) await l.stop();
  await inst?.uninstall().catch((e) => process.stderr.write(`uninstall failed: ${(e as Error).message}\n`));
  await helmInst?.uninstall().catch((e) => process.stderr.write(`helm uninstall failed: ${(e as Error).message}\n`));
  if (cluster) {
    await cluster.kubectl(['delete', 'namespace', names.adm, names.scale, names.mig, '--ignore-not-found', '--wait=false']);
    await cluster.kubectl(['-n', 'kube-system', 'delete', 'deployment', `kg-e2e-${names.id}-untouched`, '--ignore-not-found']);
  }
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  await cluster?.stop();
});

// ------------------------------------------------------------------------------------------------ install

describe('install from manifests/base as pods, with governor certs', () => {
  it('runs every replica of the e2e image, with the suite policies mounted and the load host allowed', withDiagnostics([], async () => {
    const d = await getJson(['-n', NAMESPACE, 'get', 'deployment', DEPLOYMENT]);
    const c = d.spec.template.spec.containers[0];
    assert.equal(c.image, E2E_IMAGE);
    assert.equal(c.imagePullPolicy, 'IfNotPresent');
    assert.ok(c.args.some((a: string) => a.startsWith('--allowed-source-hosts=') && a.split('=')[1]!.split(',').includes(loadHost)), `args: ${c.args}`);
    assert.ok(d.spec.replicas >= 2, 'manifests/base runs two replicas');
    assert.equal(d.status.readyReplicas, d.spec.replicas);
    assert.equal(inst!.pods.length, d.spec.replicas);
    const cm = await getJson(['-n', NAMESPACE, 'get', 'configmap', POLICIES_CONFIGMAP]);
    assert.deepEqual(Object.keys(cm.data).sort(), ['governance.yaml', 'migration.yaml', 'scaling.yaml']);
    const vol = d.spec.template.spec.volumes.find((v: any) => v.configMap);
    assert.equal(vol.configMap.name, POLICIES_CONFIGMAP);
  }));

  it('stores the certificates in the Secret; the server registers the APIService and both webhook configurations with that caBundle', withDiagnostics([], async () => {
    // The job runs before the pods: nothing is registered yet, and the pods register with the bundle it stored.
    assert.match(inst!.certsOutput, /APIService v1beta1\.external\.metrics\.k8s\.io: caBundle not-found \(not registered yet/);
    const b64 = Buffer.from(readFileSync(inst!.caFile, 'utf8')).toString('base64');
    const secret = await getJson(['-n', NAMESPACE, 'get', 'secret', 'kube-governor-tls']);
    assert.equal(secret.data['ca.crt'], b64);
    assert.ok(secret.data['tls.crt'] && secret.data['tls.key']);
    const apiService = await getJson(['get', 'apiservice', APISERVICE]);
    assert.equal(apiService.spec.caBundle, b64);
    assert.notEqual(apiService.spec.insecureSkipTLSVerify, true);
    for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
      const w = await getJson(['get', kind, WEBHOOK_CONFIGURATION]);
      for (const h of w.webhooks) assert.equal(h.clientConfig.caBundle, b64, `${kind} ${h.name} caBundle`);
    }
    // Each pod read the front-proxy CA with its own ServiceAccount (extension-apiserver-authentication-reader).
    for (const pod of inst!.pods) {
      const logs = await kubectlOk(['-n', NAMESPACE, 'logs', pod]);
      assert.match(logs, /authentication settings read from kube-system\/extension-apiserver-authentication/, `${pod} log`);
    }
  }));
});

// ------------------------------------------------------------------------------------------------ aggregator

describe('the aggregator serves our external metric from the pods', () => {
  it('reports the APIService Available and returns desired-replicas through kubectl get --raw', withDiagnostics([names.scale], async () => {
    assert.equal((await apiServiceAvailable(cluster)).status, 'True');
    const want = String(formulaReplicas(INITIAL_LOAD, WEB));
    // The first answer may precede the first successful load query of the pod that serves it; wait for the value.
    const r = await waitFor(
      `desired-replicas of ${names.scale}/web = ${want}`,
      async () => {
        const m = await rawMetric(names.scale, 'web');
        return { done: m.code === 0 && m.body?.items?.[0]?.value === want, value: m, seen: m.code === 0 ? m.body : m.stderr };
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    assert.equal(r.body.kind, 'ExternalMetricValueList');
    assert.equal(r.body.items.length, 1);
    assert.equal(r.body.items[0].metricName, 'desired-replicas');
    // The load came over HTTP from the loadgen Service.
    assert.ok((await serverCounter('governor_source_queries_total', { source: 'http', policy: `${names.scale}/web` })) > 0, 'no HTTP load query counted');
    const denied = await cluster.kubectl(['get', '--raw', metricPath(names.scale, 'web'), `--as=system:serviceaccount:${names.scale}:default`]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /forbidden/i);
    const none = await rawMetric(names.scale, 'no-such-policy');
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /NotFound|not found/i);
  }));
});

// ------------------------------------------------------------------------------------------------ admission

describe('kubectl apply is governed by the in-cluster webhooks', () => {
  const ns = () => names.adm;
  const annotationWarning = /Warning: \[audit\] e2e-audit\/require-annotations: metadata\.annotations\["e2e\.governor\.io\/reviewed-by"\] is required/;
  const bigResources = { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '2Gi' } };

  it('mutates a Deployment missing limits and labels, and prints the audit warning', withDiagnostics([names.adm], async () => {
    const r = await cluster.kubectl(['apply', '-f', '-'], { input: workload(ns(), 'plain') });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, annotationWarning);
    const d = await getJson(['-n', ns(), 'get', 'deployment', 'plain']);
    assert.equal(d.metadata.labels.team, 'platform-e2e');
    assert.equal(d.spec.template.metadata.labels.team, 'platform-e2e');
    assert.deepEqual(d.spec.template.spec.containers[0].resources, { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '128Mi' } });
  }));

  it('rejects a Deployment violating an enforce policy, with our message in kubectl output', withDiagnostics([names.adm], async () => {
    const r = await cluster.kubectl(['apply', '-f', '-'], { input: workload(ns(), 'too-big', { resources: bigResources }) });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /admission webhook "validate\.governor\.io" denied the request/);
    assert.match(r.stderr, /spec\.template\.spec\.containers\[0\]\.resources\.limits\.memory must be at most 1Gi \(is 2Gi\) \(policy e2e-defaults, rule max-resources\)/);
    assert.match((await cluster.kubectl(['-n', ns(), 'get', 'deployment', 'too-big'])).stderr, /NotFound/);
  }));

  it('behaves the same under kubectl apply --dry-run=server, without creating anything or recording Events', withDiagnostics([names.adm], async () => {
    const dry = await cluster.kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], { input: workload(ns(), 'dry') });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stderr, annotationWarning);
    const shown = JSON.parse(dry.stdout);
    assert.equal(shown.metadata.labels.team, 'platform-e2e');
    assert.deepEqual(shown.spec.template.spec.containers[0].resources.limits, { memory: '128Mi' });
    const denied = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: workload(ns(), 'dry-big', { resources: bigResources }) });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /denied the request: .*limits\.memory must be at most 1Gi/s);
    for (const name of ['dry', 'dry-big']) assert.match((await cluster.kubectl(['-n', ns(), 'get', 'deployment', name])).stderr, /NotFound/);
    await waitFor(
      'a PolicyAudit Event about deployment plain',
      async () => {
        const ev = await getJson(['-n', ns(), 'get', 'events', '--field-selector=involvedObject.name=plain']);
        return { done: ev.items.some((e: any) => e.reason === 'PolicyAudit'), seen: ev.items.map((e: any) => e.reason) };
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    for (const name of ['dry', 'dry-big']) {
      const ev = await getJson(['-n', ns(), 'get', 'events', `--field-selector=involvedObject.name=${name}`]);
      assert.deepEqual(ev.items.map((e: any) => e.reason), [], `Events recorded for the dry-run of ${name}`);
    }
  }));

  it('leaves kube-system and its own namespace untouched although the policies name them', withDiagnostics([names.adm], async () => {
    for (const target of ['kube-system', NAMESPACE]) {
      const name = `kg-e2e-${names.id}-untouched`;
      const r = await cluster.kubectl(['apply', '-f', '-'], { input: workload(target, name) });
      assert.equal(r.code, 0, r.stderr);
      // (kube-governor's namespace is PodSecurity restricted: kubectl prints that warning, none of ours.)
      assert.doesNotMatch(r.stderr, /\[audit\]|policy e2e-|governor\.io/);
      const d = await getJson(['-n', target, 'get', 'deployment', name]);
      assert.equal(d.metadata.labels?.team, undefined, `${target}: labels mutated`);
      assert.deepEqual(d.spec.template.spec.containers[0].resources, {}, `${target}: resources mutated`);
      const big = await cluster.kubectl(['apply', '-f', '-'], { input: workload(target, name, { resources: bigResources }) });
      assert.equal(big.code, 0, big.stderr);
      await kubectlOk(['-n', target, 'delete', 'deployment', name, '--wait=false']);
    }
  }));
});

// ------------------------------------------------------------------------------------------------ HPA

describe('a native HPA follows the policy, its load served by loadgen inside the cluster', () => {
  let rec: ReplicaRecorder;
  const ns = () => names.scale;
  // HPA sync (5 s in hack/kind-e2e.sh) + policy interval + the watch: generous, still bounded.
  const SETTLE_MS = 90_000;

  before(async () => {
    await kubectlOk(['apply', '-f', '-'], runningWorkload(ns(), 'web', { replicas: 1, resources: SMALL_RESOURCES }));
    await applyGeneratedHpa(ns(), 'web');
    rec = await new ReplicaRecorder(cluster.kubeconfig, ns()).start();
    recorders.push(rec);
  });

  it('below Tmin: the Deployment sits at base', withDiagnostics([names.scale], async () => {
    await loadgen.set(5);
    await rec.waitFor({ web: WEB.base }, SETTLE_MS);
    await waitReadyPods(ns(), 'web', WEB.base);
  }));

  it('in the band: the Deployment follows the proportional formula', withDiagnostics([names.scale], async () => {
    for (const load of [30, 40]) {
      await loadgen.set(load);
      await rec.waitFor({ web: formulaReplicas(load, WEB) }, SETTLE_MS);
      await waitReadyPods(ns(), 'web', formulaReplicas(load, WEB));
    }
  }));

  it('above Tmax: steps up to the cap and never beyond', withDiagnostics([names.scale], async () => {
    const from = rec.latest()!.replicas.web!;
    const t0 = Date.now();
    await loadgen.set(70);
    await rec.waitFor({ web: WEB.cap }, SETTLE_MS);
    // Stay in overload for a few more intervals and HPA syncs: the cap holds.
    await sleep(Math.max(3 * WEB.intervalMs, 12_000));
    const seen = rec.changes('web', t0).map((c) => c.replicas);
    assert.equal(seen[0], from);
    // The HPA (5 s sync) may see several 2 s policy intervals at once, so steps can be larger than one; the sequence
    // still only rises, starts at max(Rmax, R + step) or above, and ends at the cap.
    assert.ok(seen[1]! >= Math.max(WEB.max, from + WEB.step), `first overload decision: ${seen}`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `only rises in overload: ${seen}`);
    assert.equal(Math.max(...seen), WEB.cap, `never above the cap: ${seen}`);
    assert.equal(rec.latest()!.replicas.web, WEB.cap);
    await waitReadyPods(ns(), 'web', WEB.cap);
  }));

  it('back below Tmin: down to base (no stabilization window)', withDiagnostics([names.scale], async () => {
    await loadgen.set(0);
    await rec.waitFor({ web: WEB.base }, SETTLE_MS);
    await waitReadyPods(ns(), 'web', WEB.base);
  }));

  it('source down (loadgen scaled to 0): the HPA holds, nothing scales to zero; back to 1: scaling resumes', withDiagnostics([names.scale], async () => {
    await loadgen.set(30);
    const held = formulaReplicas(30, WEB);
    await rec.waitFor({ web: held }, SETTLE_MS);

    const errorsBefore = await serverCounter('governor_source_errors_total', { source: 'http', policy: `${ns()}/web` });
    const outageStart = Date.now();
    await loadgen.scale(0);
    // The governor pods see the outage (failed HTTP load queries)...
    await waitFor(
      'failed HTTP load queries counted by the server pods',
      async () => {
        const n = await serverCounter('governor_source_errors_total', { source: 'http', policy: `${ns()}/web` });
        return { done: n > errorsBefore, seen: { before: errorsBefore, now: n } };
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    // ...and while it lasts (several intervals and HPA syncs) the Deployment keeps its replicas.
    await sleep(Math.max(6 * WEB.intervalMs, 20_000));
    const r = await rawMetric(ns(), 'web');
    // A pod that answered before keeps its last decision (hold); an error would freeze the HPA just the same.
    if (r.code === 0) assert.equal(r.body.items[0].value, String(held), `desired-replicas during the outage`);
    for (const s of rec.since(outageStart)) {
      assert.equal(s.replicas.web, held, `web moved during the outage: ${JSON.stringify(s)}`);
      assert.ok((s.replicas.web ?? 0) >= 1, `web reached zero: ${JSON.stringify(s)}`);
    }
    const hpa = await getJson(['-n', ns(), 'get', 'hpa', 'web']);
    assert.equal(hpa.spec.minReplicas >= 1, true);
    assert.equal(hpa.status.desiredReplicas, held);

    // The source returns (from its start value: a new pod); scaling resumes.
    await loadgen.scale(1);
    await loadgen.set(40);
    await rec.waitFor({ web: formulaReplicas(40, WEB) }, SETTLE_MS);
    await waitReadyPods(ns(), 'web', formulaReplicas(40, WEB));
  }));
});

// ------------------------------------------------------------------------------------------------ migration

describe('a MigrationPolicy moves real pods with two native HPAs', () => {
  const ns = () => names.mig;

  // The source drains only as the target's new pods become Ready (status.readyReplicas), so Ready pods of source +
  // target never drop below the capacity while they start, and neither does spec.replicas.
  it('drains old into new on real pods: source + target Ready pods never below the capacity, all Ready at the end', withDiagnostics([names.mig], async () => {
    await kubectlOk(['apply', '-f', '-'], runningWorkload(ns(), 'old', { replicas: MIG.base, resources: SMALL_RESOURCES }));
    await kubectlOk(['apply', '-f', '-'], runningWorkload(ns(), 'new', { replicas: 1, resources: SMALL_RESOURCES }));
    await waitReadyPods(ns(), 'old', MIG.base);
    await waitReadyPods(ns(), 'new', 1);
    const hpas = await governorCli(['hpa', migrationFile, `--name=${ns()}/move`, ...kubeVersionArgs(cluster.version)]);
    assert.equal(hpas.code, 0, hpas.stderr);
    await kubectlOk(['apply', '-f', '-'], hpas.stdout);
    const rec = await new ReplicaRecorder(cluster.kubeconfig, ns()).start();
    recorders.push(rec);
    await migLoadgen.set(0);
    await rec.waitFor({ old: MIG.base, new: 1 }, 60_000);

    // Ready pods of both Deployments, sampled twice a second (bounded) while the migration runs.
    const samples: { atMs: number; old: number; new: number }[] = [];
    let sampling = true;
    const sampler = (async () => {
      for (let i = 0; sampling && i < 600; i++) {
        const pods = await getJson(['-n', ns(), 'get', 'pods', '-l', 'app in (old,new)']).catch(() => undefined);
        if (pods) {
          const ready = { old: 0, new: 0 } as Record<string, number>;
          for (const p of pods.items) {
            const ok = !p.metadata.deletionTimestamp && (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
            if (ok) ready[p.metadata.labels.app] = (ready[p.metadata.labels.app] ?? 0) + 1;
          }
          samples.push({ atMs: Date.now(), old: ready.old!, new: ready.new! });
        }
        await sleep(500);
      }
    })();
    const t0 = Date.now();
    try {
      await migLoadgen.set(60);
      await rec.waitFor({ old: 1, new: MIG.capacity }, 120_000);
      await waitReadyPods(ns(), 'new', MIG.capacity);
      await waitReadyPods(ns(), 'old', 1);
      await sleep(2 * MIG.intervalMs);
    } finally {
      sampling = false;
      await sampler;
    }
    const timeline = samples.map((s) => `${((s.atMs - t0) / 1000).toFixed(1)}s ready old ${s.old} new ${s.new}`).join('\n');
    const minReady = Math.min(...samples.map((s) => s.old + s.new));
    process.stdout.write(`migration, Ready pods (sampled every 0.5 s; lowest source + target ${minReady}, capacity ${MIG.capacity}):\n${timeline.replace(/^/gm, '  ')}\n`);
    assert.ok(samples.length >= 10, `too few samples:\n${timeline}`);
    assert.ok(minReady >= MIG.capacity, `Ready pods of source + target fell to ${minReady} (capacity ${MIG.capacity}):\n${timeline}`);
    const specs = rec.since(t0);
    const short = specs.filter((s) => (s.replicas.old ?? 0) + (s.replicas.new ?? 0) < MIG.capacity);
    assert.deepEqual(short, [], `spec.replicas of source + target fell below the capacity ${MIG.capacity}: ${JSON.stringify(short)}`);
    const last = samples.at(-1)!;
    assert.deepEqual({ old: last.old, new: last.new }, { old: 1, new: MIG.capacity }, `Ready pods at the end:\n${timeline}`);
    // The source steps down as target pods become Ready: two can become Ready between two HPA syncs, so a step may be 2.
    const oldSteps = rec.changes('old', t0).map((c) => c.replicas);
    assert.equal(oldSteps[0], 4, `source steps ${oldSteps}`);
    assert.equal(oldSteps.at(-1), 1, `source steps ${oldSteps}`);
    assert.ok(oldSteps.every((r, i) => i === 0 || r! < oldSteps[i - 1]!), `source steps ${oldSteps}`);
    assert.deepEqual(rec.changes('new', t0).map((c) => c.replicas), [1, 2, 3, 4]);
  }));
});

// ------------------------------------------------------------------------------------------------ two replicas

describe('both replicas answer alike', () => {
  it('returns the same desired-replicas for the same policy and interval from either pod', withDiagnostics([names.scale], async () => {
    // A pod computes a policy's value when asked (one source query per interval): the aggregator's connection may
    // favour one pod for minutes, so the other pod's decision gauge can lag. Ask both pods directly, as the
    // aggregator does (front-proxy client certificate, X-Remote-* headers), over the pod IPs the host reaches.
    const want = String(formulaReplicas(40, WEB));
    const pods = await getJson(['-n', NAMESPACE, 'get', 'pods', '-l', SERVER_SELECTOR, '--field-selector=status.phase=Running']);
    const ips: string[] = pods.items.filter((p: any) => !p.metadata.deletionTimestamp).map((p: any) => p.status.podIP);
    assert.equal(ips.length, 2, `server pod IPs: ${ips}`);
    const ask = async (host: string) => {
      const r = await directGet(6443, metricPath(names.scale, 'web'), {
        host,
        ca: readFileSync(inst!.caFile, 'utf8'),
        servername: `${SERVICE}.${NAMESPACE}.svc`,
        cert: readFileSync(cluster.frontProxy.cert, 'utf8'),
        key: readFileSync(cluster.frontProxy.key, 'utf8'),
        headers: { 'X-Remote-User': 'kg-e2e-admin', 'X-Remote-Group': 'system:masters' },
      });
      if (r.status !== 200) return { status: r.status, error: r.error ?? r.body.slice(0, 200) };
      const item = JSON.parse(r.body).items[0];
      return { status: 200, value: item.value as string, timestamp: item.timestamp as string };
    };
    const answers = await waitFor(
      `desired-replicas ${want} from both pods in one round`,
      async () => {
        const a = await Promise.all(ips.map(ask));
        return { done: a.every((x) => x.status === 200 && x.value === want), value: a, seen: a };
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    assert.deepEqual(answers.map((a) => a.value), [want, want]);
    process.stdout.write(`desired-replicas from each pod: ${JSON.stringify(answers)}\n`);
  }));

  it('gives the same admission answer from either pod (POST /validate through the pod proxy)', withDiagnostics([], async () => {
    const big = JSON.parse(workload(names.adm, 'too-big-direct', { resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '2Gi' } } }));
    const answers: string[] = [];
    for (const p of await serverPods()) {
      const uid = `kg-e2e-${p.name}`;
      const review = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid,
          kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
          resource: { group: 'apps', version: 'v1', resource: 'deployments' },
          requestKind: { group: 'apps', version: 'v1', kind: 'Deployment' },
          requestResource: { group: 'apps', version: 'v1', resource: 'deployments' },
          name: 'too-big-direct',
          namespace: names.adm,
          operation: 'CREATE',
          userInfo: { username: 'kg-e2e' },
          object: big,
          oldObject: null,
          dryRun: false,
          options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
        },
      };
      const out = await kubectlOk(['create', '--raw', `/api/v1/namespaces/${NAMESPACE}/pods/https:${p.name}:8443/proxy/validate`, '-f', '-'], JSON.stringify(review));
      const res = JSON.parse(out).response;
      assert.equal(res.uid, uid, `${p.name} echoes the uid`);
      assert.equal(res.allowed, false, `${p.name} denies`);
      assert.match(res.status.message, /limits\.memory must be at most 1Gi \(is 2Gi\)/, `${p.name} message`);
      answers.push(JSON.stringify({ allowed: res.allowed, code: res.status.code, message: res.status.message }));
    }
    assert.equal(answers.length, 2);
    assert.equal(answers[0], answers[1], 'the two replicas answered differently');
  }));
});

// ------------------------------------------------------------------------------------------------ upgrade under load

describe('a rolling upgrade and a forced pod deletion under steady admission load', () => {
  const reviewedBy = 'e2e.governor.io/reviewed-by';
  /** Deployments with no replicas (no pods), admitted by the policies, mutated (label team) by the webhook. */
  const body = (name: string, seq: number) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: names.adm, annotations: { [reviewedBy]: 'kg-e2e-load', 'kg-e2e/seq': String(seq) } },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'registry.invalid/kg-e2e:1', imagePullPolicy: 'Never', resources: SMALL_RESOURCES }] },
      },
    },
  });
  const isMutated = (obj: any) => obj?.metadata?.labels?.team === 'platform-e2e';

  /** Runs `disrupt` while the load runs; returns the load figures, the API server's view and the HPA's events. */
  async function underLoad(what: string, disrupt: () => Promise<void>) {
    const eventsBefore = await failedMetricEvents(names.scale);
    const metricsBefore = await webhookMetrics(cluster, WEBHOOKS);
    const load = await new AdmissionLoad(cluster, { namespace: names.adm, ratePerSecond: 4, maxRequests: 1200, maxDurationMs: 300_000, body, isMutated }).start();
    loads.push(load);
    await sleep(5_000);
    const t0 = Date.now();
    await disrupt();
    const disruptedMs = Date.now() - t0;
    // A few more seconds of load after the Deployment is whole again: late failures count too.
    await sleep(5_000);
    await load.stop();
    const summary: LoadSummary = load.summary();
    const apiserver = webhookDelta(metricsBefore, await webhookMetrics(cluster, WEBHOOKS));
    // The HPA syncs every second on the local cluster: give it two more syncs to record a failure.
    await sleep(2_000);
    const failedMetric = (await failedMetricEvents(names.scale)) - eventsBefore;
    const hpa = await getJson(['-n', names.scale, 'get', 'hpa', 'web']);
    const scalingActive = hpa.status.conditions.find((c: any) => c.type === 'ScalingActive');
    const report =
      `${what}: ${(disruptedMs / 1000).toFixed(1)} s; admission requests sent ${summary.sent}, failed ${summary.failed} ` +
      `(by governor ${summary.failedByGovernor}), unmutated ${summary.unmutated}; client latency p50 ${summary.p50Ms} ms, p99 ${summary.p99Ms} ms, ` +
      `max ${summary.maxMs} ms; API server webhook calls ${apiserver.calls}, p99 admission latency <= ${apiserver.p99UpperBoundS} s ` +
      `(apiserver_admission_webhook_admission_duration_seconds), rejections ${JSON.stringify(apiserver.rejections)}; ` +
      `FailedGetExternalMetric events ${failedMetric}`;
    process.stdout.write(`${report}\n`);
    return { summary, apiserver, failedMetric, scalingActive, report };
  }

  function assertClean(r: Awaited<ReturnType<typeof underLoad>>): void {
    assert.ok(r.summary.sent >= 40, `too few requests to mean anything: ${r.report}`);
    assert.equal(r.summary.failed, 0, `${r.report}\n${r.summary.examples.join('\n')}`);
    assert.equal(r.summary.failedByGovernor, 0, r.report);
    assert.equal(r.summary.unmutated, 0, `${r.report}\n${r.summary.examples.join('\n')}`);
    assert.ok(r.apiserver.calls >= r.summary.sent, `the API server counted fewer webhook calls than requests: ${r.report}`);
    assert.equal(r.apiserver.rejections.calling_webhook_error ?? 0, 0, r.report);
    assert.equal(r.apiserver.rejections.apiserver_internal_error ?? 0, 0, r.report);
    assert.equal(r.failedMetric, 0, r.report);
    assert.equal(r.scalingActive?.status, 'True', `HPA ScalingActive: ${JSON.stringify(r.scalingActive)}`);
  }

  it('rolls out a changed arg with zero failed admissions and zero FailedGetExternalMetric', withDiagnostics([names.scale, names.adm], async () => {
    const before = await serverPods();
    const r = await underLoad('rolling upgrade (--policy-poll=1900ms)', async () => {
      await kubectlOk(['-n', NAMESPACE, 'patch', 'deployment', DEPLOYMENT, '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/template/spec/containers/0/args/-', value: '--policy-poll=1900ms' }])]);
      const st = await cluster.kubectl(['-n', NAMESPACE, 'rollout', 'status', `deployment/${DEPLOYMENT}`, '--timeout=240s'], { timeoutMs: 250_000 });
      assert.equal(st.code, 0, `rollout status: ${st.stderr}${st.stdout}`);
      await waitDeploymentAvailable(cluster, NAMESPACE, DEPLOYMENT, 60_000);
    });
    const after = await serverPods();
    assert.equal(after.length, 2);
    for (const p of after) {
      assert.ok(p.args.includes('--policy-poll=1900ms'), `${p.name} runs the new args`);
      assert.ok(!before.some((b) => b.name === p.name), `${p.name} is not a new pod`);
    }
    assertClean(r);
  }));

  it('survives kubectl delete pod --grace-period=0 --force of one replica with the same figures', withDiagnostics([names.scale, names.adm], async () => {
    const [victim] = await serverPods();
    assert.ok(victim);
    const r = await underLoad(`forced deletion of ${victim.name}`, async () => {
      await kubectlOk(['-n', NAMESPACE, 'delete', 'pod', victim.name, '--grace-period=0', '--force']);
      await waitFor(
        'a replacement server pod Ready',
        async () => {
          const pods = await serverPods();
          return { done: pods.length === 2 && !pods.some((p) => p.name === victim.name), seen: pods.map((p) => p.name) };
        },
        { timeoutMs: 120_000, intervalMs: 1000 },
      );
      await waitDeploymentAvailable(cluster, NAMESPACE, DEPLOYMENT, 120_000);
    });
    assertClean(r);
  }));
});

// ------------------------------------------------------------------------------------------------ uninstall

describe('uninstall', () => {
  it('leaves no webhook configuration, APIService or CRD that could block or fail requests', withDiagnostics([], async () => {
    await inst!.uninstall();
    await waitFor(
      'the governor.io CRDs to be gone',
      async () => {
        const crds = (await kubectlOk(['get', 'crd', '-o', 'name'])).split('\n').filter((l) => l.includes('governor.io'));
        return { done: crds.length === 0, seen: crds };
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    const hooks = (await kubectlOk(['get', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', '-o', 'json'])) as string;
    const left = JSON.parse(hooks).items.filter((h: any) => JSON.stringify(h).includes('governor'));
    assert.deepEqual(left.map((h: any) => `${h.kind}/${h.metadata.name}`), []);
    assert.match((await cluster.kubectl(['get', 'apiservice', APISERVICE])).stderr, /NotFound/);
    // And the cluster takes writes that the webhooks used to see.
    await kubectlOk(['apply', '-f', '-'], workload(names.adm, 'after-uninstall', { resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '2Gi' } } }));
    const d = await getJson(['-n', names.adm, 'get', 'deployment', 'after-uninstall']);
    assert.equal(d.metadata.labels?.team, undefined, 'mutated after uninstall');
  }));
});

// ------------------------------------------------------------------------------------------------ helm

describe('helm install of charts/kube-governor (after the kustomize uninstall)', () => {
  // The main suite runs on the kustomize installation (E2E_INSTALL); this installs the same policies, image and
  // allowed hosts with the chart (certificates by its certs Job) and checks what a user sees, then helm uninstall.
  it('runs Ready pods, an Available APIService and a denying webhook through the Service; helm uninstall leaves nothing that fails requests', withDiagnostics([names.adm], async () => {
    const method = installMethod() === 'helm' ? 'kustomize' : 'helm';
    const t0 = Date.now();
    helmInst = await INSTALL_METHODS[method]({ ...installOptions, workDir: join(workDir, 'install-2') });
    const installS = (Date.now() - t0) / 1000;
    const d = await getJson(['-n', NAMESPACE, 'get', 'deployment', DEPLOYMENT]);
    assert.equal(d.spec.template.spec.containers[0].image, E2E_IMAGE);
    assert.ok(d.spec.replicas >= 2, 'the chart runs two replicas by default');
    assert.equal(d.status.readyReplicas, d.spec.replicas);
    assert.equal(helmInst.pods.length, d.spec.replicas);
    assert.equal((await apiServiceAvailable(cluster)).status, 'True');
    // The external metric through the aggregator and the Service, from the policies the chart mounted.
    await loadgen.set(40);
    const want = String(formulaReplicas(40, WEB));
    await waitFor(
      `desired-replicas of ${names.scale}/web = ${want} from the helm installation`,
      async () => {
        const m = await rawMetric(names.scale, 'web');
        return { done: m.code === 0 && m.body?.items?.[0]?.value === want, seen: m.code === 0 ? m.body : m.stderr };
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    // A webhook denial through the Service (the server registers its configurations once it serves).
    const big = workload(names.adm, 'helm-too-big', { resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '2Gi' } } });
    const denied = await waitFor(
      'validate.governor.io to deny a Deployment over the limit',
      async () => {
        const r = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: big });
        return { done: r.code !== 0 && /admission webhook "validate\.governor\.io" denied the request/.test(r.stderr), value: r, seen: r.stderr || r.stdout };
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    assert.match(denied.stderr, /limits\.memory must be at most 1Gi \(is 2Gi\)/);

    const t1 = Date.now();
    await helmInst.uninstall(); // helm uninstall --wait, then the garbage collector removes what the server registered
    const uninstallS = (Date.now() - t1) / 1000;
    process.stdout.write(`helm: install to Deployment and APIService Available ${installS.toFixed(1)} s (${JSON.stringify(helmInst.phases)}), uninstall until registrations gone ${uninstallS.toFixed(1)} s\n`);
    const hooks = JSON.parse(await kubectlOk(['get', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', '-o', 'json']));
    assert.deepEqual(hooks.items.filter((h: any) => JSON.stringify(h).includes('governor')).map((h: any) => `${h.kind}/${h.metadata.name}`), []);
    assert.match((await cluster.kubectl(['get', 'apiservice', APISERVICE])).stderr, /NotFound/);
    // The CRDs stay by design (helm.sh/resource-policy: keep); nothing in them calls a server that is gone.
    const crds = JSON.parse(await kubectlOk(['get', 'crd', '-o', 'json'])).items.filter((c: any) => c.spec.group === 'governor.io');
    assert.equal(crds.length, 3, 'the chart keeps its three CRDs');
    for (const c of crds) assert.notEqual(c.spec.conversion?.strategy, 'Webhook', `${c.metadata.name} has a conversion webhook`);
    // Discovery works (no unavailable APIService) and writes go through unmutated.
    await kubectlOk(['api-resources', '-o', 'name']);
    await kubectlOk(['apply', '-f', '-'], workload(names.adm, 'after-helm-uninstall', { resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '2Gi' } } }));
    assert.equal((await getJson(['-n', names.adm, 'get', 'deployment', 'after-helm-uninstall'])).metadata.labels?.team, undefined, 'mutated after helm uninstall');
    await kubectlOk(['delete', 'crd', ...crds.map((c: any) => c.metadata.name), '--wait=false']); // as docs/install.md says
  }));
});

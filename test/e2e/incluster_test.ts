// End to end with kube-governor running as pods (E2E_TARGET=kind, hack/kind-e2e.sh): the real manifests/base with the
// image built from the Dockerfile, the suite's policies in the policies ConfigMap, `governor certs` for the Secrets and
// caBundles. Proves that the Deployment becomes Available, that the aggregator serves our external metric from the
// pods, that kubectl apply is governed by the in-cluster webhooks, and that a native HPA follows a ScalingPolicy whose
// load comes from an in-cluster HTTP JSON endpoint (loadgen), holding while that source is down.
//
// The local control plane (hack/local-cluster.sh) runs no kubelet, so this file needs a cluster that runs pods;
// governor_test.ts is the local-target suite. hack/test.sh picks the file by E2E_TARGET. One file on purpose: the
// APIService and the webhook configurations are cluster-wide singletons.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startLocalCluster, type LocalCluster } from './harness/cluster.js';
import { governorCli } from './lib/governor-process.js';
import { apiServiceAvailable, APISERVICE, NAMESPACE, WEBHOOK_CONFIGURATION } from './lib/install.js';
import { deployment, formulaReplicas, runNames, SMALL_RESOURCES, writePolicies } from './lib/fixtures.js';
import { DEPLOYMENT, installInCluster, type InClusterInstallation } from './lib/incluster-install.js';
import { E2E_IMAGE, IN_CLUSTER_WEB as WEB, inClusterScalingPolicy, loadgenHost, POLICIES_CONFIGMAP } from './lib/incluster-manifests.js';
import { Loadgen } from './lib/incluster-loadgen.js';
import { ReplicaRecorder } from './lib/replicas.js';
import { sleep, waitFor } from './lib/wait.js';

const names = runNames();
const INITIAL_LOAD = 5;
const metricPath = (ns: string, policy: string) =>
  `/apis/external.metrics.k8s.io/v1beta1/namespaces/${ns}/desired-replicas?labelSelector=${encodeURIComponent(`governor.io/policy=${policy}`)}`;

let cluster: LocalCluster;
let workDir: string;
let inst: InClusterInstallation | undefined;
let loadgen: Loadgen;
let scalingFile: string;
const recorders: ReplicaRecorder[] = [];

/** Runs a test body; on failure the error carries pod state, kubectl describe hpa, events and the server logs. */
function withDiagnostics(namespaces: readonly string[], body: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await body();
    } catch (e) {
      const diag = inst ? await inst.diagnostics(namespaces).catch((d) => `(diagnostics failed: ${(d as Error).message})`) : '(not installed)';
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
 * with a kubelet would otherwise try to pull it. The pods stay unstarted, as on the local control plane; the HPA's
 * AverageValue target counts the Deployment's replicas, not ready pods.
 */
function workload(ns: string, name: string, o: Parameters<typeof deployment>[2] = {}): string {
  const d = JSON.parse(deployment(ns, name, o));
  for (const c of d.spec.template.spec.containers) c.imagePullPolicy = 'Never';
  return JSON.stringify(d);
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

/** `governor hpa` for the policy, applied with kubectl; per-HPA tolerance only where the API server has the field. */
async function applyGeneratedHpa(ns: string, policy: string): Promise<void> {
  const minor = Number(/^v1\.(\d+)/.exec(cluster.version)?.[1] ?? 0);
  const r = await governorCli(['hpa', scalingFile, `--name=${ns}/${policy}`, ...(minor >= 33 ? [] : ['--hpa-tolerance=none'])]);
  assert.equal(r.code, 0, `governor hpa failed:\n${r.stderr}`);
  await kubectlOk(['apply', '-f', '-'], r.stdout);
}

before(async () => {
  if ((process.env.E2E_TARGET ?? 'local') === 'local') {
    throw new Error('test/e2e/incluster_test.ts runs kube-governor as pods and needs a cluster with a kubelet: run it through hack/kind-e2e.sh (E2E_TARGET=kind)');
  }
  cluster = await startLocalCluster();
  workDir = mkdtempSync(join(tmpdir(), 'kg-e2e-incluster-'));

  const nsDoc = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kg-e2e': names.id } } });
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [nsDoc(names.adm), nsDoc(names.scale)] }));
  for (const ns of [names.adm, names.scale]) {
    await waitFor(`ServiceAccount default in ${ns}`, async () => ({ done: (await cluster.kubectl(['-n', ns, 'get', 'sa', 'default'])).code === 0 }), { timeoutMs: 60_000 });
  }

  // The load source first: the governor pods start querying it as soon as they load the policy.
  loadgen = await new Loadgen(cluster, names.scale).deploy(INITIAL_LOAD);

  // Policies: the admission policies of the local suite (same messages), and `web` reading the loadgen Service.
  const policyDir = join(workDir, 'policies');
  mkdirSync(policyDir);
  const governance = readFileSync(writePolicies(policyDir, names).governance, 'utf8');
  scalingFile = join(workDir, 'scaling-incluster.yaml');
  writeFileSync(scalingFile, inClusterScalingPolicy(names.scale));

  inst = await installInCluster({
    cluster,
    workDir: join(workDir, 'install'),
    policyFiles: { 'governance.yaml': governance, 'scaling.yaml': readFileSync(scalingFile, 'utf8') },
    allowedSourceHosts: [loadgenHost(names.scale)],
  });
});

after(async () => {
  for (const r of recorders) r.stop();
  await inst?.uninstall().catch((e) => process.stderr.write(`uninstall failed: ${(e as Error).message}\n`));
  if (cluster) {
    await cluster.kubectl(['delete', 'namespace', names.adm, names.scale, '--ignore-not-found', '--wait=false']);
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
    assert.ok(c.args.includes(`--allowed-source-hosts=${loadgenHost(names.scale)}`), `args: ${c.args}`);
    assert.ok(d.spec.replicas >= 2, 'manifests/base runs two replicas');
    assert.equal(d.status.readyReplicas, d.spec.replicas);
    assert.equal(inst!.pods.length, d.spec.replicas);
    const cm = await getJson(['-n', NAMESPACE, 'get', 'configmap', POLICIES_CONFIGMAP]);
    assert.deepEqual(Object.keys(cm.data).sort(), ['governance.yaml', 'scaling.yaml']);
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
  const annotationWarning = /Warning: \[audit\] metadata\.annotations\["e2e\.governor\.io\/reviewed-by"\] is required \(policy e2e-audit, rule require-annotations\)/;
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
    await kubectlOk(['apply', '-f', '-'], workload(ns(), 'web', { replicas: 1, resources: SMALL_RESOURCES }));
    await applyGeneratedHpa(ns(), 'web');
    rec = await new ReplicaRecorder(cluster.kubeconfig, ns()).start();
    recorders.push(rec);
  });

  it('below Tmin: the Deployment sits at base', withDiagnostics([names.scale], async () => {
    await loadgen.set(5);
    await rec.waitFor({ web: WEB.base }, SETTLE_MS);
  }));

  it('in the band: the Deployment follows the proportional formula', withDiagnostics([names.scale], async () => {
    for (const load of [30, 40]) {
      await loadgen.set(load);
      await rec.waitFor({ web: formulaReplicas(load, WEB) }, SETTLE_MS);
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
  }));

  it('back below Tmin: down to base (no stabilization window)', withDiagnostics([names.scale], async () => {
    await loadgen.set(0);
    await rec.waitFor({ web: WEB.base }, SETTLE_MS);
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
  }));
});

// End to end on a real control plane (hack/local-cluster.sh: kube-apiserver, kube-controller-manager with the HPA
// controller, etcd): kube-governor installed from manifests/ with `governor certs`, serving as a host process behind an
// ExternalName Service. Proves that the aggregator serves our external metric, that kubectl apply is governed by our
// webhooks, that the native HPA controller lands on our decisions in every regime and through a source outage, that
// `simulate` replays the real controller, and that a MigrationPolicy moves replicas with two native HPAs.
//
// One file on purpose: the APIService and the webhook configurations are cluster-wide singletons, so a second file
// installing kube-governor in parallel would take them over.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { startLocalCluster, REPO_ROOT, type LocalCluster } from './harness/cluster.js';
import { startMetricsTarget, startPrometheus, type MetricsTarget, type PrometheusInstance } from './harness/prometheus.js';
import { governorCli, kubeVersionArgs } from './lib/governor-process.js';
import { directGet } from './lib/https.js';
import { apiServiceAvailable, APISERVICE, installGovernor, NAMESPACE, SERVICE, WEBHOOK_CONFIGURATION, type Installation } from './lib/install.js';
import { deployment, formulaReplicas, LOAD_METRIC, MIG, runNames, SIM, SMALL_RESOURCES, WEB, writePolicies, type PolicyFiles } from './lib/fixtures.js';
import { markPodsReady } from './lib/kubelet.js';
import { ReplicaRecorder } from './lib/replicas.js';
import { sleep, waitFor } from './lib/wait.js';
import { compareRescales, queryRangeTrace } from './lib/parity.js';
import { generateCA, generateClientCert } from '../../src/tls/certs.js';
import { parsePolicyText } from '../../src/policy/parse.js';
import type { ScalingPolicy } from '../../src/policy/types.js';
import { simulateTrace } from '../../src/scaling/simulate.js';
import { scalingPolicyHpa } from '../../src/scaling/hpa-manifest.js';
import type { HpaSpec } from '../../src/scaling/hpa-replay.js';

const names = runNames();
const SERVICE_DNS = `${SERVICE}.${NAMESPACE}.svc`;
const selectorFor = (policy: string, role?: string) => encodeURIComponent(`governor.io/policy=${policy}${role ? `,governor.io/role=${role}` : ''}`);
const metricPath = (ns: string, policy: string, role?: string) => `/apis/external.metrics.k8s.io/v1beta1/namespaces/${ns}/desired-replicas?labelSelector=${selectorFor(policy, role)}`;

let cluster: LocalCluster;
let target: MetricsTarget;
let prom: PrometheusInstance;
let inst: Installation | undefined;
let workDir: string;
let policies: PolicyFiles;
const recorders: ReplicaRecorder[] = [];

/** Runs a test body; on failure the error carries kubectl describe hpa, events and the governor log tail. */
function withDiagnostics(namespaces: readonly string[], body: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await body();
    } catch (e) {
      const diag = inst ? await inst.diagnostics(namespaces).catch((d) => `(diagnostics failed: ${(d as Error).message})`) : '(not installed)';
      const err = new Error(`${(e as Error).message}\n===== diagnostics =====\n${diag}`);
      // Keep the failing line of the test in the stack, not this wrapper.
      err.stack = `Error: ${err.message}\n${((e as Error).stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)).join('\n')}`;
      throw err;
    }
  };
}

/**
 * Plays the kubelet's part that the migration reads (the local control plane has no node): every pod of the namespace
 * gets Ready=True `afterMs` after it is first seen, so ReplicaSet and Deployment status count it Ready. Bounded: it
 * stops when asked or after 3 minutes.
 */
async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await cluster.kubectl(args, input !== undefined ? { input } : {});
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

const getJson = async (args: string[]) => JSON.parse(await kubectlOk([...args, '-o', 'json']));

/** Sets the load gauge of one workload and waits until Prometheus answers the new value. */
async function setLoad(workload: string, value: number): Promise<void> {
  target.set(LOAD_METRIC, value, { workload });
  await prom.waitForQuery(`${LOAD_METRIC}{workload="${workload}"}`, (v) => v === value, 20_000);
}

/** `governor hpa` for one policy, applied with kubectl (what the README tells users to do). */
async function applyGeneratedHpa(file: string, ns: string, policy: string): Promise<string> {
  const r = await governorCli(['hpa', file, `--name=${ns}/${policy}`, ...kubeVersionArgs(cluster.version)]);
  assert.equal(r.code, 0, `governor hpa failed:\n${r.stderr}`);
  await kubectlOk(['apply', '-f', '-'], r.stdout);
  return r.stdout;
}

async function rawMetric(ns: string, policy: string, role?: string): Promise<{ code: number; body: any; stderr: string }> {
  const r = await cluster.kubectl(['get', '--raw', metricPath(ns, policy, role)]);
  let body: any;
  try {
    body = JSON.parse(r.stdout);
  } catch {
    body = r.stdout;
  }
  return { code: r.code, body, stderr: r.stderr };
}

before(async () => {
  cluster = await startLocalCluster();
  workDir = mkdtempSync(join(tmpdir(), 'kg-e2e-'));
  const policyDir = join(workDir, 'policies');
  mkdirSync(policyDir);
  policies = writePolicies(policyDir, names);

  target = await startMetricsTarget();
  target.set(LOAD_METRIC, 5, { workload: 'web' });
  target.set(LOAD_METRIC, 0, { workload: 'sim' });
  target.set(LOAD_METRIC, 0, { workload: 'mig' });
  prom = await startPrometheus({ targets: [target.address] });
  await prom.waitForTargetsUp(30_000);

  const nsDoc = (name: string, labels: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kg-e2e': names.id, ...labels } } });
  await kubectlOk(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [nsDoc(names.adm), nsDoc(names.prod, { tier: 'prod' }), nsDoc(names.scale), nsDoc(names.sim), nsDoc(names.mig)],
    }),
  );
  // Pods need the namespace's default ServiceAccount (created by the controller manager).
  for (const ns of [names.adm, names.prod, names.scale, names.sim, names.mig]) {
    await waitFor(`ServiceAccount default in ${ns}`, async () => ({ done: (await cluster.kubectl(['-n', ns, 'get', 'sa', 'default'])).code === 0 }), { timeoutMs: 30_000 });
  }

  // The suite's policies plus the shipped governance samples (team-defaults is exercised in the tier=prod namespace).
  inst = await installGovernor({
    cluster,
    policies: [policyDir, join(REPO_ROOT, 'policies', 'governance')],
    prometheusUrl: prom.url,
    workDir: join(workDir, 'install'),
  });
});

after(async () => {
  for (const r of recorders) r.stop();
  await inst?.uninstall().catch((e) => process.stderr.write(`uninstall failed: ${(e as Error).message}\n`));
  if (cluster) {
    await cluster.kubectl(['delete', 'namespace', names.adm, names.prod, names.scale, names.sim, names.mig, '--ignore-not-found', '--wait=false']);
    await cluster.kubectl(['-n', 'kube-system', 'delete', 'deployment', `kg-e2e-${names.id}-untouched`, '--ignore-not-found']);
  }
  await prom?.stop();
  await target?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  await cluster?.stop();
});

// ------------------------------------------------------------------------------------------------ 1. install

describe('install from manifests/ with governor certs', () => {
  it('creates the namespace, ServiceAccounts, RBAC, CRDs, the ExternalName Service, and caBundle everywhere', async () => {
    assert.ok(inst);
    await kubectlOk(['get', 'namespace', NAMESPACE]);
    await kubectlOk(['-n', NAMESPACE, 'get', 'serviceaccount', 'kube-governor', 'kube-governor-certs']);
    await kubectlOk(['get', 'clusterrolebinding', 'kube-governor:system:auth-delegator', 'kube-governor', 'kube-governor:hpa-external-metrics']);
    await kubectlOk(['-n', 'kube-system', 'get', 'rolebinding', 'kube-governor-auth-reader']);
    for (const crd of ['scalingpolicies', 'migrationpolicies', 'governancepolicies']) {
      const c = await getJson(['get', 'crd', `${crd}.governor.io`]);
      assert.ok(c.status.conditions.some((x: any) => x.type === 'Established' && x.status === 'True'), `${crd} not established`);
    }
    const svc = await getJson(['-n', NAMESPACE, 'get', 'service', SERVICE]);
    assert.equal(svc.spec.type, 'ExternalName');

    const bundle = readFileSync(inst.caFile, 'utf8');
    const b64 = Buffer.from(bundle).toString('base64');
    const apiService = await getJson(['get', 'apiservice', APISERVICE]);
    assert.equal(apiService.spec.caBundle, b64);
    assert.equal(apiService.spec.service.port, inst.ports.adapter);
    assert.notEqual(apiService.spec.insecureSkipTLSVerify, true);
    for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
      const w = await getJson(['get', kind, WEBHOOK_CONFIGURATION]);
      assert.ok(w.webhooks.length >= 1);
      for (const h of w.webhooks) {
        assert.equal(h.clientConfig.caBundle, b64, `${kind} ${h.name} caBundle`);
        assert.equal(h.clientConfig.service.port, inst.ports.webhook);
      }
    }
    // governor certs stored the material in the Secrets of manifests/base and a second run kept it.
    await kubectlOk(['-n', NAMESPACE, 'get', 'secret', 'kube-governor-tls', 'kube-governor-ca']);
    assert.match(inst.certsOutput[1] ?? '', /CA: kept/);
    // The server registered everything with the bundle `governor certs` wrote: a second run has nothing to patch.
    assert.match(inst.certsOutput[0] ?? '', /APIService v1beta1\.external\.metrics\.k8s\.io: caBundle not-found \(not registered yet/);
    assert.match(inst.certsOutput[1] ?? '', /APIService v1beta1\.external\.metrics\.k8s\.io: caBundle unchanged/);
    assert.match(inst.certsOutput[1] ?? '', /ValidatingWebhookConfiguration kube-governor: caBundle unchanged/);
  });

  it('runs the server with least privilege: what it needs and nothing more', async () => {
    const sa = `--as=system:serviceaccount:${NAMESPACE}:kube-governor`;
    const can = async (...args: string[]) => (await cluster.kubectl(['auth', 'can-i', ...args, sa])).stdout.trim();
    assert.equal(await can('create', 'subjectaccessreviews.authorization.k8s.io'), 'yes');
    assert.equal(await can('get', 'configmap/extension-apiserver-authentication', '-n', 'kube-system'), 'yes');
    assert.equal(await can('get', 'deployments.apps', '--subresource=scale', '-n', names.scale), 'yes');
    assert.equal(await can('list', 'secrets', '-A'), 'no');
    assert.equal(await can('patch', 'apiservices.apiregistration.k8s.io'), 'no');
    // Self-registration: its own objects by name, nothing else, never delete.
    assert.equal(await can('update', `apiservices.apiregistration.k8s.io/${APISERVICE}`), 'yes');
    assert.equal(await can('update', 'apiservices.apiregistration.k8s.io/v1beta1.metrics.k8s.io'), 'no');
    assert.equal(await can('create', `validatingwebhookconfigurations.admissionregistration.k8s.io/${WEBHOOK_CONFIGURATION}`), 'yes');
    assert.equal(await can('create', 'validatingwebhookconfigurations.admissionregistration.k8s.io'), 'no');
    assert.equal(await can('delete', `validatingwebhookconfigurations.admissionregistration.k8s.io/${WEBHOOK_CONFIGURATION}`), 'no');
    assert.equal(await can('patch', 'validatingwebhookconfigurations.admissionregistration.k8s.io'), 'no');
    // It really ran with that token: the front-proxy CA came from the ConfigMap the auth-reader Role opens.
    assert.match(inst!.governor.log(), /authentication settings read from kube-system\/extension-apiserver-authentication/);
  });
});

// ------------------------------------------------------------------------------------------------ 3. admission

describe('kubectl apply is governed by the webhooks', () => {
  const ns = () => names.adm;
  const annotationWarning = /Warning: \[audit\] e2e-audit\/require-annotations: metadata\.annotations\["e2e\.governor\.io\/reviewed-by"\] is required/;
  const bigResources = { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '2Gi' } };

  it('mutates a Deployment missing limits and labels, and prints the audit warning', withDiagnostics([names.adm], async () => {
    const r = await cluster.kubectl(['apply', '-f', '-'], { input: deployment(ns(), 'plain') });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, annotationWarning);
    const d = await getJson(['-n', ns(), 'get', 'deployment', 'plain']);
    assert.equal(d.metadata.labels.team, 'platform-e2e');
    assert.equal(d.spec.template.metadata.labels.team, 'platform-e2e');
    assert.deepEqual(d.spec.template.spec.containers[0].resources, { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '128Mi' } });
    // The same YAML through `governor review` (the offline engine) gives the same object: CLI results equal the cluster.
    const review = await governorCli(['review', `--policies=${policies.dir}`, `--policies=${join(REPO_ROOT, 'policies', 'governance')}`, '-'], { input: deployment(ns(), 'plain') });
    assert.equal(review.code, 0, review.stderr);
    const offline = parseYaml(review.stdout);
    assert.deepEqual(offline.metadata.labels, d.metadata.labels);
    assert.deepEqual(offline.spec.template.spec.containers[0].resources, d.spec.template.spec.containers[0].resources);
    assert.match(review.stderr, /e2e\.governor\.io\/reviewed-by"\] is required \(policy e2e-audit/);
  }));

  it('rejects a Deployment violating an enforce policy, with our message in kubectl output', withDiagnostics([names.adm], async () => {
    const r = await cluster.kubectl(['apply', '-f', '-'], { input: deployment(ns(), 'too-big', { resources: bigResources }) });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /admission webhook "validate\.governor\.io" denied the request/);
    assert.match(r.stderr, /spec\.template\.spec\.containers\[0\]\.resources\.limits\.memory must be at most 1Gi \(is 2Gi\) \(policy e2e-defaults, rule max-resources\)/);
    const get = await cluster.kubectl(['-n', ns(), 'get', 'deployment', 'too-big']);
    assert.notEqual(get.code, 0);
    assert.match(get.stderr, /NotFound/);
  }));

  it('behaves the same under kubectl apply --dry-run=server, without creating anything or recording Events', withDiagnostics([names.adm], async () => {
    const dry = await cluster.kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], { input: deployment(ns(), 'dry') });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stderr, annotationWarning);
    const shown = JSON.parse(dry.stdout);
    assert.equal(shown.metadata.labels.team, 'platform-e2e');
    assert.deepEqual(shown.spec.template.spec.containers[0].resources.limits, { memory: '128Mi' });
    const denied = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: deployment(ns(), 'dry-big', { resources: bigResources }) });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /denied the request: .*limits\.memory must be at most 1Gi/s);
    for (const name of ['dry', 'dry-big']) assert.match((await cluster.kubectl(['-n', ns(), 'get', 'deployment', name])).stderr, /NotFound/);
    // Events: the real apply of `plain` (earlier) produced a PolicyAudit Event; the dry runs none.
    await waitFor(
      'a PolicyAudit Event about deployment plain',
      async () => {
        const ev = await getJson(['-n', ns(), 'get', 'events', '--field-selector=involvedObject.name=plain']);
        return { done: ev.items.some((e: any) => e.reason === 'PolicyAudit'), seen: ev.items.map((e: any) => e.reason) };
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    for (const name of ['dry', 'dry-big']) {
      const ev = await getJson(['-n', ns(), 'get', 'events', `--field-selector=involvedObject.name=${name}`]);
      assert.deepEqual(ev.items.map((e: any) => e.reason), [], `Events recorded for the dry-run of ${name}`);
    }
  }));

  it('leaves kube-system and its own namespace untouched although the policies name them', withDiagnostics([names.adm], async () => {
    for (const target of ['kube-system', NAMESPACE]) {
      const name = `kg-e2e-${names.id}-untouched`;
      const r = await cluster.kubectl(['apply', '-f', '-'], { input: deployment(target, name) });
      assert.equal(r.code, 0, r.stderr);
      // (kube-governor's namespace is PodSecurity restricted: kubectl prints that warning, none of ours.)
      assert.doesNotMatch(r.stderr, /\[audit\]|policy e2e-|governor\.io/);
      const d = await getJson(['-n', target, 'get', 'deployment', name]);
      assert.equal(d.metadata.labels?.team, undefined, `${target}: labels mutated`);
      assert.deepEqual(d.spec.template.spec.containers[0].resources, {}, `${target}: resources mutated`);
      // Too big for e2e-defaults, still admitted there.
      const big = await cluster.kubectl(['apply', '-f', '-'], { input: deployment(target, name, { resources: bigResources }) });
      assert.equal(big.code, 0, big.stderr);
      await kubectlOk(['-n', target, 'delete', 'deployment', name, '--wait=false']);
    }
  }));

  it('enforces the shipped sample policy team-defaults in a tier=prod namespace', withDiagnostics([names.prod], async () => {
    const bare = await cluster.kubectl(['apply', '-f', '-'], { input: deployment(names.prod, 'shop', { resources: SMALL_RESOURCES }) });
    assert.notEqual(bare.code, 0);
    assert.match(bare.stderr, /denied the request/);
    assert.match(bare.stderr, /metadata\.labels\.owner is required .*\(policy team-defaults, rule require-labels\)/);
    assert.match(bare.stderr, /metadata\.annotations\.cost-center is required \(policy team-defaults, rule require-annotations\)/);
    const good = await cluster.kubectl(['apply', '-f', '-'], {
      input: deployment(names.prod, 'shop', { labels: { owner: 'shop-team' }, annotations: { 'cost-center': 'CC-1234' } }),
    });
    assert.equal(good.code, 0, good.stderr);
    const d = await getJson(['-n', names.prod, 'get', 'deployment', 'shop']);
    assert.equal(d.metadata.labels['governor.io/migration'], 'restart'); // team-defaults' default
    assert.deepEqual(d.spec.template.spec.containers[0].resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } });
  }));
});

// ------------------------------------------------------------------------------- 2, 4, 5. metrics and the HPA

describe('the native HPA lands on the published decision', () => {
  let rec: ReplicaRecorder;
  const ns = () => names.scale;

  before(async () => {
    for (const name of ['web', 'web-fixed']) {
      await kubectlOk(['apply', '-f', '-'], deployment(ns(), name, { replicas: 1, resources: SMALL_RESOURCES }));
      await applyGeneratedHpa(policies.scaling, ns(), name);
    }
    rec = await new ReplicaRecorder(cluster.kubeconfig, ns()).start();
    recorders.push(rec);
  });

  it('reports the APIService Available and serves our value through the aggregator', withDiagnostics([names.scale], async () => {
    assert.equal((await apiServiceAvailable(cluster)).status, 'True');
    const r = await rawMetric(ns(), 'web');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.body.kind, 'ExternalMetricValueList');
    assert.equal(r.body.items.length, 1);
    assert.equal(r.body.items[0].metricName, 'desired-replicas');
    assert.equal(r.body.items[0].value, String(formulaReplicas(5, WEB)));
    // kube-apiserver authorizes aggregated requests itself: an unprivileged identity is refused before reaching us.
    const denied = await cluster.kubectl(['get', '--raw', metricPath(ns(), 'web'), `--as=system:serviceaccount:${ns()}:default`]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /forbidden/i);
    const none = await rawMetric(ns(), 'no-such-policy');
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /NotFound|not found/i);
  }));

  it('refuses requests that bypass the aggregator', withDiagnostics([], async () => {
    const ca = readFileSync(inst!.caFile, 'utf8');
    const path = metricPath(ns(), 'web');
    const masters = { 'X-Remote-User': 'system:admin', 'X-Remote-Group': 'system:masters' };
    // No client certificate at all, even with headers.
    const anon = await directGet(inst!.ports.adapter, path, { ca, servername: SERVICE_DNS, headers: masters });
    assert.ok(anon.status === 401 || anon.status === 403, `no client cert: ${anon.status} ${anon.error ?? anon.body}`);
    // A client certificate from another CA that claims the front-proxy identity.
    const rogueCa = generateCA({ commonName: 'kube-governor-e2e-front-proxy-ca' });
    const rogue = generateClientCert(rogueCa, { commonName: 'front-proxy-client' });
    const forged = await directGet(inst!.ports.adapter, path, { ca, servername: SERVICE_DNS, cert: rogue.certPem, key: rogue.keyPem, headers: masters });
    assert.ok(forged.status === 0 || forged.status === 401 || forged.status === 403, `forged front-proxy cert: ${forged.status} ${forged.body}`);
    assert.doesNotMatch(forged.body, /ExternalMetricValueList/);
    // The real front-proxy certificate: an unprivileged user is refused by SubjectAccessReview, system:masters passes.
    const fp = { cert: readFileSync(cluster.frontProxy.cert, 'utf8'), key: readFileSync(cluster.frontProxy.key, 'utf8') };
    const nobody = await directGet(inst!.ports.adapter, path, { ca, servername: SERVICE_DNS, ...fp, headers: { 'X-Remote-User': 'kg-e2e-nobody' } });
    assert.equal(nobody.status, 403, nobody.body);
    const admin = await directGet(inst!.ports.adapter, path, { ca, servername: SERVICE_DNS, ...fp, headers: masters });
    assert.equal(admin.status, 200, admin.body);
    assert.equal(JSON.parse(admin.body).items[0].value, String(formulaReplicas(5, WEB)));
    process.stdout.write(
      `direct requests to the adapter: no client cert -> ${anon.status}; forged front-proxy cert -> ${forged.status || forged.error}; ` +
        `front-proxy cert as kg-e2e-nobody -> ${nobody.status}; as system:masters -> ${admin.status}\n`,
    );
  }));

  it('below Tmin: the Deployment sits at base', withDiagnostics([names.scale], async () => {
    await setLoad('web', 5);
    await rec.waitFor({ web: WEB.base, 'web-fixed': WEB.base }, 45_000);
  }));

  it('in the band: the Deployment follows the proportional formula', withDiagnostics([names.scale], async () => {
    for (const load of [30, 40]) {
      await setLoad('web', load);
      const want = formulaReplicas(load, WEB);
      await rec.waitFor({ web: want, 'web-fixed': want }, 30_000);
    }
  }));

  it('above Tmax: max(Rmax, R + step) per interval up to the cap, never beyond', withDiagnostics([names.scale], async () => {
    const from = rec.latest()!.replicas.web!;
    const t0 = Date.now();
    await setLoad('web', 70);
    await rec.waitFor({ web: WEB.cap }, 45_000);
    // Stay in overload for three more intervals: the cap holds.
    await sleep(3 * WEB.intervalMs);
    const seen = rec.changes('web', t0).map((c) => c.replicas);
    assert.equal(seen[0], from);
    const steps = seen.slice(1);
    assert.equal(steps[0], Math.max(WEB.max, from + WEB.step), `first overload decision: ${seen}`);
    for (let i = 1; i < steps.length; i++) assert.equal(steps[i], steps[i - 1]! + WEB.step, `one step per interval: ${seen}`);
    assert.equal(Math.max(...seen), WEB.cap, `never above the cap: ${seen}`);
  }));

  it('back below Tmin: down to base at once (no stabilization window)', withDiagnostics([names.scale], async () => {
    await setLoad('web', 0);
    await rec.waitFor({ web: WEB.base, 'web-fixed': WEB.base }, 30_000);
  }));

  it('source outage: hold keeps the replicas, fixed applies its fallback, nothing scales to zero; scaling resumes after', withDiagnostics([names.scale], async () => {
    await setLoad('web', 30);
    const held = formulaReplicas(30, WEB);
    await rec.waitFor({ web: held, 'web-fixed': held }, 30_000);

    const port = prom.port;
    const outageStart = Date.now();
    await prom.stop();
    try {
      // onSourceFailure {fixed, replicas: 3, after: 2}: after two failed intervals web-fixed goes to 3.
      await rec.waitFor({ 'web-fixed': 3 }, 30_000);
      // Keep the source down for several more intervals while the aggregator still answers for `web`.
      await sleep(4 * WEB.intervalMs);
      const r = await rawMetric(ns(), 'web');
      assert.equal(r.code, 0, `web during the outage: ${r.stderr}`);
      assert.equal(r.body.items[0].value, String(held));
      // Every state the Deployments went through since the source stopped (the recorder watches, it does not poll).
      for (const s of rec.since(outageStart)) {
        assert.equal(s.replicas.web, held, `web moved during the outage: ${JSON.stringify(s)}`);
        assert.ok((s.replicas['web-fixed'] ?? 0) >= 1, `web-fixed reached zero: ${JSON.stringify(s)}`);
      }
      const hpa = await getJson(['-n', ns(), 'get', 'hpa', 'web']);
      assert.equal(hpa.status.desiredReplicas, held);
    } finally {
      // Whatever failed above, the later tests need their source back.
      prom = await startPrometheus({ targets: [target.address], port });
      await prom.waitForTargetsUp(30_000);
    }
    await setLoad('web', 40);
    const want = formulaReplicas(40, WEB);
    await rec.waitFor({ web: want, 'web-fixed': want }, 45_000);
  }));
});

// ------------------------------------------------------------------------------- issue 5: simulate vs the real HPA

describe('governor simulate replays what the real HPA controller does', () => {
  const ns = () => names.sim;
  // The limited HPA: scale up by at most one pod per 3 s, scale down after a 4 s stabilization window.
  const limitedSpec: HpaSpec = {
    minReplicas: 1,
    maxReplicas: SIM.cap,
    targetAverageValue: 1,
    behavior: {
      scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 1, periodSeconds: 3 }], tolerance: 0 },
      scaleDown: { stabilizationWindowSeconds: 4, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 1 }], tolerance: 0 },
    },
  };
  // Load plateaus, seconds from the start: quiet, in band, overload, in band, quiet.
  const plan = [
    { t: 0, load: 0 },
    { t: 8, load: 30 },
    { t: 22, load: 60 },
    { t: 36, load: 20 },
    { t: 48, load: 0 },
  ];
  const endS = 60;

  it('gives the same replica sequence, within one sync period, for a tracking and a rate-limited HPA', withDiagnostics([names.sim], async () => {
    for (const name of ['track', 'limited']) await kubectlOk(['apply', '-f', '-'], deployment(ns(), name, { replicas: 1, resources: SMALL_RESOURCES }));
    await applyGeneratedHpa(policies.simulate, ns(), 'track');
    // The limited HPA: governor hpa's output with the behavior replaced by limitedSpec's (tolerance is a quantity).
    const generated = await governorCli(['hpa', policies.simulate, `--name=${ns()}/limited`, ...kubeVersionArgs(cluster.version)]);
    assert.equal(generated.code, 0, generated.stderr);
    const limited = parseYaml(generated.stdout);
    const asManifest = (r: NonNullable<NonNullable<HpaSpec['behavior']>['scaleUp']>) => ({ ...r, tolerance: String(r.tolerance) });
    limited.spec.behavior = { scaleUp: asManifest(limitedSpec.behavior!.scaleUp!), scaleDown: asManifest(limitedSpec.behavior!.scaleDown!) };
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(limited));

    const rec = await new ReplicaRecorder(cluster.kubeconfig, ns()).start();
    recorders.push(rec);
    await setLoad('sim', 0);
    await rec.waitFor({ track: 1, limited: 1 }, 30_000);
    await sleep(3000); // let both HPAs settle on 1 with fresh recommendations

    // Start on the middle of a policy interval so load changes never race a bucket boundary.
    const interval = SIM.intervalMs;
    const t0 = Math.ceil(Date.now() / interval) * interval + interval / 2;
    await sleep(t0 - Date.now());
    for (const p of plan) {
      await sleep(Math.max(0, t0 + p.t * 1000 - Date.now()));
      target.set(LOAD_METRIC, p.load, { workload: 'sim' });
    }
    await sleep(Math.max(0, t0 + endS * 1000 - Date.now()));
    rec.stop();

    // The trace as governor saw it: Prometheus' answers over the run (scrape delay included).
    const trace = await queryRangeTrace(prom.url, `${LOAD_METRIC}{workload="sim"}`, t0, t0 + endS * 1000, 0.1);
    const parsed = parsePolicyText(readFileSync(policies.simulate, 'utf8'), policies.simulate);
    assert.deepEqual(parsed.errors, []);
    const byName = (n: string) => parsed.policies.find((p) => p.name === n) as ScalingPolicy;
    const controller = { syncPeriodMs: 1000, tolerance: 0.01, downscaleStabilizationMs: 0 };
    const report: string[] = [];
    for (const [name, spec] of [['track', scalingPolicyHpa(byName('track')).spec], ['limited', limitedSpec]] as const) {
      const sim = simulateTrace({
        policy: byName(name),
        trace,
        options: { controller, hpaSpecs: { target: spec }, initialReplicas: { target: 1 }, epochMs: t0, untilSeconds: endS },
      });
      const real = rec.changes(name, t0).map((c) => ({ t: (c.atMs - t0) / 1000, replicas: c.replicas }));
      const simulated: { t: number; replicas: number }[] = [];
      for (const s of sim.steps) {
        const r = s.workloads[0]!.reached;
        if (simulated.at(-1)?.replicas !== r) simulated.push({ t: s.t, replicas: r });
      }
      const cmp = compareRescales(real, simulated);
      report.push(`${name}: real ${JSON.stringify(real)}\n${name}: sim  ${JSON.stringify(simulated)}\n${name}: max |Δt| ${cmp.maxDeltaS.toFixed(2)} s`);
      assert.deepEqual(cmp.realValues, cmp.simValues, `replica sequences differ\n${report.join('\n')}`);
      // One sync period (1 s) plus what observing adds: Prometheus answering, the apiserver write and the watch event.
      assert.ok(cmp.maxDeltaS <= 1.5, `rescale times differ by more than one sync period\n${report.join('\n')}`);
    }
    process.stdout.write(`simulate vs real HPA controller:\n${report.map((l) => l.replace(/^/gm, '  ')).join('\n')}\n`);
  }));
});

// ------------------------------------------------------------------------------- issue 5: a migration, two HPAs

describe('a MigrationPolicy moves replicas with two native HPAs', () => {
  const ns = () => names.mig;

  it('drains the source and grows the target, keeping source + target >= capacity at every observation', withDiagnostics([names.mig], async () => {
    await kubectlOk(['apply', '-f', '-'], deployment(ns(), 'old', { replicas: MIG.base, resources: SMALL_RESOURCES }));
    await kubectlOk(['apply', '-f', '-'], deployment(ns(), 'new', { replicas: 1, resources: SMALL_RESOURCES }));
    const hpas = await governorCli(['hpa', policies.migration, `--name=${ns()}/move`, ...kubeVersionArgs(cluster.version)]);
    assert.equal(hpas.code, 0, hpas.stderr);
    const hpaDocs = parseAllDocuments(hpas.stdout).map((d) => d.toJS());
    assert.deepEqual(hpaDocs.map((d) => d.metadata.labels['governor.io/role']), ['source', 'target']);
    // Users apply the two HPAs whenever they like, so the HPA controller syncs them at unrelated phases. Half a sync
    // period apart is the case that matters: whichever HPA syncs first after a decision acts alone for ~0.5 s.
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(hpaDocs[1]));
    await sleep(500);
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(hpaDocs[0]));

    const rec = await new ReplicaRecorder(cluster.kubeconfig, ns()).start();
    recorders.push(rec);
    // Quiet load: the source holds R'(0) and the target keeps its minimum.
    await setLoad('mig', 0);
    await rec.waitFor({ old: MIG.base, new: 1 }, 30_000);
    const src = await rawMetric(ns(), 'move', 'source');
    assert.equal(src.code, 0, src.stderr);
    assert.equal(src.body.items.length, 1);
    assert.equal(src.body.items[0].value, String(MIG.base));

    // Overload: a full step per interval; the target grows, and the source gives up only what the target's Ready
    // pods replace. This cluster has no kubelet: the test plays it, marking each pod Ready a second after it appears.
    const t0 = Date.now();
    const kubelet = markPodsReady(cluster, ns(), 1000);
    await setLoad('mig', 60);
    const migrationStatus = async () => {
      const r = await governorCli(['migrate', 'status', 'move', `--namespace=${ns()}`, `--kubeconfig=${cluster.kubeconfig}`, `--policies=${policies.migration}`, '--output=json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { phase: string; reason?: string };
    };
    let last: { phase: string; reason?: string } | undefined;
    try {
      await rec.waitFor({ old: 1, new: MIG.capacity }, 90_000);
      // Completed only once the target's pods are Ready too (the source may be deleted then): the kubelet stays until then.
      for (let i = 0; i < 30 && (last = await migrationStatus()).phase !== 'Completed'; i++) await sleep(1000);
    } finally {
      await kubelet.stop();
    }
    await sleep(2 * MIG.intervalMs);
    rec.stop();
    const samples = rec.since(t0);
    const short = samples.filter((s) => (s.replicas.old ?? 0) + (s.replicas.new ?? 0) < MIG.capacity);
    const oldSeq = rec.changes('old', t0).map((c) => c.replicas);
    const newSeq = rec.changes('new', t0).map((c) => c.replicas);
    const timeline = samples.map((s) => `${((s.atMs - t0) / 1000).toFixed(2)}s rv ${s.resourceVersion}: old ${s.replicas.old} new ${s.replicas.new}`).join('\n');
    process.stdout.write(`migration states (every committed change of spec.replicas):\n${timeline.replace(/^/gm, '  ')}\n`);
    assert.deepEqual(short, [], `source + target fell below the capacity ${MIG.capacity}:\n${timeline}`);
    // Steps of one per interval, or fewer while the target's pods are not Ready yet; never back.
    const monotone = (seq: number[], dir: 1 | -1) => seq.every((v, i) => i === 0 || (v - seq[i - 1]!) * dir > 0);
    assert.ok(oldSeq[0] === 4 && oldSeq.at(-1) === 1 && monotone(oldSeq, -1), `source steps ${JSON.stringify(oldSeq)}:\n${timeline}`);
    assert.ok(newSeq[0] === 1 && newSeq.at(-1) === 4 && monotone(newSeq, 1), `target steps ${JSON.stringify(newSeq)}:\n${timeline}`);

    assert.equal(last?.phase, 'Completed', `the migration did not complete with the target Ready: ${JSON.stringify(last)}`);
    assert.equal((await migrationStatus()).phase, 'Completed');
  }));
});

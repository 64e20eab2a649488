// Install, use and uninstall kube-governor on a real control plane while a writer creates Deployments in another
// namespace the whole time: no write may fail because of governor, before it serves (nothing points at it), while
// it enforces (a forged ownerReference is denied, the controllers' Pods skip the webhook), or after the uninstall
// (the garbage collector removes what it registered). The server runs as a host process (no kubelet here), exactly
// as test/e2e/lib/install.ts runs it.
//
// Not in parallel with governor_test.ts on one cluster: both install the cluster-wide webhook configurations.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, startLocalCluster, type LocalCluster } from './harness/cluster.js';
import { freePort } from './harness/prometheus.js';
import { governorCli, httpStatus, startGovernorServe, waitServing, type GovernorProcess } from './lib/governor-process.js';
import {
  APISERVICE,
  CERTS_SERVICE_ACCOUNT,
  NAMESPACE,
  SERVICE,
  SERVICE_ACCOUNT,
  tokenKubeconfig,
  waitNamespaceGone,
  waitRegistered,
  WEBHOOK_CONFIGURATION,
  writeRegistrationTemplates,
} from './lib/install.js';
import { sleep, waitFor } from './lib/wait.js';

const id = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const LOOP_NS = `kg-install-${id}-loop`;
const GOV_NS = `kg-install-${id}-gov`;
/** The writer: one Deployment per LOOP_INTERVAL_MS, never longer than LOOP_MAX_MS. */
const LOOP_INTERVAL_MS = 200;
const LOOP_MAX_MS = 120_000;

type Phase = 'before-install' | 'applied' | 'serving' | 'registered' | 'uninstalling' | 'uninstalled';

/** Creates Deployments straight through the API (a kubectl process per write would load the machine). */
class Writer {
  phase: Phase = 'before-install';
  readonly ok = new Map<Phase, number>();
  readonly errors: { phase: Phase; status: number; message: string }[] = [];
  private stopped = false;
  private done: Promise<void> | undefined;
  private n = 0;
  private readonly tls: { ca: Buffer; cert: Buffer; key: Buffer };
  constructor(private readonly cluster: LocalCluster) {
    const e = cluster.env;
    this.tls = { ca: readFileSync(e.KG_CLUSTER_CA!), cert: readFileSync(e.KG_ADMIN_CERT!), key: readFileSync(e.KG_ADMIN_KEY!) };
  }

  private post(body: unknown): Promise<{ status: number; body: string }> {
    const url = new URL(`${this.cluster.apiserverUrl}/apis/apps/v1/namespaces/${LOOP_NS}/deployments`);
    return new Promise((resolve) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          ...this.tls,
          headers: { 'content-type': 'application/json' },
          agent: false,
          timeout: 15_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => resolve({ status: 0, body: err.message }));
      req.end(JSON.stringify(body));
    });
  }

  start(): void {
    const deadline = Date.now() + LOOP_MAX_MS;
    this.done = (async () => {
      while (!this.stopped && Date.now() < deadline) {
        const t0 = Date.now();
        const name = `w-${(this.n++).toString().padStart(4, '0')}`;
        // replicas 0: the controllers still create the ReplicaSet, and nothing piles up in etcd.
        const r = await this.post({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name, labels: { app: 'loop' } },
          spec: { replicas: 0, selector: { matchLabels: { app: 'loop' } }, template: { metadata: { labels: { app: 'loop' } }, spec: { containers: [{ name: 'c', image: 'registry.invalid/x' }] } } },
        });
        const phase = this.phase;
        if (r.status === 201) this.ok.set(phase, (this.ok.get(phase) ?? 0) + 1);
        else this.errors.push({ phase, status: r.status, message: r.body.slice(0, 300) });
        await sleep(Math.max(0, LOOP_INTERVAL_MS - (Date.now() - t0)));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  summary(): string {
    return `${[...this.ok].map(([p, n]) => `${p}=${n}`).join(' ')}; errors=${this.errors.length}`;
  }
}

let cluster: LocalCluster;
let workDir: string;
let writer: Writer;
let governor: GovernorProcess | undefined;
let metricsPort = 0;
const overlayDir = () => join(workDir, 'overlay');

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await cluster.kubectl(args, input !== undefined ? { input } : {});
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/** Names of governor's webhook configurations and APIService that exist (one kubectl call). */
async function registered(): Promise<string[]> {
  const r = await cluster.kubectl([
    'get',
    `mutatingwebhookconfiguration/${WEBHOOK_CONFIGURATION}`,
    `validatingwebhookconfiguration/${WEBHOOK_CONFIGURATION}`,
    `apiservice/${APISERVICE}`,
    '--ignore-not-found',
    '-o',
    'name',
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

const GOVERNANCE = (ns: string) => `apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: install-e2e-limits}
spec:
  mode: enforce
  match:
    kinds: [Deployment, ReplicaSet, Pod]
    namespaces: [${ns}]
  resources:
    require: [requests.cpu, limits.memory]
`;

const podTemplate = (resources: boolean) => ({
  metadata: { labels: { app: 'web' } },
  spec: { containers: [{ name: 'c', image: 'registry.invalid/web', ...(resources ? { resources: { requests: { cpu: '10m' }, limits: { memory: '32Mi' } } } : {}) }] },
});

describe('install and uninstall never block writes; the webhook cannot be skipped by a forged owner', { timeout: 600_000 }, () => {
  before(async () => {
    cluster = await startLocalCluster();
    workDir = mkdtempSync(join(tmpdir(), 'kg-install-e2e-'));
    await waitNamespaceGone(cluster, NAMESPACE, 90_000);
    // Nothing of an earlier run may be registered, or the writer would measure that run instead of this one.
    assert.deepEqual(await registered(), [], 'governor is already registered on this cluster');
    for (const ns of [LOOP_NS, GOV_NS]) await kubectlOk(['create', 'namespace', ns]);
    mkdirSync(overlayDir(), { recursive: true });
    writeFileSync(
      join(overlayDir(), 'kustomization.yaml'),
      JSON.stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: [relative(overlayDir(), join(REPO_ROOT, 'manifests', 'overlays', 'local'))] }),
    );
    writer = new Writer(cluster);
    writer.start();
  });

  after(async () => {
    await writer?.stop();
    await governor?.stop();
    // Clean up whatever a failed run left behind, so no other test meets a webhook pointing at nothing.
    await cluster?.kubectl(['delete', '-k', overlayDir(), '--ignore-not-found', '--wait=false']);
    await cluster?.kubectl(['delete', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', WEBHOOK_CONFIGURATION, '--ignore-not-found']);
    await cluster?.kubectl(['delete', 'apiservice', APISERVICE, '--ignore-not-found']);
    await cluster?.kubectl(['delete', 'namespace', LOOP_NS, GOV_NS, '--ignore-not-found', '--wait=false']);
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    await cluster?.stop();
  });

  it('kubectl apply -k registers nothing: no webhook points at a server that does not serve yet', async () => {
    await sleep(1000); // the writer's first writes, before anything is installed
    writer.phase = 'applied';
    await kubectlOk(['apply', '-k', overlayDir()]);
    assert.deepEqual(await registered(), []);
    const cm = JSON.parse(await kubectlOk(['-n', NAMESPACE, 'get', 'configmap', 'kube-governor-registration', '-o', 'json']));
    assert.deepEqual(Object.keys(cm.data).sort(), ['apiservice.yaml', 'webhooks.yaml']);
    await sleep(2000);
  });

  it('the server registers itself once it serves, and from then on enforces', async () => {
    const token = async (sa: string) => (await kubectlOk(['-n', NAMESPACE, 'create', 'token', sa, '--duration=1h'])).trim();
    const kc = { server: join(workDir, 'server.kubeconfig'), certs: join(workDir, 'certs.kubeconfig') };
    tokenKubeconfig(cluster, kc.server, SERVICE_ACCOUNT, await token(SERVICE_ACCOUNT));
    tokenKubeconfig(cluster, kc.certs, CERTS_SERVICE_ACCOUNT, await token(CERTS_SERVICE_ACCOUNT));
    const certDir = join(workDir, 'certs');
    const certs = await governorCli(['certs', `--kubeconfig=${kc.certs}`, `--namespace=${NAMESPACE}`, `--service-name=${SERVICE}`, `--out-dir=${certDir}`]);
    assert.equal(certs.code, 0, certs.stdout + certs.stderr);
    assert.match(certs.stdout, /caBundle not-found \(not registered yet/);

    const ports = { adapter: await freePort(), webhook: await freePort() };
    metricsPort = await freePort();
    const policyFile = join(workDir, 'governance.yaml');
    writeFileSync(policyFile, GOVERNANCE(GOV_NS));
    writer.phase = 'serving';
    governor = startGovernorServe(
      [
        `--policies=${policyFile}`,
        `--tls-cert-file=${join(certDir, 'tls.crt')}`,
        `--tls-private-key-file=${join(certDir, 'tls.key')}`,
        `--cert-dir=${join(workDir, 'cert-dir')}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.adapter}`,
        `--webhook-port=${ports.webhook}`,
        `--metrics-port=${metricsPort}`,
        `--service-name=${SERVICE}`,
        `--service-namespace=${NAMESPACE}`,
        `--kubeconfig=${kc.server}`,
        '--prometheus-url=http://127.0.0.1:9',
        '--allowed-source-hosts=127.0.0.1',
        '--shutdown-grace=2s',
        `--registration-manifests=${writeRegistrationTemplates(join(workDir, 'registration'), ports).join(',')}`,
        `--ca-bundle-file=${join(certDir, 'ca.crt')}`,
        '--registration-interval=1s',
      ],
      join(workDir, 'governor.log'),
    );
    await waitServing(governor, metricsPort);
    await waitRegistered(cluster);
    writer.phase = 'registered';

    const bundle = Buffer.from(readFileSync(join(certDir, 'ca.crt'), 'utf8')).toString('base64');
    const role = JSON.parse(await kubectlOk(['get', 'clusterrole', 'kube-governor', '-o', 'json']));
    for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
      const w = JSON.parse(await kubectlOk(['get', kind, WEBHOOK_CONFIGURATION, '-o', 'json']));
      assert.deepEqual(w.metadata.ownerReferences.map((r: any) => `${r.kind}/${r.name}/${r.uid}`), [`ClusterRole/kube-governor/${role.metadata.uid}`]);
      for (const h of w.webhooks) assert.equal(h.clientConfig.caBundle, bundle, `${kind} ${h.name}`);
    }
    await waitFor(
      `APIService ${APISERVICE} Available`,
      async () => {
        const r = await cluster.kubectl(['get', 'apiservice', APISERVICE, '-o', 'jsonpath={.status.conditions[?(@.type=="Available")].status}']);
        return { done: r.stdout.trim() === 'True', seen: r.stdout + r.stderr };
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );

    // Enforced: a Deployment without the required resources is denied.
    const deploy = (name: string, resources: boolean) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: GOV_NS },
      spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: podTemplate(resources) },
    });
    const denied = await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(deploy('bad', false)) });
    assert.notEqual(denied.code, 0, 'a violating Deployment was admitted');
    assert.match(denied.stderr, /denied the request/);
  });

  it('a ReplicaSet with a forged Deployment owner is validated and denied; the Deployment -> ReplicaSet -> Pod path skips the webhook', async () => {
    const forged = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'forged',
        namespace: GOV_NS,
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'does-not-exist', uid: '6d1b0f4e-0000-4000-8000-000000000001', controller: true }],
      },
      spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: podTemplate(false) },
    };
    const r = await cluster.kubectl(['create', '-f', '-'], { input: JSON.stringify(forged) });
    assert.notEqual(r.code, 0, 'the forged ReplicaSet was admitted');
    assert.match(r.stderr, /validate\.governor\.io.*denied the request/s);
    assert.match(r.stderr, /limits\.memory|requests\.cpu/);
    // The same pod as a bare Pod claiming a ReplicaSet owner: denied too.
    const pod = { apiVersion: 'v1', kind: 'Pod', spec: podTemplate(false).spec, metadata: { name: 'forged-pod', namespace: GOV_NS, ownerReferences: [{ ...forged.metadata.ownerReferences[0], kind: 'ReplicaSet', name: 'web-x' }] } };
    const p = await cluster.kubectl(['create', '-f', '-'], { input: JSON.stringify(pod) });
    assert.notEqual(p.code, 0, 'the forged Pod was admitted');

    // The real path: a compliant Deployment, scaled up; the controllers create the ReplicaSet and 3 Pods.
    await kubectlOk(['-n', GOV_NS, 'create', '-f', '-'], JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'good' }, spec: { replicas: 1, selector: { matchLabels: { app: 'good' } }, template: { ...podTemplate(true), metadata: { labels: { app: 'good' } } } } }));
    await kubectlOk(['-n', GOV_NS, 'scale', 'deployment/good', '--replicas=3']);
    await waitFor(
      'the ReplicaSet controller to create 3 Pods of deployment good',
      async () => {
        const out = await kubectlOk(['-n', GOV_NS, 'get', 'pods', '-l', 'app=good', '-o', 'name']);
        const n = out.split('\n').filter(Boolean).length;
        return { done: n === 3, seen: n };
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    // The Pods (and the ReplicaSet) came from the controllers: never sent to the webhook.
    const metrics = await new Promise<string>((resolve, reject) => {
      httpGet({ host: '127.0.0.1', port: metricsPort, path: '/metrics' }, (res) => {
        let t = '';
        res.on('data', (c) => (t += c));
        res.on('end', () => resolve(t));
      }).on('error', reject);
    });
    const reviews = metrics.split('\n').filter((l) => l.startsWith('governor_admission_requests_total{'));
    assert.ok(reviews.some((l) => /kind="Deployment"/.test(l)), `the Deployment was reviewed:\n${reviews.join('\n')}`);
    assert.ok(reviews.some((l) => /kind="ReplicaSet"/.test(l) && /result="denied"/.test(l)), `the forged ReplicaSet was reviewed and denied:\n${reviews.join('\n')}`);
    // Only the forged Pod was a Pod review (denied): the controller's 3 Pods were not sent.
    const podReviews = reviews.filter((l) => /kind="Pod"/.test(l)).map((l) => Number(l.split(' ').pop()));
    assert.equal(podReviews.reduce((a, b) => a + b, 0), 2, `Pod reviews (mutate + validate of the forged Pod only):\n${reviews.join('\n')}`);

    // Compare before write, against the real API server's defaults: after the three creates, the passes every second
    // since then found nothing to change.
    const writes = governor!.log().split('\n').filter((l) => l.includes('"msg":"registered"'));
    assert.deepEqual(writes.map((l) => JSON.parse(l).result), ['created', 'created', 'created'], writes.join('\n'));
  });

  it('kubectl delete -k: the garbage collector removes the registrations while the server still answers', async () => {
    // (That the server's own SIGTERM deletes nothing is src/kube/registrar_test.ts: here no second replica would answer.)
    assert.equal((await registered()).length, 3);
    writer.phase = 'uninstalling';
    const t0 = Date.now();
    await kubectlOk(['delete', '-k', overlayDir(), '--wait=false']);
    const deleteMs = Date.now() - t0;
    await waitFor(
      'the garbage collector to delete the registrations (owner: ClusterRole kube-governor)',
      async () => {
        const left = await registered();
        return { done: left.length === 0, seen: left };
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    const gcMs = Date.now() - t0;
    const roleGone = await cluster.kubectl(['get', 'clusterrole', 'kube-governor', '--ignore-not-found', '-o', 'name']);
    assert.equal(roleGone.stdout.trim(), '', 'the owner ClusterRole is deleted by kubectl delete -k');
    // Only now does the last "pod" go: in a cluster its preStop (5 s) and shutdown grace cover this time.
    await governor!.stop();
    assert.equal(await httpStatus(metricsPort, '/livez'), 0);
    writer.phase = 'uninstalled';
    await waitNamespaceGone(cluster, NAMESPACE, 120_000);
    await sleep(2000);
    await writer.stop();
    assert.deepEqual(await registered(), [], 'no webhook configuration or APIService of governor is left');
    const summary = writer.summary();
    process.stderr.write(`[install e2e] writes: ${summary}; kubectl delete -k returned after ${deleteMs} ms, registrations garbage-collected ${gcMs} ms after it started\n`);
    assert.deepEqual(writer.errors, [], `writes failed: ${summary}`);
    // (The uninstalling phase may be shorter than one write interval; its writes, if any, count in errors above.)
    for (const phase of ['before-install', 'applied', 'serving', 'registered', 'uninstalled'] as const) {
      assert.ok((writer.ok.get(phase) ?? 0) > 0, `no write during ${phase}: ${summary}`);
    }
    assert.ok(gcMs < 15_000, `garbage collection took ${gcMs} ms`);
  });
});

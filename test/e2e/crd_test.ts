// End to end on the local control plane: the governor.io CRDs generated from src/policy/schemas make the API server
// refuse what `governor lint` refuses (unknown fields with their path, wrong types, cross-field rules with lint's
// message), `kubectl explain` documents the fields, and a running `governor serve` writes status (conditions,
// decided replicas, regime, load) that `kubectl get` shows in the printer columns.
//
// It installs only the CRDs (identical to what governor_test.ts applies) and runs its own server with its own
// ServiceAccount, RBAC copied from manifests/base/rbac.yaml, and status Lease in its own namespace, so it can run
// beside governor_test.ts, which owns the cluster-wide webhook configurations and APIService.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT, startLocalCluster, type LocalCluster } from './harness/cluster.js';
import { freePort } from './harness/prometheus.js';
import { governorCli, startGovernorServe, waitServing, type GovernorProcess } from './lib/governor-process.js';
import { formulaReplicas, runNames } from './lib/fixtures.js';
import { waitFor } from './lib/wait.js';
import { STATUS_LEASE_NAME } from '../../src/status/wiring.js';
import { KubeLeaseApi } from '../../src/kube/lease-elector.js';
import { checkLeaseApiContract } from '../../src/kube/lease-api_contract.js';
import { loadKubeConfig } from '../../src/kube/client.js';

const id = runNames().id;
const NS = `kg-crd-${id}`;
const SA = 'governor';
const ROLE = `kg-crd-e2e-${id}`;
const SERVICE = 'governor-e2e';
/** A webhook configuration of its own, holding the manifest's validate-policies entry for this test's objects only. */
const WEBHOOK_CONFIG = `kg-crd-e2e-${id}`;
const LOAD = 300;
const P = { low: 100, high: 500, min: 1, base: 1, max: 10, cap: 10 };

let cluster: LocalCluster;
let workDir: string;
let governor: GovernorProcess | undefined;
let loadServer: Server | undefined;
let loadPort = 0;

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await cluster.kubectl(args, input !== undefined ? { input } : {});
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/**
 * kubectl apply of a policy that must pass: governor_test.ts may be installing its webhook configurations at the same
 * time (caBundle not patched yet), so a webhook call failure is retried for a bounded time; any other error is final.
 */
async function applyValid(doc: string): Promise<void> {
  await waitFor(
    'kubectl apply of a valid policy',
    async () => {
      const r = await cluster.kubectl(['apply', '-f', '-'], { input: doc });
      if (r.code !== 0 && !/failed calling webhook/.test(r.stderr)) throw Object.assign(new Error(r.stderr), { final: true });
      return { done: r.code === 0, seen: r.stderr.trim() };
    },
    { timeoutMs: 60_000, intervalMs: 1000 },
  ).catch((e) => {
    throw new Error(`apply failed: ${(e as Error).message}`);
  });
}

/** kubectl apply that the API server must refuse: returns its message. */
async function applyRefused(doc: string): Promise<string> {
  const r = await cluster.kubectl(['apply', '-f', '-'], { input: doc });
  assert.notEqual(r.code, 0, `the API server accepted:\n${doc}`);
  return r.stderr;
}

const scaling = (name: string, spec: string) => `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: ${name}, namespace: ${NS}}
spec:
  target: {kind: Deployment, name: ${name}}
  load: {http: {url: "http://127.0.0.1:${loadPort}/load"}}
${spec}`;

const GOOD_SPEC = `  thresholds: {low: ${P.low}, high: ${P.high}}
  replicas: {min: ${P.min}, max: ${P.max}}
  interval: 2s
  staleAfter: 10s
`;

/** The rules of the server's ClusterRole and of the status Lease Role, as manifests/base/rbac.yaml has them. */
function manifestRules(): { cluster: unknown[]; lease: unknown[] } {
  const docs = parseAllDocuments(readFileSync(join(REPO_ROOT, 'manifests', 'base', 'rbac.yaml'), 'utf8')).map((d) => d.toJS());
  const clusterRole = docs.find((d) => d?.kind === 'ClusterRole' && d.metadata.name === 'kube-governor');
  const leaseRole = docs.find((d) => d?.kind === 'Role' && d.rules?.some((r: any) => r.apiGroups.includes('coordination.k8s.io')));
  assert.ok(clusterRole && leaseRole, 'rbac.yaml lacks the server ClusterRole or the status Lease Role');
  return { cluster: clusterRole.rules, lease: leaseRole.rules };
}

before(async () => {
  cluster = await startLocalCluster();
  workDir = mkdtempSync(join(tmpdir(), 'kg-crd-e2e-'));
  // governor_test.ts's uninstall deletes the CRDs without waiting: let an earlier deletion finish first.
  for (const crd of ['scalingpolicies', 'migrationpolicies', 'governancepolicies']) {
    await waitFor(
      `CRD ${crd}.governor.io of an earlier run to finish deleting`,
      async () => {
        const r = await cluster.kubectl(['get', 'crd', `${crd}.governor.io`, '-o', 'jsonpath={.metadata.deletionTimestamp}', '--ignore-not-found']);
        return { done: r.code === 0 && r.stdout.trim() === '', seen: r.stdout.trim() || r.stderr.trim() };
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
  }
  await kubectlOk(['apply', '-f', join(REPO_ROOT, 'manifests', 'base', 'crds')]);
  for (const crd of ['scalingpolicies', 'migrationpolicies', 'governancepolicies']) await kubectlOk(['wait', '--for=condition=Established', `crd/${crd}.governor.io`, '--timeout=30s']);

  loadServer = createServer((_req, res) => res.end(String(LOAD)));
  loadPort = await freePort();
  await new Promise<void>((r) => loadServer!.listen(loadPort, '127.0.0.1', r));

  const rules = manifestRules();
  await kubectlOk(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'kg-e2e': id } } },
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA, namespace: NS } },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: ROLE }, rules: rules.cluster },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: ROLE },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: ROLE },
          subjects: [{ kind: 'ServiceAccount', name: SA, namespace: NS }],
        },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'status-lease', namespace: NS }, rules: rules.lease },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: 'status-lease', namespace: NS },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'status-lease' },
          subjects: [{ kind: 'ServiceAccount', name: SA, namespace: NS }],
        },
      ],
    }),
  );
  // The server runs with the ServiceAccount's token: the RBAC in the manifests is all it gets.
  const token = (await kubectlOk(['-n', NS, 'create', 'token', SA, '--duration=1h'])).trim();
  const kubeconfig = join(workDir, 'server.kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'e2e', cluster: { server: cluster.apiserverUrl, 'certificate-authority': cluster.caFile } }],
      users: [{ name: SA, user: { token } }],
      contexts: [{ name: SA, context: { cluster: 'e2e', user: SA, namespace: NS } }],
      'current-context': SA,
    }),
    { mode: 0o600 },
  );
  const ports = { adapter: await freePort(), webhook: await freePort(), metrics: await freePort() };
  governor = startGovernorServe(
    [
      `--cert-dir=${join(workDir, 'certs')}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${ports.adapter}`,
      `--webhook-port=${ports.webhook}`,
      `--metrics-port=${ports.metrics}`,
      `--service-namespace=${NS}`,
      `--service-name=${SERVICE}`,
      `--kubeconfig=${kubeconfig}`,
      '--insecure-dev',
      '--allowed-source-hosts=127.0.0.1',
      '--shutdown-grace=1s',
    ],
    join(workDir, 'governor.log'),
  );
  await waitServing(governor, ports.metrics);

  // The manifest's validate-policies.governor.io entry, pointed at this server (an ExternalName Service to localhost,
  // as manifests/overlays/local does). An objectSelector on this run's label keeps every other test's objects away
  // from it, even if a crash leaves the configuration behind.
  const webhooks = parseAllDocuments(readFileSync(join(REPO_ROOT, 'manifests', 'base', 'webhooks.yaml'), 'utf8')).map((d) => d.toJS());
  const entry = webhooks.flatMap((w) => w?.webhooks ?? []).find((w: any) => w.name === 'validate-policies.governor.io');
  assert.ok(entry, 'manifests/base/webhooks.yaml has no validate-policies.governor.io');
  const caBundle = readFileSync(join(workDir, 'certs', 'ca.crt')).toString('base64');
  await kubectlOk(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Service', metadata: { name: SERVICE, namespace: NS }, spec: { type: 'ExternalName', externalName: 'localhost', ports: [{ name: 'webhook', port: ports.webhook }] } },
        {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingWebhookConfiguration',
          metadata: { name: WEBHOOK_CONFIG },
          webhooks: [
            {
              ...entry,
              clientConfig: { ...entry.clientConfig, service: { ...entry.clientConfig.service, name: SERVICE, namespace: NS, port: ports.webhook }, caBundle },
              objectSelector: { matchLabels: { 'kg-crd-e2e': id } },
            },
          ],
        },
      ],
    }),
  );
});

after(async () => {
  await cluster?.kubectl(['delete', 'validatingwebhookconfiguration', WEBHOOK_CONFIG, '--ignore-not-found']);
  await governor?.stop();
  loadServer?.close();
  if (cluster) {
    await cluster.kubectl(['delete', 'clusterrolebinding,clusterrole', ROLE, '--ignore-not-found']);
    await cluster.kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=false']);
  }
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  await cluster?.stop();
});

describe('the API server validates governor.io policies', () => {
  it('refuses a misspelled field, naming its path', async () => {
    const err = await applyRefused(scaling('typo', GOOD_SPEC.replace('high:', 'hgih:')));
    assert.match(err, /unknown field "spec\.thresholds\.hgih"/);
  });

  it('refuses a wrong type, naming the field and the type', async () => {
    const err = await applyRefused(scaling('type', GOOD_SPEC.replace(`high: ${P.high}`, 'high: lots')));
    assert.match(err, /spec\.thresholds\.high: Invalid value: "string": spec\.thresholds\.high in body must be of type number/);
  });

  it('refuses cross-field violations with the CEL rules, in governor lint\'s words', async () => {
    const err = await applyRefused(
      scaling(
        'cel',
        `  thresholds: {low: 500, high: 100}
  replicas: {min: 3, base: 2, max: 4}
  interval: 1m
  staleAfter: 30s
  onSourceFailure: {action: fixed, replicas: 9}
`,
      ),
    );
    for (const line of [
      'spec.thresholds.high: Invalid value: must be greater than thresholds.low (500)',
      'spec.replicas.base: Invalid value: must be >= 3',
      'spec.staleAfter: Invalid value: staleAfter (30s) must be at least the interval (1m)',
      'spec.onSourceFailure.replicas: Invalid value: fixed replicas (9) must lie within min..cap (3..4)',
    ]) {
      assert.ok(err.includes(line), `missing "${line}" in:\n${err}`);
    }
    // governor lint says the same for the same document.
    const file = join(workDir, 'cel.yaml');
    writeFileSync(file, scaling('cel', '  thresholds: {low: 500, high: 100}\n  replicas: {max: 4}\n'));
    const lint = await governorCli(['lint', file]);
    assert.equal(lint.code, 1);
    assert.ok(lint.stderr.includes('spec.thresholds.high: must be greater than thresholds.low (500)'), lint.stderr);
  });

  it('documents the fields for kubectl explain', async () => {
    const out = await kubectlOk(['explain', 'scalingpolicy.spec.thresholds']);
    assert.match(out, /high\s+<number> -required-\s+Tmax: above it the workload is in overload/);
    assert.match(out, /low\s+<number> -required-/);
  });
});

describe('the policy webhook checks what the schema cannot', () => {
  it('refuses a GovernancePolicy with an invalid regex and an unknown rule name, in governor lint\'s words', async () => {
    const name = `kg-crd-${id}-tags`;
    const doc = `apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: ${name}, labels: {kg-crd-e2e: "${id}"}}
spec:
  match: {namespaces: [${NS}]}
  labels:
    team: {required: true, pattern: '([a-z'}
  exceptions:
    - {reason: test, rules: [no-such-rule]}
`;
    const file = join(workDir, 'tags.yaml');
    writeFileSync(file, doc);
    const lint = await governorCli(['lint', file]);
    assert.equal(lint.code, 1);
    const problems = [...lint.stderr.matchAll(/\): (spec\..*)$/gm)].map((m) => m[1]!);
    assert.equal(problems.length, 2, lint.stderr);
    const err = await waitFor(
      'the policy webhook to refuse the GovernancePolicy',
      async () => {
        const r = await cluster.kubectl(['apply', '-f', '-'], { input: doc });
        // Until the API server's webhook client has the new configuration the object may pass: remove it at once.
        if (r.code === 0) await cluster.kubectl(['delete', 'governancepolicy', name, '--ignore-not-found']);
        // governor_test.ts's install registers the same entry for its own server; while that one is unreachable the
        // API server says "failed calling webhook": wait for an answer.
        return { done: r.code !== 0 && !/failed calling webhook/.test(r.stderr), value: r.stderr, seen: r.stderr || 'accepted' };
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    assert.match(err, /admission webhook "validate-policies\.governor\.io" denied the request: invalid GovernancePolicy:/);
    for (const p of problems) assert.ok(err.includes(`cluster:GovernancePolicy/${name} (document 1, GovernancePolicy/${name}): ${p}`), `missing "${p}" in:\n${err}`);
  });
});

describe('governor serve writes status', () => {
  it('a valid policy shows Valid/Ready conditions, the decision and the printer columns', async () => {
    await applyValid(scaling('web', GOOD_SPEC));
    const expected = formulaReplicas(LOAD, P);
    const status = await waitFor(
      'status of ScalingPolicy web with a decision',
      async () => {
        const r = await cluster.kubectl(['-n', NS, 'get', 'scalingpolicy', 'web', '-o', 'json']);
        const s = r.code === 0 ? JSON.parse(r.stdout).status : undefined;
        return { done: s?.replicas !== undefined && s?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'), value: s, seen: s ?? r.stderr };
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n--- governor log ---\n${governor?.logTail(30)}`);
    });
    const cond = (t: string) => status.conditions.find((c: any) => c.type === t);
    assert.equal(cond('Valid').status, 'True');
    assert.equal(cond('Ready').reason, 'InForce');
    assert.equal(cond('Ready').observedGeneration, 1);
    assert.equal(status.observedGeneration, 1);
    assert.equal(status.load, LOAD);
    assert.equal(status.regime, 'proportional');
    assert.equal(status.replicas, expected);
    assert.equal(status.source.healthy, true);

    // Polled: another kube-governor on the same cluster (governor_test.ts) may hold its own Lease and write too.
    const want = ['web', 'web', String(LOAD), 'proportional', String(expected), 'True'];
    const [header] = await waitFor(
      'kubectl get scalingpolicies to show the decision',
      async () => {
        const rows = (await kubectlOk(['-n', NS, 'get', 'scalingpolicies'])).trim().split('\n').map((l) => l.trim().split(/\s+/));
        return { done: JSON.stringify(rows[1]?.slice(0, 6)) === JSON.stringify(want), value: rows, seen: rows };
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    assert.deepEqual(header, ['NAME', 'TARGET', 'LOAD', 'REGIME', 'REPLICAS', 'READY', 'AGE']);

    // The Lease that elected the writer, in the server's namespace.
    const lease = JSON.parse(await kubectlOk(['-n', NS, 'get', 'lease', STATUS_LEASE_NAME, '-o', 'json']));
    assert.ok(lease.spec.holderIdentity, 'the Lease has a holder');
  });

  it('a spec change is reflected with the new observedGeneration', async () => {
    await applyValid(scaling('web', GOOD_SPEC.replace(`max: ${P.max}`, 'max: 2')));
    await waitFor(
      'status of generation 2',
      async () => {
        const s = JSON.parse(await kubectlOk(['-n', NS, 'get', 'scalingpolicy', 'web', '-o', 'json'])).status;
        return { done: s?.observedGeneration === 2 && s?.replicas === formulaReplicas(LOAD, { ...P, max: 2, cap: 2 }), seen: s };
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
  });
});

describe('the status Lease on the API server', () => {
  it('KubeLeaseApi keeps the LeaseApi contract the fake is tested with', async () => {
    const kc = loadKubeConfig(cluster.kubeconfig)!;
    let n = 0;
    await checkLeaseApiContract(async () => new KubeLeaseApi(kc, NS, `contract-${id}-${n++}`));
  });
});

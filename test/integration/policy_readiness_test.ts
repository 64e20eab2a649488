// `governor serve` with a policy directory holding a valid policy and one with a typo: the valid one is enforced, the
// pod is not ready and says which file is broken; fixed, it is ready; broken again, it stays ready on the last good
// version and the metric counts the invalid document.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NamespaceInfo } from '../../src/governance/types.js';
import type { NamespaceLookup } from '../../src/kube/namespaces.js';
import { startGovernor, type RunningGovernor } from '../../src/main.js';
import { silentLogger } from '../../src/observability/log.js';
import { governorOptions } from './adapter_helpers.js';
import { admissionReview, realisticDeployment } from './webhook_fixtures.js';
import { adapterComponent, webhookComponent, webhookComponentWith } from '../../src/components.js';

const REQUIRE_TEAM = `apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: require-team}
spec:
  mode: enforce
  labels:
    team: {required: true}
`;
const CPU_CAP = `# the platform team's CPU cap
apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: cpu-cap}
spec:
  mode: enforce
  resources:
    max: {cpu: "2"}
`;
const CPU_CAP_TYPO = CPU_CAP.replace('  resources:', '  resorces:');
const CPU_CAP_TYPO_AGAIN = CPU_CAP.replace('max: {cpu: "2"}', 'max: {cpu: "1"}').replace('  resources:', '  resourcess:');

function https(port: number, ca: string, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, method, ca, servername: 'localhost', headers: data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {} },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, text: await r.text() };
}

async function until<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A Deployment in shop with the given labels and one container asking for `cpu`. */
function deployment(labels: Record<string, string>, cpu: string) {
  const d = realisticDeployment('shop') as any;
  d.metadata.labels = { ...d.metadata.labels, ...labels };
  d.spec.template.metadata.labels = { ...d.spec.template.metadata.labels, ...labels };
  for (const c of d.spec.template.spec.containers) c.resources = { requests: { cpu }, limits: { cpu } };
  return d;
}

async function withGovernor(files: Record<string, string>, run: (g: RunningGovernor, dir: string, ca: string) => Promise<void>, namespaces?: NamespaceLookup) {
  const dir = mkdtempSync(join(tmpdir(), 'policy-readiness-'));
  mkdirSync(join(dir, 'policies'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'policies', name), text);
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, kubeconfig: process.env.KUBECONFIG };
  delete process.env.KUBERNETES_SERVICE_HOST; // no cluster: files are the only policy source
  delete process.env.KUBECONFIG;
  const options = governorOptions(dir, { enableWebhook: true, insecureDev: true, policyPollMs: 50 });
  const running = await startGovernor(options, [adapterComponent, namespaces ? webhookComponentWith({ namespaces }) : webhookComponent], silentLogger);
  try {
    await run(running, dir, readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8'));
  } finally {
    await running.stop();
    if (saved.host !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.host;
    if (saved.kubeconfig !== undefined) process.env.KUBECONFIG = saved.kubeconfig;
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a typo in one policy file: the valid policy is enforced, the pod is not ready and names the file; fixed: ready; broken again: stays ready on the last good version', async () => {
  await withGovernor({ 'require-team.yaml': REQUIRE_TEAM, 'x.yaml': CPU_CAP_TYPO }, async (g, dir, ca) => {
    const { webhook, adapter, metrics } = g.ports as { webhook: number; adapter: number; metrics: number };
    const validate = async (labels: Record<string, string>, cpu: string) =>
      JSON.parse((await https(webhook, ca, 'POST', '/validate', admissionReview({ uid: 'u', kind: 'Deployment', namespace: 'shop', name: 'checkout', object: deployment(labels, cpu) }))).text).response;

    // the valid policy is in force on a fresh server
    const denied = await validate({}, '500m');
    assert.equal(denied.allowed, false);
    assert.match(denied.status.message, /team/);
    assert.equal((await validate({ team: 'payments' }, '8')).allowed, true, 'the broken cpu-cap is not in force');

    // not ready, on every server, with the file, line and path
    const ready = await get(metrics, '/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.text, /^\[-\]policies failed: .*policies\/x\.yaml:7:3 \(document 1, GovernancePolicy\/cpu-cap\): spec\.resorces: is not a known field/m);
    assert.match(ready.text, /^\[\+\]webhook ok$/m);
    assert.match(ready.text, /^\[\+\]adapter ok$/m);
    assert.match(ready.text, /^\[\+\]webhook-namespace-cache ok$/m);
    assert.match(ready.text, /readyz check failed\n$/);
    assert.deepEqual(await https(webhook, ca, 'GET', '/readyz'), ready);
    assert.deepEqual(await https(adapter, ca, 'GET', '/readyz'), ready);
    // liveness does not depend on policies
    for (const port of [metrics]) assert.deepEqual(await get(port, '/livez'), { status: 200, text: 'ok' });
    assert.equal((await https(webhook, ca, 'GET', '/livez')).status, 200);
    assert.equal((await https(adapter, ca, 'GET', '/livez')).status, 200);
    let text = (await get(metrics, '/metrics')).text;
    assert.match(text, /governor_policy_load_errors\{source="files",kind="GovernancePolicy"\} 1/);
    assert.match(text, /governor_policies_loaded\{kind="GovernancePolicy"\} 1/);
    assert.doesNotMatch(text, /governor_policy_last_load_success_timestamp_seconds\{source="files"\}/);

    // fixed: ready, and both policies enforce
    writeFileSync(join(dir, 'policies', 'x.yaml'), CPU_CAP);
    await until('ready after the fix', () => get(metrics, '/readyz'), (r) => r.status === 200);
    assert.equal((await get(metrics, '/readyz?verbose')).text, '[+]policies ok\n[+]webhook-namespace-cache ok\n[+]adapter ok\n[+]webhook ok\nreadyz check passed\n');
    assert.equal((await validate({ team: 'payments' }, '8')).allowed, false);
    text = (await get(metrics, '/metrics')).text;
    assert.match(text, /governor_policy_load_errors\{source="files",kind="GovernancePolicy"\} 0/);
    assert.match(text, /governor_policy_last_load_success_timestamp_seconds\{source="files"\} \d/);

    // broken again: the last good version stays in force and the pod stays ready; the metric shows the error
    writeFileSync(join(dir, 'policies', 'x.yaml'), CPU_CAP_TYPO_AGAIN);
    text = await until('the error metric', async () => (await get(metrics, '/metrics')).text, (t) => /governor_policy_load_errors\{source="files",kind="GovernancePolicy"\} 1/.test(t));
    assert.match(text, /governor_policies_loaded\{kind="GovernancePolicy"\} 2/);
    assert.match(text, /governor_policy_reloads_total\{result="partial"\} 2/);
    assert.deepEqual(await get(metrics, '/readyz'), { status: 200, text: 'ok' });
    assert.deepEqual(await https(webhook, ca, 'GET', '/readyz'), { status: 200, text: 'ok' });
    const capped = await validate({ team: 'payments' }, '1500m');
    assert.equal(capped.allowed, true, 'the broken version (max 1) is not in force');
    assert.equal((await validate({ team: 'payments' }, '8')).allowed, false, 'the last good version (max 2) is');
  });
});

/** A namespace lookup whose cache syncs when the test says so. */
class SyncLater implements NamespaceLookup {
  synced = false;
  get(): NamespaceInfo | undefined {
    return undefined;
  }
  ready(): boolean {
    return this.synced;
  }
}

test('the pod is not ready until the webhook namespace cache has synced', async () => {
  const lookup = new SyncLater();
  await withGovernor(
    { 'require-team.yaml': REQUIRE_TEAM },
    async (g, _dir, ca) => {
      const { webhook, metrics } = g.ports as { webhook: number; metrics: number };
      const r = await get(metrics, '/readyz');
      assert.equal(r.status, 503);
      assert.equal(r.text, '[+]policies ok\n[-]webhook-namespace-cache failed: the namespace cache has not synced yet\n[+]adapter ok\n[+]webhook ok\nreadyz check failed\n');
      assert.equal((await https(webhook, ca, 'GET', '/readyz')).status, 503);
      lookup.synced = true;
      assert.deepEqual(await get(metrics, '/readyz'), { status: 200, text: 'ok' });
      assert.deepEqual(await https(webhook, ca, 'GET', '/readyz'), { status: 200, text: 'ok' });
    },
    lookup,
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGovernor } from '../../src/main.js';
import type { GovernorOptions } from '../../src/server/options.js';
import { silentLogger } from '../../src/observability/log.js';
import { admissionReview, POLICY_DIR, realisticDeployment } from './webhook_fixtures.js';
import { governorOptions } from './adapter_helpers.js';
import { webhookComponent } from '../../src/components.js';

function options(dir: string): GovernorOptions {
  return governorOptions(dir, { policies: [POLICY_DIR], serviceNamespace: 'governor-system', enableAdapter: false, enableWebhook: true });
}

function post(port: number, ca: string, path: string, body: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, method: 'POST', ca, servername: 'localhost', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Runs `body` with a fresh directory and no in-cluster config (static namespaces, no Events); cleans up after. */
async function withoutCluster(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'webhook-https-'));
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST };
  delete process.env.KUBERNETES_SERVICE_HOST;
  try {
    await body(dir);
  } finally {
    if (saved.host !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.host;
    rmSync(dir, { recursive: true, force: true });
  }
}

test('governor serve wiring: the webhook component serves HTTPS on --webhook-port with the sample policies and skips its own namespace', () => withoutCluster(async (dir) => {
  const running = await startGovernor(options(dir), [webhookComponent], silentLogger);
  try {
    const port = running.ports.webhook!;
    assert.ok(port > 0);
    const ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
    const dep = realisticDeployment('dev');
    const m = await post(port, ca, '/mutate?timeout=5s', admissionReview({ uid: 'tls-1', kind: 'Deployment', namespace: 'dev', name: 'checkout', object: dep }));
    assert.equal(m.status, 200);
    assert.equal(m.json.response.uid, 'tls-1');
    assert.equal(m.json.response.patchType, 'JSONPatch', 'compliance-tags matches every namespace: at least the tags are copied to the pods');
    const own = await post(port, ca, '/validate', admissionReview({ uid: 'tls-2', kind: 'Deployment', namespace: 'governor-system', name: 'x', object: { ...dep, metadata: { name: 'x' } } }));
    assert.deepEqual(own.json.response, { uid: 'tls-2', allowed: true });
    const bad = await post(port, ca, '/validate', { apiVersion: 'admission.k8s.io/v1' });
    assert.equal(bad.status, 400);
    const metrics = await (await fetch(`http://127.0.0.1:${running.ports.metrics}/metrics`)).text();
    assert.match(metrics, /governor_admission_requests_total\{webhook="mutate",operation="CREATE",kind="Deployment",result="patched",policy="compliance-tags"\} 1/);
  } finally {
    await running.stop();
  }
}));

test('governor serve refuses --registration-manifests without cluster access, before any server listens', () => withoutCluster(async (dir) => {
  const o = { ...options(dir), clusterPolicies: false, registrationManifests: [join(dir, 'webhooks.yaml')] };
  let listened = false;
  const component = () => async () => {
    listened = true;
    throw new Error('must not start');
  };
  await assert.rejects(startGovernor(o, [component], silentLogger), /--registration-manifests needs --ca-bundle-file \(or a generated certificate\) and cluster access/);
  assert.equal(listened, false);
}));

test('a component that fails to start stops the ones started before it, and the webhook port is free again', () => withoutCluster(async (dir) => {
  let port: number | undefined;
  const failing = () => async () => {
    throw new Error('the second component cannot start');
  };
  // The webhook starts first and records its port through the component the composition root gives it.
  const recording: typeof webhookComponent = (s) => async (ctx, certs) => {
    const c = await webhookComponent(s)(ctx, certs);
    port = c.port;
    return c;
  };
  await assert.rejects(startGovernor(options(dir), [recording, failing], silentLogger), /the second component cannot start/);
  assert.ok(port);
  // Closed: the port can be listened on again.
  const again = await startGovernor({ ...options(dir), webhookPort: port }, [webhookComponent], silentLogger);
  assert.equal(again.ports.webhook, port);
  await again.stop();
}));

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfigError, loadKubeConfig } from './client.js';

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: "t0k3n"}
contexts:
- name: local
  context: {cluster: local, user: admin, namespace: demo}
current-context: local
`;

function withServiceEnv<T>(host: string | undefined, port: string | undefined, fn: () => T): T {
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  const set = (k: string, v: string | undefined) => (v === undefined ? delete process.env[k] : (process.env[k] = v));
  set('KUBERNETES_SERVICE_HOST', host);
  set('KUBERNETES_SERVICE_PORT', port);
  try {
    return fn();
  } finally {
    set('KUBERNETES_SERVICE_HOST', saved.host);
    set('KUBERNETES_SERVICE_PORT', saved.port);
  }
}

test('loadKubeConfig reads an explicit kubeconfig file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-'));
  writeFileSync(join(dir, 'config'), KUBECONFIG);
  const kc = loadKubeConfig(join(dir, 'config'));
  assert.equal(kc?.getCurrentCluster()?.server, 'https://127.0.0.1:6443');
  assert.equal(kc?.getCurrentUser()?.token, 't0k3n');
});

test('loadKubeConfig throws KubeConfigError for a named file that is missing or has no current cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-'));
  assert.throws(() => loadKubeConfig(join(dir, 'nope')), (e: unknown) => e instanceof KubeConfigError && e.name === 'KubeConfigError' && /nope/.test(e.message));
  writeFileSync(join(dir, 'empty'), 'apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n');
  assert.throws(() => loadKubeConfig(join(dir, 'empty')), KubeConfigError);
});

test('loadKubeConfig uses the in-cluster ServiceAccount when the service env and token exist', () => {
  const root = mkdtempSync(join(tmpdir(), 'sa-'));
  const sa = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
  mkdirSync(sa, { recursive: true });
  writeFileSync(join(sa, 'token'), 'sa-token');
  writeFileSync(join(sa, 'namespace'), 'kube-governor');
  const kc = withServiceEnv('10.0.0.1', '443', () => loadKubeConfig(undefined, { pathPrefix: root }));
  assert.equal(kc?.getCurrentCluster()?.server, 'https://10.0.0.1:443');
  assert.equal(kc?.getContextObject(kc.getCurrentContext())?.namespace, 'kube-governor');
});

test('loadKubeConfig returns undefined outside a cluster without a file', () => {
  const root = mkdtempSync(join(tmpdir(), 'sa-'));
  assert.equal(withServiceEnv(undefined, undefined, () => loadKubeConfig(undefined, { pathPrefix: root })), undefined);
  // Env present but no token mounted: still not in a Pod.
  assert.equal(withServiceEnv('10.0.0.1', '443', () => loadKubeConfig(undefined, { pathPrefix: root })), undefined);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import {
  APISERVICE_NAME,
  caBundlePatch,
  caBundleTargets,
  publishCaBundle,
  readSecretData,
  SecretTypeError,
  UnsupportedCaBundleTargetError,
  writeSecret,
  type ObjectRef,
} from './cabundle.js';
import { FakeApiError, FakeObjectStore } from './cabundle_fake.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const B64 = Buffer.from(PEM).toString('base64');

function apiService(spec: Record<string, unknown> = {}): KubernetesObject {
  return {
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: { name: APISERVICE_NAME },
    spec: { group: 'external.metrics.k8s.io', version: 'v1beta1', service: { name: 'kube-governor', namespace: 'kube-governor', port: 443 }, ...spec },
  } as KubernetesObject;
}

function webhookConfig(kind: 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration', caBundles: (string | undefined)[]): KubernetesObject {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind,
    metadata: { name: 'kube-governor' },
    webhooks: caBundles.map((caBundle, i) => ({
      name: `w${i}.governor.io`,
      clientConfig: { service: { name: 'kube-governor', namespace: 'kube-governor', port: 8443, path: '/validate' }, ...(caBundle ? { caBundle } : {}) },
    })),
  } as KubernetesObject;
}

test('caBundlePatch sets the APIService caBundle, guarded by resourceVersion, and turns off insecureSkipTLSVerify', () => {
  const o = { ...apiService({ insecureSkipTLSVerify: true }), metadata: { name: APISERVICE_NAME, resourceVersion: '7' } };
  assert.deepEqual(caBundlePatch(o, B64), [
    { op: 'test', path: '/metadata/resourceVersion', value: '7' },
    { op: 'add', path: '/spec/caBundle', value: B64 },
    { op: 'replace', path: '/spec/insecureSkipTLSVerify', value: false },
  ]);
  assert.deepEqual(caBundlePatch(apiService({ caBundle: B64 }), B64), []);
});

test('caBundlePatch touches only the webhooks whose caBundle differs, testing each name at its index', () => {
  const o = webhookConfig('ValidatingWebhookConfiguration', [B64, 'b2xk']);
  assert.deepEqual(caBundlePatch(o, B64), [
    { op: 'test', path: '/webhooks/1/name', value: 'w1.governor.io' },
    { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: B64 },
  ]);
  assert.deepEqual(caBundlePatch(webhookConfig('MutatingWebhookConfiguration', [B64, B64]), B64), []);
});

test('caBundlePatch refuses kinds without a caBundle', () => {
  assert.throws(() => caBundlePatch({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }, B64), UnsupportedCaBundleTargetError);
});

test('publishCaBundle patches every target once and reports unchanged on a second run', async () => {
  const store = new FakeObjectStore([
    apiService(),
    webhookConfig('MutatingWebhookConfiguration', [undefined]),
    webhookConfig('ValidatingWebhookConfiguration', [undefined, 'b2xk']),
  ]);
  const first = await publishCaBundle(store, caBundleTargets(), PEM);
  assert.deepEqual(first.map((o) => `${o.target.kind}:${o.result}`), [
    'APIService:patched',
    'MutatingWebhookConfiguration:patched',
    'ValidatingWebhookConfiguration:patched',
  ]);
  assert.equal(store.get({ kind: 'APIService', name: APISERVICE_NAME }).spec.caBundle, B64);
  assert.deepEqual(
    store.get({ kind: 'ValidatingWebhookConfiguration', name: 'kube-governor' }).webhooks.map((w: any) => w.clientConfig.caBundle),
    [B64, B64],
  );
  const second = await publishCaBundle(store, caBundleTargets(), PEM);
  assert.ok(second.every((o) => o.result === 'unchanged'));
});

test('publishCaBundle reports a missing object and a refused call, and still patches the others', async () => {
  const store = new FakeObjectStore([apiService(), webhookConfig('ValidatingWebhookConfiguration', [undefined])]);
  store.failWith = (verb, ref) => (verb === 'jsonPatch' && ref.kind === 'APIService' ? new FakeApiError(403, 'forbidden') : undefined);
  const outcomes = await publishCaBundle(store, caBundleTargets(), PEM);
  assert.deepEqual(
    outcomes.map((o) => [o.target.kind, o.result, 'message' in o ? o.message : '']),
    [
      ['APIService', 'failed', 'forbidden'],
      ['MutatingWebhookConfiguration', 'not-found', ''],
      ['ValidatingWebhookConfiguration', 'patched', ''],
    ],
  );
});

test('publishCaBundle fails rather than overwrite an object changed between read and patch', async () => {
  class RacingStore extends FakeObjectStore {
    override async read(ref: ObjectRef) {
      const o = await super.read(ref);
      // Someone else updates the object right after our read.
      if (o) await super.replace({ ...o, metadata: { ...o.metadata, labels: { edited: 'true' } } } as KubernetesObject);
      return o;
    }
  }
  const store = new RacingStore([apiService()]);
  const [outcome] = await publishCaBundle(store, caBundleTargets().slice(0, 1), PEM);
  assert.equal(outcome?.result, 'failed');
  assert.equal(store.get({ kind: 'APIService', name: APISERVICE_NAME }).spec.caBundle, undefined);
});

test('writeSecret creates, leaves an equal Secret alone, updates at the read resourceVersion, and refuses a type change', async () => {
  const store = new FakeObjectStore();
  const s = { namespace: 'kube-governor', name: 'kube-governor-tls', type: 'kubernetes.io/tls', data: { 'tls.crt': 'C', 'tls.key': 'K', 'ca.crt': 'A' } };
  assert.equal(await writeSecret(store, s), 'created');
  assert.deepEqual(await readSecretData(store, 'kube-governor', 'kube-governor-tls'), s.data);
  assert.equal(await writeSecret(store, s), 'unchanged');
  assert.equal(await writeSecret(store, { ...s, data: { ...s.data, 'tls.crt': 'C2' }, labels: { 'app.kubernetes.io/name': 'kube-governor' } }), 'updated');
  const stored = store.get({ kind: 'Secret', namespace: 'kube-governor', name: 'kube-governor-tls' });
  assert.equal(Buffer.from(stored.data['tls.crt'], 'base64').toString(), 'C2');
  assert.equal(stored.metadata.labels['app.kubernetes.io/name'], 'kube-governor');
  await assert.rejects(writeSecret(store, { ...s, type: 'Opaque' }), SecretTypeError);
  assert.equal(await readSecretData(store, 'kube-governor', 'absent'), undefined);
});

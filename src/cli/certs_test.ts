import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { FakeApiError, FakeObjectStore } from '../kube/cabundle_fake.js';
import { generateCA } from '../tls/certs.js';
import {
  CertOptionsError,
  parseRenewBefore,
  planCertificates,
  runCerts,
  splitPem,
  type CertMaterial,
  type CertPolicy,
  type CertsOptions,
  type ExistingMaterial,
} from './certs.js';

const DAY = 86_400_000;
const T0 = new Date('2030-01-01T00:00:00Z');
const at = (days: number) => new Date(T0.getTime() + days * DAY);

const POLICY: CertPolicy = {
  dnsNames: ['kube-governor.kube-governor.svc', 'kube-governor'],
  ipAddresses: [],
  validityDays: 100,
  caValidityDays: 400,
  renewBeforeMs: 30 * DAY,
  now: T0,
};

const asExisting = (m: CertMaterial): ExistingMaterial => ({
  caCert: m.caCert,
  caKey: m.caKey,
  caBundle: m.caBundle.join(''),
  servingCert: m.servingCert,
  servingKey: m.servingKey,
});

const x509 = (pem: string) => new X509Certificate(pem);
const fingerprints = (pems: readonly string[]) => pems.map((p) => x509(p).fingerprint256);

test('planCertificates creates a CA and a serving certificate for the service names, signed by it', () => {
  const plan = planCertificates({}, POLICY);
  assert.equal(plan.ca, 'created');
  assert.equal(plan.serving, 'issued');
  const ca = x509(plan.material.caCert);
  const serving = x509(plan.material.servingCert);
  assert.ok(ca.ca);
  assert.ok(serving.verify(ca.publicKey));
  assert.equal(serving.subjectAltName, 'DNS:kube-governor.kube-governor.svc, DNS:kube-governor');
  assert.match(serving.subject, /CN=kube-governor\.kube-governor\.svc/);
  assert.deepEqual(fingerprints(plan.material.caBundle), [ca.fingerprint256]);
  // Validity counts from the injected clock (minus an hour of skew), not from the machine's.
  assert.equal(new Date(serving.validTo).getTime(), T0.getTime() - 3600_000 + 100 * DAY);
});

test('planCertificates keeps valid material and renews the serving certificate inside the renewal window', () => {
  const first = planCertificates({}, POLICY);
  const kept = planCertificates(asExisting(first.material), { ...POLICY, now: at(60) });
  assert.equal(kept.ca, 'kept');
  assert.equal(kept.serving, 'kept');
  assert.deepEqual(kept.material, first.material);
  const renewed = planCertificates(asExisting(first.material), { ...POLICY, now: at(75) });
  assert.equal(renewed.ca, 'kept');
  assert.equal(renewed.serving, 'issued');
  assert.match(renewed.reasons.join(), /serving certificate expires .* within the renewal window/);
  assert.ok(x509(renewed.material.servingCert).verify(x509(first.material.caCert).publicKey));
});

test('planCertificates rotates an expiring CA, keeps the old one in the bundle until it expires, then drops it', () => {
  const first = planCertificates({}, POLICY);
  const oldCa = x509(first.material.caCert);
  // Day 380: the CA (400 days) is inside the 30-day window.
  const rotated = planCertificates(asExisting(first.material), { ...POLICY, now: at(380) });
  assert.equal(rotated.ca, 'rotated');
  assert.equal(rotated.serving, 'issued');
  const newCa = x509(rotated.material.caCert);
  assert.notEqual(newCa.fingerprint256, oldCa.fingerprint256);
  assert.deepEqual(fingerprints(rotated.material.caBundle), [newCa.fingerprint256, oldCa.fingerprint256]);
  assert.ok(x509(rotated.material.servingCert).verify(newCa.publicKey));
  // Day 390: nothing to do, both CAs still published.
  const during = planCertificates(asExisting(rotated.material), { ...POLICY, now: at(390) });
  assert.equal(during.ca, 'kept');
  assert.equal(during.material.caBundle.length, 2);
  // Day 401: the old CA has expired and leaves the bundle.
  const after = planCertificates(asExisting(rotated.material), { ...POLICY, now: at(401) });
  assert.deepEqual(fingerprints(after.material.caBundle), [newCa.fingerprint256]);
});

test('planCertificates never lets the serving certificate outlive its CA', () => {
  // A CA made elsewhere with 50 days left, outside the 30-day window: kept, and the serving cert is capped.
  const ca = generateCA({ commonName: 'short', validityDays: 50, notBefore: T0 });
  const plan = planCertificates({ caCert: ca.certPem, caKey: ca.keyPem }, POLICY);
  assert.equal(plan.ca, 'kept');
  assert.equal(x509(plan.material.servingCert).validTo, x509(ca.certPem).validTo);
});

test('planCertificates re-issues the serving certificate for a new name and rotates a CA whose key does not match', () => {
  const first = planCertificates({}, POLICY);
  const widened = planCertificates(asExisting(first.material), { ...POLICY, ipAddresses: ['127.0.0.1', '::1'] });
  assert.equal(widened.serving, 'issued');
  assert.match(widened.reasons.join(), /lacks 127\.0\.0\.1, ::1/);
  assert.equal(planCertificates(asExisting(widened.material), { ...POLICY, ipAddresses: ['::1'] }).serving, 'kept');

  const other = generateCA({ commonName: 'other' });
  const mismatched = planCertificates({ ...asExisting(first.material), caKey: other.keyPem }, POLICY);
  assert.equal(mismatched.ca, 'rotated');
  assert.match(mismatched.reasons.join(), /key does not match/);
});

test('planCertificates rejects windows that would renew on every run', () => {
  assert.throws(() => planCertificates({}, { ...POLICY, renewBeforeMs: 60 * DAY }), CertOptionsError);
  assert.throws(() => planCertificates({}, { ...POLICY, validityDays: 500 }), CertOptionsError);
  assert.throws(() => planCertificates({}, { ...POLICY, dnsNames: [] }), CertOptionsError);
});

const OPTIONS: CertsOptions = {
  namespace: 'kube-governor',
  serviceName: 'kube-governor',
  extraSans: [],
  secret: 'kube-governor-tls',
  caSecret: 'kube-governor-ca',
  patch: true,
  webhookConfiguration: 'kube-governor',
  apiService: 'v1beta1.external.metrics.k8s.io',
  validityDays: 100,
  caValidityDays: 400,
  renewBeforeMs: 30 * DAY,
};

function clusterObjects(): KubernetesObject[] {
  const webhooks = (kind: string) => ({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind,
    metadata: { name: 'kube-governor' },
    webhooks: [{ name: 'x.governor.io', clientConfig: { service: { name: 'kube-governor', namespace: 'kube-governor', port: 8443 } } }],
  });
  return [
    { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name: 'v1beta1.external.metrics.k8s.io' }, spec: {} } as KubernetesObject,
    webhooks('MutatingWebhookConfiguration'),
    webhooks('ValidatingWebhookConfiguration'),
  ];
}

const secretData = (store: FakeObjectStore, name: string): Record<string, string> => {
  const s = store.get({ kind: 'Secret', namespace: 'kube-governor', name });
  return Object.fromEntries(Object.entries<string>(s?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
};

test('runCerts stores the CA, publishes the bundle, then writes the serving Secret; a second run changes nothing', async () => {
  const store = new FakeObjectStore(clusterObjects());
  const lines: string[] = [];
  const r = await runCerts(OPTIONS, store, T0, (l) => lines.push(l));
  assert.equal(r.ok, true);
  const writes = store.calls.filter((c) => !c.startsWith('read'));
  assert.deepEqual(writes, [
    'create Secret/kube-governor/kube-governor-ca',
    'jsonPatch APIService/v1beta1.external.metrics.k8s.io',
    'jsonPatch MutatingWebhookConfiguration/kube-governor',
    'jsonPatch ValidatingWebhookConfiguration/kube-governor',
    'create Secret/kube-governor/kube-governor-tls',
  ]);
  const tls = store.get({ kind: 'Secret', namespace: 'kube-governor', name: 'kube-governor-tls' });
  assert.equal(tls.type, 'kubernetes.io/tls');
  const data = secretData(store, 'kube-governor-tls');
  const bundleB64 = Buffer.from(data['ca.crt']!).toString('base64');
  assert.equal(store.get({ kind: 'APIService', name: 'v1beta1.external.metrics.k8s.io' }).spec.caBundle, bundleB64);
  assert.equal(store.get({ kind: 'ValidatingWebhookConfiguration', name: 'kube-governor' }).webhooks[0].clientConfig.caBundle, bundleB64);
  assert.ok(x509(data['tls.crt']!).verify(x509(secretData(store, 'kube-governor-ca')['ca.crt']!).publicKey));
  assert.ok(lines.some((l) => /^CA: created/.test(l)));

  store.calls.length = 0;
  const again = await runCerts(OPTIONS, store, at(10), () => {});
  assert.equal(again.plan.ca, 'kept');
  assert.equal(again.plan.serving, 'kept');
  assert.deepEqual(store.calls.filter((c) => !c.startsWith('read')), []);
});

test('runCerts leaves the serving Secret alone when a rotated CA cannot be published', async () => {
  const store = new FakeObjectStore(clusterObjects());
  await runCerts(OPTIONS, store, T0, () => {});
  const before = secretData(store, 'kube-governor-tls');
  store.failWith = (verb, ref) => (verb === 'jsonPatch' && ref.kind === 'ValidatingWebhookConfiguration' ? new FakeApiError(403, 'forbidden') : undefined);
  const r = await runCerts(OPTIONS, store, at(380), () => {});
  assert.equal(r.plan.ca, 'rotated');
  assert.equal(r.ok, false);
  assert.deepEqual(secretData(store, 'kube-governor-tls'), before);
  // The new CA is stored, so the next run publishes the same bundle instead of inventing a third CA.
  store.failWith = () => undefined;
  const retry = await runCerts(OPTIONS, store, at(381), () => {});
  assert.equal(retry.ok, true);
  assert.equal(retry.plan.ca, 'kept');
  assert.equal(splitPem(secretData(store, 'kube-governor-tls')['ca.crt']).length, 2);
});

test('runCerts works offline with --out-dir and renews from the files it wrote', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'certs-')), 'out');
  const offline = { ...OPTIONS, secret: undefined, patch: false, outDir: dir, extraSans: ['127.0.0.1', 'localhost'] };
  const first = await runCerts(offline, undefined, T0, () => {});
  assert.equal(first.plan.ca, 'created');
  assert.equal(statSync(join(dir, 'tls.key')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'ca.key')).mode & 0o777, 0o600);
  assert.match(x509(readFileSync(join(dir, 'tls.crt'), 'utf8')).subjectAltName!, /DNS:localhost, IP Address:127\.0\.0\.1/);
  const second = await runCerts(offline, undefined, at(5), () => {});
  assert.equal(second.plan.ca, 'kept');
  assert.equal(second.plan.serving, 'kept');
  const rotated = await runCerts(offline, undefined, at(380), () => {});
  assert.equal(rotated.plan.ca, 'rotated');
  assert.equal(splitPem(readFileSync(join(dir, 'ca.crt'), 'utf8')).length, 2);
  const next = await runCerts(offline, undefined, at(381), () => {});
  assert.equal(next.plan.ca, 'kept', 'the current CA is found in the bundle by its key, wherever it sits');
});

test('runCerts on a fresh install (nothing registered yet) writes the Secrets: the server registers with their bundle', async () => {
  const store = new FakeObjectStore();
  const lines: string[] = [];
  const r = await runCerts(OPTIONS, store, T0, (l) => lines.push(l));
  assert.equal(r.ok, true);
  assert.deepEqual(r.patches.map((p) => p.result), ['not-found', 'not-found', 'not-found']);
  assert.ok(secretData(store, 'kube-governor-tls')['tls.crt']);
  assert.ok(lines.some((l) => /not registered yet/.test(l)));
});

test('runCerts refuses to run without cluster access unless Secrets and patches are off', async () => {
  await assert.rejects(runCerts(OPTIONS, undefined, T0, () => {}), CertOptionsError);
  await assert.rejects(runCerts({ ...OPTIONS, secret: undefined, patch: false }, undefined, T0, () => {}), CertOptionsError);
});

test('parseRenewBefore takes days or Go durations', () => {
  assert.equal(parseRenewBefore('30d'), 30 * DAY);
  assert.equal(parseRenewBefore('720h'), 30 * DAY);
  assert.throws(() => parseRenewBefore('a month'));
});

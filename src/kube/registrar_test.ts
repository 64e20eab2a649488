import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { KubernetesObject } from '@kubernetes/client-node';
import pino from 'pino';
import { generateCA, generateServingCert } from '../tls/certs.js';
import { FakeApiError, FakeObjectStore } from './cabundle_fake.js';
import { Registrar, tlsServingCheck, type RegistrarOptions } from './registrar.js';
import { parseKindRef, type KindRef } from '../policy/kinds.js';
import {
  desiredObject,
  differences,
  mergeCaBundle,
  parseRegistrationTemplates,
  pemCertificates,
  RegistrationTemplateError,
  replacement,
  type RegistrationTemplate,
  type ServingComponent,
} from './registration.js';

const CA1 = generateCA({ commonName: 'ca-1' });
const CA2 = generateCA({ commonName: 'ca-2' });
const P1 = CA1.certPem;
const P2 = CA2.certPem;
const OWNER = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'kube-governor' };
const b64 = (pems: string[]) => Buffer.from(pems.join(''), 'utf8').toString('base64');
const silent = pino({ level: 'silent' });

// The real templates: what the manifests ship is what these tests register.
const TEMPLATES = [
  ...parseRegistrationTemplates(readFileSync(new URL('../../manifests/base/webhooks.yaml', import.meta.url), 'utf8'), 'webhooks.yaml'),
  ...parseRegistrationTemplates(readFileSync(new URL('../../manifests/base/apiservice.yaml', import.meta.url), 'utf8'), 'apiservice.yaml'),
];
const tmpl = (kind: string) => TEMPLATES.find((t) => t.kind === kind)!;

function clusterRole(uid = 'role-uid', extra: Record<string, unknown> = {}): KubernetesObject {
  return { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'kube-governor', uid, ...extra } } as KubernetesObject;
}

function registrar(store: FakeObjectStore, o: Partial<RegistrarOptions> = {}): Registrar {
  return new Registrar({
    store,
    templates: async () => TEMPLATES,
    caBundle: async () => P1,
    owner: OWNER,
    isReady: () => true,
    components: new Set<ServingComponent>(['adapter', 'webhook']),
    serving: async () => true,
    log: silent,
    intervalMs: 60_000,
    ...o,
  });
}

const results = (out: { kind: string; result: string }[]) => out.map((r) => `${r.kind}:${r.result}`).sort();
const ALL = ['APIService', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'];

test('a bundle is split into its certificates byte for byte (CRLF kept), so republishing it changes nothing', () => {
  assert.equal(pemCertificates(P1 + P2).join(''), P1 + P2);
  assert.deepEqual(pemCertificates('x\n' + P1.trimEnd()), [P1.trimEnd() + '\n']);
  assert.deepEqual(pemCertificates('garbage'), []);
});

test('the shipped templates parse: two webhook configurations and the APIService, without caBundle', () => {
  assert.deepEqual(TEMPLATES.map((t) => t.kind).sort(), ALL);
  assert.throws(() => parseRegistrationTemplates('apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n', 'f.yaml'), RegistrationTemplateError);
  assert.throws(
    () => parseRegistrationTemplates('apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {name: x}\nspec: {insecureSkipTLSVerify: true, service: {name: a, namespace: b}}\n', 'f.yaml'),
    /insecureSkipTLSVerify/,
  );
  assert.throws(
    () => parseRegistrationTemplates('apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: x}\nwebhooks: [{name: a, clientConfig: {url: "https://evil"}}]\n', 'f.yaml'),
    /clientConfig.service/,
  );
});

test('nothing is registered before the server is ready, without a CA, or while the owner is missing or being deleted', async () => {
  const store = new FakeObjectStore([clusterRole()]);
  assert.deepEqual(results(await registrar(store, { isReady: () => false }).trigger()), ALL.map((k) => `${k}:skipped`));
  assert.deepEqual(results(await registrar(store, { caBundle: async () => 'not a certificate' }).trigger()), ALL.map((k) => `${k}:skipped`));
  assert.deepEqual(results(await registrar(store, { caBundle: async () => { throw new Error('ENOENT'); } }).trigger()), ALL.map((k) => `${k}:skipped`));
  const deleting = new FakeObjectStore([clusterRole('u', { deletionTimestamp: '2026-01-01T00:00:00Z' })]);
  assert.deepEqual(results(await registrar(deleting).trigger()), ALL.map((k) => `${k}:skipped`));
  assert.deepEqual(results(await registrar(new FakeObjectStore()).trigger()), ALL.map((k) => `${k}:skipped`));
  for (const s of [store, deleting]) assert.ok(!s.calls.some((c) => c.startsWith('apply') || c.startsWith('replace')), s.calls.join('\n'));
});

test('a component that does not serve a trusted certificate, or does not run, gets no registration', async () => {
  const store = new FakeObjectStore([clusterRole()]);
  const out = await registrar(store, { serving: async (c) => c === 'adapter', components: new Set<ServingComponent>(['adapter', 'webhook']) }).trigger();
  assert.deepEqual(results(out), ['APIService:created', 'MutatingWebhookConfiguration:skipped', 'ValidatingWebhookConfiguration:skipped']);
  const noAdapter = new FakeObjectStore([clusterRole()]);
  const out2 = await registrar(noAdapter, { components: new Set<ServingComponent>(['webhook']) }).trigger();
  assert.deepEqual(results(out2), ['APIService:skipped', 'MutatingWebhookConfiguration:created', 'ValidatingWebhookConfiguration:created']);
});

test('registers once ready: created by server-side apply with the caBundle and the owner; a second pass writes nothing', async () => {
  const store = new FakeObjectStore([clusterRole()]);
  const r = registrar(store);
  assert.deepEqual(results(await r.trigger()), ALL.map((k) => `${k}:created`));
  const v = store.get({ kind: 'ValidatingWebhookConfiguration', name: 'kube-governor' });
  assert.ok(v.webhooks.length >= 2);
  for (const w of v.webhooks) assert.equal(w.clientConfig.caBundle, b64([P1]));
  assert.deepEqual(v.metadata.ownerReferences, [{ ...OWNER, uid: 'role-uid' }]);
  assert.equal(store.get({ kind: 'APIService', name: 'v1beta1.external.metrics.k8s.io' }).spec.caBundle, b64([P1]));
  const writes = store.calls.filter((c) => !c.startsWith('read')).length;
  // A second replica (or the next pass) compares before writing: nothing to do.
  assert.deepEqual(results(await registrar(store).trigger()), ALL.map((k) => `${k}:unchanged`));
  assert.equal(store.calls.filter((c) => !c.startsWith('read')).length, writes);
});

test('server defaults in the live object are not differences; edits, a foreign webhook, an objectSelector and a stale CA are', () => {
  const desired = desiredObject(tmpl('ValidatingWebhookConfiguration'), [CA1.certPem], { ...OWNER, uid: 'u' });
  const live = structuredClone(desired);
  live.metadata.resourceVersion = '7';
  for (const w of live.webhooks) Object.assign(w, { objectSelector: {}, matchPolicy: w.matchPolicy ?? 'Equivalent' });
  assert.deepEqual(differences(desired, live), []);

  const edited = structuredClone(live);
  edited.webhooks[0].failurePolicy = 'Ignore';
  assert.deepEqual(differences(desired, edited), ['webhooks[0].failurePolicy']);
  const optOut = structuredClone(live);
  optOut.webhooks[0].objectSelector = { matchLabels: { skip: 'yes' } };
  assert.deepEqual(differences(desired, optOut), ['webhooks[0].objectSelector']);
  const foreign = structuredClone(live);
  foreign.webhooks.push({ ...foreign.webhooks[0], name: 'other.example.com' });
  assert.equal(differences(desired, foreign).length, 1);
  const staleCa = structuredClone(live);
  for (const w of staleCa.webhooks) w.clientConfig.caBundle = b64([P2]);
  assert.ok(differences(desired, staleCa).includes('webhooks[0].clientConfig.caBundle'));
  const orphan = structuredClone(live);
  orphan.metadata.ownerReferences = [];
  assert.deepEqual(differences(desired, orphan), ['metadata.ownerReferences']);
  // The replacement keeps the live metadata (resourceVersion) and drops what the template does not have.
  const rep = replacement(desired, foreign);
  assert.equal(rep.metadata.resourceVersion, '7');
  assert.deepEqual(rep.webhooks.map((w: any) => w.name), desired.webhooks.map((w: any) => w.name));
});

test('repairs an edited, a deleted and an orphaned registration on the next pass', async () => {
  const store = new FakeObjectStore([clusterRole()]);
  const r = registrar(store);
  await r.trigger();
  const v = store.get({ kind: 'ValidatingWebhookConfiguration', name: 'kube-governor' });
  v.webhooks[0].failurePolicy = 'Ignore';
  v.webhooks[0].objectSelector = { matchLabels: { skip: 'yes' } };
  store.set(v);
  store.remove({ kind: 'MutatingWebhookConfiguration', name: 'kube-governor' });
  const out = await r.trigger();
  assert.deepEqual(results(out), ['APIService:unchanged', 'MutatingWebhookConfiguration:created', 'ValidatingWebhookConfiguration:updated']);
  const repaired = store.get({ kind: 'ValidatingWebhookConfiguration', name: 'kube-governor' });
  assert.equal(repaired.webhooks[0].failurePolicy, 'Fail');
  assert.equal(repaired.webhooks[0].objectSelector, undefined);
});

test('CA rotation: a CA published ahead by governor certs is kept; our new CA is added; expired and garbage entries go', async () => {
  const now = new Date();
  const expiredCa = generateCA({ commonName: 'old', notBefore: new Date(now.getTime() - 10 * 86400_000), validityDays: 1 });
  const leaf = generateServingCert(CA1, { commonName: 'x', dnsNames: ['x'] });
  const live = { kind: 'APIService', spec: { caBundle: b64([CA2.certPem, expiredCa.certPem, leaf.certPem, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n']) } };
  assert.deepEqual(mergeCaBundle([P1], live, now), [P1, P2]);

  const store = new FakeObjectStore([clusterRole()]);
  await registrar(store).trigger();
  // `governor certs` pre-publishes the next CA (old + new) before the Secret the pods mount switches to it.
  const a = store.get({ kind: 'APIService', name: 'v1beta1.external.metrics.k8s.io' });
  a.spec.caBundle = b64([P2, P1]);
  store.set(a);
  assert.deepEqual(results(await registrar(store).trigger()), ALL.map((k) => `${k}:unchanged`));
  assert.equal(store.get({ kind: 'APIService', name: 'v1beta1.external.metrics.k8s.io' }).spec.caBundle, b64([P2, P1]));
  // The pods then see the new bundle: every object carries the new CA.
  await registrar(store, { caBundle: async () => CA2.certPem + CA1.certPem }).trigger();
  for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
    for (const w of store.get({ kind, name: 'kube-governor' }).webhooks) assert.ok(Buffer.from(w.clientConfig.caBundle, 'base64').toString().includes(CA2.certPem.trim()), kind);
  }
});

test('replicas do not fight: a conflict is re-read and compared, and two registrars with the same input converge', async () => {
  const store = new FakeObjectStore([clusterRole()]);
  const [a, b] = [registrar(store), registrar(store)];
  await Promise.all([a.trigger(), b.trigger()]);
  const v = store.get({ kind: 'ValidatingWebhookConfiguration', name: 'kube-governor' });
  v.webhooks[0].timeoutSeconds = 29;
  store.set(v);
  let conflicts = 0;
  store.failWith = (verb) => (verb === 'replace' && conflicts++ === 0 ? new FakeApiError(409, 'the object has been modified') : undefined);
  const out = await a.trigger();
  assert.equal(out.find((o) => o.kind === 'ValidatingWebhookConfiguration')!.result, 'updated');
  store.failWith = () => undefined;
  assert.deepEqual(results(await b.trigger()), ALL.map((k) => `${k}:unchanged`));
  // A 403 (RBAC) is reported as a failure, never thrown out of the loop.
  store.remove({ kind: 'APIService', name: 'v1beta1.external.metrics.k8s.io' });
  store.failWith = (verb) => (verb === 'apply' ? new FakeApiError(403, 'forbidden') : undefined);
  assert.equal((await a.trigger()).find((o) => o.kind === 'APIService')!.result, 'failed');
});

test('stop() deletes nothing: what is registered stays for the other replicas and the next version', async () => {
  const store = new FakeObjectStore([clusterRole()]);
  const r = registrar(store, { intervalMs: 10 });
  r.start();
  await r.trigger();
  await r.stop();
  for (const kind of ALL) assert.ok(store.get({ kind, name: kind === 'APIService' ? 'v1beta1.external.metrics.k8s.io' : 'kube-governor' }), kind);
  assert.ok(!store.calls.some((c) => c.startsWith('delete')));
});

test('tlsServingCheck: true only for a certificate that chains to the bundle and names <service>.<namespace>.svc', async () => {
  const name = 'kube-governor.kube-governor.svc';
  const good = generateServingCert(CA1, { commonName: name, dnsNames: [name] });
  const wrongName = generateServingCert(CA1, { commonName: 'other', dnsNames: ['other.svc'] });
  for (const [cert, ca, want] of [
    [good, CA1, true],
    [good, CA2, false],
    [wrongName, CA1, false],
  ] as const) {
    const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    assert.equal(await tlsServingCheck('127.0.0.1', port, name)([ca.certPem]), want);
    await new Promise<void>((r) => server.close(() => r()));
  }
  assert.equal(await tlsServingCheck('127.0.0.1', 1, name, 500)([CA1.certPem]), false, 'nothing listening');
});

// Keeps the template type in use for readers: the registrar never mutates a template it is given.
test('desiredObject does not change its template', () => {
  const t: RegistrationTemplate = tmpl('MutatingWebhookConfiguration');
  const before = JSON.stringify(t);
  desiredObject(t, [CA1.certPem], { ...OWNER, uid: 'u' });
  assert.equal(JSON.stringify(t), before);
});

test('the governed webhooks follow the kinds policies name: built-ins from the table, custom resources by discovery; never cluster-scoped kinds', async () => {
  const store = new FakeObjectStore([clusterRole()]);
  const asked: string[] = [];
  let kinds = ['Service', 'ConfigMap', 'Namespace', 'example.com/Widget', 'Gadget', 'missing.io/Thing', 'Pod'].map((t) => parseKindRef(t) as KindRef);
  const r = registrar(store, {
    policyKinds: () => kinds,
    discovery: {
      groups: async () => [
        { group: '', preferredVersion: 'v1' },
        { group: 'example.com', preferredVersion: 'v1beta1' },
        { group: 'other.io', preferredVersion: 'v1' },
      ],
      resource: async (group, version, kind) => {
        asked.push(`${group}/${version}/${kind}`);
        if (group === 'example.com' && kind === 'Widget') return { name: 'widgets', namespaced: true };
        if (group === 'other.io' && kind === 'Gadget') return { name: 'gadgets', namespaced: false };
        return undefined;
      },
    },
  });
  await r.trigger();
  const rulesOf = (kind: string, name: string) => store.get({ kind, name: 'kube-governor' }).webhooks.find((w: any) => w.name === name).rules;
  for (const [kind, name] of [
    ['MutatingWebhookConfiguration', 'mutate.governor.io'],
    ['ValidatingWebhookConfiguration', 'validate.governor.io'],
  ] as const) {
    const extra = rulesOf(kind, name).slice(3);
    assert.deepEqual(extra, [
      { apiGroups: [''], apiVersions: ['*'], resources: ['configmaps'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' },
      { apiGroups: [''], apiVersions: ['*'], resources: ['services'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' },
      { apiGroups: ['example.com'], apiVersions: ['*'], resources: ['widgets'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' },
    ]);
  }
  // The other webhooks keep their template's rules; built-in kinds cost no request.
  assert.equal(rulesOf('ValidatingWebhookConfiguration', 'protect-migration-source.governor.io').length, 1);
  assert.ok(!asked.some((a) => a.endsWith('/Service') || a.endsWith('/Namespace')));
  assert.deepEqual(results(await r.trigger()), ALL.map((k) => `${k}:unchanged`));
  // A policy change re-registers with the kinds now named: back to the template.
  kinds = [];
  assert.deepEqual(results(await r.trigger()).filter((x) => x.startsWith('Mutating') || x.startsWith('Validating')), ['MutatingWebhookConfiguration:updated', 'ValidatingWebhookConfiguration:updated']);
  assert.equal(rulesOf('ValidatingWebhookConfiguration', 'validate.governor.io').length, 3);
});

test('a discovery outage keeps the kinds registered before', async () => {
  const store = new FakeObjectStore([clusterRole()]);
  let down = false;
  const r = registrar(store, {
    policyKinds: () => [parseKindRef('example.com/Widget') as KindRef],
    discovery: {
      groups: async () => {
        if (down) throw new Error('discovery unavailable');
        return [{ group: 'example.com', preferredVersion: 'v1' }];
      },
      resource: async () => ({ name: 'widgets', namespaced: true }),
    },
  });
  await r.trigger();
  down = true;
  assert.deepEqual(results(await r.trigger()), ALL.map((k) => `${k}:unchanged`));
});

// Scale reads, SubjectAccessReview and the extension-apiserver-authentication ConfigMap against a fake API server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { KubeConfig, type V1SubjectAccessReview } from '@kubernetes/client-node';
import { ScaleReadError, KubeScaleReader, FakeScaleReader } from './scale.js';
import { AuthorizationError, SubjectAccessReviewAuthorizer, type UserInfo } from './authorization.js';
import { ExtensionAuthConfigError, parseExtensionAuthConfig, readExtensionAuthConfig } from './extension-auth.js';

let server: Server;
let kc: KubeConfig;
const reviews: V1SubjectAccessReview[] = [];

before(async () => {
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const json = (code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const u = req.url ?? '';
    if (u === '/apis/apps/v1/namespaces/shop/deployments/checkout/scale') {
      return json(200, { kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 7 }, status: { replicas: 6 } });
    }
    if (u === '/apis/apps/v1/namespaces/shop/statefulsets/db/scale') return json(200, { kind: 'Scale', spec: { replicas: 3 }, status: { replicas: 3 } });
    if (u === '/apis/apps/v1/namespaces/shop/deployments/checkout') return json(200, { kind: 'Deployment', spec: { replicas: 7 }, status: { replicas: 7, readyReplicas: 5 } });
    if (u === '/apis/apps/v1/namespaces/shop/statefulsets/db') return json(200, { kind: 'StatefulSet', spec: { replicas: 3 }, status: { replicas: 3 } });
    if (u === '/apis/apps/v1/namespaces/shop/deployments/slow/scale' || u === '/apis/apps/v1/namespaces/shop/deployments/slow') return; // never answers
    if (u.startsWith('/apis/apps/v1/')) return json(404, { kind: 'Status', code: 404, message: 'deployments.apps "x" not found' });
    if (u === '/apis/authorization.k8s.io/v1/subjectaccessreviews' && req.method === 'POST') {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as V1SubjectAccessReview;
      reviews.push(body);
      const allowed = body.spec.user === 'system:kube-aggregator' || body.spec.groups?.includes('hpa') === true;
      return json(201, { ...body, status: { allowed, ...(allowed ? {} : { reason: 'no RBAC rule' }) } });
    }
    if (u === '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication') {
      return json(200, {
        kind: 'ConfigMap',
        data: {
          'client-ca-file': 'CLIENT-CA',
          'requestheader-client-ca-file': 'FRONT-PROXY-CA',
          'requestheader-allowed-names': '["front-proxy-client"]',
          'requestheader-username-headers': '["X-Remote-User"]',
          'requestheader-group-headers': '["X-Remote-Group"]',
          'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
        },
      });
    }
    json(404, {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
});
after(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));

const dep = (name: string) => ({ apiVersion: 'apps/v1', kind: 'Deployment', name });

test('scale reader: spec and status replicas of a Deployment and a StatefulSet', async () => {
  const r = new KubeScaleReader(kc);
  assert.deepEqual(await r.read('shop', dep('checkout')), { specReplicas: 7, statusReplicas: 6 });
  assert.deepEqual(await r.read('shop', { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db' }), { specReplicas: 3, statusReplicas: 3 });
});

test('scale reader: not found, unsupported kinds and timeouts are ScaleReadErrors', async () => {
  const r = new KubeScaleReader(kc, 200);
  await assert.rejects(r.read('shop', dep('missing')), (e: unknown) => e instanceof ScaleReadError && /Deployment shop\/missing failed \(HTTP 404\)/.test(e.message));
  await assert.rejects(r.read('shop', { apiVersion: 'batch/v1', kind: 'Job', name: 'j' }), /supported are apps\/v1 Deployment, StatefulSet, ReplicaSet/);
  await assert.rejects(r.read('shop', dep('slow')), /longer than 200 ms/);
});

test('scale reader: Ready pods from status.readyReplicas (none reported: 0); other kinds, 404 and timeouts reject', async () => {
  const r = new KubeScaleReader(kc, 200);
  assert.equal(await r.readReady('shop', dep('checkout')), 5);
  assert.equal(await r.readReady('shop', { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db' }), 0);
  await assert.rejects(r.readReady('shop', { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs' }), (e: unknown) => e instanceof ScaleReadError && /supported are apps\/v1 Deployment, StatefulSet/.test(e.message));
  await assert.rejects(r.readReady('shop', dep('missing')), (e: unknown) => e instanceof ScaleReadError && /HTTP 404/.test(e.message));
  await assert.rejects(r.readReady('shop', dep('slow')), /longer than 200 ms/);
});

test('fake scale reader', async () => {
  const f = new FakeScaleReader().set('shop', dep('a'), 4);
  assert.equal((await f.read('shop', dep('a'))).specReplicas, 4);
  await assert.rejects(f.read('shop', dep('b')), ScaleReadError);
});

const aggregator: UserInfo = { username: 'system:kube-aggregator', groups: [], extra: {} };
const mallory: UserInfo = { username: 'mallory', groups: ['devs'], extra: { scopes: ['a'] } };
const attrs = { kind: 'resource' as const, verb: 'list', group: 'external.metrics.k8s.io', version: 'v1beta1', resource: 'desired-replicas', namespace: 'shop' };

test('SubjectAccessReview: allowed and denied through the API, with resource attributes', async () => {
  reviews.length = 0;
  const a = SubjectAccessReviewAuthorizer.fromKubeConfig(kc);
  assert.deepEqual(await a.authorize(aggregator, attrs), { allowed: true, reason: '' });
  assert.deepEqual(await a.authorize(mallory, attrs), { allowed: false, reason: 'no RBAC rule' });
  assert.deepEqual(reviews[1]!.spec.resourceAttributes, { verb: 'list', group: 'external.metrics.k8s.io', version: 'v1beta1', resource: 'desired-replicas', namespace: 'shop' });
  assert.deepEqual(reviews[1]!.spec.extra, { scopes: ['a'] });
  await a.authorize(aggregator, { kind: 'nonResource', verb: 'get', path: '/apis' });
  assert.deepEqual(reviews[2]!.spec.nonResourceAttributes, { verb: 'get', path: '/apis' });
});

test('SubjectAccessReview: answers are cached for the TTL; system:masters is never asked', async () => {
  let now = 0;
  let calls = 0;
  const a = new SubjectAccessReviewAuthorizer(
    async (body) => {
      calls++;
      return { ...body, status: { allowed: true } };
    },
    { ttlMs: 10_000, now: () => now },
  );
  await Promise.all([a.authorize(mallory, attrs), a.authorize(mallory, attrs)]);
  now = 9_999;
  await a.authorize(mallory, attrs);
  assert.equal(calls, 1);
  now = 10_000;
  await a.authorize(mallory, attrs);
  assert.equal(calls, 2);
  await a.authorize(mallory, { ...attrs, namespace: 'other' });
  assert.equal(calls, 3);
  assert.equal((await a.authorize({ username: 'x', groups: ['system:masters'], extra: {} }, attrs)).allowed, true);
  assert.equal(calls, 3);
});

test('SubjectAccessReview: a failed review is an AuthorizationError and is not cached', async () => {
  let fail = true;
  const a = new SubjectAccessReviewAuthorizer(async (body) => {
    if (fail) throw new Error('connection refused');
    return { ...body, status: { allowed: true } };
  });
  await assert.rejects(a.authorize(mallory, attrs), (e: unknown) => e instanceof AuthorizationError && /connection refused/.test(e.message));
  fail = false;
  assert.equal((await a.authorize(mallory, attrs)).allowed, true);
});

test('extension-apiserver-authentication: read through the API and parsed', async () => {
  const c = await readExtensionAuthConfig(kc);
  assert.equal(c.requestheaderClientCa, 'FRONT-PROXY-CA');
  assert.equal(c.clientCa, 'CLIENT-CA');
  assert.deepEqual(c.requestheaderAllowedNames, ['front-proxy-client']);
  assert.deepEqual(c.requestheaderUsernameHeaders, ['X-Remote-User']);
});

test('extension-apiserver-authentication: defaults and a malformed list', () => {
  const c = parseExtensionAuthConfig({});
  assert.equal(c.requestheaderClientCa, undefined);
  assert.deepEqual(c.requestheaderAllowedNames, []);
  assert.deepEqual(c.requestheaderGroupHeaders, ['X-Remote-Group']);
  assert.throws(() => parseExtensionAuthConfig({ 'requestheader-allowed-names': 'front-proxy-client' }), ExtensionAuthConfigError);
});

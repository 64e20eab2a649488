// HTTP layer of the external metrics API: every route and every error code, with a fake provider, authenticator and authorizer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { parse as parseQuery } from 'node:querystring';
import { createLogger, silentLogger, type Logger } from '../observability/log.js';
import { createMetrics } from '../observability/metrics.js';
import type { Authorizer, RequestAttributes, UserInfo } from '../kube/authorization.js';
import { acceptsPlainJson, createAdapterListener, labelSelectorOf, MAX_URI_LENGTH } from './app.js';
import type { AuthnResult } from './authn.js';
import { NoMatchingPolicyError, ValueUnavailableError } from './errors.js';
import { FakeMetricsProvider } from './fake-provider.js';

const BASE = '/apis/external.metrics.k8s.io/v1beta1';
const ITEM = { metricName: 'desired-replicas', metricLabels: { 'governor.io/policy': 'checkout' }, timestamp: '2025-01-01T00:00:00Z', window: 30, value: '12' };

function makeApp(o: { authenticated?: boolean; deny?: (u: UserInfo, a: RequestAttributes) => boolean; authzFails?: boolean; log?: Logger } = {}) {
  const provider = new FakeMetricsProvider(['desired-replicas'], {
    'shop/desired-replicas': [ITEM],
    'empty/desired-replicas': new NoMatchingPolicyError('empty', 'governor.io/policy=x', []),
    'down/desired-replicas': new ValueUnavailableError('load source prometheus of policy down/p failing: unreachable', 'no desired-replicas value for ScalingPolicy down/p: prometheus http://10.0.0.9:9090 unreachable (ECONNREFUSED) for query "up"'),
    'bug/desired-replicas': new TypeError('secret internal detail'),
  });
  const asked: RequestAttributes[] = [];
  const authorizer: Authorizer = {
    async authorize(u, a) {
      asked.push(a);
      if (o.authzFails) throw new Error('SubjectAccessReview failed: ECONNREFUSED');
      return o.deny?.(u, a) ? { allowed: false, reason: 'RBAC: no rule' } : { allowed: true, reason: '' };
    },
  };
  // supertest speaks plain HTTP: the test authenticator reads a header instead of a certificate.
  const authenticate = (req: IncomingMessage): AuthnResult =>
    req.headers['x-test-user'] ? { ok: true, via: 'requestheader', user: { username: String(req.headers['x-test-user']), groups: [], extra: {} } } : { ok: false, reason: 'no client certificate' };
  const metrics = createMetrics({ defaultMetrics: false });
  // Through express for every route (fastPath false); test/hardening/fast-path_test.ts compares the fast path with it.
  const app = createAdapterListener({ provider, authenticate, authorizer, metrics, log: o.log ?? silentLogger, fastPath: false });
  return { app, provider, asked, metrics };
}

const get = (app: any, path: string, user = 'system:kube-aggregator') => request(app).get(path).set('x-test-user', user);

test('discovery: /apis, the group and the version list desired-replicas', async () => {
  const { app } = makeApp();
  const apis = await get(app, '/apis').expect(200).expect('content-type', /application\/json/);
  assert.equal(apis.body.kind, 'APIGroupList');
  assert.deepEqual(apis.body.groups[0].preferredVersion, { groupVersion: 'external.metrics.k8s.io/v1beta1', version: 'v1beta1' });
  const group = await get(app, '/apis/external.metrics.k8s.io').expect(200);
  assert.equal(group.body.kind, 'APIGroup');
  assert.equal(group.body.name, 'external.metrics.k8s.io');
  const list = await get(app, BASE).expect(200);
  assert.deepEqual(list.body, {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: 'external.metrics.k8s.io/v1beta1',
    resources: [{ name: 'desired-replicas', singularName: '', namespaced: true, kind: 'ExternalMetricValueList', verbs: ['get'] }],
  });
});

test('aggregated discovery Accept headers get 406; plain JSON alternatives are served', async () => {
  const { app } = makeApp();
  const v2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
  const v2beta1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';
  for (const accept of [v2, `${v2},${v2beta1}`, v2beta1]) {
    const r = await get(app, '/apis').set('Accept', accept).expect(406);
    assert.equal(r.body.kind, 'Status');
    assert.equal(r.body.reason, 'NotAcceptable');
  }
  await get(app, '/apis').set('Accept', `${v2},${v2beta1},application/json`).expect(200);
  await get(app, BASE).set('Accept', 'application/json, */*').expect(200);
  assert.equal(acceptsPlainJson(undefined), true);
  assert.equal(acceptsPlainJson('application/vnd.kubernetes.protobuf'), false);
  assert.equal(acceptsPlainJson('application/json;q=0'), false);
});

test('values: an ExternalMetricValueList with the provider items; the selector is parsed and passed on', async () => {
  const { app, provider, asked } = makeApp();
  const r = await get(app, `${BASE}/namespaces/shop/desired-replicas?labelSelector=${encodeURIComponent('governor.io/policy=checkout')}`).expect(200);
  assert.deepEqual(r.body, { kind: 'ExternalMetricValueList', apiVersion: 'external.metrics.k8s.io/v1beta1', metadata: {}, items: [ITEM] });
  // The answer text is JSON.stringify's, byte for byte (it is assembled from the items' own texts), with its length.
  assert.equal(r.text, JSON.stringify({ kind: 'ExternalMetricValueList', apiVersion: 'external.metrics.k8s.io/v1beta1', metadata: {}, items: [ITEM] }));
  assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.text));
  assert.deepEqual(provider.calls.at(-1)!.selector, [{ key: 'governor.io/policy', operator: 'In', values: ['checkout'] }]);
  // Authorized as kube-apiserver's RequestInfo names it: list on resource <metric> in the namespace.
  assert.deepEqual(asked.at(-1), { kind: 'resource', verb: 'list', group: 'external.metrics.k8s.io', version: 'v1beta1', resource: 'desired-replicas', namespace: 'shop' });
});

test('probes answer without authentication', async () => {
  const { app } = makeApp();
  for (const p of ['/healthz', '/livez', '/readyz']) {
    const r = await request(app).get(p).expect(200);
    assert.equal(r.text, 'ok');
  }
});

test('openapi: 404 Status (the aggregator skips it)', async () => {
  const { app } = makeApp();
  for (const p of ['/openapi/v2', '/openapi/v3', '/openapi/v3/apis/external.metrics.k8s.io/v1beta1']) {
    const r = await get(app, p).expect(404);
    assert.equal(r.body.kind, 'Status');
  }
});

// Every error code the API can give, as metav1.Status with the right code and a message saying why.
const errorCases: { name: string; path: string; user?: string; method?: 'post' | 'delete'; code: number; reason: string; message: RegExp; app?: Parameters<typeof makeApp>[0] }[] = [
  { name: 'no credentials', path: BASE, user: '', code: 401, reason: 'Unauthorized', message: /Unauthorized: no client certificate/ },
  { name: 'no credentials on values', path: `${BASE}/namespaces/shop/desired-replicas`, user: '', code: 401, reason: 'Unauthorized', message: /no client certificate/ },
  {
    name: 'denied by SubjectAccessReview',
    path: `${BASE}/namespaces/shop/desired-replicas`,
    user: 'mallory',
    code: 403,
    reason: 'Forbidden',
    message: /mallory cannot list resource "desired-replicas" in API group "external\.metrics\.k8s\.io" in the namespace "shop": RBAC: no rule/,
    app: { deny: (u) => u.username === 'mallory' },
  },
  { name: 'denied discovery', path: '/apis', user: 'mallory', code: 403, reason: 'Forbidden', message: /cannot get path "\/apis"/, app: { deny: (u) => u.username === 'mallory' } },
  { name: 'unknown metric', path: `${BASE}/namespaces/shop/queue-depth`, code: 404, reason: 'NotFound', message: /could not find the metric queue-depth: this adapter publishes desired-replicas/ },
  { name: 'selector matching no policy', path: `${BASE}/namespaces/empty/desired-replicas?labelSelector=governor.io%2Fpolicy%3Dx`, code: 404, reason: 'NotFound', message: /no ScalingPolicy in namespace empty matches selector/ },
  { name: 'unknown path', path: '/api/v1/pods', code: 404, reason: 'NotFound', message: /could not find the requested resource/ },
  { name: 'deeper path', path: `${BASE}/namespaces/shop/desired-replicas/extra`, code: 404, reason: 'NotFound', message: /could not find/ },
  { name: 'bad selector', path: `${BASE}/namespaces/shop/desired-replicas?labelSelector=${encodeURIComponent('governor.io/policy in (a')}`, code: 400, reason: 'BadRequest', message: /invalid labelSelector: expected "," or "\)"/ },
  { name: 'bad selector key', path: `${BASE}/namespaces/shop/desired-replicas?labelSelector=${encodeURIComponent('-bad-=x')}`, code: 400, reason: 'BadRequest', message: /invalid label key "-bad-"/ },
  { name: 'selector twice', path: `${BASE}/namespaces/shop/desired-replicas?labelSelector=a&labelSelector=b`, code: 400, reason: 'BadRequest', message: /labelSelector must be given once/ },
  { name: 'traversal in the metric name', path: `${BASE}/namespaces/shop/..%2F..%2F..%2Fetc%2Fpasswd`, code: 400, reason: 'BadRequest', message: /invalid metric name "\.\.\/\.\.\/\.\.\/etc\/passwd"/ },
  { name: 'dot-dot metric', path: `${BASE}/namespaces/shop/..`, code: 400, reason: 'BadRequest', message: /invalid metric name "\.\."/ },
  { name: 'NUL in the metric name', path: `${BASE}/namespaces/shop/desired%00replicas`, code: 400, reason: 'BadRequest', message: /invalid metric name/ },
  { name: 'odd namespace', path: `${BASE}/namespaces/Shop_1/desired-replicas`, code: 400, reason: 'BadRequest', message: /invalid namespace name "Shop_1"/ },
  { name: 'malformed percent-encoding', path: `${BASE}/namespaces/shop/x%E0%A4%A`, code: 400, reason: 'BadRequest', message: /malformed percent-encoding/ },
  { name: 'write method', path: `${BASE}/namespaces/shop/desired-replicas`, method: 'post', code: 405, reason: 'MethodNotAllowed', message: /read-only/ },
  { name: 'delete discovery', path: '/apis', method: 'delete', code: 405, reason: 'MethodNotAllowed', message: /DELETE/ },
  { name: 'long URI', path: `${BASE}/namespaces/shop/desired-replicas?labelSelector=${'a'.repeat(MAX_URI_LENGTH)}`, code: 414, reason: 'RequestURITooLong', message: /request URI is \d+ bytes; the limit is 8192/ },
  { name: 'source down beyond the fallback', path: `${BASE}/namespaces/down/desired-replicas`, code: 503, reason: 'ServiceUnavailable', message: /^load source prometheus of policy down\/p failing: unreachable$/ },
  { name: 'provider bug', path: `${BASE}/namespaces/bug/desired-replicas`, code: 500, reason: 'InternalError', message: /^Internal error occurred: the request could not be processed/ },
  { name: 'authorizer down', path: `${BASE}/namespaces/shop/desired-replicas`, code: 500, reason: 'InternalError', message: /^Internal error occurred/, app: { authzFails: true } },
];

for (const c of errorCases) {
  test(`error ${c.code}: ${c.name}`, async () => {
    const { app } = makeApp(c.app);
    let req = request(app)[c.method ?? 'get'](c.path);
    if (c.user !== '') req = req.set('x-test-user', c.user ?? 'system:kube-aggregator');
    const r = await req;
    assert.equal(r.status, c.code, r.text);
    assert.match(String(r.headers['content-type']), /application\/json/);
    assert.equal(r.body.kind, 'Status');
    assert.equal(r.body.apiVersion, 'v1');
    assert.equal(r.body.status, 'Failure');
    assert.equal(r.body.code, c.code);
    assert.equal(r.body.reason, c.reason);
    assert.match(r.body.message, c.message);
    assert.doesNotMatch(r.text, /secret internal detail|ECONNREFUSED|10\.0\.0\.9|query/);
  });
}

test('a 503 is logged as a warning once per distinct cause, with the detail the body leaves out; a 500 as an error with its stack', async () => {
  const lines: Record<string, any>[] = [];
  const destination = new Writable({
    write(c, _e, cb) {
      lines.push(JSON.parse(String(c)));
      cb();
    },
  });
  const { app } = makeApp({ log: createLogger({ level: 'debug', destination, format: 'json' }) });
  for (let i = 0; i < 5; i++) await get(app, `${BASE}/namespaces/down/desired-replicas`).expect(503);
  await get(app, `${BASE}/namespaces/bug/desired-replicas`).expect(500);
  const warns = lines.filter((l) => l.level === 'warn');
  assert.equal(warns.length, 1, JSON.stringify(lines));
  assert.equal(warns[0]!.msg, 'value unavailable');
  assert.match(warns[0]!.detail, /prometheus http:\/\/10\.0\.0\.9:9090 unreachable \(ECONNREFUSED\) for query "up"/);
  assert.equal(lines.filter((l) => l.level === 'debug' && l.msg === 'value unavailable').length, 4);
  const errors = lines.filter((l) => l.level === 'error');
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.err, /TypeError: secret internal detail\n\s+at /);
});

test('request durations are recorded by route and code', async () => {
  const { app, metrics } = makeApp();
  await get(app, `${BASE}/namespaces/shop/desired-replicas`).expect(200);
  await get(app, `${BASE}/namespaces/down/desired-replicas`).expect(503);
  const text = await metrics.registry.metrics();
  assert.match(text, /governor_http_request_duration_seconds_count\{server="adapter",route="values",code="200"\} 1/);
  assert.match(text, /governor_http_request_duration_seconds_count\{server="adapter",route="values",code="503"\} 1/);
});

test('without an authenticator (--insecure-dev) requests are served as they come', async () => {
  const provider = new FakeMetricsProvider(['desired-replicas'], { 'shop/desired-replicas': [ITEM] });
  const app = createAdapterListener({ provider, log: silentLogger });
  const r = await request(app).get(`${BASE}/namespaces/shop/desired-replicas`).expect(200);
  assert.equal(r.body.items.length, 1);
});

test('labelSelectorOf gives what querystring.parse gives, for the HPA\'s query and for odd ones', () => {
  const fixed = [
    'labelSelector=governor.io%2Fpolicy%3Dweb',
    'labelSelector=governor.io/policy=web,tier!=db',
    'labelSelector=',
    'labelSelector=a+b',
    'labelSelector=a%2',
    'labelSelector=%E0%A4%A',
    'labelSelector=a&labelSelector=b',
    'labelSelector=a&x=1',
    'x=1&labelSelector=a',
    'label%53elector=a',
    'labelselector=a',
    'labelSelector',
    'labelSelector=%F0%9F%98%80',
    'labelSelector=a=b=c',
  ];
  let seed = 11;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const parts = ['labelSelector=', 'a', '%2F', '%3D', '%', '%2', '+', '&', '=', '%E0', '%A4', 'x', ',', '!'];
  const random = Array.from({ length: 3000 }, () => Array.from({ length: 1 + rand(6) }, () => parts[rand(parts.length)]).join(''));
  for (const q of [...fixed, ...random]) assert.deepEqual(labelSelectorOf(q), parseQuery(q).labelSelector, q);
});

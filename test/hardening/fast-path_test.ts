// The fast paths answer exactly as express does: the same table of requests through both, compared byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, RequestListener } from 'node:http';
import request from 'supertest';
import { createAdapterListener } from '../../src/adapter/app.js';
import type { AuthnResult } from '../../src/adapter/authn.js';
import { NoMatchingPolicyError, ValueUnavailableError } from '../../src/adapter/errors.js';
import { FakeMetricsProvider } from '../../src/adapter/fake-provider.js';
import { mutateHandler, reviewFunction, validateHandler, type AdmissionEnvironment } from '../../src/admission/handlers.js';
import { createWebhookListener } from '../../src/admission/http.js';
import { FakeEventRecorder } from '../../src/kube/events.js';
import { silentLogger } from '../../src/observability/log.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { withFastPath } from '../../src/server/fast-path.js';
import { admissionReview, realisticDeployment, sampleEngine, sampleNamespaces } from '../integration/webhook_fixtures.js';

interface Case {
  readonly method: 'GET' | 'POST' | 'PUT' | 'HEAD';
  readonly path: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
}

async function answer(app: RequestListener, c: Case) {
  let r = request(app)[c.method.toLowerCase() as 'get'](c.path);
  for (const [k, v] of Object.entries(c.headers ?? {})) r = r.set(k, v);
  const res = c.body !== undefined ? await r.set('content-type', 'application/json').send(c.body) : await r;
  return { status: res.status, type: res.headers['content-type'], allow: res.headers.allow, body: res.text };
}

async function assertSame(fast: RequestListener, slow: RequestListener, cases: readonly Case[]) {
  for (const c of cases) assert.deepEqual(await answer(fast, c), await answer(slow, c), `${c.method} ${c.path}`);
}

test('webhook: the fast path and express give the same answers', async () => {
  const listener = (fastPath: boolean) => {
    const engine = sampleEngine();
    const env: AdmissionEnvironment = { engine: () => engine, namespaces: sampleNamespaces(), events: new FakeEventRecorder(), log: silentLogger, metrics: createMetrics({ defaultMetrics: false }) };
    return createWebhookListener({ mutate: reviewFunction('mutate', mutateHandler(env), env), validate: reviewFunction('validate', validateHandler(env), env), log: silentLogger, fastPath });
  };
  const review = JSON.stringify(admissionReview({ uid: 'u-1', kind: 'Deployment', namespace: 'shop', name: 'checkout', object: realisticDeployment() }));
  const bare = JSON.stringify(admissionReview({ uid: 'u-2', kind: 'Deployment', namespace: 'dev', name: 'x', object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' } } }));
  const cases: Case[] = [
    { method: 'POST', path: '/mutate?timeout=10s', body: review },
    { method: 'POST', path: '/validate', body: review },
    { method: 'POST', path: '/validate', body: bare },
    { method: 'POST', path: '/mutate', body: '{"truncated": ' },
    { method: 'POST', path: '/mutate', body: '[]' },
    { method: 'POST', path: '/validate', body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }) },
    { method: 'GET', path: '/mutate' },
    { method: 'PUT', path: '/validate', body: review },
    { method: 'GET', path: '/healthz' },
    { method: 'GET', path: '/readyz' },
    { method: 'GET', path: '/nope' },
  ];
  const fast = listener(true);
  const slow = listener(false);
  await assertSame(fast, slow, cases);
  // Trailing slashes and other casings are left to express: the fast path never changes what a URL means.
  assert.equal((await answer(fast, { method: 'POST', path: '/mutate/', body: review })).status, 200);
});

test('adapter: the fast path and express give the same answers, errors and authentication included', async () => {
  const item = { metricName: 'desired-replicas', metricLabels: { 'governor.io/policy': 'checkout' }, timestamp: '2025-01-01T00:00:00Z', window: 30, value: '12' };
  const listener = (fastPath: boolean) => {
    const provider = new FakeMetricsProvider(['desired-replicas'], {
      'shop/desired-replicas': [item],
      'empty/desired-replicas': new NoMatchingPolicyError('empty', 'governor.io/policy=x', []),
      'down/desired-replicas': new ValueUnavailableError('no desired-replicas value: source unreachable'),
      'bug/desired-replicas': new TypeError('secret internal detail'),
    });
    const authenticate = (req: IncomingMessage): AuthnResult =>
      req.headers['x-test-user'] ? { ok: true, via: 'requestheader', user: { username: String(req.headers['x-test-user']), groups: [], extra: {} } } : { ok: false, reason: 'no client certificate' };
    const authorizer = { authorize: async (u: { username: string }) => (u.username === 'mallory' ? { allowed: false, reason: 'RBAC: no rule' } : { allowed: true, reason: '' }) };
    return createAdapterListener({ provider, authenticate, authorizer, log: silentLogger, metrics: createMetrics({ defaultMetrics: false }), fastPath });
  };
  const base = '/apis/external.metrics.k8s.io/v1beta1/namespaces';
  const user = { 'x-test-user': 'system:kube-aggregator' };
  const sel = `labelSelector=${encodeURIComponent('governor.io/policy=checkout')}`;
  const cases: Case[] = [
    { method: 'GET', path: `${base}/shop/desired-replicas?${sel}`, headers: user },
    { method: 'GET', path: `${base}/shop/desired-replicas`, headers: user },
    { method: 'GET', path: `${base}/shop/desired-replicas?${sel}` },
    { method: 'GET', path: `${base}/shop/desired-replicas?${sel}`, headers: { 'x-test-user': 'mallory' } },
    { method: 'GET', path: `${base}/shop/desired-replicas?${sel}&${sel}`, headers: user },
    { method: 'GET', path: `${base}/shop/desired-replicas?labelSelector=${encodeURIComponent('a in (b')}`, headers: user },
    { method: 'GET', path: `${base}/shop/desired-replicas?labelSelector=%E0%A4%A`, headers: user },
    { method: 'GET', path: `${base}/shop/desired-replicas?labelSelector=a+b`, headers: user },
    { method: 'GET', path: `${base}/shop/other-metric`, headers: user },
    { method: 'GET', path: `${base}/empty/desired-replicas`, headers: user },
    { method: 'GET', path: `${base}/down/desired-replicas`, headers: user },
    { method: 'GET', path: `${base}/bug/desired-replicas`, headers: user },
    { method: 'GET', path: `${base}/Shop/desired-replicas`, headers: user },
    { method: 'GET', path: `${base}/shop/..%2F..%2Fetc%2Fpasswd`, headers: user },
    { method: 'GET', path: `${base}/shop/%E0%A4%A`, headers: user },
    { method: 'GET', path: `${base}/shop/desired-replicas/extra`, headers: user },
    { method: 'GET', path: `${base}/shop/desired-replicas/`, headers: user },
    { method: 'GET', path: `${base}//desired-replicas`, headers: user },
    { method: 'GET', path: `${base}/shop/desired-replicas`, headers: { ...user, accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' } },
    { method: 'GET', path: `${base}/shop/desired-replicas?labelSelector=${'a'.repeat(9000)}`, headers: user },
    { method: 'HEAD', path: `${base}/shop/desired-replicas?${sel}`, headers: user },
    { method: 'PUT', path: `${base}/shop/desired-replicas`, headers: user, body: '{}' },
    { method: 'GET', path: '/apis/external.metrics.k8s.io/v1beta1', headers: user },
    { method: 'GET', path: '/healthz' },
  ];
  await assertSame(listener(true), listener(false), cases);
});

test('withFastPath: a route that declines falls through to the app untouched', async () => {
  const seen: string[] = [];
  const app: RequestListener = (req, res) => {
    seen.push(`app ${req.method} ${req.url}`);
    res.end('app');
  };
  const l = withFastPath(
    [
      { method: 'GET', path: '/exact', handle: (_q, s) => void s.end('exact') },
      { method: 'GET', path: '/p/', prefix: true, handle: (_q, s, path, query) => (path === '/p/no' ? false : void s.end(`prefix ${path} ${query}`)) },
    ],
    app,
  );
  assert.equal((await request(l).get('/exact?x=1')).text, 'exact');
  assert.equal((await request(l).post('/exact')).text, 'app');
  assert.equal((await request(l).get('/p/a?b=c')).text, 'prefix /p/a b=c');
  assert.equal((await request(l).get('/p/no')).text, 'app');
  assert.equal((await request(l).get('/EXACT')).text, 'app');
  assert.deepEqual(seen, ['app POST /exact', 'app GET /p/no', 'app GET /EXACT']);
});

// The adapter as kube-apiserver's aggregator and the HPA reach it: real HTTPS, client certificates, SubjectAccessReview, scale reads.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningGovernor } from '../../src/main.js';
import {
  governorOptions,
  httpsGet,
  makePki,
  startAdapter,
  startFakeKubeApi,
  startLoadEndpoint,
  type FakeKubeApi,
  type Pki,
} from './adapter_helpers.js';

const BASE = '/apis/external.metrics.k8s.io/v1beta1';
const VALUES = `${BASE}/namespaces/shop/desired-replicas?labelSelector=${encodeURIComponent('governor.io/policy=checkout')}`;
const AGGREGATOR = { 'X-Remote-User': 'system:kube-aggregator', 'X-Remote-Group': 'system:masters' };
const HPA_USER = 'system:serviceaccount:kube-system:horizontal-pod-autoscaler';

function policyYaml(loadUrl: string) {
  return `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: checkout, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: checkout}
  load: {http: {url: '${loadUrl}', valuePath: data.rps}}
  thresholds: {low: 100, high: 800}
  replicas: {min: 2, base: 3, max: 20, cap: 30}
  step: 2
  interval: 1s
`;
}

describe('adapter over TLS with flags (--requestheader-client-ca-file, --client-ca-file, --kubeconfig)', () => {
  let dir: string;
  let pki: Pki;
  let kube: FakeKubeApi;
  let load: Awaited<ReturnType<typeof startLoadEndpoint>>;
  let gov: RunningGovernor;
  let port: number;
  let ca: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kg-adapter-tls-'));
    pki = makePki();
    // RBAC stand-in: the HPA controller and alice may read metrics; nobody else.
    kube = await startFakeKubeApi(dir, (spec) => spec.user === HPA_USER || spec.user === 'alice');
    kube.scales.set('shop/deployments/checkout', 20);
    load = await startLoadEndpoint(450);
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'policies', 'shop.yaml'), policyYaml(load.url));
    gov = await startAdapter(
      governorOptions(dir, {
        requestheaderClientCaFile: pki.files.frontProxyCa,
        requestheaderAllowedNames: ['front-proxy-client'],
        clientCaFile: pki.files.clientCa,
        kubeconfig: kube.kubeconfigFile,
      }),
    );
    port = gov.ports.adapter!;
    ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
  });
  after(async () => {
    await gov?.stop();
    await kube?.close();
    await load?.close();
    pki?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test('probes answer without a client certificate', async () => {
    for (const p of ['/healthz', '/livez', '/readyz']) {
      const r = await httpsGet(port, p, { ca });
      assert.equal(r.status, 200);
      assert.equal(r.text, 'ok');
    }
  });

  test('the aggregator (front-proxy cert + X-Remote-User/Group) gets discovery and values', async () => {
    const list = await httpsGet(port, BASE, { ca, cert: pki.aggregator, headers: AGGREGATOR });
    assert.equal(list.status, 200, list.text);
    assert.equal(list.json.resources[0].name, 'desired-replicas');
    const values = await httpsGet(port, VALUES, { ca, cert: pki.aggregator, headers: AGGREGATOR });
    assert.equal(values.status, 200, values.text);
    assert.equal(values.json.kind, 'ExternalMetricValueList');
    assert.equal(values.json.items.length, 1);
    assert.equal(values.json.items[0].value, '12');
    assert.equal(values.json.items[0].window, 1);
    // system:masters is allowed without a SubjectAccessReview
    assert.equal(kube.reviews.filter((r) => r.user === 'system:kube-aggregator').length, 0);
  });

  test('the HPA identity forwarded by the aggregator is authorized with a SubjectAccessReview', async () => {
    const r = await httpsGet(port, VALUES, { ca, cert: pki.aggregator, headers: { 'X-Remote-User': HPA_USER, 'X-Remote-Group': ['system:serviceaccounts', 'system:authenticated'], 'X-Remote-Extra-Scopes': 'a' } });
    assert.equal(r.status, 200, r.text);
    const review = kube.reviews.find((x) => x.user === HPA_USER);
    assert.deepEqual(review.groups, ['system:serviceaccounts', 'system:authenticated']);
    assert.deepEqual(review.extra, { scopes: ['a'] });
    assert.deepEqual(review.resourceAttributes, { verb: 'list', group: 'external.metrics.k8s.io', version: 'v1beta1', resource: 'desired-replicas', namespace: 'shop' });
  });

  test('a forwarded user without RBAC gets 403', async () => {
    const r = await httpsGet(port, VALUES, { ca, cert: pki.aggregator, headers: { 'X-Remote-User': 'bob' } });
    assert.equal(r.status, 403);
    assert.equal(r.json.reason, 'Forbidden');
    assert.match(r.json.message, /bob cannot list resource "desired-replicas" .*no RBAC policy matched/);
  });

  test('no client certificate: 401', async () => {
    const r = await httpsGet(port, VALUES, { ca, headers: AGGREGATOR });
    assert.equal(r.status, 401);
    assert.equal(r.json.kind, 'Status');
    assert.match(r.json.message, /no client certificate/);
  });

  test('a certificate from an unknown CA (same subject as the front proxy): 401', async () => {
    const r = await httpsGet(port, VALUES, { ca, cert: pki.rogue, headers: AGGREGATOR });
    assert.equal(r.status, 401);
    assert.match(r.json.message, /client certificate rejected/);
  });

  test('a front-proxy CA certificate with a CN that is not allowed: 401', async () => {
    const r = await httpsGet(port, VALUES, { ca, cert: pki.intruder, headers: AGGREGATOR });
    assert.equal(r.status, 401);
    assert.match(r.json.message, /CN "intruder" is not an allowed request-header name/);
  });

  test('the front-proxy certificate without X-Remote-User: 401', async () => {
    const r = await httpsGet(port, VALUES, { ca, cert: pki.aggregator });
    assert.equal(r.status, 401);
    assert.match(r.json.message, /sent no X-Remote-User header/);
  });

  test('a client-CA certificate cannot assert X-Remote-User: it is its own CN, and RBAC denies it', async () => {
    const before = kube.reviews.length;
    const r = await httpsGet(port, VALUES, { ca, cert: pki.mallory, headers: AGGREGATOR });
    assert.equal(r.status, 403, r.text);
    assert.match(r.json.message, /^mallory cannot list/);
    const asked = kube.reviews.slice(before);
    assert.equal(asked.length, 1);
    assert.equal(asked[0].user, 'mallory');
    assert.deepEqual(asked[0].groups, ['system:authenticated']);
  });

  test('a client-CA certificate authenticates as CN with O as groups', async () => {
    const r = await httpsGet(port, VALUES, { ca, cert: pki.alice });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(kube.reviews.find((x) => x.user === 'alice').groups, ['devs', 'system:authenticated']);
  });

  test('overload steps from the live replica count read through the scale subresource', async () => {
    load.set(5000);
    await new Promise((r) => setTimeout(r, 1100)); // next 1 s interval
    const r = await httpsGet(port, VALUES, { ca, cert: pki.aggregator, headers: AGGREGATOR });
    assert.equal(r.json.items[0].value, '22'); // live 20 + step 2
    load.set(450);
  });

  test('hostile requests get a clear 4xx and the server keeps serving', async () => {
    const auth = { ca, cert: pki.aggregator, headers: AGGREGATOR };
    const traversal = await httpsGet(port, `${BASE}/namespaces/shop/..%2F..%2F..%2Fetc%2Fpasswd`, auth);
    assert.equal(traversal.status, 400);
    assert.match(traversal.json.message, /invalid metric name/);
    const badSelector = await httpsGet(port, `${BASE}/namespaces/shop/desired-replicas?labelSelector=${encodeURIComponent('governor.io/policy in (checkout')}`, auth);
    assert.equal(badSelector.status, 400);
    assert.match(badSelector.json.message, /invalid labelSelector/);
    const started = performance.now();
    const huge = await rawRequest(port, ca, `GET ${BASE}/namespaces/shop/desired-replicas?labelSelector=${'a'.repeat(1024 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const ms = performance.now() - started;
    assert.match(huge, /^HTTP\/1\.1 431 /);
    assert.match(huge, /"kind":"Status".*"code":431/);
    assert.ok(ms < 5000, `1 MB request answered after ${ms} ms`);
    const after = await httpsGet(port, VALUES, auth);
    assert.equal(after.status, 200);
  });

  test('the source query happens once per interval however often the HPA polls', async () => {
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 50)); // start of an interval
    const before = load.hits();
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 20 }, () => httpsGet(port, VALUES, { ca, cert: pki.aggregator, headers: AGGREGATOR })));
    // One query per 1 s interval: normally all 20 polls fall into one; a slow machine may spill into the next.
    const intervals = Math.floor(Date.now() / 1000) - Math.floor(t0 / 1000) + 1;
    assert.ok(load.hits() - before >= 1 && load.hits() - before <= intervals, `${load.hits() - before} queries in ${intervals} interval(s)`);
    assert.ok(intervals < 20);
  });
});

describe('adapter over TLS with the request-header CA from kube-system/extension-apiserver-authentication', () => {
  let dir: string;
  let pki: Pki;
  let kube: FakeKubeApi;
  let gov: RunningGovernor;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kg-adapter-cm-'));
    pki = makePki();
    kube = await startFakeKubeApi(dir, () => false);
    kube.authConfigMap = {
      'requestheader-client-ca-file': pki.frontProxyCa.certPem,
      'requestheader-allowed-names': '["front-proxy-client"]',
      'requestheader-username-headers': '["X-Remote-User"]',
      'requestheader-group-headers': '["X-Remote-Group"]',
      'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
      'client-ca-file': pki.clientCa.certPem,
    };
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'policies', 'shop.yaml'), policyYaml('http://127.0.0.1:9/'));
    gov = await startAdapter(governorOptions(dir, { kubeconfig: kube.kubeconfigFile }));
  });
  after(async () => {
    await gov?.stop();
    await kube?.close();
    pki?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the ConfigMap CA and allowed names are used', async () => {
    const ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
    const port = gov.ports.adapter!;
    const ok = await httpsGet(port, BASE, { ca, cert: pki.aggregator, headers: AGGREGATOR });
    assert.equal(ok.status, 200, ok.text);
    const intruder = await httpsGet(port, BASE, { ca, cert: pki.intruder, headers: AGGREGATOR });
    assert.equal(intruder.status, 401);
    // Source down and nothing to hold (the scale read 404s): 503 naming the failure class; the metric is still listed.
    const values = await httpsGet(port, VALUES, { ca, cert: pki.aggregator, headers: AGGREGATOR });
    assert.equal(values.status, 503);
    assert.equal(values.json.reason, 'ServiceUnavailable');
    assert.match(values.json.message, /^load source http of policy \S+ failing: unreachable$/);
  });
});

describe('adapter: the authentication ConfigMap is re-read', () => {
  let dir: string;
  let pki: Pki;
  let kube: FakeKubeApi;
  let gov: RunningGovernor;
  const authData = (frontProxyCaPem: string) => ({
    'requestheader-client-ca-file': frontProxyCaPem,
    'requestheader-allowed-names': '["front-proxy-client"]',
    'requestheader-username-headers': '["X-Remote-User"]',
    'requestheader-group-headers': '["X-Remote-Group"]',
    'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
  });
  /** Polls until `path` answers `status` for `cert`, or gives up after 5 s. */
  async function until(status: number, cert: Pki['aggregator']): Promise<number> {
    const ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
    const deadline = Date.now() + 5000;
    let last = 0;
    while (Date.now() < deadline) {
      last = (await httpsGet(gov.ports.adapter!, BASE, { ca, cert, headers: AGGREGATOR })).status;
      if (last === status) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    return last;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kg-adapter-cm-refresh-'));
    pki = makePki();
    kube = await startFakeKubeApi(dir, () => true);
    kube.authConfigMap = undefined; // not readable yet (RBAC or the API server still coming up)
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'policies', 'shop.yaml'), policyYaml('http://127.0.0.1:9/'));
    gov = await startAdapter(governorOptions(dir, { kubeconfig: kube.kubeconfigFile, authRefreshMs: 200 }));
  });
  after(async () => {
    await gov?.stop();
    await kube?.close();
    pki?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a ConfigMap that could not be read at start is picked up once it can be', async () => {
    assert.equal(await until(401, pki.aggregator), 401, 'nothing trusted before the ConfigMap is readable');
    kube.authConfigMap = authData(pki.frontProxyCa.certPem);
    assert.equal(await until(200, pki.aggregator), 200);
  });

  let rotated: Pki['aggregator'] | undefined;
  test('a rotated front-proxy CA applies to new connections; the old one stops working', async () => {
    const { generateCA, generateClientCert } = await import('../../src/tls/certs.js');
    const newCa = generateCA({ commonName: 'front-proxy-ca-2' });
    rotated = generateClientCert(newCa, { commonName: 'front-proxy-client' });
    assert.equal(await until(401, rotated), 401, 'the new CA is not trusted yet');
    kube.authConfigMap = authData(newCa.certPem);
    assert.equal(await until(200, rotated), 200);
    assert.equal(await until(401, pki.aggregator), 401, 'the old CA is no longer trusted');
  });

  test('an unreadable or broken ConfigMap later keeps the settings in force', async () => {
    assert.ok(rotated, 'runs after the rotation test');
    const ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
    const good = kube.authConfigMap;
    kube.authConfigMap = undefined; // 404 on the next reads
    await new Promise((r) => setTimeout(r, 600));
    assert.equal((await httpsGet(gov.ports.adapter!, BASE, { ca, cert: rotated, headers: AGGREGATOR })).status, 200);
    kube.authConfigMap = { ...good!, 'requestheader-client-ca-file': 'not a certificate' };
    await new Promise((r) => setTimeout(r, 600));
    assert.equal((await httpsGet(gov.ports.adapter!, BASE, { ca, cert: rotated, headers: AGGREGATOR })).status, 200);
    kube.authConfigMap = good;
  });
});

/** Writes raw bytes over TLS and returns whatever comes back before the server closes. */
function rawRequest(port: number, ca: string, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      s.write(payload, () => {});
    });
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', (e: NodeJS.ErrnoException) => (chunks.length ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(e)));
    s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    s.setTimeout(10_000, () => s.destroy(new Error('timeout')));
  });
}

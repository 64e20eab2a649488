// Faults while serving: Prometheus down, slow, answering garbage, NaN or many series; the policy directory turning
// invalid mid-run; the serving certificate rotated on disk; a burst of source queries. Each asserts what users see.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { startGovernor, type RunningGovernor } from '../../src/main.js';
import type { GovernorOptions } from '../../src/server/options.js';
import { silentLogger } from '../../src/observability/log.js';
import { createSecureServer, listen } from '../../src/server/https.js';
import { LoadCache, DEFAULT_MAX_CONCURRENT_QUERIES } from '../../src/sources/cache.js';
import type { MetricSource } from '../../src/sources/source.js';
import { closedPort } from '../../src/sources/testing.js';
import { generateCA, generateServingCert } from '../../src/tls/certs.js';
import { CertFileReloader, readTlsMaterial } from '../../src/tls/serving.js';
import { governorOptions, httpsGet } from '../integration/adapter_helpers.js';
import { admissionReview, realisticDeployment } from '../integration/webhook_fixtures.js';
import { capturingLogger } from './helpers.js';
import { adapterComponent, webhookComponent } from '../../src/components.js';

const VALUES = '/apis/external.metrics.k8s.io/v1beta1/namespaces';

function options(dir: string, policies: string, o: Partial<GovernorOptions> = {}): GovernorOptions {
  return governorOptions(dir, { policies: [policies], allowedSourceHosts: ['127.0.0.1'], insecureDev: true, enableWebhook: true, clusterPolicies: false, ...o });
}

const scalingPolicy = (name: string, load: string, extra = '') => `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: ${name}, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: ${name}}
  load: ${load}
  thresholds: {low: 100, high: 800}
  replicas: {min: 2, base: 3, max: 20}
  interval: 1s
${extra}`;

/** A Prometheus stand-in: the answer depends on the query text. */
async function fakePrometheus(): Promise<{ server: Server; url: string }> {
  const vector = (result: unknown[]) => JSON.stringify({ status: 'success', data: { resultType: 'vector', result } });
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    const query = new URLSearchParams(body).get('query') ?? '';
    const json = (code: number, text: string) => res.writeHead(code, { 'content-type': 'application/json' }).end(text);
    switch (query) {
      case 'ok':
        return json(200, vector([{ metric: {}, value: [1, '450'] }]));
      case 'nan':
        return json(200, vector([{ metric: {}, value: [1, 'NaN'] }]));
      case 'inf':
        return json(200, vector([{ metric: {}, value: [1, '+Inf'] }]));
      case 'garbage':
        return res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>502 Bad Gateway</body></html>');
      case 'error':
        return json(503, JSON.stringify({ status: 'error', errorType: 'unavailable', error: 'storage is down' }));
      case 'many':
        return json(200, vector(Array.from({ length: 10_000 }, (_, i) => ({ metric: { pod: `p${i}` }, value: [1, '1'] }))));
      case 'huge':
        return json(200, vector([{ metric: { pad: 'x'.repeat(2 * 1024 * 1024) }, value: [1, '1'] }]));
      case 'empty':
        return json(200, vector([]));
      case 'reset':
        return req.socket.destroy();
      case 'slow': {
        const t = setTimeout(() => json(200, vector([{ metric: {}, value: [1, '450'] }])), 5000);
        timers.add(t);
        res.on('close', () => clearTimeout(t));
        return;
      }
      default:
        return json(400, JSON.stringify({ status: 'error', errorType: 'bad_data', error: `unknown query ${query}` }));
    }
  });
  server.on('close', () => timers.forEach(clearTimeout));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

describe('Prometheus faults: the HPA gets a 503 Status naming the problem, never a 500 or a hang', () => {
  let dir: string;
  let prom: { server: Server; url: string };
  let running: RunningGovernor;
  let ca: string;
  const captured = capturingLogger();
  const FAULTS: Record<string, RegExp> = {
    down: /unreachable \(ECONNREFUSED\)/,
    slow: /no answer within 300 ms/,
    garbage: /not JSON/,
    error: /storage is down/,
    nan: /NaN, not a finite number/,
    inf: /Infinity, not a finite number|\+Inf, not a finite number/,
    many: /returned 10000 series; it must return one/,
    huge: /larger than 1048576 bytes/,
    empty: /returned no series/,
    reset: /unreachable|socket|closed|terminated/i,
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kg-faults-prom-'));
    prom = await fakePrometheus();
    const down = `http://127.0.0.1:${await closedPort()}`;
    // Only `slow` needs the short timeout; the large answers get time to arrive on a loaded machine, so they fail for
    // their content (what the test checks), not by timing out first.
    const timeout = (f: string) => (f === 'many' || f === 'huge' ? '5s' : '300ms');
    const docs = Object.keys(FAULTS).map((f) => scalingPolicy(`p-${f}`, `{prometheus: {url: '${f === 'down' ? down : prom.url}', query: '${f}', timeout: ${timeout(f)}}}`));
    docs.push(scalingPolicy('p-ok', `{prometheus: {url: '${prom.url}', query: 'ok', timeout: 300ms}}`));
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'policies', 'faults.yaml'), docs.join('---\n'));
    running = await startGovernor(options(dir, join(dir, 'policies'), { enableWebhook: false }), [adapterComponent], captured.log);
    ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
  });
  after(async () => {
    await running.stop();
    prom.server.closeAllConnections();
    await new Promise<void>((r) => prom.server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('each fault: 503 naming the policy and the failure class, the source error only in the server log; a healthy policy beside them still gets its value', async () => {
    const get = (p: string) => httpsGet(running.ports.adapter!, `${VALUES}/shop/desired-replicas?labelSelector=${encodeURIComponent(`governor.io/policy=${p}`)}`, { ca });
    for (const [fault, message] of Object.entries(FAULTS)) {
      const r = await get(`p-${fault}`);
      assert.equal(r.status, 503, `${fault}: ${r.text.slice(0, 300)}`);
      assert.equal(r.json.kind, 'Status', fault);
      assert.match(r.json.message, new RegExp(`^load source prometheus of policy shop/p-${fault} failing: (unreachable|timed out|no usable value in its answer)$`), fault);
      assert.doesNotMatch(r.text, /127\.0\.0\.1|query/, fault);
      const logged = captured.lines().filter((l) => l.includes(`shop/p-${fault}`) && message.test(l));
      assert.ok(logged.length > 0, `${fault}: the source error is not in the server log`);
    }
    const ok = await get('p-ok');
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.items[0].value, '12'); // 3 + (450 - 100) / (800 - 100) · (20 - 3) = 11.5, rounded up
  });

  test('source errors are counted by reason and logged once per policy, without the response bodies', async () => {
    const metrics = await running.context.metrics.registry.getSingleMetricAsString('governor_source_errors_total');
    for (const reason of ['unavailable', 'timeout', 'response']) assert.match(metrics, new RegExp(`reason="${reason}"`), reason);
    const logs = captured.lines().join('\n');
    assert.doesNotMatch(logs, /502 Bad Gateway|x{1000}/, 'a source body reached the log');
    assert.match(logs, /no value to publish/);
  });
});

test('a failing source after a good value: the last decision is held (hold after 3), then served again when it recovers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kg-faults-hold-'));
  const mode = { q: 'ok' };
  const prom = createServer(async (req, res) => {
    for await (const _ of req) void _;
    if (mode.q === 'ok') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: [1, '800'] } }));
    if (mode.q === 'nan') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: [1, 'NaN'] } }));
    req.socket.destroy();
  });
  await new Promise<void>((r) => prom.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(prom.address() as { port: number }).port}`;
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'p.yaml'), scalingPolicy('held', `{prometheus: {url: '${url}', query: 'q', timeout: 300ms}}`, '  onSourceFailure: {action: hold, after: 3}\n'));
  const running = await startGovernor(options(dir, join(dir, 'policies'), { enableWebhook: false }), [adapterComponent], silentLogger);
  try {
    const ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
    const get = () => httpsGet(running.ports.adapter!, `${VALUES}/shop/desired-replicas?labelSelector=governor.io%2Fpolicy%3Dheld`, { ca });
    const first = await get();
    assert.equal(first.status, 200, first.text);
    const good = first.json.items[0].value;
    assert.equal(good, '20');
    for (const q of ['nan', 'down']) {
      mode.q = q;
      await new Promise((r) => setTimeout(r, 1100)); // next 1 s interval
      const held = await get();
      assert.equal(held.status, 200, `${q}: ${held.text}`);
      assert.equal(held.json.items[0].value, good, `${q}: the last decision stays`);
    }
    mode.q = 'ok';
    await new Promise((r) => setTimeout(r, 1100));
    const back = await get();
    assert.equal(back.status, 200);
    assert.equal(back.json.items[0].value, good);
  } finally {
    await running.stop();
    prom.closeAllConnections();
    await new Promise<void>((r) => prom.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the policy directory turns invalid mid-run: the last good set stays in force, the error names the file and is counted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kg-faults-policies-'));
  const load = createServer((_q, s) => s.writeHead(200, { 'content-type': 'application/json' }).end('{"rps": 450}'));
  await new Promise<void>((r) => load.listen(0, '127.0.0.1', r));
  const loadUrl = `http://127.0.0.1:${(load.address() as { port: number }).port}/`;
  const policies = join(dir, 'policies');
  mkdirSync(policies);
  const scaling = join(policies, 'scaling.yaml');
  const governance = join(policies, 'governance.yaml');
  writeFileSync(scaling, scalingPolicy('checkout', `{http: {url: '${loadUrl}', valuePath: rps}}`));
  writeFileSync(governance, `apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: owners}\nspec:\n  match: {kinds: [Deployment]}\n  labels: {team: {default: platform}}\n`);
  const captured = capturingLogger();
  const running = await startGovernor(options(dir, policies, { policyPollMs: 50 }), [adapterComponent, webhookComponent], captured.log);
  try {
    const ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
    const value = () => httpsGet(running.ports.adapter!, `${VALUES}/shop/desired-replicas?labelSelector=governor.io%2Fpolicy%3Dcheckout`, { ca });
    const mutate = async () => {
      const body = JSON.stringify(admissionReview({ kind: 'Deployment', namespace: 'dev', name: 'checkout', object: realisticDeployment('dev') }));
      const res = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: running.ports.webhook!, path: '/mutate', method: 'POST', ca, servername: 'localhost', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (r) => {
          let t = '';
          r.on('data', (c) => (t += c));
          r.on('end', () => resolve(t));
        });
        req.on('error', reject);
        req.end(body);
      });
      const r = JSON.parse(res).response;
      return r.patch ? (JSON.parse(Buffer.from(r.patch, 'base64').toString()) as { path: string }[]).map((o) => o.path) : [];
    };
    const generation = running.context.store.current().generation;
    assert.equal((await value()).status, 200);
    assert.ok((await mutate()).includes('/metadata/labels/team'));

    // Broken mid-run: a schema error in one file and YAML that does not parse in the other.
    writeFileSync(scaling, scalingPolicy('checkout', `{http: {url: '${loadUrl}', valuePath: rps}}`).replace('low: 100, high: 800', 'low: 900, high: 800'));
    writeFileSync(governance, 'apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: owners\n');
    const partial = async () => (await running.context.metrics.registry.getSingleMetricAsString('governor_policy_reloads_total')).match(/result="partial"\} (\d+)/)?.[1];
    for (let i = 0; i < 200 && running.context.store.lastErrors().length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(Number(await partial()) >= 1, 'the reload held documents back');
    const inForce = running.context.store.current();
    assert.deepEqual([inForce.scaling.map((p) => p.name), inForce.governance.map((p) => p.name)], [['checkout'], ['owners']], 'the last good versions are still in force');
    assert.equal(inForce.scaling[0]!.thresholds.low, 100);
    assert.equal((await value()).status, 200);
    assert.ok((await mutate()).includes('/metadata/labels/team'));
    const errors = captured.lines().filter((l) => /"level":"error"/.test(l));
    assert.ok(errors.some((l) => l.includes('scaling.yaml') && l.includes('"path":"spec.thresholds.high"')), errors.join('\n'));
    assert.ok(errors.some((l) => l.includes('governance.yaml') && /"line":\d+/.test(l)), errors.join('\n'));
    assert.ok(captured.lines().some((l) => /last good version of these policies stays in force/.test(l)));
    const loadErrors = await running.context.metrics.registry.getSingleMetricAsString('governor_policy_load_errors');
    assert.match(loadErrors, /governor_policy_load_errors\{source="files",kind="ScalingPolicy"\} 1/);
    assert.match(loadErrors, /governor_policy_load_errors\{source="files",kind="unknown"\} 1/);

    // Fixed: the new set applies.
    writeFileSync(scaling, scalingPolicy('checkout', `{http: {url: '${loadUrl}', valuePath: rps}}`, '  step: 3\n'));
    writeFileSync(governance, `apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: owners}\nspec:\n  match: {kinds: [Deployment]}\n  labels: {tier: {default: web}}\n`);
    for (let i = 0; i < 200 && running.context.store.lastErrors().length; i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(running.context.store.lastErrors(), []);
    assert.ok(running.context.store.current().generation > generation);
    const paths = await mutate();
    assert.ok(paths.includes('/metadata/labels/tier') && !paths.includes('/metadata/labels/team'), paths.join(','));
  } finally {
    await running.stop();
    load.closeAllConnections();
    await new Promise<void>((r) => load.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('certificate rotated on disk', () => {
  let dir: string;
  const ca = generateCA({ commonName: 'rotation-ca' });
  const first = generateServingCert(ca, { commonName: 'first', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const second = generateServingCert(ca, { commonName: 'second', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kg-faults-certs-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('new connections get the new certificate; an open keep-alive connection keeps working; a bad pair keeps the old one', async () => {
    const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
    writeFileSync(files.certFile, first.certPem);
    writeFileSync(files.keyFile, first.keyPem);
    const server = createSecureServer((_q, s) => s.end('ok'), { tls: await readTlsMaterial(files) });
    const port = await listen(server.server, 0, '127.0.0.1');
    const reloader = new CertFileReloader(files, (m) => server.setTls(m), silentLogger, 60_000);
    await reloader.start();
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.certPem });
    const get = () =>
      new Promise<{ cn: string; socket: TLSSocket }>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port, path: '/', agent, servername: 'localhost' }, (res) => {
          const socket = res.socket as TLSSocket;
          const cn = String(socket.getPeerCertificate().subject.CN);
          res.resume();
          res.on('end', () => resolve({ cn, socket }));
        });
        req.on('error', reject);
        req.end();
      });
    const fresh = () =>
      new Promise<string>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'localhost' }, () => {
          resolve(String(s.getPeerCertificate().subject.CN));
          s.end();
        });
        s.on('error', reject);
      });
    try {
      const a = await get();
      assert.equal(a.cn, 'first');
      writeFileSync(files.certFile, second.certPem);
      writeFileSync(files.keyFile, second.keyPem);
      assert.equal(await reloader.check(), true);
      assert.equal(await fresh(), 'second', 'a new connection gets the rotated certificate');
      const again = await get();
      assert.equal(again.socket, a.socket, 'the keep-alive connection was reused, not dropped');
      assert.equal(again.cn, 'first');
      // A mismatched pair (a Secret half updated) is refused and the current certificate stays.
      writeFileSync(files.certFile, first.certPem);
      assert.equal(await reloader.check(), false);
      assert.equal(await fresh(), 'second');
    } finally {
      reloader.stop();
      agent.destroy();
      await server.close(100);
    }
  });
});

test(`source queries are bounded to ${DEFAULT_MAX_CONCURRENT_QUERIES} in flight; every caller still gets its sample`, async () => {
  let inFlight = 0;
  let peak = 0;
  const source: MetricSource = {
    async query() {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      return 1;
    },
  };
  const cache = new LoadCache(source);
  const samples = await Promise.all(Array.from({ length: 500 }, (_, i) => cache.get(`ns/p${i}`, { type: 'http', url: `http://127.0.0.1/${i}`, valuePath: 'x' } as never, 30_000)));
  assert.equal(peak, DEFAULT_MAX_CONCURRENT_QUERIES);
  assert.ok(samples.every((s) => s.ok));
  assert.equal(inFlight, 0);
});

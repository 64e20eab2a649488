// `governor serve` as `npm start` runs it (the sample policies of ./policies, --insecure-dev on loopback, no cluster,
// no Prometheus), with every component on: the adapter, the webhook and KEDA's external scaler. After some traffic on
// each, its /metrics must pass `promtool check metrics`, and its log must hold no error-level line: every condition
// here (no cluster, no Prometheus, the samples' sources down) is expected in a local run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { externalScalerService } from '../../src/keda/server.js';
import { closedPort } from '../../src/sources/testing.js';
import { httpsGet } from './adapter_helpers.js';
import { admissionReview, realisticDeployment } from './webhook_fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');
let child: ChildProcess;
let dir: string;
const lines: any[] = [];
let ports: { adapter: number; webhook: number; keda: number; metrics: number };
let ca: string;

/** pino's levels: a line is error-level or worse at 50 and above (the label when the logger writes labels). */
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const levelOf = (l: any): number => (typeof l.level === 'number' ? l.level : (LEVELS[l.level] ?? 0));

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kg-serve-obs-'));
  const { KUBECONFIG: _k, KUBERNETES_SERVICE_HOST: _h, KUBERNETES_SERVICE_PORT: _p, ...env } = process.env;
  child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'serve', '--insecure-dev', '--bind-address', '127.0.0.1', '--allowed-source-hosts', '127.0.0.1,localhost',
      '--secure-port', '0', '--webhook-port', '0', '--metrics-port', '0', '--keda-scaler-port', '0',
      '--cert-dir', join(dir, 'certs'), '--prometheus-url', `http://127.0.0.1:${await closedPort()}`],
    // No cluster whatever the machine has: no KUBECONFIG, no ~/.kube/config (HOME is empty), not in a pod.
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, HOME: dir } },
  );
  let buf = '';
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`governor serve did not report serving within 30 s\n${stderr}`)), 30_000);
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const p of parts) {
        let l: any;
        try {
          l = JSON.parse(p);
        } catch {
          l = { level: 'fatal', msg: `not a JSON log line: ${p}` }; // stdout is not a terminal: every line is JSON
        }
        lines.push(l);
        if (l.msg === 'kube-governor serving') {
          ports = l.ports;
          clearTimeout(t);
          resolve();
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`governor serve exited with ${code}\n${stderr}`)));
  });
  ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
  await traffic();
});

after(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function post(port: number, path: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, method: 'POST', ca, servername: 'localhost', agent: false, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } },
      (res) => res.resume().on('end', () => resolve(res.statusCode!)),
    );
    req.on('error', reject);
    req.end(data);
  });
}

function scrape(path = '/metrics'): Promise<string> {
  return new Promise((resolve, reject) =>
    httpGet({ host: '127.0.0.1', port: ports.metrics, path }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c)).on('end', () => resolve(b));
    }).on('error', reject),
  );
}

/** Requests on every server: metric values (one published, one not), admission reviews, KEDA calls. */
async function traffic(): Promise<void> {
  const Client = grpc.makeGenericClientConstructor(externalScalerService(), 'ExternalScaler');
  const keda: any = new Client(`127.0.0.1:${ports.keda}`, grpc.credentials.createInsecure());
  const call = (m: string, req: unknown) => new Promise<unknown>((resolve) => keda[m](req, { deadline: Date.now() + 5000 }, (e: unknown, r: unknown) => resolve(e ?? r)));
  const ref = (policy: string) => ({ name: policy.split('/')[1], namespace: policy.split('/')[0], scalerMetadata: { policy } });
  try {
    for (let i = 0; i < 3; i++) {
      const api = '/apis/external.metrics.k8s.io/v1beta1';
      assert.equal((await httpsGet(ports.adapter, api, { ca })).status, 200);
      assert.equal((await httpsGet(ports.adapter, `${api}/namespaces/shop/desired-replicas?labelSelector=governor.io%2Fpolicy%3Dsearch`, { ca })).status, 200);
      assert.equal((await httpsGet(ports.adapter, `${api}/namespaces/shop/desired-replicas?labelSelector=governor.io%2Fpolicy%3Dcheckout`, { ca })).status, 503);
      const dep = realisticDeployment('dev', `app-${i}`);
      assert.equal(await post(ports.webhook, '/mutate?timeout=5s', admissionReview({ uid: `m-${i}`, kind: 'Deployment', namespace: 'dev', name: `app-${i}`, object: dep })), 200);
      assert.equal(await post(ports.webhook, '/validate?timeout=5s', admissionReview({ uid: `v-${i}`, kind: 'Deployment', namespace: 'dev', name: `app-${i}`, object: dep })), 200);
      await call('GetMetricSpec', ref('shop/search'));
      await call('GetMetrics', { scaledObjectRef: ref('shop/search'), metricName: 'desired-replicas' });
      await call('IsActive', ref('shop/checkout'));
    }
  } finally {
    keda.close();
  }
}

test('/metrics of a serve with every component passes promtool check metrics after traffic', async () => {
  const text = await scrape();
  // Each server took part: the page is the real one, not an idle registry.
  for (const m of ['governor_http_request_duration_seconds_count{server="adapter"', 'governor_admission_requests_total{', 'governor_keda_scaler_requests_total{', 'governor_build_info{', 'process_cpu_seconds_total ', 'nodejs_eventloop_lag_seconds ']) {
    assert.ok(text.includes(m), `${m} missing from /metrics`);
  }
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    assert.fail('promtool is not installed: it comes with the Debian package prometheus (bash hack/ensure-deps.sh installs it)');
  }
  assert.ifError(r.error);
  assert.equal(`${r.stdout}${r.stderr}`, '', 'promtool check metrics found problems');
  assert.equal(r.status, 0);
});

test('a local serve logs no error-level line: no cluster, no Prometheus and sources down are said at info or warn', async () => {
  await new Promise((r) => setTimeout(r, 2000)); // a few more intervals of the samples' policies
  assert.deepEqual(lines.filter((l) => levelOf(l) >= 50).map((l) => `${l.level} ${l.component ?? ''} ${l.msg}`), []);
  // The expected conditions are said, once each.
  const once = (what: string, match: (l: any) => boolean) => {
    const found = lines.filter(match);
    assert.equal(found.length, 1, `${what}: ${found.length} lines`);
    assert.ok(levelOf(found[0]) <= 40, `${what}: ${found[0].level}`);
  };
  once('adapter without a cluster', (l) => l.component === 'adapter' && /^no kubeconfig and not in a cluster/.test(l.msg));
  once('webhook without a cluster', (l) => l.component === 'webhook' && /^no kubeconfig and not in a cluster/.test(l.msg));
  once('Prometheus not reachable (shop/checkout)', (l) => l.policy === 'shop/checkout' && /^no value to publish: .*unreachable \(ECONNREFUSED\)/.test(l.msg));
});

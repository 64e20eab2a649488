// `governor serve` as a user runs it first: sample ScalingPolicies, no cluster, no Prometheus. It must start, serve,
// list the metric, and report the missing source clearly (log line + 503 with the reason).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort } from '../../src/sources/testing.js';
import { httpsGet } from './adapter_helpers.js';

/** The environment less what points a process at a cluster. */
function withoutCluster(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { KUBECONFIG: _k, KUBERNETES_SERVICE_HOST: _h, KUBERNETES_SERVICE_PORT: _p, ...rest } = env;
  return rest;
}

let child: ChildProcess;
let dir: string;
let lines: any[] = [];
let ports: { adapter: number; metrics: number };
let ca: string;
let exited: Promise<number | null>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kg-serve-'));
  const prom = `http://127.0.0.1:${await closedPort()}`;
  // shop.yaml only: its sources are all Prometheus (--prometheus-url), so nothing here resolves a cluster DNS name.
  child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'serve', '--insecure-dev', '--policies', 'policies/scaling/shop.yaml', '--bind-address', '127.0.0.1',
      '--secure-port', '0', '--webhook-port', '0', '--metrics-port', '0', '--cert-dir', join(dir, 'certs'), '--prometheus-url', prom, '--no-webhook'],
    // No cluster whatever the machine has: no KUBECONFIG, no ~/.kube/config, not in a pod.
    { cwd: join(import.meta.dirname, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'], env: { ...withoutCluster(process.env), HOME: dir } },
  );
  exited = new Promise((r) => child.on('exit', (code) => r(code)));
  let buf = '';
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`governor serve did not report serving within 30 s\n${buf}\n${stderr}`)), 30_000);
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const p of parts) {
        try {
          const l = JSON.parse(p);
          lines.push(l);
          if (l.msg === 'kube-governor serving') {
            ports = l.ports;
            clearTimeout(t);
            resolve();
          }
        } catch {
          /* not a log line */
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`governor serve exited with ${code}\n${stderr}`)));
  });
  ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
});

after(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('it serves discovery with the metric listed, although every source is down', async () => {
  const r = await httpsGet(ports.adapter, '/apis/external.metrics.k8s.io/v1beta1', { ca });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.resources.map((x: any) => x.name), ['desired-replicas']);
});

test('the value route says why there is no value (503 naming the source type, the policy and the failure class; no URL, no query)', async () => {
  const r = await httpsGet(ports.adapter, `/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/desired-replicas?labelSelector=governor.io%2Fpolicy%3Dcheckout`, { ca });
  assert.equal(r.status, 503);
  assert.equal(r.json.kind, 'Status');
  assert.equal(r.json.message, 'load source prometheus of policy shop/checkout failing: unreachable');
});

test('a policy with a fixed fallback publishes its fallback value', async () => {
  const r = await httpsGet(ports.adapter, `/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/desired-replicas?labelSelector=governor.io%2Fpolicy%3Dsearch`, { ca });
  assert.equal(r.status, 200);
  assert.equal(r.json.items[0].value, '8');
});

test('the log reports the insecure mode and each missing source at start (warn: no cluster scales on it)', () => {
  assert.ok(lines.some((l) => l.level === 'warn' && /--insecure-dev/.test(l.msg)));
  assert.deepEqual(lines.filter((l) => l.level === 'error' || l.level === 'fatal'), []);
  const missing = lines.filter((l) => l.level === 'warn' && /no value to publish/.test(l.msg));
  assert.deepEqual(missing.map((l) => l.policy).sort(), ['shop/cart', 'shop/checkout']);
  assert.ok(missing.every((l) => /unreachable \(ECONNREFUSED\)/.test(l.msg)));
});

test('SIGTERM stops it cleanly', async () => {
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

// Against a real Prometheus (Debian's binary on a loopback port) scraping a target the test controls: the published
// desired-replicas follows the load through all three regimes, and holds when Prometheus goes away.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningGovernor } from '../../src/main.js';
import { startMetricsTarget, startPrometheus, type MetricsTarget, type PrometheusInstance } from '../e2e/harness/prometheus.js';
import { governorOptions, httpsGet, startAdapter } from './adapter_helpers.js';

const VALUES = `/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/desired-replicas?labelSelector=${encodeURIComponent('governor.io/policy=checkout')}`;

let dir: string;
let target: MetricsTarget;
let prom: PrometheusInstance;
let gov: RunningGovernor;
let ca: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kg-prom-'));
  target = await startMetricsTarget();
  target.set('checkout_rps', 50, { app: 'checkout' });
  prom = await startPrometheus({ targets: [target.address] });
  await prom.waitForTargetsUp();
  mkdirSync(join(dir, 'policies'));
  writeFileSync(
    join(dir, 'policies', 'checkout.yaml'),
    `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: checkout, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: checkout}
  load: {prometheus: {query: 'max(checkout_rps{app="checkout"})', timeout: 2s}}
  thresholds: {low: 100, high: 800}
  replicas: {min: 2, base: 3, max: 20, cap: 24}
  step: 2
  interval: 1s
  staleAfter: 5s
  onSourceFailure: {action: hold, after: 2}
`,
  );
  gov = await startAdapter(governorOptions(dir, { prometheusUrl: prom.url, insecureDev: true }));
  ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
});

after(async () => {
  await gov?.stop();
  await prom?.stop();
  await target?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function published(): Promise<{ status: number; value?: string; message?: string }> {
  const r = await httpsGet(gov.ports.adapter!, VALUES, { ca });
  return r.status === 200 ? { status: 200, value: r.json.items[0].value } : { status: r.status, message: r.json?.message };
}

/** Polls until the published value is `want`; returns every distinct value seen on the way. */
async function waitForValue(want: string, timeoutMs = 15_000): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await published();
    const v = p.value ?? `HTTP ${p.status}`;
    if (seen.at(-1) !== v) seen.push(v);
    if (v === want) return seen;
    if (Date.now() > deadline) throw new Error(`published value never became ${want}; saw ${seen.join(' → ')}; last: ${JSON.stringify(p)}`);
    await sleep(200);
  }
}

test('below Tmin the base level is published', async () => {
  await waitForValue('3');
});

test('between the thresholds the value is proportional', async () => {
  target.set('checkout_rps', 450, { app: 'checkout' });
  await waitForValue('12'); // 3 + (450-100)/700 · 17 = 11.5 → 12
  target.set('checkout_rps', 800, { app: 'checkout' });
  await waitForValue('20'); // L = Tmax → Rmax
});

test('in overload the value steps by ΔR once per interval up to the cap, then stays', async () => {
  target.set('checkout_rps', 5000, { app: 'checkout' });
  const seen = await waitForValue('24');
  // 20 → 22 → 24: one step per 1 s interval, never a jump of more than ΔR.
  const nums = seen.filter((v) => /^\d+$/.test(v)).map(Number);
  for (let i = 1; i < nums.length; i++) assert.ok(nums[i]! - nums[i - 1]! <= 2, `step too large in ${seen.join(' → ')}`);
  assert.ok(nums.includes(22), `expected to pass 22: ${seen.join(' → ')}`);
  await sleep(2500);
  assert.equal((await published()).value, '24');
});

test('back below Tmin the base level returns', async () => {
  target.set('checkout_rps', 10, { app: 'checkout' });
  await waitForValue('3');
});

test('Prometheus gone: the last decision is kept, then held; the failure is counted', async () => {
  await prom.stop();
  for (let i = 0; i < 4; i++) {
    await sleep(700);
    const p = await published();
    assert.equal(p.status, 200, JSON.stringify(p));
    assert.equal(p.value, '3');
  }
  const metrics = await (await fetch(`http://127.0.0.1:${gov.ports.metrics}/metrics`)).text();
  assert.match(metrics, /governor_source_errors_total\{source="prometheus",policy="shop\/checkout",reason="unavailable"\} [1-9]/);
  assert.match(metrics, /governor_decision_replicas\{policy="shop\/checkout",role="scale"\} 3/);
});

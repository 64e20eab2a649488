// `governor serve --keda-scaler-port` as KEDA reaches it: the scaler built the way serve builds it, a ScalingPolicy on an
// HTTP JSON source, values through the three regimes and to zero, the same values as the external metrics API, and one
// source query per interval whichever asks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { adapterComponent, kedaComponent } from '../../src/components.js';
import { externalScalerService } from '../../src/keda/server.js';
import { startGovernor, type RunningGovernor } from '../../src/main.js';
import { silentLogger } from '../../src/observability/log.js';
import { governorOptions, httpsGet, startLoadEndpoint } from './adapter_helpers.js';

const Client = grpc.makeGenericClientConstructor(externalScalerService(), 'ExternalScaler');
type Any = any;
const call = <T>(c: Any, m: string, req: unknown) =>
  new Promise<T>((resolve, reject) => c[m](req, { deadline: Date.now() + 5000 }, (e: Error | null, r: T) => (e ? reject(e) : resolve(r))));

// Tmin 100, Tmax 800, R0 0 (scale to zero through KEDA), Rmax 20, cap 24, step 2 per 1 s interval.
const POLICY = (url: string) => `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: checkout, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: checkout}
  load: {http: {url: '${url}', valuePath: data.rps}}
  thresholds: {low: 100, high: 800}
  replicas: {min: 0, base: 0, max: 20, cap: 24}
  step: 2
  interval: 1s
`;
const trigger = { name: 'checkout', namespace: 'shop', scalerMetadata: { scalerAddress: 'kube-governor.kube-governor:9443', policy: 'shop/checkout' } };

/** desired-replicas through the external metrics API (the adapter runs with --insecure-dev here). */
async function desiredReplicas(port: number, ca: string, selector: string): Promise<number> {
  const r = await httpsGet(port, `/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/desired-replicas?labelSelector=${encodeURIComponent(selector)}`, { ca });
  if (r.status !== 200) throw new Error(`${r.status} ${r.text}`);
  return Number(r.json.items[0].value);
}

async function replicas(c: Any): Promise<number> {
  const r: Any = await call(c, 'GetMetrics', { scaledObjectRef: trigger, metricName: 'desired-replicas' });
  return r.metricValues[0].metricValue;
}
async function until(what: string, fn: () => Promise<boolean>, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('governor serve with --keda-scaler-port (no adapter: next to KEDA)', () => {
  let dir: string;
  let load: Awaited<ReturnType<typeof startLoadEndpoint>>;
  let gov: RunningGovernor;
  let client: Any;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kg-keda-'));
    load = await startLoadEndpoint(50);
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'policies', 'shop.yaml'), POLICY(load.url));
    gov = await startGovernor(governorOptions(dir, { enableAdapter: false, kedaScalerPort: 0, kedaScalerTls: true }), [kedaComponent], silentLogger);
    const ca = readFileSync(join(dir, 'certs', 'ca.crt'));
    client = new Client(`localhost:${gov.ports.keda}`, grpc.credentials.createSsl(ca));
  });
  after(async () => {
    client?.close();
    await gov?.stop();
    await load?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the scaler port is the only server besides metrics, and readiness counts it', async () => {
    assert.equal(gov.ports.adapter, undefined);
    assert.ok(gov.ports.keda! > 0);
    const r = await fetch(`http://127.0.0.1:${gov.ports.metrics}/readyz?verbose`);
    const body = await r.text();
    assert.equal(r.status, 200, body);
    assert.match(body, /keda/);
  });

  test('below Tmin: R = R0 = 0 and inactive, so KEDA scales to zero', async () => {
    load.set(50);
    await until('R = 0', async () => (await replicas(client)) === 0);
    assert.deepEqual(await call(client, 'IsActive', trigger), { result: false });
  });

  test('proportional band: R = R0 + (L - Tmin)/(Tmax - Tmin) * (Rmax - R0), active', async () => {
    load.set(450); // 0 + 350/700 * 20 = 10
    await until('R = 10', async () => (await replicas(client)) === 10);
    assert.deepEqual(await call(client, 'IsActive', trigger), { result: true });
  });

  test('overload: steps of 2 per interval from at least Rmax, up to the cap', async () => {
    load.set(5000);
    const seen = new Set<number>();
    await until('R = cap 24', async () => {
      const r = await replicas(client);
      seen.add(r);
      return r === 24;
    }, 10_000);
    assert.ok([...seen].every((r) => r === 10 || (r >= 20 && r <= 24)), [...seen].join(','));
    await new Promise((r) => setTimeout(r, 1_200));
    assert.equal(await replicas(client), 24);
  });

  test('StreamIsActive pushes inactive within an interval of the load dropping, and active again', async () => {
    const stream = client.StreamIsActive(trigger);
    const got: { result: boolean; at: number }[] = [];
    stream.on('data', (d: { result: boolean }) => got.push({ ...d, at: Date.now() }));
    stream.on('error', () => {});
    try {
      await until('first message', async () => got.length >= 1);
      assert.equal(got[0]!.result, true);
      const dropped = Date.now();
      load.set(10);
      await until('inactive', async () => got.some((g) => !g.result), 4000);
      const off = got.find((g) => !g.result)!;
      // Within one interval (1 s) of the change, plus the source read and scheduling on a loaded machine.
      assert.ok(off.at - dropped < 1_800, `inactive after ${off.at - dropped} ms`);
      const raised = Date.now();
      load.set(800);
      await until('active again', async () => got.filter((g) => g.result).length >= 2, 4000);
      assert.ok(got.at(-1)!.at - raised < 1_800, `active after ${got.at(-1)!.at - raised} ms`);
      assert.deepEqual(got.map((g) => g.result), [true, false, true]);
    } finally {
      stream.cancel();
    }
  });

  test('a source that stops answering: the last value is held (onSourceFailure: hold), never a made-up one', async () => {
    await load.close();
    const codes = new Set<number>();
    const values = new Set<number>();
    const end = Date.now() + 5_000; // five intervals: past `after: 3` failed evaluations
    while (Date.now() < end) {
      try {
        values.add(await replicas(client));
      } catch (e) {
        codes.add((e as grpc.ServiceError).code);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    // onSourceFailure defaults to hold: the last value (20 at load 800) is held for the first failures.
    assert.deepEqual([...values], [20]);
    assert.deepEqual([...codes], []);
    assert.deepEqual(await call(client, 'IsActive', trigger), { result: true });
  });
});

describe('adapter and scaler together', () => {
  test('one decision per interval: the same R both ways, one source query per interval', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kg-keda-both-'));
    const load = await startLoadEndpoint(450);
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'policies', 'shop.yaml'), POLICY(load.url).replace('interval: 1s', 'interval: 2s'));
    const gov = await startGovernor(governorOptions(dir, { insecureDev: true, kedaScalerPort: 0 }), [adapterComponent, kedaComponent], silentLogger);
    const client: Any = new Client(`127.0.0.1:${gov.ports.keda}`, grpc.credentials.createInsecure());
    try {
      const viaApi = () => desiredReplicas(gov.ports.adapter!, readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8'), 'governor.io/policy=checkout');
      await until('value', async () => (await replicas(client)) === 10);
      const hitsBefore = load.hits();
      const t0 = Date.now();
      for (let i = 0; i < 20; i++) {
        const [a, b] = await Promise.all([viaApi(), replicas(client)]);
        assert.equal(a, 10);
        assert.equal(b, 10);
        await new Promise((r) => setTimeout(r, 100));
      }
      const intervals = Math.ceil((Date.now() - t0) / 2000) + 1;
      assert.ok(load.hits() - hitsBefore <= intervals, `${load.hits() - hitsBefore} source queries in ${intervals} intervals`);
    } finally {
      client.close();
      await gov.stop();
      await load.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a migration through KEDA: one ScaledObject per role', () => {
  test('source and target values through the scaler are the adapter\'s, interval after interval, and capacity holds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kg-keda-mig-'));
    const load = await startLoadEndpoint(900); // above Tmax: a full step drained per interval
    mkdirSync(join(dir, 'policies'));
    writeFileSync(
      join(dir, 'policies', 'move.yaml'),
      `apiVersion: governor.io/v1alpha1
kind: MigrationPolicy
metadata: {name: move, namespace: shop}
spec:
  source: {apiVersion: apps/v1, kind: Deployment, name: old}
  target: {apiVersion: apps/v1, kind: Deployment, name: new, minReplicas: 1, maxReplicas: 10}
  load: {http: {url: '${load.url}', valuePath: data.rps}}
  thresholds: {low: 100, high: 800}
  base: 4
  step: 1
  interval: 1s
  capacity: {replicas: 4}
`,
    );
    const gov = await startGovernor(governorOptions(dir, { insecureDev: true, kedaScalerPort: 0 }), [adapterComponent, kedaComponent], silentLogger);
    const client: Any = new Client(`127.0.0.1:${gov.ports.keda}`, grpc.credentials.createInsecure());
    const ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
    const viaApi = (role: string) => desiredReplicas(gov.ports.adapter!, ca, `governor.io/policy=move,governor.io/role=${role}`);
    const viaScaler = async (role: string) => {
      const r: Any = await call(client, 'GetMetrics', { scaledObjectRef: { name: `move-${role}`, namespace: 'shop', scalerMetadata: { policy: 'move', role } }, metricName: 'desired-replicas' });
      return r.metricValues[0].metricValue as number;
    };
    try {
      const sources: number[] = [];
      const end = Date.now() + 8_000;
      while (Date.now() < end) {
        const [s1, t1, s2, t2] = await Promise.all([viaScaler('source'), viaScaler('target'), viaApi('source'), viaApi('target')]);
        // Read in the same instant: the same decision both ways (an interval boundary may fall between two reads).
        if (s1 === s2 && t1 === t2) {
          assert.ok(s1 + t1 >= 4, `source ${s1} + target ${t1} below capacity 4`);
          if (sources.at(-1) !== s1) sources.push(s1);
        }
        await new Promise((r) => setTimeout(r, 150));
      }
      // Without a cluster nothing reports target pods Ready, so the source holds (make-before-break); with KEDA in a
      // cluster the target's pods become Ready and the source drains (test/e2e/governor_test.ts for the model).
      assert.ok(sources.length >= 1);
      assert.ok(sources.every((v, i) => i === 0 || v <= sources[i - 1]!), `source never grows: ${sources.join(' → ')}`);
      const active: Any = await call(client, 'IsActive', { name: 'move-target', namespace: 'shop', scalerMetadata: { policy: 'move', role: 'target' } });
      assert.equal(active.result, (await viaScaler('target')) > 0);
    } finally {
      client.close();
      await gov.stop();
      await load.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

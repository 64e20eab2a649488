// Proof of the KEDA harness (test/e2e/lib/keda.ts): upstream KEDA, built from its Go module (hack/build-keda.sh) and run
// as host processes against the local control plane, scales a Deployment through a ScaledObject whose trigger is
// `type: external`, served here by a throw-away gRPC scaler on 127.0.0.1 (KEDA's own externalscaler.proto).
//
// No node: pods never run. KEDA and the HPA only use the Deployment's scale subresource, and the ReplicaSet counts
// Pending pods, so spec.replicas is what is asserted.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { startLocalCluster, type LocalCluster } from './harness/cluster.js';
import { listeningAddresses, startKeda, type Keda } from './lib/keda.js';
import { waitFor } from './lib/wait.js';

const METRIC = 'queue';

interface ScaledObjectRef {
  name: string;
  namespace: string;
  scalerMetadata: Record<string, string>;
}

/** A scaler whose answers the test sets: IsActive → active, GetMetrics → value, GetMetricSpec → target. */
interface FakeScaler {
  readonly address: string;
  active: boolean;
  value: number;
  target: number;
  readonly calls: { IsActive: number; GetMetricSpec: number; GetMetrics: number };
  lastRef?: ScaledObjectRef;
  lastMetricName?: string;
  close(): Promise<void>;
}

async function startFakeScaler(protoFile: string): Promise<FakeScaler> {
  const def = protoLoader.loadSync(protoFile, { keepCase: true, longs: Number, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const server = new grpc.Server();
  const s: FakeScaler = {
    address: '',
    active: true,
    value: 5,
    target: 1,
    calls: { IsActive: 0, GetMetricSpec: 0, GetMetrics: 0 },
    close: () => new Promise<void>((r) => server.tryShutdown(() => r())),
  };
  // StreamIsActive and StreamMetricSpec (external-push only) are left out: grpc-js answers UNIMPLEMENTED.
  server.addService(pkg.externalscaler.ExternalScaler.service, {
    IsActive(call: grpc.ServerUnaryCall<ScaledObjectRef, unknown>, cb: grpc.sendUnaryData<unknown>) {
      s.calls.IsActive++;
      s.lastRef = call.request;
      cb(null, { result: s.active });
    },
    GetMetricSpec(call: grpc.ServerUnaryCall<ScaledObjectRef, unknown>, cb: grpc.sendUnaryData<unknown>) {
      s.calls.GetMetricSpec++;
      s.lastRef = call.request;
      cb(null, { metricSpecs: [{ metricName: METRIC, targetSize: s.target }] });
    },
    GetMetrics(call: grpc.ServerUnaryCall<{ scaledObjectRef: ScaledObjectRef; metricName: string }, unknown>, cb: grpc.sendUnaryData<unknown>) {
      s.calls.GetMetrics++;
      s.lastRef = call.request.scaledObjectRef;
      s.lastMetricName = call.request.metricName;
      cb(null, { metricValues: [{ metricName: call.request.metricName, metricValue: s.value }] });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  (s as { address: string }).address = `127.0.0.1:${port}`;
  return s;
}

describe('KEDA harness: upstream KEDA scales a Deployment through a `type: external` ScaledObject', () => {
  let cluster: LocalCluster;
  let keda: Keda | undefined;
  let scaler: FakeScaler | undefined;
  const ns = `kg-keda-${process.pid}`;
  const name = 'web';
  const timings: Record<string, number> = {};
  const workDir = mkdtempSync(join(tmpdir(), 'kg-keda-'));

  const kubectl = async (args: string[], input?: string): Promise<string> => {
    const r = await cluster.kubectl(args, input !== undefined ? { input } : {});
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const replicas = async (): Promise<number> => Number((await kubectl(['-n', ns, 'get', 'deploy', name, '-o', 'jsonpath={.spec.replicas}'])).trim());
  const waitReplicas = async (what: string, ok: (n: number) => boolean, timeoutMs: number): Promise<number> => {
    const t0 = Date.now();
    try {
      await waitFor(what, async () => {
        const n = await replicas();
        return { done: ok(n), seen: n };
      }, { timeoutMs, intervalMs: 200 });
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${await keda!.diagnostics([ns])}`);
    }
    return Date.now() - t0;
  };

  before(async () => {
    cluster = await startLocalCluster();
    keda = await startKeda({ cluster, workDir });
    scaler = await startFakeScaler(keda.protoFile);
    await kubectl(['create', 'namespace', ns]);
  });

  after(async () => {
    // KEDA first: it removes its finalizer from the ScaledObject, then the namespace can go.
    await keda?.stop();
    await cluster?.kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
    await scaler?.close();
    await cluster?.stop();
    rmSync(workDir, { recursive: true, force: true });
    if (Object.keys(timings).length) console.log(`KEDA harness timings (ms): ${JSON.stringify(timings)}`);
  });

  it('registers KEDA as the external metrics API, every KEDA listener on loopback', async () => {
    const a = JSON.parse(await kubectl(['get', 'apiservice', 'v1beta1.external.metrics.k8s.io', '-o', 'json']));
    assert.equal(a.spec.service.namespace, 'keda');
    assert.equal(a.spec.service.name, 'keda-metrics-apiserver');
    assert.equal(a.spec.service.port, keda!.ports.adapter);
    assert.equal(a.status.conditions.find((c: { type: string }) => c.type === 'Available')?.status, 'True');
    // Every listener of both processes (APIs, gRPC, metrics, health) is on 127.0.0.1, on the ports asked for.
    const k = keda!;
    const p = k.ports;
    assert.deepEqual(listeningAddresses(k.operator.pid), [p.operatorMetrics, p.operatorHealth, p.grpc].map((n) => `127.0.0.1:${n}`).sort());
    assert.deepEqual(listeningAddresses(k.adapter.pid), [p.adapter, p.adapterMetrics].map((n) => `127.0.0.1:${n}`).sort());
    // Discovery through the aggregator (front-proxy authentication, SubjectAccessReview by the adapter).
    const list = JSON.parse(await kubectl(['get', '--raw', '/apis/external.metrics.k8s.io/v1beta1']));
    assert.equal(list.groupVersion, 'external.metrics.k8s.io/v1beta1');
  });

  it('drives the Deployment: 5 replicas from value 5 / target 1, 0 when inactive, back when active', async () => {
    const s = scaler!;
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/none:1' }] } },
      },
    }));
    s.active = true;
    s.value = 5;
    s.target = 1;
    const created = Date.now();
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name, namespace: ns },
      spec: {
        scaleTargetRef: { name },
        pollingInterval: 1,
        cooldownPeriod: 5,
        minReplicaCount: 0,
        maxReplicaCount: 10,
        triggers: [{ type: 'external', metadata: { scalerAddress: s.address, policy: `${ns}/${name}` } }],
      },
    }));

    // Ready=True: KEDA built the scaler (GetMetricSpec answered) and the HPA.
    await waitFor('ScaledObject Ready=True', async () => {
      const so = JSON.parse(await kubectl(['-n', ns, 'get', 'scaledobject', name, '-o', 'json']));
      const ready = (so.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Ready');
      return { done: ready?.status === 'True', seen: so.status?.conditions };
    }, { timeoutMs: 60_000, intervalMs: 250 }).catch(async (e) => {
      throw new Error(`${(e as Error).message}\n${await keda!.diagnostics([ns])}`);
    });
    timings.ready = Date.now() - created;

    // The HPA KEDA writes for an external trigger.
    const hpa = JSON.parse(await kubectl(['-n', ns, 'get', 'hpa', `keda-hpa-${name}`, '-o', 'json']));
    assert.equal(hpa.spec.scaleTargetRef.kind, 'Deployment');
    assert.equal(hpa.spec.scaleTargetRef.name, name);
    assert.equal(hpa.spec.minReplicas, 1, 'minReplicaCount 0: the HPA keeps 1, KEDA itself scales 1 <-> 0');
    assert.equal(hpa.spec.maxReplicas, 10);
    assert.equal(hpa.spec.metrics.length, 1);
    const m = hpa.spec.metrics[0];
    assert.equal(m.type, 'External');
    assert.equal(m.external.metric.name, `s0-${METRIC}`);
    assert.deepEqual(m.external.metric.selector, { matchLabels: { 'scaledobject.keda.sh/name': name } });
    assert.deepEqual(m.external.target, { type: 'AverageValue', averageValue: '1' });

    // The scaler was asked with the ScaledObject's identity and the trigger's metadata.
    assert.ok(s.calls.GetMetricSpec > 0);
    assert.equal(s.lastRef?.name, name);
    assert.equal(s.lastRef?.namespace, ns);
    assert.equal(s.lastRef?.scalerMetadata.policy, `${ns}/${name}`);
    assert.equal(s.lastRef?.scalerMetadata.scalerAddress, s.address);

    // The external metrics API (aggregator → KEDA's adapter → operator over mTLS gRPC → scaler) serves the value.
    const value = await waitFor('external metric s0-queue through the aggregator', async () => {
      const raw = await kubectl(['get', '--raw', `/apis/external.metrics.k8s.io/v1beta1/namespaces/${ns}/s0-${METRIC}?labelSelector=${encodeURIComponent(`scaledobject.keda.sh/name=${name}`)}`]);
      const list = JSON.parse(raw);
      return { done: list.items?.length === 1, value: list.items?.[0], seen: list };
    }, { timeoutMs: 30_000, intervalMs: 500 });
    assert.equal((value as any).metricName, `s0-${METRIC}`);
    assert.equal((value as any).value, '5');
    assert.equal(s.lastMetricName, METRIC, 'KEDA strips its s0- prefix before asking the scaler');

    await waitReplicas('5 replicas (value 5, AverageValue target 1)', (n) => n === 5, 90_000);
    timings.toFive = Date.now() - created;
    // Stays there: the HPA's answer, not a transient.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await replicas(), 5);

    s.active = false;
    timings.toZero = await waitReplicas('0 replicas (IsActive false, cooldownPeriod 5 s)', (n) => n === 0, 90_000);
    s.active = true;
    timings.backAboveZero = await waitReplicas('replicas > 0 (IsActive true again)', (n) => n > 0, 90_000);
    timings.backToFive = timings.backAboveZero + (await waitReplicas('5 replicas again', (n) => n === 5, 90_000));
    assert.ok(s.calls.IsActive > 0 && s.calls.GetMetrics > 0, JSON.stringify(s.calls));
  });
});

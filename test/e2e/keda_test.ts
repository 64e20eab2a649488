// kube-governor next to KEDA, against the real thing: upstream KEDA (operator + metrics API server, built from its Go
// module by hack/build-keda.sh) owns v1beta1.external.metrics.k8s.io on the local control plane; `governor serve
// --no-adapter --keda-scaler-port` serves KEDA's external scaler; the ScaledObject is the one `governor keda` writes.
// The Deployment goes through the formula's three regimes, to zero and back, with KEDA's HPA doing the scaling.
//
// No node: pods never run; KEDA and the HPA work on the scale subresource, so spec.replicas is what is asserted.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startLocalCluster, type LocalCluster } from './harness/cluster.js';
import { freePort } from './harness/prometheus.js';
import { listeningAddresses, startKeda, type Keda } from './lib/keda.js';
import { governorCli, kubeVersionArgs, startGovernorServe, type GovernorProcess } from './lib/governor-process.js';
import { markPodsReady } from './lib/kubelet.js';
import { ReplicaRecorder } from './lib/replicas.js';
import { sleep, waitFor } from './lib/wait.js';
import { PROTO_FILE } from '../../src/keda/server.js';

const NS = 'keda-e2e';
const INTERVAL_S = 2;
// Tmin 100, Tmax 800, R0 = Rmin = 0 (scale to zero through KEDA), Rmax 6, cap 8, step 1.
const POLICY = (url: string) => `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: worker, namespace: ${NS}}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: worker}
  load: {http: {url: '${url}', valuePath: data.load}}
  thresholds: {low: 100, high: 800}
  replicas: {min: 0, base: 0, max: 6, cap: 8}
  step: 1
  interval: ${INTERVAL_S}s
`;

interface LoadEndpoint {
  url: string;
  set(v: number): void;
  close(): Promise<void>;
}
async function startLoad(initial: number): Promise<LoadEndpoint> {
  let value = initial;
  const server: Server = createServer((_q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { load: value } })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/`, set: (v) => (value = v), close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

describe('next to KEDA: a ScaledObject on governor\'s external scaler', { timeout: 15 * 60_000 }, () => {
  let cluster: LocalCluster;
  let keda: Keda;
  let load: LoadEndpoint;
  let migrationLoad: LoadEndpoint;
  let governor: GovernorProcess;
  let work: string;
  const timings: Record<string, number> = {};
  let createdAt = 0;
  let scalerPort = 0;
  let metricsPort = 0;

  const kubectl = async (args: string[], input?: string) => {
    const r = await cluster.kubectl(args, input !== undefined ? { input } : {});
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const replicas2 = async (name: string) => Number(await kubectl(['-n', NS, 'get', 'deployment', name, '-o', 'jsonpath={.spec.replicas}']));
  const replicas = () => replicas2('worker');
  const condition = async (type: string) => (await kubectl(['-n', NS, 'get', 'scaledobject', 'worker', '-o', `jsonpath={.status.conditions[?(@.type=="${type}")].status}`])).trim();
  const diagnose = async () => `${await keda.diagnostics([NS]).catch((e) => String(e))}\n--- governor\n${governor?.logTail(60)}`;
  const until = async (what: string, fn: () => Promise<boolean>, timeoutMs: number) => {
    const t0 = Date.now();
    try {
      await waitFor(what, async () => ({ done: await fn() }), { timeoutMs, intervalMs: 250 });
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${await diagnose()}`);
    }
    return Date.now() - t0;
  };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'kg-keda-e2e-'));
    cluster = await startLocalCluster();
    keda = await startKeda({ cluster, workDir: join(work, 'keda') });
    load = await startLoad(450);
    migrationLoad = await startLoad(0);
    mkdirSync(join(work, 'policies'));
    writeFileSync(join(work, 'policies', 'worker.yaml'), POLICY(load.url));
    [scalerPort, metricsPort] = [await freePort(), await freePort()];
    const port = scalerPort;
    // Only the scaler: KEDA keeps the APIService. Admin credentials for scale reads in this test; the install's RBAC
    // is what manifests/overlays/keda grants (test/manifests).
    governor = startGovernorServe(
      [
        `--policies=${join(work, 'policies')}`,
        `--cert-dir=${join(work, 'certs')}`,
        '--bind-address=127.0.0.1',
        '--no-adapter',
        '--no-webhook',
        '--no-cluster-policies',
        `--keda-scaler-port=${port}`,
        `--metrics-port=${metricsPort}`,
        `--kubeconfig=${cluster.kubeconfig}`,
        '--allowed-source-hosts=127.0.0.1',
      ],
      join(work, 'governor.log'),
    );
    await waitFor('governor ready', async () => ({ done: (await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => undefined))?.status === 200 }), { timeoutMs: 60_000, intervalMs: 250 });
    await kubectl(['create', 'namespace', NS]);
    await kubectl(['-n', NS, 'create', 'deployment', 'worker', '--image=registry.invalid/worker:1', '--replicas=1']);
    const so = await governorCli(['keda', join(work, 'policies'), `--scaler-address=127.0.0.1:${port}`, '--cooldown-period=5', ...kubeVersionArgs(cluster.version)]);
    assert.equal(so.code, 0, so.stderr);
    writeFileSync(join(work, 'scaledobject.yaml'), so.stdout);
    await kubectl(['apply', '-f', '-'], so.stdout);
    createdAt = Date.now();
  });

  after(async () => {
    await keda?.stop();
    await governor?.stop();
    await load?.close();
    await migrationLoad?.close();
    await cluster?.kubectl(['delete', 'namespace', NS, '--wait=false']);
    if (Object.keys(timings).length) process.stderr.write(`keda e2e timings (ms): ${JSON.stringify(timings)}\n`);
  });

  it('our copy of externalscaler.proto is the pinned KEDA release\'s', () => {
    const ours = readFileSync(PROTO_FILE, 'utf8').split('\n').filter((l) => !l.startsWith('// KEDA') && !l.startsWith('// (pkg/'));
    assert.equal(ours.join('\n').trim(), readFileSync(keda.protoFile, 'utf8').trim());
  });

  it('every process listens on loopback only: KEDA\'s (APIs, gRPC, metrics, health) and governor\'s (scaler, metrics)', () => {
    const p = keda.ports;
    assert.deepEqual(listeningAddresses(keda.operator.pid), [p.operatorMetrics, p.operatorHealth, p.grpc].map((n) => `127.0.0.1:${n}`).sort());
    assert.deepEqual(listeningAddresses(keda.adapter.pid), [p.adapter, p.adapterMetrics].map((n) => `127.0.0.1:${n}`).sort());
    assert.deepEqual(listeningAddresses(governor.pid), [scalerPort, metricsPort].map((n) => `127.0.0.1:${n}`).sort());
  });

  it('KEDA accepts the ScaledObject: Ready, and its HPA reads desired-replicas with AverageValue 1', async () => {
    await until('ScaledObject Ready', async () => (await condition('Ready')) === 'True', 90_000);
    timings.createdToReady = Date.now() - createdAt;
    const hpa = JSON.parse(await kubectl(['-n', NS, 'get', 'hpa', 'keda-hpa-worker', '-o', 'json']));
    const m = hpa.spec.metrics[0];
    assert.equal(m.type, 'External');
    assert.equal(m.external.metric.name, 's0-desired-replicas');
    assert.deepEqual(m.external.target, { type: 'AverageValue', averageValue: '1' });
    assert.equal(hpa.spec.maxReplicas, 8);
    // KEDA's HPA never goes below 1: the step to 0 and back is KEDA's own, driven by IsActive.
    assert.equal(hpa.spec.minReplicas, 1);
    assert.equal(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds, 0);
  });

  it('proportional band: load 450 gives R = 0 + 350/700 * 6 = 3, Active', async () => {
    await until('3 replicas', async () => (await replicas()) === 3, 90_000);
    timings.createdToThree = Date.now() - createdAt;
    await until('Active True', async () => (await condition('Active')) === 'True', 30_000);
    // What KEDA's HPA saw: the value governor published, and the count it chose.
    await until('HPA at 3 on value 3', async () => {
      const s = JSON.parse(await kubectl(['-n', NS, 'get', 'hpa', 'keda-hpa-worker', '-o', 'jsonpath={.status}']));
      return s.currentMetrics?.[0]?.external?.current?.averageValue === '1' && s.desiredReplicas === 3;
    }, 30_000);
  });

  it('overload: load 5000 steps from Rmax 6 by 1 per interval up to the cap 8', async () => {
    load.set(5000);
    const seen: number[] = [];
    timings.toCap = await until('8 replicas', async () => {
      const r = await replicas();
      if (seen.at(-1) !== r) seen.push(r);
      return r === 8;
    }, 90_000);
    assert.ok(seen.every((r) => r === 3 || (r >= 6 && r <= 8)), `replicas seen: ${seen.join(' → ')}`);
    assert.ok(seen.includes(6) || seen.includes(7), `the steps show: ${seen.join(' → ')}`);
  });

  it('below Tmin: R = 0, KEDA reports inactive and scales the Deployment to zero after its cooldown', async () => {
    load.set(20);
    const t0 = Date.now();
    await until('Active False', async () => (await condition('Active')) === 'False', 60_000);
    timings.inactive = Date.now() - t0;
    await until('0 replicas', async () => (await replicas()) === 0, 90_000);
    timings.toZero = Date.now() - t0;
  });

  it('and back: load 450 makes it active, KEDA takes it to 1 and its HPA to R = 3', async () => {
    load.set(450);
    const t0 = Date.now();
    await until('Active True', async () => (await condition('Active')) === 'True', 60_000);
    timings.active = Date.now() - t0;
    await until('replicas > 0', async () => (await replicas()) > 0, 60_000);
    timings.fromZero = Date.now() - t0;
    await until('3 replicas', async () => (await replicas()) === 3, 60_000);
    timings.backToThree = Date.now() - t0;
    // No scaler errors along the way in KEDA's log.
    assert.doesNotMatch(keda.logs().operator, /error calling IsActive on external scaler|StreamIsActive: failed/);
  });

  it('a migration through two ScaledObjects: the source drains to zero behind the target\'s Ready pods, capacity never below 4', async () => {
    // Source `old` at R'(0) = 4, target `new` from 1; a full step (1) per 2 s interval above Tmax. No kubelet here: the
    // test plays it, marking each pod Ready a second after it appears.
    await kubectl(['-n', NS, 'create', 'deployment', 'old', '--image=registry.invalid/old:1', '--replicas=4']);
    await kubectl(['-n', NS, 'create', 'deployment', 'new', '--image=registry.invalid/new:1', '--replicas=1']);
    const kubelet = markPodsReady(cluster, NS, 1000);
    const ready = async (name: string) => Number((await kubectl(['-n', NS, 'get', 'deployment', name, '-o', 'jsonpath={.status.readyReplicas}'])) || 0);
    try {
      await until('old 4 and new 1 Ready', async () => (await ready('old')) === 4 && (await ready('new')) === 1, 60_000);
      writeFileSync(
        join(work, 'policies', 'move.yaml'),
        `apiVersion: governor.io/v1alpha1
kind: MigrationPolicy
metadata: {name: move, namespace: ${NS}}
spec:
  source: {apiVersion: apps/v1, kind: Deployment, name: old}
  target: {apiVersion: apps/v1, kind: Deployment, name: new, minReplicas: 1, maxReplicas: 6}
  load: {http: {url: '${migrationLoad.url}', valuePath: data.load}}
  thresholds: {low: 100, high: 800}
  base: 4
  step: 1
  interval: ${INTERVAL_S}s
  capacity: {replicas: 4}
`,
      );
      // Applied right after the policy file, as users apply both together: governor answers NOT_FOUND until its next
      // read of the directory, and KEDA 2.21 once took the source to zero on the check that raced with its scaler-cache
      // reset. initialCooldownPeriod (default: the cooldown) is what stops that; 60 s leaves a loaded machine room.
      const sos = await governorCli(['keda', join(work, 'policies'), '--name', `${NS}/move`, `--scaler-address=127.0.0.1:${scalerPort}`, '--cooldown-period=5', '--initial-cooldown-period=60', ...kubeVersionArgs(cluster.version)]);
      assert.equal(sos.code, 0, sos.stderr);
      assert.deepEqual([...sos.stdout.matchAll(/governor.io\/role: (\w+)/g)].map((m) => m[1]), ['source', 'target']);
      assert.deepEqual([...sos.stdout.matchAll(/initialCooldownPeriod: (\d+)/g)].map((m) => m[1]), ['60']);
      // governor re-reads the policy directory every 2 s; KEDA retries a ScaledObject whose policy is not there yet.
      await kubectl(['apply', '-f', '-'], sos.stdout);
      const rec = await new ReplicaRecorder(cluster.kubeconfig, NS).start();
      const readySamples: { at: number; old: number; new: number }[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const [o, n] = await Promise.all([ready('old'), ready('new')]);
          readySamples.push({ at: Date.now(), old: o, new: n });
          await sleep(250);
        }
      })();
      const t0 = Date.now();
      try {
        await until('both ScaledObjects Ready', async () => {
          const conds = await kubectl(['-n', NS, 'get', 'scaledobject', 'move-source', 'move-target', '-o', 'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}']);
          return conds.trim() === 'True True';
        }, 60_000);
        migrationLoad.set(5000);
        await until('old 0, new 4', async () => (await replicas2('old')) === 0 && (await replicas2('new')) === 4, 120_000);
        timings.migration = Date.now() - t0;
      } finally {
        sampling = false;
        await sampler;
        rec.stop();
      }
      // On a failure, what governor decided (its migration log lines carry R′ and both published values) and the state
      // it stored on the source: without them a wrong value cannot be told from a slow controller.
      const why = async () => {
        const decisions = readFileSync(join(work, 'governor.log'), 'utf8').split('\n').filter((l) => l.includes('"migration: ')).slice(-40).join('\n');
        return `\n--- state on old: ${await kubectl(['-n', NS, 'get', 'deployment', 'old', '-o', 'jsonpath={.metadata.annotations}']).catch((e) => String(e))}\n--- governor's migration decisions\n${decisions}\n${await diagnose()}`;
      };
      const oldSeq = rec.changes('old', t0).map((c) => c.replicas);
      const newSeq = rec.changes('new', t0).map((c) => c.replicas);
      const monotone = (seq: number[], dir: 1 | -1) => seq.every((v, i) => i === 0 || (v - seq[i - 1]!) * dir > 0);
      if (!(oldSeq.at(-1) === 0 && monotone(oldSeq, -1))) assert.fail(`source steps ${JSON.stringify(oldSeq)}${await why()}`);
      if (!(newSeq.at(-1) === 4 && monotone(newSeq, 1))) assert.fail(`target steps ${JSON.stringify(newSeq)}${await why()}`);
      // Ready capacity: once both sides started Ready, old + new Ready pods never fell below 4.
      const short = readySamples.filter((r) => r.old + r.new < 4);
      assert.deepEqual(short.map((r) => `${r.at - t0} ms: old ${r.old} new ${r.new}`), [], `Ready source + target below the capacity 4${short.length ? await why() : ''}`);
      timings.migrationLowestReady = Math.min(...readySamples.map((r) => r.old + r.new));
    } finally {
      await kubelet.stop();
    }
  });
});

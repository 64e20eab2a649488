// Smoke test of the e2e harness itself: the local control plane does what the
// e2e suite relies on (RBAC-enabled apiserver, ReplicaSets counting Pending
// pods without a kubelet, HPA objects with per-HPA tolerance), and Prometheus
// scrapes a gauge the test sets.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { startLocalCluster, type LocalCluster } from './cluster.js';
import { startMetricsTarget, startPrometheus } from './prometheus.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('e2e harness: local control plane', () => {
  let cluster: LocalCluster;
  const ns = `kg-harness-${process.pid}`;

  before(async () => {
    cluster = await startLocalCluster();
  });
  after(async () => {
    if (!cluster) return;
    await cluster.kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
    await cluster.stop();
  });

  it('serves a ready apiserver of the pinned release with RBAC on', async () => {
    const ready = await cluster.kubectl(['get', '--raw', '/readyz']);
    assert.equal(ready.code, 0, ready.stderr);
    assert.equal(ready.stdout.trim(), 'ok');
    const version = await cluster.kubectl(['version', '-o', 'json']);
    assert.equal(version.code, 0, version.stderr);
    assert.match(JSON.parse(version.stdout).serverVersion.gitVersion, /^v1\.\d+\.\d+$/);
    // An unprivileged ServiceAccount is denied: RBAC is enforced.
    const canI = await cluster.kubectl(['auth', 'can-i', 'list', 'secrets', '-A', '--as=system:serviceaccount:default:default']);
    assert.equal(canI.stdout.trim(), 'no');
  });

  it('counts Pending pods in ReplicaSet status and accepts an External-metric HPA', async () => {
    const created = await cluster.kubectl(['create', 'namespace', ns]);
    assert.equal(created.code, 0, created.stderr);
    // The ServiceAccount admission plugin needs the namespace's default ServiceAccount.
    for (let i = 0; i < 40; i++) {
      if ((await cluster.kubectl(['-n', ns, 'get', 'serviceaccount', 'default'])).code === 0) break;
      await sleep(250);
    }
    const dep = await cluster.kubectl(['-n', ns, 'create', 'deployment', 'web', '--image=nginx', '--replicas=2']);
    assert.equal(dep.code, 0, dep.stderr);
    let replicas = '';
    for (let i = 0; i < 60 && replicas !== '2'; i++) {
      await sleep(250);
      const rs = await cluster.kubectl(['-n', ns, 'get', 'rs', '-l', 'app=web', '-o', 'jsonpath={.items[0].status.replicas}']);
      replicas = rs.stdout.trim();
    }
    assert.equal(replicas, '2');

    const hpa = await cluster.kubectl(['-n', ns, 'apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name: 'web' },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
          minReplicas: 1,
          maxReplicas: 5,
          metrics: [{ type: 'External', external: { metric: { name: 'harness_metric' }, target: { type: 'AverageValue', averageValue: '1' } } }],
          behavior: { scaleUp: { tolerance: '0.01' }, scaleDown: { tolerance: '0.01' } },
        },
      }),
    });
    assert.equal(hpa.code, 0, hpa.stderr);
    const tol = await cluster.kubectl(['-n', ns, 'get', 'hpa', 'web', '-o', 'jsonpath={.spec.behavior.scaleUp.tolerance}']);
    assert.equal(tol.stdout.trim(), '10m');
  });
});

describe('e2e harness: prometheus', () => {
  it('scrapes a gauge set by the test every second', async () => {
    const target = await startMetricsTarget();
    const prom = await startPrometheus({ targets: [target.address] });
    try {
      target.set('kg_harness_queue_depth', 7, { queue: 'orders' });
      await prom.waitForTargetsUp();
      await prom.waitForQuery('kg_harness_queue_depth{queue="orders"}', (v) => v === 7);
      target.set('kg_harness_queue_depth', 12, { queue: 'orders' });
      const samples = await prom.waitForQuery('kg_harness_queue_depth{queue="orders"}', (v) => v === 12);
      assert.equal(samples.length, 1);
      assert.ok(target.scrapes() >= 2);
    } finally {
      await prom.stop();
      await target.close();
    }
  });
});

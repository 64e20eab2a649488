import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileClusterObjects } from './load-cluster.js';
import { PolicyStore } from './store.js';
import { parsePolicyText } from './parse.js';

const clusterObject = (name: string, high = 800) => ({
  apiVersion: 'governor.io/v1alpha1',
  kind: 'ScalingPolicy',
  metadata: { name, namespace: 'shop', uid: 'abc', resourceVersion: '7', managedFields: [{}], creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { target: { kind: 'Deployment', name }, load: { prometheus: { query: 'up' } }, thresholds: { low: 100, high }, replicas: { max: 5 } },
  status: { observedGeneration: 1 },
});

test('cluster objects lose server-side fields and pass the same validation as files', () => {
  const r = compileClusterObjects([clusterObject('a'), clusterObject('b', 50)]);
  assert.equal(r.policies.length, 1);
  assert.equal(r.policies[0]!.name, 'a');
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]!.file, 'cluster:ScalingPolicy/shop/b');
  assert.equal(r.errors[0]!.path, 'spec.thresholds.high');
});

test('a bad candidate from one source keeps that source last good set and does not block the other source', () => {
  const store = new PolicyStore();
  const files = parsePolicyText(
    `apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: defaults}
spec: {mode: audit}
`,
    'g.yaml',
  );
  assert.equal(store.offer(files.policies, files.errors).applied, true);
  const good = compileClusterObjects([clusterObject('a')]);
  assert.equal(store.offer(good.policies, good.errors, 'cluster').applied, true);
  assert.equal(store.current().scaling.length, 1);
  assert.equal(store.current().governance.length, 1);

  const bad = compileClusterObjects([clusterObject('a'), clusterObject('b', 50)]);
  assert.equal(store.offer(bad.policies, bad.errors, 'cluster').applied, false);
  assert.deepEqual(store.current().scaling.map((p) => p.name), ['a']);
  // files still update while the cluster source is broken
  assert.equal(store.offer([], []).applied, true);
  assert.equal(store.current().governance.length, 0);
  assert.equal(store.current().scaling.length, 1);
  assert.equal(store.lastErrors().length, 1);

  // a candidate that collides with another source is rejected too
  const dup = compileClusterObjects([clusterObject('a'), clusterObject('a')]);
  const out = store.offer(dup.policies, dup.errors, 'cluster');
  assert.equal(out.applied, false);
  assert.match(out.errors[0]!.message, /duplicate/);
});

// ---------------------------------------------------------------- the loader with fake informers

import type { KubernetesObject } from '@kubernetes/client-node';
import { ClusterPolicyLoader, type PolicyInformer } from './load-cluster.js';
import { silentLogger } from '../observability/log.js';

/** Behaves as client-node's informer: a failed list is reported through 'error' and start() resolves. */
class FakePolicyInformer implements PolicyInformer {
  objects: KubernetesObject[] = [];
  failLists = 0;
  starts = 0;
  private readonly cbs = new Map<string, ((o?: unknown) => void)[]>();
  list() {
    return this.objects;
  }
  on(verb: string, cb: (o?: unknown) => void) {
    this.cbs.set(verb, [...(this.cbs.get(verb) ?? []), cb]);
  }
  async start() {
    this.starts++;
    if (this.failLists > 0) {
      this.failLists--;
      for (const cb of this.cbs.get('error') ?? []) cb(new Error('the server could not find the requested resource'));
    }
  }
  async stop() {}
  emit(verb: 'add' | 'update' | 'delete', o: unknown) {
    for (const cb of this.cbs.get(verb) ?? []) cb(o);
  }
}

test('the cluster loader is synced only when every resource listed once, and offers each resource as it syncs', async () => {
  const informers = { scalingpolicies: new FakePolicyInformer(), migrationpolicies: new FakePolicyInformer(), governancepolicies: new FakePolicyInformer() };
  informers.scalingpolicies.objects = [clusterObject('a') as unknown as KubernetesObject];
  informers.governancepolicies.failLists = 2;
  const store = new PolicyStore();
  const loader = new ClusterPolicyLoader({ store, log: silentLogger, informerFor: (p) => informers[p], retryMs: 5, debounceMs: 1 });
  assert.match(String(loader.synced()), /not started/);
  await loader.start();
  assert.match(String(loader.synced()), /^waiting for the first list of governancepolicies \(the server could not find the requested resource\)$/);
  assert.deepEqual(store.current().scaling.map((p) => p.name), ['a'], 'what did sync is offered meanwhile');
  for (let i = 0; i < 100 && loader.synced() !== true; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(loader.synced(), true);
  assert.equal(informers.governancepolicies.starts, 3);
  // a watch event re-offers the snapshot (debounced); an invalid object keeps the last good version
  informers.scalingpolicies.objects = [clusterObject("a", 50) as unknown as KubernetesObject, clusterObject('b') as unknown as KubernetesObject];
  informers.scalingpolicies.emit('update', informers.scalingpolicies.objects[0]);
  for (let i = 0; i < 100 && store.current().scaling.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(store.current().scaling.map((p) => `${p.name}:${p.thresholds.high}`).sort(), ['a:800', 'b:800']);
  assert.equal(store.lastErrors()[0]!.file, 'cluster:ScalingPolicy/shop/a');
  await loader.stop();
});

test('a cluster GovernancePolicy with a lookahead pattern is refused with the same message as a file', () => {
  const r = compileClusterObjects([
    {
      apiVersion: 'governor.io/v1alpha1',
      kind: 'GovernancePolicy',
      metadata: { name: 'tags', uid: 'u', resourceVersion: '1' },
      spec: { labels: { team: { pattern: '^(?=.*[a-z])[a-z0-9]+$' } } },
    },
  ]);
  assert.equal(r.policies.length, 0);
  assert.equal(r.errors[0]!.file, 'cluster:GovernancePolicy/tags');
  assert.equal(r.errors[0]!.path, 'spec.labels.team.pattern');
  assert.match(r.errors[0]!.message, /lookahead \(\?=…\) is not supported: patterns run on RE2 \(linear time\); use an allowed list or split the rule/);
});

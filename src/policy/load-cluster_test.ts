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

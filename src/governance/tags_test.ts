import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GovernanceEngine } from './engine.js';
import { formatViolation } from './result.js';
import { applyAddPatch, policy, yamlObject } from './testing.js';

// The workload's own labels, copied into its pod template (what every policy did before `target`).
const TAGS = policy(
  'tags',
  `
  target: object
  labels:
    owner: {required: true, pattern: '^[a-z][a-z0-9-]*$', copyToPodTemplate: true}
    data-classification: {allowed: [public, internal, confidential, pii], fromNamespace: true, copyToPodTemplate: true}
    tier: {default: backend, copyToPodTemplate: true}
  annotations:
    cost-center: {required: true, fromNamespace: true, copyToPodTemplate: true}
    example.com/contact: {default: 'team@example.com', copyToPodTemplate: true}
`,
);
const engine = new GovernanceEngine([TAGS]);
const ns = { labels: { 'data-classification': 'confidential' }, annotations: { 'cost-center': 'CC-1234' } };

const statefulSet = () =>
  yamlObject(`
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: data, labels: {owner: dbteam}}
spec:
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres}]}
`);

test('defaults and fromNamespace fill the object metadata; governed keys are copied into the pod template', () => {
  const s = statefulSet();
  const m = engine.mutate(s, { namespace: 'data', namespaceInfo: ns });
  const got = applyAddPatch(s, m.patch) as any;
  assert.deepEqual(got.metadata.labels, { owner: 'dbteam', 'data-classification': 'confidential', tier: 'backend' });
  assert.deepEqual(got.metadata.annotations, { 'cost-center': 'CC-1234', 'example.com/contact': 'team@example.com' });
  assert.deepEqual(got.spec.template.metadata.labels, { app: 'db', owner: 'dbteam', 'data-classification': 'confidential', tier: 'backend' });
  assert.deepEqual(got.spec.template.metadata.annotations, { 'cost-center': 'CC-1234', 'example.com/contact': 'team@example.com' });
  assert.deepEqual(
    m.patch.map((op) => op.path),
    [
      '/metadata/labels/data-classification',
      '/metadata/labels/tier',
      '/spec/template/metadata/labels/owner',
      '/spec/template/metadata/labels/data-classification',
      '/spec/template/metadata/labels/tier',
      '/metadata/annotations',
      '/spec/template/metadata/annotations',
    ],
    'one op per absent value; absent maps created once with their content',
  );
  assert.deepEqual(engine.validate(got, { namespace: 'data', namespaceInfo: ns }).results, []);
  assert.deepEqual(engine.mutate(got, { namespace: 'data', namespaceInfo: ns }).patch, []);
});

test('values the user set are never replaced, on the object or in the template', () => {
  const s = statefulSet() as any;
  s.metadata.labels.tier = 'frontend';
  s.spec.template.metadata.labels.tier = 'edge';
  const got = engine.mutate(s, { namespace: 'data', namespaceInfo: ns }).mutated as any;
  assert.equal(got.metadata.labels.tier, 'frontend');
  assert.equal(got.spec.template.metadata.labels.tier, 'edge');
});

test('require-*, allowed values and patterns are reported with the key path and the fix', () => {
  const s = statefulSet() as any;
  s.metadata.labels = { owner: 'DB Team', 'data-classification': 'secret' };
  // target object: the template is not where these rules apply (before `target`, its values were checked too).
  s.spec.template.metadata.labels['data-classification'] = 'top';
  const v = engine.validate(s, { namespace: 'data' });
  assert.deepEqual(v.decision.denials.map(formatViolation), [
    'metadata.labels.owner must match ^[a-z][a-z0-9-]*$ (is "DB Team") (policy tags, rule label-values)',
    'metadata.labels.data-classification must be one of public, internal, confidential, pii (is "secret") (policy tags, rule label-values)',
    'metadata.annotations.cost-center is required (policy tags, rule require-annotations)',
  ]);
  const both = new GovernanceEngine([policy('both', `  target: both\n  labels:\n    data-classification: {allowed: [public, internal, confidential, pii]}`)]);
  assert.deepEqual(both.validate(s, { namespace: 'data' }).decision.denials.map(formatViolation), [
    'metadata.labels.data-classification must be one of public, internal, confidential, pii (is "secret") (policy both, rule label-values)',
    'spec.template.metadata.labels.data-classification must be one of public, internal, confidential, pii (is "top") (policy both, rule label-values)',
  ]);
});

test('fromNamespace ignores a namespace value that is not a valid label value; unknown namespaces give nothing', () => {
  const s = statefulSet();
  const bad = engine.mutate(s, { namespace: 'data', namespaceInfo: { labels: {}, annotations: { 'data-classification': 'not valid!' } } }).mutated as any;
  assert.equal(bad.metadata.labels['data-classification'], undefined);
  const none = engine.mutate(s, { namespace: 'data' }).mutated as any;
  assert.equal(none.metadata.annotations?.['cost-center'], undefined);
});

test('Pods are their own template; labels on a bare Pod are checked on its metadata', () => {
  const pod = yamlObject(`
apiVersion: v1
kind: Pod
metadata: {name: p, labels: {owner: x}}
spec: {containers: [{name: a, image: b}]}
`);
  const m = engine.mutate(pod, { namespace: 'data', namespaceInfo: ns });
  assert.deepEqual(
    m.patch.map((o) => o.path),
    ['/metadata/labels/data-classification', '/metadata/labels/tier', '/metadata/annotations'],
  );
});

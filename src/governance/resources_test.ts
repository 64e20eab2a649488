import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GovernanceEngine } from './engine.js';
import { applyAddPatch, policy, yamlObject } from './testing.js';
import { formatViolation } from './result.js';

const RES = policy(
  'res',
  `
  resources:
    require: [requests.cpu, requests.memory, limits.memory]
    max: {cpu: "4", memory: 8Gi}
    maxLimitRequestRatio: {cpu: 4}
    defaults: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 512Mi}}
`,
);
const engine = new GovernanceEngine([RES]);
const ctx = { namespace: 'shop' };

const deployment = (containers: string, init = '') =>
  yamlObject(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers:
${containers}
${init}
`);

test('default-resources fills absent requests and limits of containers and init containers, never overwriting', () => {
  const d = deployment(
    `        - {name: app, image: x, resources: {requests: {cpu: 250m}}}
        - {name: side, image: y}`,
    `      initContainers:
        - {name: init, image: z, resources: {limits: {memory: 64Mi}}}`,
  );
  const m = engine.mutate(d, ctx);
  const got = applyAddPatch(d, m.patch) as any;
  assert.deepEqual(m.mutated, got);
  const [app, side] = got.spec.template.spec.containers;
  const [init] = got.spec.template.spec.initContainers;
  assert.deepEqual(app.resources, { requests: { cpu: '250m', memory: '128Mi' }, limits: { memory: '512Mi' } }, 'user cpu kept');
  assert.deepEqual(side.resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } });
  // A limit without a request: the request becomes the limit (as Kubernetes does for Pods), not the bigger default.
  assert.deepEqual(init.resources, { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '64Mi' } });
  assert.equal(engine.validate(got, ctx).decision.allowed, true);
  assert.deepEqual(engine.mutate(got, ctx).patch, [], 'idempotent');
});

test('a request above the default limit raises the defaulted limit to the request', () => {
  const d = deployment(`        - {name: app, image: x, resources: {requests: {cpu: "1", memory: 2Gi}}}`);
  const got = engine.mutate(d, ctx).mutated as any;
  assert.equal(got.spec.template.spec.containers[0].resources.limits.memory, '2Gi');
});

test('require-requests and require-limits name every missing value with its path', () => {
  const bare = policy('req', `  resources: {require: [requests.cpu, limits.memory, limits.ephemeral-storage]}`);
  const e = new GovernanceEngine([bare]);
  const v = e.validate(deployment(`        - {name: app, image: x, resources: {limits: {memory: 1Gi}}}`, `      initContainers: [{name: i, image: z}]`), ctx);
  assert.equal(v.decision.allowed, false);
  assert.deepEqual(v.decision.denials.map(formatViolation), [
    'spec.template.spec.containers[0].resources.requests.cpu is required (policy req, rule require-requests)',
    'spec.template.spec.containers[0].resources.limits.ephemeral-storage is required (policy req, rule require-limits)',
    'spec.template.spec.initContainers[0].resources.requests.cpu is required (policy req, rule require-requests)',
    'spec.template.spec.initContainers[0].resources.limits.memory is required (policy req, rule require-limits)',
    'spec.template.spec.initContainers[0].resources.limits.ephemeral-storage is required (policy req, rule require-limits)',
  ]);
});

test('max-resources checks requests and limits per container; max-limit-request-ratio checks limit/request', () => {
  const v = engine.validate(
    deployment(`        - {name: app, image: x, resources: {requests: {cpu: 500m, memory: 10Gi}, limits: {cpu: "5", memory: 10Gi}}}`),
    ctx,
  );
  assert.deepEqual(v.decision.denials.map(formatViolation), [
    'spec.template.spec.containers[0].resources.limits.cpu must be at most 4 (is 5) (policy res, rule max-resources)',
    'spec.template.spec.containers[0].resources.requests.memory must be at most 8Gi (is 10Gi) (policy res, rule max-resources)',
    'spec.template.spec.containers[0].resources.limits.memory must be at most 8Gi (is 10Gi) (policy res, rule max-resources)',
    'spec.template.spec.containers[0].resources.limits.cpu must be at most 4x the request (is 10x) (policy res, rule max-limit-request-ratio)',
  ]);
  const ok = engine.validate(deployment(`        - {name: app, image: x, resources: {requests: {cpu: "1", memory: 1Gi}, limits: {cpu: "4", memory: 8Gi}}}`), ctx);
  assert.equal(ok.decision.allowed, true, 'equal to the maximum and to the ratio passes');
});

test('unparseable quantities are evaluation errors (warnings), not crashes or denials', () => {
  const v = engine.validate(deployment(`        - {name: app, image: x, resources: {requests: {cpu: lots, memory: 1Gi}, limits: {memory: 1Gi}}}`), ctx);
  assert.equal(v.decision.allowed, true);
  assert.equal(v.results[0]!.status, 'error');
  assert.match(v.results[0]!.message, /not a valid quantity/);
});

test('ephemeral containers are not required to declare resources', () => {
  const pod = yamlObject(`
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: a, image: x, resources: {requests: {cpu: 100m, memory: 1Gi}, limits: {memory: 1Gi}}}]
  ephemeralContainers: [{name: debug, image: busybox}]
`);
  assert.equal(engine.validate(pod, ctx).decision.allowed, true);
  assert.deepEqual(engine.mutate(pod, ctx).patch, []);
});

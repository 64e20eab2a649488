import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GovernanceEngine } from './engine.js';
import { policy, yamlObject } from './testing.js';
import { MAX_CONTAINERS } from './pod-template.js';
import { parsePolicyText } from '../policy/parse.js';
import { normalizeHostPath } from '../common/host-path.js';
import { MAX_HOST_PATH } from './conditions.js';

const ctx = { namespace: 'shop' };

const pod = (spec: string, labels = '{}') =>
  yamlObject(`
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop, labels: ${labels}}
spec:
${spec}
`);

const HOSTPATH = policy(
  'hostpath-owner',
  `
  when: {volumeTypes: [hostPath]}
  labels:
    owner: {required: true}
`,
);

test('spec.when: a policy whose condition does not hold is skipped, with the reason; when it holds, its rules apply', () => {
  const e = new GovernanceEngine([HOSTPATH]);
  const plain = pod('  containers: [{name: a, image: x}]\n  volumes: [{name: tmp, emptyDir: {}}]');
  const v = e.validate(plain, ctx);
  assert.equal(v.decision.allowed, true);
  assert.deepEqual(v.decision.denials, []);
  const skips = v.results.filter((r) => r.status === 'skip');
  assert.deepEqual(
    skips.map((r) => [r.rule, r.condition, r.message]),
    [['require-labels', 'spec.when', 'skipped: spec.when does not hold (no volume of type hostPath)']],
  );
  assert.equal(v.policies[0]!.result, 'skip');
  const mounted = pod('  containers: [{name: a, image: x}]\n  volumes: [{name: sock, hostPath: {path: /var/run/docker.sock}}]');
  const w = e.validate(mounted, ctx);
  assert.equal(w.decision.allowed, false);
  assert.deepEqual(w.decision.denials.map((r) => r.rule), ['require-labels']);
  assert.equal(w.results.filter((r) => r.status === 'skip').length, 0, 'a holding condition reports no skip');
});

test('hostPaths are globs; containerResources, labels and operations; AND across conditions, OR inside a list', () => {
  const p = policy(
    'gpu',
    `
  labels:
    docker: {required: true, when: {hostPaths: ['/var/run/*.sock', /run/containerd/containerd.sock]}}
    gpu-team: {required: true, when: {containerResources: [nvidia.com/gpu, amd.com/gpu], operations: [CREATE]}}
    tier: {required: true, when: {labels: {matchLabels: {env: prod}}}}
`,
  );
  const e = new GovernanceEngine([p]);
  const rules = (o: unknown, op: 'CREATE' | 'UPDATE' = 'CREATE') =>
    e
      .validate(o, { ...ctx, operation: op, ...(op === 'UPDATE' ? { oldObject: o } : {}) })
      .decision.denials.map((r) => r.path)
      .sort();
  const gpu = '  containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]';
  assert.deepEqual(rules(pod(gpu)), ['metadata.labels.gpu-team']);
  assert.deepEqual(rules(pod(gpu), 'UPDATE'), [], 'operations: [CREATE] does not hold on UPDATE');
  assert.deepEqual(rules(pod(`${gpu}\n  volumes: [{name: s, hostPath: {path: /var/run/docker.sock}}]`)), ['metadata.labels.docker', 'metadata.labels.gpu-team']);
  assert.deepEqual(rules(pod(`${gpu}\n  volumes: [{name: s, hostPath: {path: /var/lib/docker}}]`)), ['metadata.labels.gpu-team'], 'glob does not match');
  assert.deepEqual(rules(pod('  containers: [{name: a, image: x}]', '{env: prod}')), ['metadata.labels.tier']);
  assert.deepEqual(rules(pod('  containers: [{name: a, image: x}]', '{env: dev}')), []);
  const skipped = e.validate(pod('  containers: [{name: a, image: x}]'), ctx).results.filter((r) => r.status === 'skip');
  assert.deepEqual(
    skipped.map((r) => `${r.path}: ${r.message}`),
    [
      'metadata.labels.docker: skipped: spec.labels.docker.when does not hold (no hostPath volume with path /var/run/*.sock, /run/containerd/containerd.sock)',
      'metadata.labels.gpu-team: skipped: spec.labels.gpu-team.when does not hold (no container requests or limits nvidia.com/gpu, amd.com/gpu)',
      "metadata.labels.tier: skipped: spec.labels.tier.when does not hold (the object's labels do not match)",
    ],
  );
});

test('spec.resources.when skips defaults and checks; a pod template of a controller is read for volumes', () => {
  const p = policy(
    'empty-dir-storage',
    `
  resources:
    when: {volumeTypes: [emptyDir]}
    require: [limits.ephemeral-storage]
    defaults: {requests: {ephemeral-storage: 1Gi}}
`,
  );
  const e = new GovernanceEngine([p]);
  const dep = (volumes: string) =>
    yamlObject(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: shop}
spec:
  template:
    spec:
      containers: [{name: a, image: x}]
${volumes}
`);
  const without = dep('');
  const r1 = e.review(without, ctx);
  assert.deepEqual(r1.mutation.patch, []);
  assert.equal(r1.validation.decision.allowed, true);
  assert.deepEqual(r1.validation.results.map((r) => r.rule).sort(), ['default-resources', 'require-limits']);
  const withEmptyDir = dep('      volumes: [{name: scratch, emptyDir: {}}]');
  const r2 = e.review(withEmptyDir, ctx);
  assert.equal((r2.mutation.mutated as any).spec.template.spec.containers[0].resources.requests['ephemeral-storage'], '1Gi');
  assert.deepEqual(r2.validation.decision.denials.map((r) => r.path), ['spec.template.spec.containers[0].resources.limits.ephemeral-storage']);
});

test('a label condition sees a label another policy defaults (mutation runs another pass)', () => {
  const a = policy('a-default', `\n  labels:\n    env: {default: prod}\n`);
  const b = policy('b-prod-owner', `\n  when: {labels: {matchLabels: {env: prod}}}\n  labels:\n    owner: {default: platform}\n`);
  // In either order: the condition decided before the default was added is decided again on the next pass.
  const z = policy('z-default', `\n  labels:\n    env: {default: prod}\n`);
  for (const policies of [[a, b], [b, z]]) {
    const m = new GovernanceEngine(policies).mutate(pod('  containers: [{name: a, image: x}]'), ctx).mutated as any;
    assert.deepEqual(m.metadata.labels, { env: 'prod', owner: 'platform' });
  }
});

test('conditions are bounded: a pod with more volumes than MAX_VOLUMES is read up to it, within the deadline', () => {
  const e = new GovernanceEngine([HOSTPATH]);
  const volumes = Array.from({ length: MAX_CONTAINERS + 5 }, (_, i) => ({ name: `v${i}`, emptyDir: {} }));
  volumes.push({ name: 'late', hostPath: { path: '/x' } } as any);
  const o = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'shop' }, spec: { containers: [{ name: 'a' }], volumes } };
  // The hostPath volume past the bound is not read: the condition does not hold.
  assert.equal(e.validate(o, ctx).decision.allowed, true);
  let clock = 0;
  const slow = new GovernanceEngine([HOSTPATH], { now: () => (clock += 1) });
  const v = slow.validate(o, { ...ctx, deadline: 5 });
  assert.deepEqual(v.unfinished?.map((u) => u.policy), ['hostpath-owner']);
  clock = 0;
  const m = slow.mutate(o, { ...ctx, deadline: 5 });
  assert.deepEqual([m.patch, m.unfinished?.map((u) => u.policy)], [[], ['hostpath-owner']], 'mutation too: cut off, no patch');
});

test('when is refused with a clear error on a bad resource name or selector, and on unknown fields', () => {
  const doc = (when: string) => `apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: x}\nspec:\n  when: ${when}\n  labels: {a: {required: true}}\n`;
  const errs = (when: string) => parsePolicyText(doc(when), 'p.yaml').errors.map((e) => `${e.path}: ${e.message}`);
  assert.match(errs('{containerResources: [gpu]}')[0]!, /^spec\.when\.containerResources\[0\]: "gpu" is not a container resource/);
  assert.match(errs('{labels: {matchExpressions: [{key: a, operator: Maybe}]}}')[0]!, /^spec\.when\.labels\.matchExpressions\[0\]\.operator/);
  assert.match(errs('{volumeType: [emptyDir]}')[0]!, /volumeType/);
  assert.match(errs('{operations: [DELETE]}')[0]!, /^spec\.when\.operations\[0\]/);
  assert.deepEqual(errs('{volumeTypes: [emptyDir], hostPaths: ["/var/*"], containerResources: [hugepages-2Mi, example.com/foo], operations: [UPDATE]}'), []);
});

test('a containerResources condition sees a resource another policy defaults (mutation runs another pass), and the result is a fixed point', () => {
  const label = policy('a-gpu-label', `\n  labels:\n    gpu: {default: "yes", when: {containerResources: [nvidia.com/gpu]}}\n`);
  const gpu = policy('b-gpu-default', `\n  resources:\n    defaults: {limits: {nvidia.com/gpu: "1"}}\n`);
  const e = new GovernanceEngine([label, gpu]);
  const first = e.mutate(pod('  containers: [{name: a, image: x}]'), ctx);
  const m = first.mutated as any;
  assert.equal(m.spec.containers[0].resources.limits['nvidia.com/gpu'], '1');
  assert.deepEqual(m.metadata.labels, { gpu: 'yes' });
  assert.deepEqual(e.mutate(m, ctx).patch, []);
});

test('hostPaths compare normalized paths: repeated slashes, . and .. and a trailing slash do not evade a condition', () => {
  assert.equal(normalizeHostPath('/var/run//./docker.sock/'), '/var/run/docker.sock');
  assert.equal(normalizeHostPath('/var/lib/../run/docker.sock'), '/var/run/docker.sock');
  assert.equal(normalizeHostPath('/../../var/run/docker.sock'), '/var/run/docker.sock');
  assert.equal(normalizeHostPath('a/../../b'), '../b');
  const e = new GovernanceEngine([policy('sock', `\n  labels:\n    owner: {required: true, when: {hostPaths: [/var/run/docker.sock/]}}\n`)]);
  const denied = (path: string) => !e.validate(pod(`  containers: [{name: a, image: x}]\n  volumes: [{name: s, hostPath: {path: '${path}'}}]`), ctx).decision.allowed;
  for (const p of ['/var/run/docker.sock', '/var/run//docker.sock', '/var/./run/docker.sock', '/var/lib/../run/docker.sock', '//var/run/docker.sock/']) assert.equal(denied(p), true, p);
  assert.equal(denied('/var/run/docker.sock2'), false);
  // A path no node can open (PATH_MAX) is not matched, and no glob runs over it.
  assert.equal(denied(`/var/run/${'/'.repeat(MAX_HOST_PATH)}docker.sock`), false);
});

test('skipped rules are bounded per review: 50 kept, the rest counted in omitted.skipped', () => {
  const many = Array.from({ length: 30 }, (_, i) => policy(`p${i}`, `\n  when: {volumeTypes: [hostPath]}\n  labels:\n    owner: {required: true}\n  resources: {require: [limits.memory]}\n`));
  const v = new GovernanceEngine(many).validate(pod('  containers: [{name: a, image: x}]'), ctx);
  assert.equal(v.results.filter((r) => r.status === 'skip').length, 50);
  assert.equal(v.decision.omitted?.skipped, 10);
  assert.equal(v.decision.allowed, true);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GovernanceEngine } from './engine.js';
import { applyAddPatch, policy, yamlObject } from './testing.js';
import { formatViolation } from './result.js';
import { MAX_CONTAINERS } from './pod-template.js';
import { overRatio } from './resources.js';
import { exactNumber, parseQuantity } from '../common/quantity.js';
import fc from 'fast-check';
import { parsePolicyText } from '../policy/parse.js';

const policiesErrors = (text: string) => parsePolicyText(text, 'p.yaml').errors.map((e) => `${e.path}: ${e.message}`);

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

test('a value the engine cannot read denies in an enforce policy and warns in an audit policy, with the reason', () => {
  const d = deployment(`        - {name: app, image: x, resources: {requests: {cpu: lots, memory: 1Gi}, limits: {memory: 1Gi}}}`);
  const v = engine.validate(d, ctx);
  assert.equal(v.decision.allowed, false);
  assert.equal(v.results[0]!.status, 'fail');
  assert.match(v.results[0]!.message, /is not a quantity this policy can check: it does not match the quantity grammar .* \(is "lots"\)$/);
  const audit = new GovernanceEngine([policy('res-audit', `\n  mode: audit\n  resources:\n    max: {cpu: "4"}\n`)]);
  const a = audit.validate(d, ctx);
  assert.equal(a.decision.allowed, true);
  assert.equal(a.decision.warnings.length, 1);
  assert.match(a.decision.warnings[0]!.message, /not a quantity this policy can check/);
  // Too long to be a quantity anyone means: refused, and the value shown only by its start.
  const long = engine.validate(deployment(`        - {name: app, image: x, resources: {requests: {cpu: "${'9'.repeat(5000)}", memory: 1Gi}, limits: {memory: 1Gi}}}`), ctx);
  assert.equal(long.decision.allowed, false);
  assert.match(long.decision.denials[0]!.message, /longer than 128 characters/);
  assert.ok(formatViolation(long.decision.denials[0]!).length < 300);
});

test('values past the double range are compared exactly against max: 1e309 and 999999999999999999999999Ei deny, 0.0000000001 passes', () => {
  const one = (cpu: string, memory: string) =>
    engine.validate(deployment(`        - {name: app, image: x, resources: {requests: {cpu: "${cpu}", memory: "${memory}"}, limits: {cpu: "${cpu}", memory: "${memory}"}}}`), ctx);
  for (const [cpu, memory] of [['1e309', '1Gi'], ['1', '1e309'], ['1E3', '1Gi'], ['1', '999999999999999999999999Ei'], ['4000001m', '1Gi'], ['1', '8589934593']]) {
    const v = one(cpu, memory);
    assert.equal(v.decision.allowed, false, `${cpu} / ${memory}`);
    assert.ok(v.decision.denials.every((r) => r.rule === 'max-resources'), `${cpu} / ${memory}`);
  }
  for (const [cpu, memory] of [['0.0000000001', '1Gi'], ['4', '8Gi'], ['4000m', '8589934592'], ['-1e309', '1Gi'], ['1', '8.589934592G']]) {
    assert.equal(one(cpu, memory).decision.allowed, true, `${cpu} / ${memory}`);
  }
});

test('the limit/request ratio is exact, also with huge and tiny values', () => {
  const ratio = (req: string, lim: string) =>
    engine.validate(deployment(`        - {name: app, image: x, resources: {requests: {cpu: "${req}", memory: 1Gi}, limits: {cpu: "${lim}", memory: 1Gi}}}`), ctx).results.filter((r) => r.rule === 'max-limit-request-ratio');
  assert.equal(ratio('1', '4').length, 0);
  assert.equal(ratio('1', '4000000001n').length, 1);
  assert.equal(ratio('1n', '4n').length, 0);
  assert.equal(ratio('1n', '5n').length, 1);
  assert.equal(ratio('0.0000000001', '4n').length, 0, '0.0000000001 is 1n');
  assert.match(ratio('0', '1')[0]!.message, /unbounded/);
});

test('a pod spec with more than MAX_CONTAINERS is one clear violation, walked no further, and not defaulted', () => {
  const many = (n: number) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop' },
    spec: { template: { spec: { containers: Array.from({ length: n }, (_, i) => ({ name: `c${i}`, image: 'x' })) } } },
  });
  const v = engine.validate(many(MAX_CONTAINERS + 1), ctx);
  assert.equal(v.decision.allowed, false);
  const cap = v.decision.denials.find((r) => r.path === 'spec.template.spec.containers')!;
  assert.match(cap.message, /lists 1001 containers and init containers: this policy checks at most 1000 per pod spec/);
  assert.deepEqual(engine.mutate(many(MAX_CONTAINERS + 1), ctx).patch, []);
  assert.ok(engine.mutate(many(MAX_CONTAINERS), ctx).patch.length > 0);
  assert.equal(engine.validate(many(MAX_CONTAINERS), ctx).results.some((r) => /per pod spec/.test(r.message)), false);
  const defaultsOnly = new GovernanceEngine([policy('defaults', `  resources:\n    defaults: {limits: {memory: 1Gi}}`)]);
  assert.equal(defaultsOnly.validate(many(MAX_CONTAINERS + 1), ctx).decision.allowed, true, 'a defaults-only policy checks nothing');
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

test('property: the ratio fast path (one float division with a margin) agrees with the exact product', () => {
  const ratios = [1, 1.5, 2, 3.3, 4, 10, 1.0000000001].map((value) => ({ resource: 'cpu' as const, value, exact: exactNumber(value) }));
  fc.assert(
    fc.property(fc.bigInt({ min: 1n, max: 10n ** 15n }), fc.bigInt({ min: 1n, max: 10n ** 15n }), fc.constantFrom(...ratios), fc.boolean(), (lim, req, r, near) => {
      // near: a limit within a few nano-units of ratio × request, where the margin must hand over to the exact check.
      if (near) lim = (req * BigInt(Math.round(r.value * 1e10))) / 10n ** 10n + BigInt(Number(lim % 3n) - 1);
      if (lim <= 0n) return;
      const l = parseQuantity(`${lim}n`);
      const q = parseQuantity(`${req}n`);
      const [num, den] = [BigInt(Math.round(r.value * 1e10)), 10n ** 10n];
      assert.equal(overRatio(l, q, r), lim * den > num * req, `${lim}n / ${req}n vs ${r.value}`);
    }),
    { numRuns: 3000 },
  );
});

test('default limits compare the request exactly: a request above the default limit (however written) becomes the limit', () => {
  const limitFor = (memory: string) => {
    const d = deployment(`        - {name: app, image: x, resources: {requests: {cpu: 100m, memory: "${memory}"}}}`);
    const op = engine.mutate(d, ctx).patch.find((o) => o.path.endsWith('/limits') || o.path.endsWith('/limits/memory'));
    const v = op!.value as Record<string, unknown> | string;
    return typeof v === 'string' ? v : v.memory;
  };
  assert.equal(limitFor('1e309'), '1e309');
  assert.equal(limitFor('999999999999999999999999Ei'), '999999999999999999999999Ei');
  assert.equal(limitFor('536870913'), '536870913', 'one byte over 512Mi');
  assert.equal(limitFor('0.5Gi'), '512Mi', 'equal: the default');
  assert.equal(limitFor('536870912'), '512Mi');
  assert.equal(limitFor('1e-3'), '512Mi');
});

test('any resource name: extended resources and hugepages in require, max and defaults, compared exactly', () => {
  const p = policy(
    'gpu',
    `
  resources:
    require: [limits.nvidia.com/gpu]
    max: {nvidia.com/gpu: 2, hugepages-2Mi: 1Gi, example.com/foo: 1e3}
    defaults: {requests: {example.com/foo: "10"}}
`,
  );
  const e = new GovernanceEngine([p]);
  const d = deployment(`        - {name: a, image: x, resources: {limits: {nvidia.com/gpu: "4", hugepages-2Mi: 2Gi}}}
        - {name: b, image: y, resources: {limits: {nvidia.com/gpu: 1, example.com/foo: "1e309"}}}
        - {name: c, image: z}`);
  const r = e.review(d, ctx);
  assert.equal((r.mutation.mutated as any).spec.template.spec.containers[2].resources.requests['example.com/foo'], '10');
  assert.deepEqual(r.validation.decision.denials.map(formatViolation), [
    'spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"] must be at most 2 (is 4) (policy gpu, rule max-resources)',
    'spec.template.spec.containers[0].resources.limits.hugepages-2Mi must be at most 1Gi (is 2Gi) (policy gpu, rule max-resources)',
    // The defaulted request is the container's limit (as for cpu and memory), so both are above max.
    'spec.template.spec.containers[1].resources.requests["example.com/foo"] must be at most 1000 (is 1e309) (policy gpu, rule max-resources)',
    'spec.template.spec.containers[1].resources.limits["example.com/foo"] must be at most 1000 (is 1e309) (policy gpu, rule max-resources)',
    'spec.template.spec.containers[2].resources.limits["nvidia.com/gpu"] is required (policy gpu, rule require-limits)',
  ]);
});

test('resource names and quantities are checked at load: unknown names, bad sections, 1e309 as a number, too many entries', () => {
  const errs = (resources: string) =>
    policiesErrors(`apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: x}\nspec:\n  resources: ${resources}\n`);
  assert.match(errs('{require: [limits.gpu]}')[0]!, /^spec\.resources\.require\[0\]: "gpu" is not a container resource/);
  assert.match(errs('{forbid: [limit.cpu]}')[0]!, /^spec\.resources\.forbid\[0\]: /);
  assert.match(errs('{max: {hugepages-2Xi: 1Gi}}')[0]!, /^spec\.resources\.max\.hugepages-2Xi: "hugepages-2Xi" is not a hugepages size/);
  // Unquoted, YAML reads 1e309 as Infinity: refused (quoted, it is an exact, very large quantity).
  assert.match(errs('{max: {nvidia.com/gpu: 1e309}}')[0]!, /spec\.resources\.max\["nvidia\.com\/gpu"\]: must be string,number/);
  assert.match(errs('{max: {nvidia.com/gpu: "1x"}}')[0]!, /spec\.resources\.max\["nvidia\.com\/gpu"\]/);
  const many = `{max: {${Array.from({ length: 33 }, (_, i) => `example.com/r${i}: 1`).join(', ')}}}`;
  assert.match(errs(many)[0]!, /^spec\.resources\.max: /);
  assert.match(errs('{forbid: [limits.cpu], defaults: {limits: {cpu: "1"}}}')[0]!, /^spec\.resources\.defaults\.limits\.cpu: is forbidden by spec\.resources\.forbid/);
  assert.match(errs('{forbid: [limits.cpu], require: [limits.cpu]}')[0]!, /both required and forbidden/);
  assert.deepEqual(errs('{require: [requests.hugepages-1Gi, limits.example.com/foo], forbid: [limits.cpu], max: {ephemeral-storage: 10Gi}}'), []);
});

test('forbid-resources: the field must be absent; on UPDATE a forbidden field that stays set is pre-existing whatever its value', () => {
  const e = new GovernanceEngine([policy('no-cpu-limits', `\n  resources:\n    forbid: [limits.cpu]\n`)]);
  const d = (cpu: string) => deployment(`        - {name: a, image: x, resources: {limits: {cpu: "${cpu}", memory: 1Gi}}}\n        - {name: b, image: y}`);
  const v = e.validate(d('2'), ctx);
  assert.deepEqual(v.decision.denials.map(formatViolation), ['spec.template.spec.containers[0].resources.limits.cpu must not be set (is "2") (policy no-cpu-limits, rule forbid-resources)']);
  const u = e.validate(d('3'), { ...ctx, operation: 'UPDATE', oldObject: d('2') });
  assert.equal(u.decision.allowed, true);
  assert.match(u.decision.warnings[0]!.message, /pre-existing/);
});

test('containers: any passes when one container satisfies each check; none does: one finding per check at the container list', () => {
  const e = new GovernanceEngine([
    policy(
      'any',
      `
  resources:
    containers: any
    require: [requests.nvidia.com/gpu]
    forbid: [limits.cpu]
    max: {memory: 1Gi}
`,
    ),
  ]);
  const ok = deployment(`        - {name: a, image: x, resources: {requests: {nvidia.com/gpu: 1}, limits: {cpu: "1", memory: 4Gi}}}
        - {name: b, image: y, resources: {limits: {memory: 512Mi}}}`);
  assert.deepEqual(e.validate(ok, ctx).decision.denials, []);
  const bad = deployment(`        - {name: a, image: x, resources: {limits: {cpu: "1", memory: 4Gi}}}`);
  const v = e.validate(bad, ctx);
  assert.deepEqual(v.decision.denials.map(formatViolation), [
    'spec.template.spec.containers has no container or init container that sets requests.nvidia.com/gpu (at least one must) (policy any, rule require-requests)',
    'spec.template.spec.containers has no container or init container without limits.cpu (at least one must leave it unset) (policy any, rule forbid-resources)',
    'spec.template.spec.containers has no container or init container with memory at most 1Gi (at least one must) (policy any, rule max-resources)',
  ]);
  // UPDATE: each check keeps its own identity; still unsatisfied is pre-existing.
  const u = e.validate(bad, { ...ctx, operation: 'UPDATE', oldObject: bad });
  assert.equal(u.decision.allowed, true);
  assert.equal(u.decision.warnings.length, 3);
  const partly = e.validate(bad, { ...ctx, operation: 'UPDATE', oldObject: ok });
  assert.equal(partly.decision.denials.length, 3);
});

test('initContainers: false leaves init containers unchecked and undefaulted; ephemeral containers are never checked', () => {
  const e = new GovernanceEngine([policy('main-only', `\n  resources:\n    initContainers: false\n    require: [limits.memory]\n    defaults: {requests: {cpu: 100m}}\n`)]);
  const d = yamlObject(`
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop}
spec:
  containers: [{name: a, image: x, resources: {limits: {memory: 1Gi}}}]
  initContainers: [{name: i, image: y}]
  ephemeralContainers: [{name: debug, image: busybox}]
`);
  const r = e.review(d, ctx);
  assert.deepEqual(r.validation.decision.denials, []);
  const m = r.mutation.mutated as any;
  assert.equal(m.spec.containers[0].resources.requests.cpu, '100m');
  assert.equal(m.spec.initContainers[0].resources, undefined);
  const all = new GovernanceEngine([policy('all', `\n  resources:\n    require: [limits.memory]\n`)]);
  assert.deepEqual(all.validate(d, ctx).decision.denials.map((x) => x.path), ['spec.initContainers[0].resources.limits.memory'], 'default: init containers too, ephemeral never');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GovernanceEngine } from './engine.js';
import { blocks, decide, formatWarning, MAX_WARNING_LENGTH, type RuleResult } from './result.js';
import { MAX_CONTAINERS } from './pod-template.js';
import { PolicyIndex } from './policy-index.js';
import { policy, yamlObject } from './testing.js';

// target: object: these tests are about matching and UPDATE, on the workload's own labels.
const needsOwner = (name: string, extra = '') => policy(name, `  target: object\n  labels: {owner: {required: true}}\n${extra}`);
const deployment = (meta = '{name: web}', group = 'apps/v1') =>
  yamlObject(`
apiVersion: ${group}
kind: Deployment
metadata: ${meta}
spec: {template: {spec: {containers: [{name: a, image: b}]}}}
`);
const denied = (e: GovernanceEngine, obj: unknown, ctx: Parameters<GovernanceEngine['validate']>[1]) => !e.validate(obj, ctx).decision.allowed;

test('match: kinds, namespaces (with wildcards), namespaceSelector on the namespace labels, selector on the object labels', () => {
  const e = new GovernanceEngine([
    needsOwner('by-kind', `  match: {kinds: [StatefulSet]}`),
    needsOwner('by-ns', `  match: {namespaces: [shop, 'team-*']}`),
    needsOwner('by-ns-labels', `  match: {namespaceSelector: {matchLabels: {tier: prod}}}`),
    needsOwner('by-labels', `  match: {selector: {matchExpressions: [{key: app, operator: In, values: [web]}]}}`),
  ]);
  const policiesFor = (obj: unknown, namespace: string, labels: Record<string, string> = {}) =>
    e.validate(obj, { namespace, namespaceInfo: { labels, annotations: {} } }).policies.map((p) => p.policy);
  assert.deepEqual(policiesFor(deployment(), 'other'), []);
  assert.deepEqual(policiesFor(deployment(), 'shop'), ['by-ns']);
  assert.deepEqual(policiesFor(deployment(), 'team-a'), ['by-ns']);
  assert.deepEqual(policiesFor(deployment(), 'other', { tier: 'prod' }), ['by-ns-labels']);
  assert.deepEqual(policiesFor(deployment('{name: web, labels: {app: web}}'), 'shop'), ['by-labels', 'by-ns']);
});

test('the namespace name label is always known, as the API server sets it', () => {
  const e = new GovernanceEngine([needsOwner('p', `  match: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}}`)]);
  assert.equal(denied(e, deployment(), { namespace: 'shop' }), true);
  assert.equal(denied(e, deployment(), { namespace: 'other' }), false);
});

test('exclude wins over match; an empty exclude excludes nothing', () => {
  const e = new GovernanceEngine([needsOwner('p', `  exclude: {namespaces: [legacy], selector: {matchLabels: {managed-by: helm}}}`), needsOwner('q', `  exclude: {}`)]);
  const labels = '{name: web, labels: {managed-by: helm}}';
  assert.deepEqual(e.validate(deployment(labels), { namespace: 'legacy' }).policies.map((p) => p.policy), ['q']);
  assert.deepEqual(e.validate(deployment(labels), { namespace: 'shop' }).policies.map((p) => p.policy), ['p', 'q']);
});

test('Pod in match.kinds covers every pod controller (autogen)', () => {
  const e = new GovernanceEngine([needsOwner('p', `  match: {kinds: [Pod]}`)]);
  assert.equal(denied(e, deployment(), { namespace: 'x' }), true);
  assert.equal(denied(e, yamlObject('{apiVersion: batch/v1, kind: CronJob, metadata: {name: c}}'), { namespace: 'x' }), true);
});

test('unknown kinds, kinds of other groups, kube-system and the skipped namespaces pass through untouched', () => {
  const e = new GovernanceEngine([policy('p', `  labels: {owner: {required: true, default: me}}`)], {
    skipNamespaces: ['kube-system', 'kube-governor'],
  });
  for (const [obj, ns, reason] of [
    [yamlObject('{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}'), 'shop', 'kind'],
    [deployment('{name: web}', 'example.com/v1'), 'shop', 'kind'],
    [deployment(), 'kube-system', 'namespace'],
    [deployment(), 'kube-governor', 'namespace'],
  ] as const) {
    assert.equal(e.mutate(obj, { namespace: ns }).skipped, reason);
    assert.equal(e.validate(obj, { namespace: ns }).skipped, reason);
    assert.deepEqual(e.mutate(obj, { namespace: ns }).patch, []);
  }
});

test('exceptions from the policy list: namespace, name, kinds, selector and rules must all match', () => {
  const p = needsOwner(
    'p',
    `  resources: {require: [limits.memory]}
  exceptions:
    - {namespace: legacy, name: old-batch, rules: [resources], reason: 'sunset 2027-01'}
    - {selector: {matchLabels: {team: data}}, kinds: [StatefulSet], reason: 'data team migrates in Q3'}`,
  );
  const e = new GovernanceEngine([p]);
  const v = e.validate(deployment('{name: old-batch}'), { namespace: 'legacy' });
  assert.deepEqual(
    v.results.map((r) => `${r.rule}:${r.status}:${r.exception?.via ?? ''}`),
    ['require-limits:skip:policy', 'require-labels:fail:'],
    'the resources exception does not excuse labels',
  );
  assert.equal(v.decision.exceptions[0]!.exception!.reason, 'sunset 2027-01');
  assert.equal(e.validate(deployment('{name: other}'), { namespace: 'legacy' }).results.filter(blocks).length, 2);
  assert.equal(denied(e, deployment('{name: db, labels: {team: data}}'), { namespace: 'x' }), true, 'kinds: StatefulSet only');
});

test('exception annotations work only for the rules or families the policy allows', () => {
  const allowing = needsOwner('p', `  resources: {require: [limits.memory]}\n  allowExceptionAnnotations: [require-limits]`);
  const e = new GovernanceEngine([allowing]);
  const annotated = deployment(`{name: web, annotations: {governor.io/exception.resources: 'load test', governor.io/exception.labels: 'nope'}}`);
  const v = e.validate(annotated, { namespace: 'x' });
  assert.deepEqual(
    v.results.map((r) => `${r.rule}:${r.status}:${r.exception?.via ?? ''}:${r.exception?.reason ?? ''}`),
    ['require-limits:skip:annotation:load test', 'require-labels:fail::'],
  );
  const blank = deployment(`{name: web, labels: {owner: x}, annotations: {governor.io/exception.require-limits: ' '}}`);
  assert.equal(denied(e, blank, { namespace: 'x' }), true, 'an empty reason is no exception');
  const strict = new GovernanceEngine([needsOwner('s', `  resources: {require: [limits.memory]}`)]);
  assert.equal(strict.validate(annotated, { namespace: 'x' }).results.filter(blocks).length, 2, 'not allowed: ignored');
});

test('an excused mutation is not applied', () => {
  const e = new GovernanceEngine([policy('d', `  resources: {defaults: {limits: {memory: 1Gi}}}\n  allowExceptionAnnotations: [default-resources]`)]);
  const m = e.mutate(deployment(`{name: web, annotations: {governor.io/exception.default-resources: 'sized by VPA'}}`), { namespace: 'x' });
  assert.deepEqual(m.patch, []);
  assert.equal(m.results[0]!.status, 'skip');
});

test('audit mode warns and admits; warnings stay within 120 characters and keep the policy and rule', () => {
  const e = new GovernanceEngine([
    policy('a-very-long-policy-name-that-makes-the-warning-line-long', `  mode: audit\n  target: object\n  labels: {owner: {required: true, allowed: [alpha, beta, gamma, delta, epsilon, zeta, eta, theta]}}`),
  ]);
  const v = e.validate(deployment(), { namespace: 'x' });
  assert.equal(v.decision.allowed, true);
  assert.equal(v.decision.warnings.length, 1);
  const w = formatWarning(v.decision.warnings[0]!);
  assert.ok(w.length <= MAX_WARNING_LENGTH, w);
  assert.match(w, /^\[audit\] a-very-long-policy-name-that-makes-the-warning-line-long\/require-labels: metadata\.labels\.owner is required/);
  assert.equal(v.policies[0]!.result, 'warn');
});

test('UPDATE: a violation the stored object already had warns instead of denying (allowExistingViolations)', () => {
  const e = new GovernanceEngine([needsOwner('p'), needsOwner('strict', '  allowExistingViolations: false')]);
  const old = deployment();
  const v = e.validate(deployment('{name: web, labels: {app: v2}}'), { namespace: 'x', operation: 'UPDATE', oldObject: old });
  assert.deepEqual(v.results.map((r) => `${r.policy}:${r.status}`), ['p:warn', 'strict:fail']);
  assert.match(v.results[0]!.message, /pre-existing/);
  const fresh = e.validate(deployment(), { namespace: 'x', operation: 'UPDATE', oldObject: deployment('{name: web, labels: {owner: me}}') });
  assert.deepEqual(fresh.results.map((r) => `${r.policy}:${r.status}`), ['p:fail', 'strict:fail'], 'a new violation denies');
});

test('objects a workload controller makes from an admitted template are warned about; a forged owner is enforced', () => {
  const e = new GovernanceEngine([needsOwner('p')]);
  const pod = yamlObject(`
apiVersion: v1
kind: Pod
metadata: {name: web-abc, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d8, uid: u1, controller: true}]}
spec: {containers: [{name: a, image: b}]}
`);
  const byController = e.validate(pod, { namespace: 'x', requestedBy: 'system:serviceaccount:kube-system:replicaset-controller' });
  assert.equal(byController.decision.allowed, true);
  assert.match(byController.results[0]!.message, /owned by ReplicaSet web-5d8/);
  assert.equal(e.validate(pod, { namespace: 'x', requestedBy: 'system:kube-controller-manager' }).decision.allowed, true);
  // The same ownerReference sent by anyone else (or by nobody known: the CLI) proves nothing.
  for (const requestedBy of [undefined, 'alice', 'system:serviceaccount:team-a:replicaset-controller', 'system:serviceaccount:kube-system:default']) {
    const v = e.validate(pod, { namespace: 'x', ...(requestedBy ? { requestedBy } : {}) });
    assert.equal(v.decision.allowed, false, `requested by ${requestedBy}`);
    assert.deepEqual(v.results.map((r) => r.status), ['fail']);
  }
  const forgedRs = yamlObject(`
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-1, ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: does-not-exist, uid: u2, controller: true}]}
spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: a, image: b}]}}}
`);
  assert.equal(e.validate(forgedRs, { namespace: 'x', requestedBy: 'mallory' }).decision.allowed, false);
  // A controller's object without a controller ownerReference is judged as any other.
  const bare = yamlObject('{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: a, image: b}]}}');
  assert.equal(e.validate(bare, { namespace: 'x', requestedBy: 'system:serviceaccount:kube-system:job-controller' }).decision.allowed, false);
  const deleting = deployment(`{name: web, deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: [x]}`);
  assert.equal(e.validate(deleting, { namespace: 'x', operation: 'UPDATE', oldObject: deleting }).skipped, 'deleting');
  assert.equal(e.validate(deployment(), { namespace: 'x', operation: 'CONNECT' }).skipped, 'operation');
});

test('UPDATE never mutates a Pod spec or a Job template (immutable), but still labels the Pod', () => {
  const e = new GovernanceEngine([policy('d', `  resources: {defaults: {limits: {memory: 1Gi}}}\n  target: object\n  labels: {team: {default: core, copyToPodTemplate: true}}`)]);
  const pod = yamlObject('{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: a, image: b}]}}');
  assert.deepEqual(e.mutate(pod, { namespace: 'x', operation: 'UPDATE', oldObject: pod }).patch.map((o) => o.path), ['/metadata/labels']);
  const job = yamlObject('{apiVersion: batch/v1, kind: Job, metadata: {name: j}, spec: {template: {spec: {containers: [{name: a, image: b}]}}}}');
  assert.deepEqual(e.mutate(job, { namespace: 'x', operation: 'UPDATE', oldObject: job }).patch.map((o) => o.path), ['/metadata/labels']);
  assert.equal(e.mutate(job, { namespace: 'x', operation: 'CREATE' }).patch.length, 3);
});

test('mutation reaches a fixed point: a default that makes another policy match is applied in the same review', () => {
  const e = new GovernanceEngine([
    policy('a-needs-tier', `  match: {selector: {matchLabels: {tier: web}}}\n  target: object\n  labels: {expose: {default: internal}}`),
    policy('b-sets-tier', `  target: object\n  labels: {tier: {default: web}}`),
  ]);
  const m = e.mutate(deployment(), { namespace: 'x' });
  assert.equal((m.mutated as any).metadata.labels.expose, 'internal');
  assert.deepEqual(e.mutate(m.mutated, { namespace: 'x' }).patch, []);
});

test('mutation reaches a fixed point: a default that ends an exception applies the rule it excused, in the same review', () => {
  const e = new GovernanceEngine([
    // Runs first (name order): excused while the object has no "expose" label.
    policy('a-defaults', `  resources: {defaults: {requests: {cpu: 100m}}}\n  exceptions:\n    - {selector: {matchExpressions: [{key: expose, operator: DoesNotExist}]}, rules: [resources], reason: internal only}`),
    policy('b-expose', `  target: object\n  labels: {expose: {default: internal}}`),
  ]);
  const m = e.mutate(deployment(), { namespace: 'x' });
  assert.equal((m.mutated as any).metadata.labels.expose, 'internal');
  assert.equal((m.mutated as any).spec.template.spec.containers[0].resources.requests.cpu, '100m');
  assert.deepEqual(e.mutate(m.mutated, { namespace: 'x' }).patch, []);
});

test('the index returns only the policies that can match a kind and namespace, in name order', () => {
  const many = Array.from({ length: 1000 }, (_, i) => policy(`p${String(i).padStart(4, '0')}`, `  match: {kinds: [StatefulSet], namespaces: [ns-${i}]}\n  labels: {a: {default: b}}`));
  const index = new PolicyIndex([...many, policy('any-ns', `  match: {kinds: [StatefulSet]}`), policy('wild', `  match: {namespaces: ['ns-4*']}`)]);
  assert.deepEqual(index.candidates('StatefulSet', 'ns-42').map((p) => p.name), ['any-ns', 'p0042', 'wild']);
  assert.deepEqual(index.candidates('Deployment', 'ns-42').map((p) => p.name), ['wild']);
  assert.deepEqual(index.candidates('Deployment', 'elsewhere').map((p) => p.name), ['wild']);
});

test('decide: only enforce failures block; audit failures, warnings and errors warn', () => {
  const r = (status: RuleResult['status'], mode: RuleResult['mode']): RuleResult => ({ policy: 'p', rule: 'require-labels', family: 'labels', mode, status, path: 'x', message: 'm' });
  const d = decide([r('fail', 'enforce'), r('fail', 'audit'), r('warn', 'enforce'), r('error', 'enforce'), r('skip', 'enforce'), r('pass', 'enforce')]);
  assert.equal(d.allowed, false);
  assert.equal(d.denials.length, 1);
  assert.equal(d.warnings.length, 3);
});

test('deadline: validate stops between policies once the clock passes ctx.deadline and names what it did not evaluate', () => {
  let t = 0;
  // Each clock read advances one tick: the engine reads it every 8 policies, so a deadline of 1 stops at the 9th.
  const policies = Array.from({ length: 20 }, (_, i) => needsOwner(`p${String(i).padStart(2, '0')}`, i % 2 ? '  mode: audit\n' : ''));
  const e = new GovernanceEngine(policies, { now: () => t++ });
  const out = e.validate(deployment(), { namespace: 'shop', deadline: 1 });
  assert.deepEqual(out.policies.map((p) => p.policy), policies.slice(0, 8).map((p) => p.name));
  assert.equal(out.results.length, 8);
  assert.deepEqual(out.unfinished, policies.slice(8).map((p) => ({ policy: p.name, mode: p.mode })));
  // No deadline, or one not reached: every policy is evaluated and nothing is unfinished.
  assert.equal(e.validate(deployment(), { namespace: 'shop' }).unfinished, undefined);
  t = 0;
  assert.equal(e.validate(deployment(), { namespace: 'shop', deadline: 1000 }).results.length, 20);
});

test('deadline: mutate past its deadline returns no patch and lists every matched policy as unfinished', () => {
  const defaults = (name: string) => policy(name, `  labels: {owner: {default: team-a}}\n`);
  const e = new GovernanceEngine([defaults('a'), defaults('b')], { now: () => 5 });
  const late = e.mutate(deployment(), { namespace: 'shop', deadline: 5 });
  assert.deepEqual(late.patch, []);
  assert.deepEqual(late.unfinished?.map((p) => p.policy), ['a', 'b']);
  const inTime = e.mutate(deployment(), { namespace: 'shop', deadline: 6 });
  assert.equal(inTime.unfinished, undefined);
  assert.equal(inTime.patch.length > 0, true);
});

test('deadline: the loops over containers read it too, so one policy over a huge pod spec is cut off midway', () => {
  let t = 0;
  const requests = policy('requests', `  resources: {require: [requests.cpu], defaults: {requests: {memory: 64Mi}}}\n`);
  const e = new GovernanceEngine([requests], { now: () => t++ });
  const obj = deployment() as any;
  // The largest pod spec the resource rules walk (a longer one is reported, or left undefaulted, without a walk).
  obj.spec.template.spec.containers = Array.from({ length: MAX_CONTAINERS }, (_, i) => ({ name: `c${i}`, image: 'x' }));
  // Policy check reads 0; the container walk reads every 64 containers: 1, 2, 3 → past a deadline of 3.
  const v = e.validate(obj, { namespace: 'shop', deadline: 3 });
  assert.deepEqual(v.unfinished, [{ policy: 'requests', mode: 'enforce' }]);
  assert.ok(v.results.length < MAX_CONTAINERS, `${v.results.length} results`);
  t = 0;
  const m = e.mutate(obj, { namespace: 'shop', deadline: 3 });
  assert.deepEqual(m.patch, []);
  assert.deepEqual(m.unfinished, [{ policy: 'requests', mode: 'enforce' }]);
  // Without a deadline the same review runs to the end.
  const all = e.validate(obj, { namespace: 'shop' });
  assert.equal(all.results.length + (all.decision.omitted?.denials ?? 0), MAX_CONTAINERS);
});

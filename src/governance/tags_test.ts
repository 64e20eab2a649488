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

// ---------------------------------------------------------------- where a rule applies (target), issue 13

const deploymentWith = (own: string, template: string) =>
  yamlObject(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: ${own}}
spec: {template: {metadata: {labels: ${template}}, spec: {containers: [{name: a, image: b}]}}}
`);
const denials = (e: GovernanceEngine, obj: unknown) => e.validate(obj, { namespace: 'x' }).decision.denials.map((d) => `${d.rule} ${d.path}`);

test('a policy about Pod (or no kinds) checks the pod template of a controller, not its own metadata (Kyverno autogen)', () => {
  for (const kinds of ['  match: {kinds: [Pod]}\n', '']) {
    const e = new GovernanceEngine([policy('p', `${kinds}  labels: {team: {required: true}}`)]);
    assert.deepEqual(denials(e, deploymentWith('{}', '{team: a}')), []);
    assert.deepEqual(denials(e, deploymentWith('{team: a}', '{}')), ['require-labels spec.template.metadata.labels.team']);
    assert.deepEqual(denials(e, yamlObject('{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: a, image: b}]}}')), ['require-labels metadata.labels.team']);
  }
});

test('a policy naming controller kinds checks their own metadata; target and per-rule target override the default', () => {
  const own = new GovernanceEngine([policy('p', `  match: {kinds: [Deployment]}\n  labels: {team: {required: true}}`)]);
  assert.deepEqual(denials(own, deploymentWith('{team: a}', '{}')), []);
  assert.deepEqual(denials(own, deploymentWith('{}', '{team: a}')), ['require-labels metadata.labels.team']);
  const both = new GovernanceEngine([policy('p', `  match: {kinds: [Deployment]}\n  target: both\n  labels: {team: {required: true}, tier: {required: true, target: podTemplate}}`)]);
  assert.deepEqual(denials(both, deploymentWith('{}', '{}')), [
    'require-labels metadata.labels.team',
    'require-labels spec.template.metadata.labels.team',
    'require-labels spec.template.metadata.labels.tier',
  ]);
});

test('validation never mutates: a validate-only rule leaves a denied object unpatched', () => {
  const e = new GovernanceEngine([policy('p', `  labels: {team: {required: true, allowed: [a, b]}}`)]);
  const r = e.review(deploymentWith('{team: a}', '{}'), { namespace: 'x' });
  assert.deepEqual(r.mutation.patch, []);
  assert.equal(r.validation.decision.allowed, false);
});

test('a default is written only where its rule applies; copyToPodTemplate copies the object value first', () => {
  const tmpl = new GovernanceEngine([policy('p', `  labels: {team: {default: core}}`)]);
  assert.deepEqual(tmpl.mutate(deploymentWith('{}', '{}'), { namespace: 'x' }).patch.map((o) => o.path), ['/spec/template/metadata/labels/team']);
  const own = new GovernanceEngine([policy('p', `  target: object\n  labels: {team: {default: core}}`)]);
  assert.deepEqual(own.mutate(deploymentWith('{}', '{}'), { namespace: 'x' }).patch.map((o) => o.path), ['/metadata/labels/team']);
  const copy = new GovernanceEngine([policy('p', `  labels: {team: {default: core, copyToPodTemplate: true}}`)]);
  const m = copy.mutate(deploymentWith('{team: web}', '{}'), { namespace: 'x' });
  assert.deepEqual(m.patch, [{ op: 'add', path: '/spec/template/metadata/labels/team', value: 'web' }], "the object's value wins over the template's default");
});

test('overwrite: the default replaces a value that differs, as an RFC 6902 add on the member; idempotent', () => {
  const e = new GovernanceEngine([policy('p', `  target: both\n  annotations: {cluster-autoscaler.kubernetes.io/safe-to-evict: {default: 'true', overwrite: true}}`)]);
  const d = yamlObject(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, annotations: {cluster-autoscaler.kubernetes.io/safe-to-evict: 'false'}}
spec: {template: {metadata: {annotations: {cluster-autoscaler.kubernetes.io/safe-to-evict: 'true'}}, spec: {containers: [{name: a, image: b}]}}}
`);
  const m = e.mutate(d, { namespace: 'x' });
  assert.deepEqual(m.patch, [{ op: 'add', path: '/metadata/annotations/cluster-autoscaler.kubernetes.io~1safe-to-evict', value: 'true' }]);
  const got = applyAddPatch(d, m.patch) as any;
  assert.equal(got.metadata.annotations['cluster-autoscaler.kubernetes.io/safe-to-evict'], 'true');
  assert.equal((d as any).metadata.annotations['cluster-autoscaler.kubernetes.io/safe-to-evict'], 'false', 'the input is not changed');
  assert.deepEqual(e.mutate(got, { namespace: 'x' }).patch, []);
  const keep = new GovernanceEngine([policy('p', `  target: object\n  annotations: {cluster-autoscaler.kubernetes.io/safe-to-evict: {default: 'true'}}`)]);
  assert.deepEqual(keep.mutate(d, { namespace: 'x' }).patch, [], 'without overwrite a set value stays');
  // A later policy's overwrite wins over an earlier plain default, and the result is a fixed point.
  const two = new GovernanceEngine([policy('a', `  target: object\n  labels: {x: {default: 'no'}}`), policy('b', `  target: object\n  labels: {x: {default: 'yes', overwrite: true}}`)]);
  const once = two.mutate(deploymentWith('{}', '{}'), { namespace: 'x' }).mutated as any;
  assert.equal(once.metadata.labels.x, 'yes');
  assert.deepEqual(two.mutate(once, { namespace: 'x' }).patch, []);
});

// ---------------------------------------------------------------- values and keys, issue 13

test('required means present and non-empty; forbidden keys; forbiddenValues', () => {
  const e = new GovernanceEngine([policy('p', `  labels:\n    team: {required: true}\n    debug: {forbidden: true}\n    env: {forbiddenValues: [default, test]}`)]);
  const pod = (labels: string) => yamlObject(`{apiVersion: v1, kind: Pod, metadata: {name: p, labels: ${labels}}, spec: {containers: [{name: a, image: b}]}}`);
  const messages = (labels: string) => e.validate(pod(labels), { namespace: 'x' }).decision.denials.map(formatViolation);
  assert.deepEqual(messages("{team: ''}"), ['metadata.labels.team must not be empty (policy p, rule require-labels)']);
  assert.deepEqual(messages("{team: a, debug: 'on', env: test}"), [
    'metadata.labels.debug is forbidden (policy p, rule forbidden-labels)',
    'metadata.labels.env must not be "test" (policy p, rule label-values)',
  ]);
  assert.deepEqual(messages('{team: a, env: prod}'), []);
});

test('key wildcards: forbidden for every match, allowedKeys under a prefix, required by at least one, values per key', () => {
  const e = new GovernanceEngine([
    policy(
      'p',
      `  annotations:
    fluxcd.io/*: {forbidden: true}
    corp.example.com/*: {allowedKeys: [corp.example.com/team, corp.example.com/cost-*], pattern: '^[a-z0-9-]+$'}
    owner.example.com/?*: {required: true}`,
    ),
  ]);
  const pod = (annotations: string) => yamlObject(`{apiVersion: v1, kind: Pod, metadata: {name: p, annotations: ${annotations}}, spec: {containers: [{name: a, image: b}]}}`);
  const found = (a: string) => e.validate(pod(a), { namespace: 'x' }).decision.denials.map((d) => `${d.rule} ${d.path}`);
  assert.deepEqual(found('{owner.example.com/team: a}'), []);
  assert.deepEqual(found("{fluxcd.io/automated: 'true', fluxcd.io/tag.app: x, owner.example.com/team: a}"), [
    'forbidden-annotations metadata.annotations["fluxcd.io/automated"]',
    'forbidden-annotations metadata.annotations["fluxcd.io/tag.app"]',
  ]);
  assert.deepEqual(found('{corp.example.com/team: a, corp.example.com/cost-center: b, corp.example.com/secret: c, corp.example.com/cost-x: Bad, owner.example.com/x: y}'), [
    'forbidden-annotations metadata.annotations["corp.example.com/secret"]',
    'annotation-values metadata.annotations["corp.example.com/cost-x"]',
  ]);
  assert.deepEqual(found("{owner.example.com/team: ''}"), ['require-annotations metadata.annotations["owner.example.com/?*"]']);
  // The same matcher as namespace names: linear in pattern × key, whatever the stars.
  const long = `${'a'.repeat(60)}/` + 'b'.repeat(63);
  const stars = new GovernanceEngine([policy('p', `  annotations:\n    '*a*a*a*a*a*a*a*a*c': {forbidden: true}`)]);
  const t0 = performance.now();
  assert.deepEqual(stars.validate(pod(`{'${long}': x}`), { namespace: 'x' }).decision.denials, []);
  assert.ok(performance.now() - t0 < 1000);
});

test('label and annotation rules apply to any kind a policy names: Service, ConfigMap, custom resources by group', () => {
  const e = new GovernanceEngine([
    policy('svc', `  match: {kinds: [Service, v1/ConfigMap, example.com/Widget]}\n  labels: {team: {required: true, default: core}}\n  annotations: {fluxcd.io/*: {forbidden: true}}`),
    policy('res', `  match: {kinds: [Pod]}\n  resources: {require: [limits.memory]}`),
  ]);
  const obj = (apiVersion: string, kind: string, meta = '{name: o}') => yamlObject(`{apiVersion: ${apiVersion}, kind: ${kind}, metadata: ${meta}}`);
  for (const [apiVersion, kind] of [['v1', 'Service'], ['v1', 'ConfigMap'], ['example.com/v1', 'Widget']] as const) {
    const m = e.mutate(obj(apiVersion, kind), { namespace: 'x' });
    assert.deepEqual(m.patch, [{ op: 'add', path: '/metadata/labels', value: { team: 'core' } }], kind);
    assert.deepEqual(e.validate(obj(apiVersion, kind, "{name: o, labels: {team: ''}, annotations: {fluxcd.io/a: b}}"), { namespace: 'x' }).decision.denials.map((d) => d.rule), ['require-labels', 'forbidden-annotations'], kind);
  }
  assert.equal(e.validate(obj('other.io/v1', 'Widget'), { namespace: 'x' }).skipped, 'kind', 'a Widget of another group is not named');
  assert.equal(e.validate(obj('v1', 'Secret'), { namespace: 'x' }).skipped, 'kind');
});

test('group/version/Kind matches that version only; Pod in exceptions means pods only', () => {
  const e = new GovernanceEngine([
    policy('v', `  match: {kinds: [example.com/v2/Widget, core/Service]}\n  labels: {team: {required: true}}\n  exceptions: [{kinds: [Service], reason: 'services are owned by the platform'}]`),
  ]);
  const w = (v: string) => yamlObject(`{apiVersion: example.com/${v}, kind: Widget, metadata: {name: w}}`);
  assert.equal(e.validate(w('v2'), { namespace: 'x' }).decision.allowed, false);
  assert.equal(e.validate(w('v1'), { namespace: 'x' }).policies.length, 0);
  const svc = e.validate(yamlObject('{apiVersion: v1, kind: Service, metadata: {name: s}}'), { namespace: 'x' });
  assert.deepEqual(svc.decision.exceptions.map((x) => x.rule), ['require-labels']);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GovernanceEngine } from './engine.js';
import { policy, yamlObject } from './testing.js';
import { transitionAllowed } from './immutable.js';
import { parsePolicyText } from '../policy/parse.js';

const P = policy(
  'stable-identity',
  `
  target: object
  labels:
    team: {immutable: true}
    stage: {immutable: true, transitions: [{from: dev, to: staging}, {from: staging, to: prod}, {to: '*'}]}
  annotations:
    owner.example.com/ticket: {immutable: true, transitions: [{from: '*'}]}
`,
);
const engine = new GovernanceEngine([P]);

const dep = (labels: string, annotations = '{}') =>
  yamlObject(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: ${labels}, annotations: ${annotations}}
spec: {template: {spec: {containers: [{name: a, image: x}]}}}
`);

const update = (now: unknown, old: unknown) => engine.validate(now, { namespace: 'shop', operation: 'UPDATE', oldObject: old });

test('immutable: added, changed and removed are refused on UPDATE; unchanged and absent on both pass; CREATE is not checked', () => {
  const denials = (now: unknown, old: unknown) => update(now, old).decision.denials.map((r) => `${r.path} ${r.message} (${r.rule})`);
  assert.deepEqual(denials(dep('{team: a}'), dep('{team: a}')), []);
  assert.deepEqual(denials(dep('{}'), dep('{}')), []);
  assert.deepEqual(denials(dep('{team: b}'), dep('{team: a}')), ['metadata.labels.team cannot be changed by an update (was "a", is "b") (immutable-labels)']);
  assert.deepEqual(denials(dep('{team: a}'), dep('{}')), ['metadata.labels.team cannot be added by an update (is "a") (immutable-labels)']);
  assert.deepEqual(denials(dep('{}'), dep('{team: a}')), ['metadata.labels.team cannot be removed by an update (was "a") (immutable-labels)']);
  assert.equal(engine.validate(dep('{team: a}'), { namespace: 'shop' }).decision.allowed, true);
});

test('transitions: listed changes pass, "*" is any present value, an omitted side is absent', () => {
  const ok = (now: string, old: string, ann = '{}', oldAnn = '{}') => update(dep(now, ann), dep(old, oldAnn)).decision.allowed;
  assert.equal(ok('{stage: staging}', '{stage: dev}'), true);
  assert.equal(ok('{stage: prod}', '{stage: staging}'), true);
  assert.equal(ok('{stage: prod}', '{stage: dev}'), false, 'dev → prod is not listed');
  assert.equal(ok('{stage: dev}', '{stage: staging}'), false, 'not backwards');
  assert.equal(ok('{stage: dev}', '{}'), true, '{to: "*"}: may be added with any value');
  assert.equal(ok('{}', '{stage: dev}'), false, 'but not removed');
  assert.equal(ok('{}', '{}', '{}', '{owner.example.com/ticket: T-1}'), true, '{from: "*"}: may be removed');
  assert.equal(ok('{}', '{}', '{owner.example.com/ticket: T-2}', '{owner.example.com/ticket: T-1}'), false);
  assert.equal(transitionAllowed([{ from: '*', to: '*' }], 'a', undefined), false);
  assert.equal(transitionAllowed([{ from: '*', to: '*' }], 'a', 'b'), true);
});

test('immutable is never excused as pre-existing (allowExistingViolations), but exceptions still apply', () => {
  const d = update(dep('{team: b}'), dep('{team: a}'));
  assert.equal(d.decision.allowed, false);
  assert.doesNotMatch(d.decision.denials[0]!.message, /pre-existing/);
  const excused = new GovernanceEngine([
    policy('x', `\n  target: object\n  labels:\n    team: {immutable: true}\n  exceptions: [{name: web, rules: [immutable-labels], reason: re-org}]\n`),
  ]);
  const r = excused.validate(dep('{team: b}'), { namespace: 'shop', operation: 'UPDATE', oldObject: dep('{team: a}') });
  assert.equal(r.decision.allowed, true);
  assert.deepEqual(r.decision.exceptions.map((x) => x.rule), ['immutable-labels']);
});

test('a default re-fills a removed immutable key before validation: removing it then changes nothing', () => {
  const e = new GovernanceEngine([policy('d', `\n  target: object\n  labels:\n    team: {immutable: true, default: core}\n`)]);
  const r = e.review(dep('{}'), { namespace: 'shop', operation: 'UPDATE', oldObject: dep('{team: core}') });
  assert.equal(r.validation.decision.allowed, true);
  const changed = e.review(dep('{}'), { namespace: 'shop', operation: 'UPDATE', oldObject: dep('{team: other}') });
  assert.deepEqual(changed.validation.decision.denials.map((x) => x.message), ['cannot be changed by an update (was "other", is "core")']);
});

test('transitions without immutable, an empty transition and an invalid label value are refused at load', () => {
  const errs = (rule: string) =>
    parsePolicyText(`apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: x}\nspec:\n  labels:\n    team: ${rule}\n`, 'p.yaml').errors.map((e) => `${e.path}: ${e.message}`);
  assert.match(errs('{transitions: [{from: a, to: b}]}')[0]!, /^spec\.labels\.team\.transitions: needs immutable: true/);
  assert.match(errs('{immutable: true, transitions: [{}]}')[0]!, /^spec\.labels\.team\.transitions\[0\]/);
  assert.match(errs('{immutable: true, transitions: [{to: "not ok"}]}')[0]!, /^spec\.labels\.team\.transitions\[0\]\.to: "not ok" is not a valid label value/);
  assert.deepEqual(errs('{immutable: true, transitions: [{from: a}, {to: "*"}]}'), []);
});

test('immutable follows the target: the pod template for podTemplate, both places for both, a Pod\'s one metadata whatever the target', () => {
  const withTemplate = (own: string, tpl: string) =>
    yamlObject(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: ${own}}
spec: {template: {metadata: {labels: ${tpl}}, spec: {containers: [{name: a, image: x}]}}}
`);
  const denials = (target: string, now: unknown, old: unknown) =>
    new GovernanceEngine([policy('t', `\n  target: ${target}\n  labels:\n    team: {immutable: true}\n`)])
      .validate(now, { namespace: 'shop', operation: 'UPDATE', oldObject: old })
      .decision.denials.map((r) => r.path);
  // Only the template's value changes.
  const tplChanged = [withTemplate('{team: a}', '{team: b}'), withTemplate('{team: a}', '{team: a}')] as const;
  assert.deepEqual(denials('object', ...tplChanged), []);
  assert.deepEqual(denials('podTemplate', ...tplChanged), ['spec.template.metadata.labels.team']);
  assert.deepEqual(denials('both', ...tplChanged), ['spec.template.metadata.labels.team']);
  // Only the object's own value changes.
  const ownChanged = [withTemplate('{team: b}', '{team: a}'), withTemplate('{team: a}', '{team: a}')] as const;
  assert.deepEqual(denials('object', ...ownChanged), ['metadata.labels.team']);
  assert.deepEqual(denials('podTemplate', ...ownChanged), []);
  assert.deepEqual(denials('both', withTemplate('{team: b}', '{team: b}'), withTemplate('{team: a}', '{team: a}')), ['metadata.labels.team', 'spec.template.metadata.labels.team']);
  const pod = (labels: string) => yamlObject(`\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, labels: ${labels}}\nspec: {containers: [{name: a, image: x}]}\n`);
  for (const target of ['object', 'podTemplate', 'both']) assert.deepEqual(denials(target, pod('{team: b}'), pod('{team: a}')), ['metadata.labels.team'], target);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GovernanceEngine } from './engine.js';
import { policy, yamlObject } from './testing.js';
import { parsePolicyText } from '../policy/parse.js';
import { formatPolicyError } from '../policy/types.js';

const guard = (mode = 'enforce', extra = '') =>
  policy(
    'guard',
    `  mode: ${mode}
  match: {kinds: [Deployment]}
  variables:
    - {name: containers, expression: "object.spec.template.spec.containers"}
  validations:
    - name: max-replicas
      expression: "!has(object.spec.replicas) || object.spec.replicas <= 10"
      messageExpression: "'at most 10 replicas, got ' + string(object.spec.replicas)"
    - expression: "variables.containers.all(c, !c.image.endsWith(':latest'))"
      message: no latest images
${extra}`,
  );
const deployment = (replicas: number, image = 'a:1', meta = '{name: web}') =>
  yamlObject(`apiVersion: apps/v1\nkind: Deployment\nmetadata: ${meta}\nspec: {replicas: ${replicas}, template: {spec: {containers: [{name: a, image: '${image}'}]}}}`);

test('validations: a false expression denies in enforce with its message or messageExpression, rule cel family', () => {
  const e = new GovernanceEngine([guard()]);
  assert.equal(e.validate(deployment(3), { namespace: 'shop' }).decision.allowed, true);
  const d = e.validate(deployment(30, 'a:latest'), { namespace: 'shop' }).decision;
  assert.equal(d.allowed, false);
  assert.deepEqual(
    d.denials.map((r) => [r.rule, r.family, r.message]),
    [
      ['max-replicas', 'cel', 'at most 10 replicas, got 30'],
      ['validations[1]', 'cel', 'no latest images'],
    ],
  );
  const audit = new GovernanceEngine([guard('audit')]).validate(deployment(30), { namespace: 'shop' }).decision;
  assert.equal(audit.allowed, true);
  assert.deepEqual(audit.warnings.map((r) => r.rule), ['max-replicas']);
});

test('an expression that errors or runs out of budget fails closed in enforce and warns in audit', () => {
  const bad = (mode: string) => policy('bad', `  mode: ${mode}\n  validations:\n    - expression: "object.spec.nope > 1"\n`);
  const d = new GovernanceEngine([bad('enforce')]).validate(deployment(1), { namespace: 'shop' }).decision;
  assert.equal(d.allowed, false);
  assert.equal(d.denials[0]!.status, 'error');
  assert.match(d.denials[0]!.message, /could not be evaluated: field not found: nope/);
  const a = new GovernanceEngine([bad('audit')]).validate(deployment(1), { namespace: 'shop' }).decision;
  assert.equal(a.allowed, true);
  assert.equal(a.warnings[0]!.status, 'error');
  const ten = '[1,2,3,4,5,6,7,8,9,10]';
  const costly = policy('costly', `  validations:\n    - expression: "${ten}.all(a, ${ten}.all(b, ${ten}.all(c, ${ten}.all(d, ${ten}.all(e, ${ten}.all(f, ${ten}.all(g, true)))))))"\n`);
  const t0 = performance.now();
  const c = new GovernanceEngine([costly]).validate(deployment(1), { namespace: 'shop' }).decision;
  assert.ok(performance.now() - t0 < 2_000);
  assert.equal(c.allowed, false);
  assert.match(c.denials[0]!.message, /(cost budget|time limit) .* exceeded/);
});

test('request, oldObject and namespaceObject as in a ValidatingAdmissionPolicy; exceptions name the family or the rule', () => {
  const p = policy(
    'vars',
    `  validations:
    - {name: immutable-team, expression: "oldObject == null || oldObject.metadata.labels.team == object.metadata.labels.team"}
    - {name: ns-tier, expression: "namespaceObject.metadata.labels.tier == 'prod' ? request.userInfo.username != 'bob' : true"}
  exceptions:
    - {name: legacy, rules: [ns-tier], reason: legacy}
`,
  );
  const e = new GovernanceEngine([p]);
  const d = e.validate(deployment(1, 'a:1', '{name: web, labels: {team: b}}'), {
    namespace: 'shop',
    operation: 'UPDATE',
    oldObject: deployment(1, 'a:1', '{name: web, labels: {team: a}}'),
    requestedBy: 'bob',
    namespaceInfo: { labels: { tier: 'prod' }, annotations: {} },
  }).decision;
  assert.deepEqual(d.denials.map((r) => r.rule), ['immutable-team', 'ns-tier']);
  const legacy = e.validate(deployment(1, 'a:1', '{name: legacy, labels: {team: b}}'), { namespace: 'shop', requestedBy: 'bob', namespaceInfo: { labels: { tier: 'prod' }, annotations: {} } }).decision;
  assert.equal(legacy.allowed, true);
  assert.deepEqual(legacy.exceptions.map((r) => r.rule), ['ns-tier']);
});

test('a broken expression is a load error with its path (and the position inside the expression)', () => {
  const r = parsePolicyText(
    `apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: broken}
spec:
  validations:
    - expression: "object.spec.replicas <= "
    - {name: require-labels, expression: "true"}
  exceptions: [{rules: [nope], reason: x}]
`,
    'broken.yaml',
  );
  const lines = r.errors.map(formatPolicyError);
  assert.equal(r.policies.length, 0);
  assert.ok(lines.some((l) => /broken\.yaml:6:\d+.*spec\.validations\[0\]\.expression.*invalid CEL: syntax error.*at 1:22 of the expression/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /spec\.validations\[1\]\.name.*built-in rule/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /unknown rule "nope"/.test(l)), lines.join('\n'));
});

test('CEL validations apply to the kinds named, without Pod autogen', () => {
  const p = policy('pods', `  match: {kinds: [Pod]}\n  validations:\n    - expression: "object.spec.containers.size() <= 1"\n`);
  const e = new GovernanceEngine([p]);
  assert.equal(e.validate(deployment(1), { namespace: 'shop' }).decision.allowed, true);
  const pod = yamlObject(`apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: a}, {name: b, image: b}]}`);
  assert.equal(e.validate(pod, { namespace: 'shop' }).decision.allowed, false);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicyText } from './parse.js';
import { formatPolicyError } from './types.js';
import type { GovernancePolicy } from './governance-policy.js';
import { quantityToNumber } from '../common/quantity.js';

const doc = (spec: string) => `apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: p}\nspec:\n${spec}`;

test('the issue contract shape loads and compiles (selectors, quantities, regexes, families, Pod autogen)', () => {
  const r = parsePolicyText(
    doc(`  mode: enforce
  match:
    kinds: [Pod]
    namespaceSelector: {matchExpressions: [{key: tier, operator: In, values: [prod]}]}
  exclude: {namespaces: [kube-system]}
  resources:
    require: [requests.cpu, requests.memory, limits.memory]
    max: {cpu: "4", memory: 8Gi}
    maxLimitRequestRatio: {cpu: 4}
    defaults: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 512Mi}}
  labels:
    governor.io/migration: {allowed: [live, restart, pinned], default: restart}
    owner: {required: true, pattern: '^[a-z][a-z0-9-]*$'}
  annotations:
    cost-center: {required: true}
  exceptions:
    - {namespace: legacy, name: old-batch, rules: [resources], reason: 'sunset 2027-01'}
`),
    'p.yaml',
  );
  assert.deepEqual(r.errors, []);
  const p = r.policies[0] as GovernancePolicy;
  assert.equal(p.mode, 'enforce');
  assert.deepEqual([...p.match.kinds!].sort(), ['CronJob', 'DaemonSet', 'Deployment', 'Job', 'Pod', 'ReplicaSet', 'StatefulSet']);
  assert.deepEqual(p.match.namespaceSelector, [{ key: 'tier', operator: 'In', values: ['prod'] }]);
  assert.equal(quantityToNumber(p.resources!.max.find((m) => m.resource === 'memory')!.value), 8 * 2 ** 30);
  assert.deepEqual(p.resources!.require, [
    { section: 'requests', resource: 'cpu' },
    { section: 'requests', resource: 'memory' },
    { section: 'limits', resource: 'memory' },
  ]);
  assert.equal(p.labels[0]!.family, 'migration');
  assert.equal(p.labels[1]!.family, 'labels');
  assert.ok(p.labels[1]!.pattern!.test('team-a'));
  assert.equal(p.migration, true);
  assert.equal(p.allowExistingViolations, true);
  assert.equal(p.allowExceptionAnnotations.size, 0);
  assert.ok(p.exceptions[0]!.rules!.has('resources'));
});

test('semantic errors name their path: bad keys, values, regexes, defaults above max or limit, unknown rule names', () => {
  const r = parsePolicyText(
    doc(`  resources:
    max: {memory: 1Gi}
    maxLimitRequestRatio: {memory: 2}
    defaults: {requests: {memory: 256Mi}, limits: {memory: 2Gi}}
  labels:
    "bad key!": {required: true}
    tier: {allowed: [web, "not valid"], default: api}
    governor.io/migration: {allowed: [live, teleport]}
    re: {pattern: '(', default: x}
  exceptions: [{rules: [resourcez], reason: r}]
  allowExceptionAnnotations: [labels, nope]
`),
    'bad.yaml',
  );
  const msgs = r.errors.map(formatPolicyError).join('\n');
  for (const expected of [
    'spec.resources.defaults.limits.memory: default 2Gi is above spec.resources.max.memory (1Gi)',
    'spec.resources.defaults.limits.memory: default limit/request ratio 8 is above maxLimitRequestRatio.memory (2)',
    'spec.labels["bad key!"]: "bad key!" is not a valid label key',
    'spec.labels.tier.allowed[1]: "not valid" is not a valid label value',
    'spec.labels.tier.default: default "api" is not one of the allowed values (web, not valid)',
    'spec.labels["governor.io/migration"].allowed: governor.io/migration can only be live, restart, pinned; remove teleport',
    'spec.labels.re.pattern: invalid regular expression',
    'spec.exceptions[0].rules[0]: unknown rule "resourcez"',
    'spec.allowExceptionAnnotations[1]: unknown rule "nope"',
  ]) {
    assert.ok(msgs.includes(expected), `missing: ${expected}\n---\n${msgs}`);
  }
  assert.ok(r.errors.every((e) => e.line !== undefined && e.file === 'bad.yaml'));
});

test('unknown fields and wrong modes are schema errors; allowExistingViolations can be turned off', () => {
  const r = parsePolicyText(doc(`  mode: warn\n  labelz: {}\n`), 'x.yaml');
  const msgs = r.errors.map(formatPolicyError).join('\n');
  assert.match(msgs, /spec\.mode: must be one of "enforce", "audit"/);
  assert.match(msgs, /spec\.labelz: is not a known field/);
  const ok = parsePolicyText(doc(`  allowExistingViolations: false\n  exclude: {}\n`), 'y.yaml');
  assert.deepEqual(ok.errors, []);
  const p = ok.policies[0] as GovernancePolicy;
  assert.equal(p.allowExistingViolations, false);
  assert.equal(p.exclude, undefined, 'an empty exclude excludes nothing');
});

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
  assert.deepEqual([...p.match.kinds!.names].sort(), ['CronJob', 'DaemonSet', 'Deployment', 'Job', 'Pod', 'ReplicaSet', 'StatefulSet']);
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

test('patterns RE2 cannot run are refused at parse, naming the path and what to use instead', () => {
  const r = parsePolicyText(
    doc(`  labels:
    team: {pattern: '^(?!default$)[a-z-]+$'}
  annotations:
    owner: {pattern: '^(\\w+)@\\1$'}
    email: {pattern: '(?<=@)example\\.com$'}
`),
    'lookaround.yaml',
  );
  const msgs = r.errors.map(formatPolicyError);
  assert.equal(r.policies.length, 0);
  assert.ok(
    msgs.some((m) => m.includes('spec.labels.team.pattern: invalid regular expression: lookahead (?!…) is not supported: patterns run on RE2 (linear time); use an allowed list or split the rule')),
    msgs.join('\n'),
  );
  assert.ok(msgs.some((m) => m.includes('spec.annotations.owner.pattern: invalid regular expression: backreference \\1 is not supported')), msgs.join('\n'));
  assert.ok(msgs.some((m) => m.includes('spec.annotations.email.pattern: invalid regular expression: lookbehind (?<=…) is not supported')), msgs.join('\n'));
  assert.ok(r.errors.every((e) => e.file === 'lookaround.yaml' && e.line !== undefined));
});

test('compiled patterns are RE2: the kebab-case pattern of issue 11 answers at once on a hostile value', () => {
  const r = parsePolicyText(doc(`  annotations:\n    cost-center: {required: true, pattern: '^([a-z0-9]+-?)*$'}\n`), 'p.yaml');
  const p = r.policies[0] as GovernancePolicy;
  const started = performance.now();
  assert.equal(p.annotations[0]!.pattern!.test(`${'a'.repeat(40)}!`), false);
  assert.equal(p.annotations[0]!.pattern!.test('team-a-42'), true);
  assert.ok(performance.now() - started < 100);
});

test('namespace and name wildcards match like the regexes they replace, in linear time', async () => {
  const { compileNamePattern, globMatch } = await import('./governance-policy.js');
  const toRegExp = (p: string) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  const fc = (await import('fast-check')).default;
  const unit = fc.constantFrom('a', 'b', '-', '.');
  fc.assert(
    fc.property(fc.string({ unit: fc.oneof(unit, fc.constantFrom('*', '?')), maxLength: 8 }), fc.string({ unit, maxLength: 12 }), (p, n) => globMatch(p, n) === toRegExp(p).test(n)),
    { numRuns: 2000 },
  );
  assert.equal(compileNamePattern('team-*').test('team-a'), true);
  assert.equal(compileNamePattern('team-?').test('team-ab'), false);
  assert.equal(compileNamePattern('kube-system').exact, true);
  // Seven stars against a 253-character name: a regex backtracks through 253^7 ways; this takes pattern × name steps.
  const started = performance.now();
  assert.equal(compileNamePattern('*a*a*a*a*a*a*b').test('a'.repeat(253)), false);
  assert.ok(performance.now() - started < 50);
});

test('issue 13: kinds in Kyverno forms, targets, wildcard keys and their misuses are refused with paths', () => {
  const ok = parsePolicyText(
    doc(`  match: {kinds: [Pod, Service, v1/ConfigMap, core/Secret, networking.k8s.io/Ingress, example.com/v1beta1/Widget]}
  target: both
  labels:
    team: {required: true, default: a, overwrite: true, target: object, copyToPodTemplate: true}
    fluxcd.io/*: {forbidden: true}
    corp.example.com/*: {allowedKeys: [corp.example.com/team]}
    env: {forbiddenValues: [default]}
  resources: {require: [limits.memory]}
`),
    'ok.yaml',
  );
  assert.deepEqual(ok.errors, []);
  const p = ok.policies[0] as GovernancePolicy;
  assert.deepEqual([...p.match.kinds!.names].sort(), ['ConfigMap', 'CronJob', 'DaemonSet', 'Deployment', 'Ingress', 'Job', 'Pod', 'ReplicaSet', 'Secret', 'Service', 'StatefulSet', 'Widget']);
  assert.equal(p.match.kinds!.has('', 'v1', 'ConfigMap'), true);
  assert.equal(p.match.kinds!.has('example.com', 'v1', 'Widget'), false, 'the version is part of group/version/Kind');
  assert.equal(p.match.kinds!.has('example.com', 'v1beta1', 'Widget'), true);
  assert.equal(p.match.kinds!.has('extensions', 'v1beta1', 'Ingress'), false);
  assert.deepEqual(p.labels.map((l) => [l.key, l.onObject, l.onTemplate, l.wildcard !== undefined]), [
    ['team', true, false, false],
    ['fluxcd.io/*', true, true, true],
    ['corp.example.com/*', true, true, true],
    ['env', true, true, false],
  ]);

  // Tag rules each refused for a reason of its own: with schema errors beside them, then alone.
  const misusedTags = `    fluxcd.io/*: {default: x, fromNamespace: true}
    team: {allowedKeys: [a], overwrite: true}
    gone: {forbidden: true, required: true}
    empty: {required: true, default: ''}
    banned: {default: x, forbiddenValues: [x]}
    governor.io/migration: {target: podTemplate}
`;
  const bad = parsePolicyText(
    doc(`  match: {kinds: ['*', 'a/b/c/Pod', 'Not_A_Kind', 'apps/vx/Deployment']}
  target: pods
  labels:
${misusedTags}`),
    'bad.yaml',
  );
  const msgs = bad.errors.map(formatPolicyError).join('\n');
  for (const expected of ['spec.match.kinds[0]', 'spec.match.kinds[1]', 'spec.match.kinds[2]', 'spec.match.kinds[3]', 'spec.target: must be one of "object", "podTemplate", "both"']) {
    assert.ok(msgs.includes(expected), `missing: ${expected}\n---\n${msgs}`);
  }
  const semantic = parsePolicyText(
    doc(`  labels:
${misusedTags}`),
    'semantic.yaml',
  );
  const s = semantic.errors.map(formatPolicyError).join('\n');
  for (const expected of [
    'spec.labels["fluxcd.io/*"].default: a wildcard key cannot have default',
    'spec.labels["fluxcd.io/*"].fromNamespace: a wildcard key cannot have fromNamespace',
    'spec.labels.team.allowedKeys: allowedKeys needs a wildcard key',
    'spec.labels.team.overwrite: overwrite needs a default',
    'spec.labels.gone.forbidden: a forbidden key cannot also be required',
    'spec.labels.empty.default: an empty default never satisfies required',
    'spec.labels.banned.default: default "x" is one of the forbidden values',
    'spec.labels["governor.io/migration"].target: governor.io/migration is a migration label',
  ]) {
    assert.ok(s.includes(expected), `missing: ${expected}\n---\n${s}`);
  }
  assert.ok(semantic.errors.every((e) => e.line !== undefined));
});

test('issue 13: resource rules on a policy that names no pod-bearing kind are refused', () => {
  const r = parsePolicyText(doc(`  match: {kinds: [Service, ConfigMap]}\n  resources: {require: [limits.memory]}\n`), 'svc.yaml');
  assert.match(r.errors.map(formatPolicyError).join('\n'), /spec\.resources: resource rules act on pods and pod controllers only, and match\.kinds names none \(Service, ConfigMap\)/);
  assert.deepEqual(parsePolicyText(doc(`  match: {kinds: [Service, batch/Job]}\n  resources: {require: [limits.memory]}\n`), 'job.yaml').errors, []);
  assert.notDeepEqual(parsePolicyText(doc(`  match: {kinds: [example.com/Job]}\n  resources: {require: [limits.memory]}\n`), 'cr.yaml').errors, [], 'a Job of another group carries no known pod spec');
});

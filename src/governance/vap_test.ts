import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exportPolicies, globRegex, parseKubeVersion, selectorCel, TRANSLATORS } from './vap.js';
import { policy } from './testing.js';
import { compilePattern } from '../common/pattern.js';

const byKind = (objects: readonly Record<string, any>[], kind: string) => objects.filter((o) => o.kind === kind);

test('kube versions: "1.37", "v1.37.2"; garbage is refused', () => {
  assert.deepEqual(parseKubeVersion('v1.37.2'), { major: 1, minor: 37 });
  assert.deepEqual(parseKubeVersion('1.30'), { major: 1, minor: 30 });
  assert.equal(parseKubeVersion('latest'), undefined);
});

test('a policy becomes a ValidatingAdmissionPolicy and its binding: Deny for enforce, Warn+Audit for audit; kinds as resources', () => {
  const enforce = policy('p', `  target: object
  match: {kinds: [Pod], namespaces: [shop, 'team-*']}\n  labels: {owner: {required: true, pattern: '^[a-z]+$'}}\n`);
  const audit = policy('q', `  target: object
  mode: audit\n  match: {kinds: [CronJob]}\n  annotations: {note: {allowed: [a, b]}}\n`);
  const r = exportPolicies([enforce, audit]);
  const [vp, vq] = byKind(r.objects, 'ValidatingAdmissionPolicy');
  const [bp, bq] = byKind(r.objects, 'ValidatingAdmissionPolicyBinding');
  assert.equal(vp!.metadata.name, 'governor-p');
  assert.equal(vp!.spec.failurePolicy, 'Fail');
  assert.deepEqual(bp!.spec, { policyName: 'governor-p', validationActions: ['Deny'] });
  assert.deepEqual(bq!.spec.validationActions, ['Warn', 'Audit']);
  assert.equal(vq!.spec.failurePolicy, 'Fail');
  // Pod covers the pod controllers (autogen): every group's resources are listed.
  assert.deepEqual(
    vp!.spec.matchConstraints.resourceRules.map((x: any) => [x.apiGroups[0], x.resources]),
    [
      ['', ['pods']],
      ['apps', ['deployments', 'statefulsets', 'daemonsets', 'replicasets']],
      ['batch', ['jobs', 'cronjobs']],
    ],
  );
  assert.deepEqual(vq!.spec.matchConstraints.resourceRules, [{ apiGroups: ['batch'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['cronjobs'], scope: 'Namespaced' }]);
  // The webhook's never-evaluated namespaces stay out; namespace globs become a match condition.
  assert.deepEqual(vp!.spec.matchConstraints.namespaceSelector.matchExpressions[0], { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-governor'] });
  assert.deepEqual(vp!.spec.matchConditions[0], { name: 'governor-not-deleting', expression: '!has(object.metadata.deletionTimestamp)' });
  assert.match(vp!.spec.matchConditions[1].expression, /request\.namespace == "shop" \|\| request\.namespace\.matches\("\^team-\.\*\$"\)/);
  const exprs = vp!.spec.validations.map((v: any) => v.expression).join('\n');
  assert.match(exprs, /object\.\?metadata\.\?labels\.orValue\(\{\}\)\[\?"owner"\]\.hasValue\(\)/);
  assert.match(exprs, /\.matches\("\^\[a-z\]\+\$"\)/);
});

test('what cannot be exported is listed per rule with a reason; MutatingAdmissionPolicy only from 1.36', () => {
  const p = policy(
    'd',
    `  target: object
  match: {kinds: [Deployment]}
  labels: {team: {required: true, default: platform}}
  resources:
    require: [requests.cpu, limits.memory]
    maxLimitRequestRatio: {cpu: 2}
    defaults: {requests: {cpu: 100m}}
`,
  );
  const old = exportPolicies([p], { kubeVersion: { major: 1, minor: 35 } });
  const rules = old.notExported.map((n) => `${n.rule} ${n.path}`);
  assert.ok(rules.includes('require-labels spec.labels["team"].required'), rules.join('\n'));
  assert.ok(rules.includes('default-labels spec.labels["team"].default'), rules.join('\n'));
  assert.ok(rules.includes('require-requests spec.resources.require'), rules.join('\n'));
  assert.ok(rules.includes('max-limit-request-ratio spec.resources.maxLimitRequestRatio.cpu'));
  assert.ok(rules.includes('default-resources spec.resources.defaults.requests.cpu'));
  assert.ok(old.notExported.every((n) => n.reason.length > 20));
  assert.equal(byKind(old.objects, 'MutatingAdmissionPolicy').length, 0);
  // limits.memory has no default: exported.
  assert.ok(byKind(old.objects, 'ValidatingAdmissionPolicy')[0]!.spec.validations.some((v: any) => /limits\.memory/.test(v.message)));

  const now = exportPolicies([p], { kubeVersion: { major: 1, minor: 37 } });
  const map = byKind(now.objects, 'MutatingAdmissionPolicy')[0]!;
  assert.equal(map.apiVersion, 'admissionregistration.k8s.io/v1');
  assert.match(map.spec.mutations[0].jsonPatch.expression, /JSONPatch\{op: "add", path: "\/metadata\/labels\/" \+ jsonpatch\.escapeKey\(e\[0\]\)/);
  assert.ok(map.spec.variables.some((v: any) => v.name === 'governor_labels' && v.expression.includes('"platform"')));
  assert.deepEqual(byKind(now.objects, 'MutatingAdmissionPolicyBinding')[0]!.spec, { policyName: 'governor-d' });
  // With the default exported, the requirement is too.
  assert.ok(!now.notExported.some((n) => n.rule === 'require-labels'));
});

test("another policy's default keeps a requirement from being exported without mutations", () => {
  const a = policy('a', `  target: object
  labels: {team: {required: true}}\n`);
  const b = policy('b', `  target: object
  labels: {team: {default: x}}\n`);
  assert.ok(exportPolicies([a, b]).notExported.some((n) => n.policy === 'a' && n.rule === 'require-labels'));
  assert.ok(!exportPolicies([a]).notExported.some((n) => n.rule === 'require-labels'));
});

test('CEL validations are exported as written, with variables, messageExpression and reason; exceptions guard them', () => {
  const p = policy(
    'c',
    `  target: object
  match: {kinds: [Pod]}
  variables: [{name: n, expression: "object.spec.containers.size()"}]
  validations:
    - {name: few, expression: "variables.n <= 3", messageExpression: "'too many: ' + string(variables.n)", reason: Invalid}
  exceptions: [{namespace: 'legacy-*', rules: [few], reason: old}]
`,
  );
  const r = exportPolicies([p]);
  assert.deepEqual(r.notExported, []);
  const vap = byKind(r.objects, 'ValidatingAdmissionPolicy')[0]!;
  assert.deepEqual(vap.spec.variables.find((v: any) => v.name === 'n'), { name: 'n', expression: 'object.spec.containers.size()' });
  assert.deepEqual(vap.spec.variables.find((v: any) => v.name === 'governor_exception0'), { name: 'governor_exception0', expression: 'request.namespace.matches("^legacy-.*$")' });
  const v = vap.spec.validations[0];
  // Pod's autogen widens the match; the validation itself runs on Pods only, as in the engine.
  assert.equal(v.expression, 'variables.governor_exception0 || (!(request.kind.kind in ["Pod"]) || (variables.n <= 3))');
  assert.equal(v.messageExpression, "'too many: ' + string(variables.n)");
  assert.equal(v.reason, 'Invalid');
});

test('exclude with a namespace selector becomes a guard (matchConditions cannot read the namespace); without, a match condition', () => {
  const p = policy('e', `  target: object
  labels: {a: {required: true}}\n  exclude: {namespaceSelector: {matchLabels: {tier: dev}}}\n`);
  const vap = byKind(exportPolicies([p]).objects, 'ValidatingAdmissionPolicy')[0]!;
  assert.ok(vap.spec.variables.some((v: any) => v.name === 'governor_excluded' && v.expression.includes('namespaceObject')));
  assert.ok(vap.spec.validations.every((v: any) => v.expression.startsWith('variables.governor_excluded || ')));
  const q = policy('f', `  target: object
  labels: {a: {required: true}}\n  exclude: {namespaces: [dev]}\n`);
  const vq = byKind(exportPolicies([q]).objects, 'ValidatingAdmissionPolicy')[0]!;
  assert.deepEqual(vq.spec.matchConditions.slice(1), [{ name: 'governor-exclude', expression: '!((request.namespace == "dev"))' }]);
});

test('globs and selectors as CEL; a glob regex matches what the glob matches', () => {
  const re = compilePattern(globRegex('team-*.a?c'));
  assert.equal(re.test('team-x.abc'), true);
  assert.equal(re.test('team-x.ac'), false);
  assert.equal(re.test('team-xxabc'), false);
  assert.equal(
    selectorCel([{ key: 'tier', operator: 'NotIn', values: ['dev'] }, { key: 'x', operator: 'Exists', values: [] }], 'L'),
    '!(L[?"tier"].hasValue() && L[?"tier"].value() in ["dev"]) && L[?"x"].hasValue()',
  );
  assert.ok(TRANSLATORS.length >= 5);
});

test('a policy field no translator reads (a newer shape) is reported, never dropped', () => {
  const p = policy('n', `  target: object
  labels: {team: {required: true}}\n`);
  // As a policy of a later shape would carry it: the schema of this version refuses the field, the exporter must not ignore it.
  const later = { ...p, spec: { ...p.spec, labels: { team: { required: true, sealed: true } }, schedule: { days: ['Mon'] } } } as unknown as typeof p;
  const r = exportPolicies([later]);
  assert.deepEqual(
    r.notExported.filter((n) => n.reason.startsWith('no translator')).map((n) => n.path),
    ['spec.schedule', 'spec.labels["team"].sealed'],
  );
});

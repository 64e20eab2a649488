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

const exprs = (r: ReturnType<typeof exportPolicies>, name: string): string[] =>
  byKind(r.objects, 'ValidatingAdmissionPolicy')
    .find((o) => o.metadata.name === `governor-${name}`)!
    .spec.validations.map((v: any) => v.expression as string);

test('wildcard keys: forbidden, allowedKeys, values and "at least one" as CEL over the map keys (anchored RE2 from the glob)', () => {
  const p = policy(
    'w',
    `  match: {kinds: [Service]}
  labels:
    environment: {forbiddenValues: [default, test]}
  annotations:
    fluxcd.io/*: {forbidden: true}
    corp.example.com/*: {allowedKeys: [corp.example.com/contact, corp.example.com/cost-*], forbiddenValues: ['']}
    owner.example.com/*: {required: true}
`,
  );
  const r = exportPolicies([p]);
  assert.deepEqual(r.notExported, []);
  const e = exprs(r, 'w').join('\n');
  assert.match(e, /\.all\(k, !k\.matches\("\^fluxcd\\\\\.io\/\.\*\$"\) \|\| \(oldObject != null/);
  assert.match(e, /k == "corp\.example\.com\/contact" \|\| k\.matches\("\^corp\\\\\.example\\\\\.com\/cost-\.\*\$"\)/);
  assert.match(e, /\.exists\(k, k\.matches\("\^owner\\\\\.example\\\\\.com\/\.\*\$"\) && true && /);
  assert.match(e, /!\(v in \["default", "test"\]\)/);
  // A Service has one metadata: no pod template part.
  assert.doesNotMatch(e, /templateAnnotations/);
  // Rule names as the engine reports them (exceptions name them).
  const vap = byKind(r.objects, 'ValidatingAdmissionPolicy')[0]!;
  assert.ok(vap.spec.validations.some((v: any) => /rule forbidden-annotations\)$/.test(v.message)));
  assert.ok(vap.spec.validations.every((v: any) => v.reason === 'Forbidden'));
});

test('immutable and transitions: UPDATE only, compared with oldObject where the rule is placed (target), never grandfathered', () => {
  const p = policy(
    'i',
    `  match: {kinds: [Deployment]}
  target: both
  labels:
    stage: {immutable: true, transitions: [{from: dev, to: staging}, {to: '*'}]}
`,
  );
  const r = exportPolicies([p]);
  assert.deepEqual(r.notExported, []);
  const e = exprs(r, 'i');
  assert.equal(e.length, 2, 'the object and its pod template');
  for (const x of e) {
    assert.ok(x.includes('request.operation != "UPDATE" || oldObject == null || '), x);
    assert.ok(x.includes('== optional.of("dev") && ') && x.includes('== optional.of("staging")'), x);
    assert.doesNotMatch(x, /oldObject != null &&/, 'no grandfathering');
  }
  assert.match(e[0]!, /oldObject\.\?metadata\.\?labels\.orValue\(\{\}\)\[\?"stage"\]/);
  assert.match(e[1]!, /variables\.governor_old_templateLabels\[\?"stage"\]/);
  // A default that may re-fill the key before the webhook compares it, unexported (before 1.36): listed; exported: checked.
  const q = policy('j', `  match: {kinds: [Pod]}\n  labels:\n    tier: {immutable: true, default: a}\n`);
  assert.ok(exportPolicies([q], { kubeVersion: { major: 1, minor: 35 } }).notExported.some((n) => n.rule === 'immutable-labels'));
  assert.deepEqual(exportPolicies([q], { kubeVersion: { major: 1, minor: 37 } }).notExported, []);
});

test('resources: containers any, initContainers false, forbid and extended resources; spec.when as a guard variable', () => {
  const p = policy(
    'g',
    `  match: {kinds: [Pod], namespaces: [ml]}
  when: {containerResources: [nvidia.com/gpu], operations: [CREATE]}
  resources:
    containers: any
    initContainers: false
    require: [limits.nvidia.com/gpu]
    forbid: [limits.cpu]
    max: {hugepages-2Mi: 1Gi}
`,
  );
  const r = exportPolicies([p]);
  assert.deepEqual(r.notExported, []);
  const vap = byKind(r.objects, 'ValidatingAdmissionPolicy')[0]!;
  const when = vap.spec.variables.find((v: any) => v.name === 'governor_when').expression;
  assert.equal(when, 'request.operation in ["CREATE"] && (variables.governor_containers + variables.governor_initContainers).exists(c, ["nvidia.com/gpu"].exists(r, c.?resources.?requests[?r].orValue("") != "" || c.?resources.?limits[?r].orValue("") != ""))');
  const e = exprs(r, 'g');
  assert.ok(e.every((x) => x.startsWith('!variables.governor_when || ')));
  // any: one exists per check, over containers only.
  assert.ok(e.some((x) => x.includes('(variables.governor_containers).exists(c, c.?resources.?limits[?"nvidia.com/gpu"].orValue("") != "")')));
  assert.ok(e.some((x) => x.includes('(variables.governor_containers).exists(c, !(c.?resources.?limits[?"cpu"].orValue("") != ""))')));
  assert.ok(e.some((x) => x.includes('quantity(c.?resources.?requests[?"hugepages-2Mi"].value()).compareTo(quantity("1Gi")) <= 0')));
  assert.ok(!e.some((x) => x.includes('governor_initContainers') && !x.includes('governor_when')));
  // all (the default): every container and init container.
  const all = exprs(exportPolicies([policy('h', `  match: {kinds: [Pod]}\n  resources: {forbid: [limits.cpu]}\n`)]), 'h');
  assert.ok(all.some((x) => x.includes('variables.governor_initContainers.all(c, !(c.?resources.?limits[?"cpu"]')));
});

test('conditions: volume types as has() on the volume (image volumes from 1.31), hostPaths listed (normalized paths), unexportable fills listed', () => {
  const p = policy(
    'v',
    `  match: {kinds: [Pod]}
  labels:
    owner: {required: true, when: {volumeTypes: [hostPath, image, EmptyDir]}}
  annotations:
    reason: {required: true, when: {hostPaths: [/var/run/docker.sock]}}
`,
  );
  const at130 = exportPolicies([p]);
  assert.deepEqual(at130.notExported.map((n) => `${n.rule} ${n.path}`), ['require-annotations spec.annotations["reason"].when']);
  assert.match(at130.notExported[0]!.reason, /normalized paths/);
  const e130 = exprs(at130, 'v').join('\n');
  assert.match(e130, /variables\.governor_volumes\.exists\(v, has\(v\.hostPath\)\)/);
  const e131 = exprs(exportPolicies([p], { kubeVersion: { major: 1, minor: 31 } }), 'v').join('\n');
  assert.match(e131, /exists\(v, has\(v\.hostPath\) \|\| has\(v\.image\)\)/);
  // The grandfathering side decides the condition on the stored object.
  assert.match(e130, /oldObject != null && \(variables\.governor_old_volumes\.exists/);
  // A label condition on a key that only an unexported default fills (before 1.36) is not exact.
  const q = policy('q', `  match: {kinds: [Pod]}\n  target: object\n  when: {labels: {matchLabels: {tier: web}}}\n  labels: {a: {required: true}}\n`);
  const d = policy('d', `  match: {kinds: [Pod]}\n  target: object\n  labels: {tier: {default: web}}\n`);
  const r = exportPolicies([q, d]);
  assert.ok(r.notExported.some((n) => n.policy === 'q' && n.path === 'spec.when'));
  assert.equal(byKind(r.objects, 'ValidatingAdmissionPolicy').filter((o) => o.metadata.name === 'governor-q').length, 0);
  assert.ok(!exportPolicies([q, d], { kubeVersion: { major: 1, minor: 36 } }).notExported.some((n) => n.policy === 'q'));
});

test('overwrite: the MutatingAdmissionPolicy replaces a differing value; two policies filling the key leave it listed', () => {
  const p = policy('o', `  match: {kinds: [Pod]}\n  target: object\n  annotations: {karpenter.sh/do-not-disrupt: {default: 'true', overwrite: true}}\n`);
  const r = exportPolicies([p], { kubeVersion: { major: 1, minor: 36 } });
  assert.deepEqual(r.notExported, []);
  const map = byKind(r.objects, 'MutatingAdmissionPolicy')[0]!;
  assert.equal(map.spec.variables.find((v: any) => v.name === 'governor_annotations').expression, '["true"].filter(v, object.?metadata.?annotations[?"karpenter.sh/do-not-disrupt"] != optional.of(v)).map(v, ["karpenter.sh/do-not-disrupt", v])');
  const other = policy('z', `  match: {kinds: [Pod]}\n  target: object\n  annotations: {karpenter.sh/do-not-disrupt: {default: 'false'}}\n`);
  assert.ok(exportPolicies([p, other], { kubeVersion: { major: 1, minor: 36 } }).notExported.some((n) => n.policy === 'o' && n.path.endsWith('.overwrite')));
});

test('pod template fills: the one copy or default of a key is a MutatingAdmissionPolicy on the template; competing fills stay listed', () => {
  const v = { kubeVersion: { major: 1, minor: 36 } };
  const t = policy('t', `  match: {kinds: [Pod]}\n  annotations: {a: {default: 'x', required: true}}\n`);
  const r = exportPolicies([t], v);
  assert.deepEqual(r.notExported, []);
  const map = byKind(r.objects, 'MutatingAdmissionPolicy')[0]!;
  const tpl = map.spec.variables.find((x: any) => x.name === 'governor_template_annotations').expression;
  assert.match(tpl, /request\.kind\.kind in \[.*"CronJob"\] && !\(request\.operation == "UPDATE" && request\.kind\.kind == "Job"\)/);
  assert.match(tpl, /!variables\.governor_templateAnnotations\[\?"a"\]\.hasValue\(\) \? \["x"\]/);
  // A Pod's own metadata is filled (a Pod has no template).
  assert.match(map.spec.variables.find((x: any) => x.name === 'governor_annotations').expression, /^\(!\(request\.kind\.kind in/);
  assert.match(map.spec.mutations[1].jsonPatch.expression, /"\/spec\/jobTemplate\/spec\/template\/metadata" : "\/spec\/template\/metadata"/);
  // The requirement on the template is checked, the template being filled first.
  assert.equal(exprs(r, 't').length, 2);
  // A copy of a key the object's own metadata is defaulted for, or two policies filling the template: listed.
  const c = policy('c', `  match: {kinds: [Deployment]}\n  target: object\n  labels: {team: {default: a, copyToPodTemplate: true}}\n`);
  assert.ok(exportPolicies([c], v).notExported.some((n) => n.path === 'spec.labels["team"].copyToPodTemplate'));
  const u = policy('u', `  match: {kinds: [Pod]}\n  annotations: {a: {default: 'y'}}\n`);
  const both = exportPolicies([t, u], v).notExported.map((n) => `${n.policy} ${n.rule} ${n.path}`);
  assert.ok(both.includes('t default-annotations spec.annotations["a"].default') && both.includes('u default-annotations spec.annotations["a"].default'), both.join('\n'));
  assert.ok(both.includes('t require-annotations spec.annotations["a"].required'), both.join('\n'));
  // A plain copy is exported.
  const k = policy('k', `  match: {kinds: [Deployment]}\n  target: object\n  labels: {owner: {required: true, copyToPodTemplate: true}}\n`);
  const rk = exportPolicies([k], v);
  assert.deepEqual(rk.notExported, []);
  assert.match(byKind(rk.objects, 'MutatingAdmissionPolicy')[0]!.spec.variables.find((x: any) => x.name === 'governor_template_labels').expression, /object\.\?metadata\.\?labels\[\?"owner"\]\.hasValue\(\) && !variables\.governor_templateLabels\[\?"owner"\]\.hasValue\(\) \? \[\["owner", object/);
});

test('a Pod policy on a kind without a pod template checks its one metadata; pod parts are empty for kinds the engine gives no pod spec', () => {
  const p = policy('k', `  match: {kinds: [Pod, Service]}\n  labels: {team: {required: true}}\n`);
  const [metadata, template] = exprs(exportPolicies([p]), 'k');
  // Own metadata: skipped for pod controllers only (a Service and a Pod are checked there).
  assert.match(metadata!, /^variables\.governor_controllerOwned \|\| \(request\.kind\.kind in \["Deployment","StatefulSet","DaemonSet","ReplicaSet","Job","CronJob"\] \|\| /);
  assert.match(template!, /^variables\.governor_controllerOwned \|\| \(!\(request\.kind\.kind in \[/);
  const vap = byKind(exportPolicies([p]).objects, 'ValidatingAdmissionPolicy')[0]!;
  assert.match(vap.spec.variables.find((v: any) => v.name === 'governor_templateLabels').expression, / : \{\}$/);
});

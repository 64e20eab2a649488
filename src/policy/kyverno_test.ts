import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { convertKyvernoPolicy, isKyvernoPolicy, KyvernoInputError, parseAnchor } from './kyverno.js';

/** A ClusterPolicy with the given rules (YAML text of the rules list, indented under `rules:`). */
function policy(rules: string, extra = '', name = 'p'): unknown {
  return parse(`apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: ${name}}\nspec:\n${extra}  rules:\n${rules}`);
}

const podRule = (body: string, name = 'r') => `  - name: ${name}\n    match: {any: [{resources: {kinds: [Pod]}}]}\n${body}`;

function only(doc: unknown) {
  const c = convertKyvernoPolicy(doc);
  assert.deepEqual(c.refused, [], JSON.stringify(c.refused));
  assert.equal(c.policies.length, 1);
  return c.policies[0]!;
}

function refusedReason(doc: unknown): string {
  const c = convertKyvernoPolicy(doc);
  assert.equal(c.policies.length, 0, 'translated where it should refuse');
  assert.equal(c.refused.length, 1);
  return c.refused[0]!.reason;
}

test('anchors: =() optional, X() negation, () condition, ^() existence, <() global, +() add-if-absent', () => {
  assert.deepEqual(parseAnchor('=(labels)'), { anchor: 'optional', key: 'labels' });
  assert.deepEqual(parseAnchor('X(fluxcd.io/*)'), { anchor: 'negation', key: 'fluxcd.io/*' });
  assert.deepEqual(parseAnchor('(name)'), { anchor: 'condition', key: 'name' });
  assert.deepEqual(parseAnchor('^(containers)'), { anchor: 'existence', key: 'containers' });
  assert.deepEqual(parseAnchor('<(emptyDir)'), { anchor: 'global', key: 'emptyDir' });
  assert.deepEqual(parseAnchor('+(cpu)'), { anchor: 'add-if-absent', key: 'cpu' });
  assert.deepEqual(parseAnchor('app.kubernetes.io/name'), { anchor: 'plain', key: 'app.kubernetes.io/name' });
});

test('a required label ("?*") on Pod: required, pod-template placement by default, mode from validationFailureAction (any case)', () => {
  const p = only(policy(podRule('    validate:\n      message: team please\n      pattern: {metadata: {labels: {team: "?*"}}}\n'), '  validationFailureAction: enforce\n'));
  assert.equal(p.metadata.name, 'p');
  assert.equal(p.metadata.annotations['governor.io/kyverno-rule'], 'r');
  assert.equal(p.metadata.annotations['governor.io/kyverno-message'], 'team please');
  assert.deepEqual(p.spec, { mode: 'enforce', match: { kinds: ['Pod'] }, labels: { team: { required: true } } });
  // Kyverno's default action is Audit; a rule's own failureAction wins over the policy's.
  assert.equal(only(policy(podRule('    validate: {pattern: {metadata: {labels: {team: "?*"}}}}\n'))).spec.mode, 'audit');
  assert.equal(only(policy(podRule('    validate: {failureAction: Audit, pattern: {metadata: {labels: {team: "?*"}}}}\n'), '  validationFailureAction: Enforce\n')).spec.mode, 'audit');
});

test('label values: literals → allowed, wildcards and alternatives → an anchored pattern, !v → forbiddenValues, =() → optional', () => {
  const p = only(
    policy(
      podRule(
        '    validate:\n      pattern:\n        metadata:\n          labels: {tier: "web | api", env: "prod-*", "=(owner)": "team-??", X(legacy): "*", "=(color)": "!red"}\n          annotations: {"corp.example.com/*": "?*"}\n',
      ),
    ),
  );
  assert.deepEqual(p.spec.labels, {
    tier: { required: true, allowed: ['web', 'api'] },
    env: { required: true, pattern: '^(?:prod-.*)$' },
    owner: { pattern: '^(?:team-..)$' },
    legacy: { forbidden: true },
    color: { forbiddenValues: ['red'] },
  });
  assert.deepEqual(p.spec.annotations, { 'corp.example.com/*': { required: true } });
});

test('forbidden annotation keys by wildcard under an optional map; mixed kinds (no Kyverno autogen) apply to each object itself', () => {
  const doc = parse(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: no-flux}
spec:
  rules:
  - name: block
    match: {any: [{resources: {kinds: [Deployment, Pod]}}]}
    validate: {pattern: {metadata: {"=(annotations)": {"X(fluxcd.io/*)": "*?"}}}}
`);
  const p = only(doc);
  assert.equal(p.spec.target, 'object');
  assert.deepEqual(p.spec.match, { kinds: ['Deployment', 'Pod'] });
  assert.deepEqual(p.spec.annotations, { 'fluxcd.io/*': { forbidden: true } });
});

test('container resources: required requests/limits, =(initContainers) with the same rule keeps init containers, forbid via =() chains, ^(containers) = any', () => {
  const withInit = only(
    policy(podRule('    validate:\n      pattern:\n        spec:\n          containers: [{resources: {requests: {memory: "?*", nvidia.com/gpu: "?*"}, limits: {memory: "?*"}}}]\n          =(initContainers): [{resources: {requests: {memory: "?*", nvidia.com/gpu: "?*"}, limits: {memory: "?*"}}}]\n')),
  );
  assert.deepEqual(withInit.spec.resources, { require: ['requests.memory', 'requests.nvidia.com/gpu', 'limits.memory'] });
  const forbid = only(policy(podRule('    validate:\n      pattern: {spec: {containers: [{"(name)": "*", "=(resources)": {"=(limits)": {"X(cpu)": null}}}]}}\n')));
  assert.deepEqual(forbid.spec.resources, { forbid: ['limits.cpu'], initContainers: false });
  const any = only(policy(podRule('    validate:\n      pattern: {spec: {"^(containers)": [{resources: {limits: {cpu: "?*"}}}]}}\n')));
  assert.deepEqual(any.spec.resources, { require: ['limits.cpu'], containers: 'any', initContainers: false });
});

test('a conditional anchor on hostPath volumes becomes when.hostPaths; a volume type becomes when.volumeTypes', () => {
  const p = only(policy(podRule('    validate:\n      pattern:\n        metadata: {labels: {allow-docker: "true"}}\n        (spec): {(volumes): [{(hostPath): {path: /var/run/docker.sock}}]}\n')));
  assert.deepEqual(p.spec.when, { hostPaths: ['/var/run/docker.sock'] });
  assert.deepEqual(p.spec.labels, { 'allow-docker': { required: true, allowed: ['true'] } });
  const e = only(policy(podRule('    mutate:\n      patchStrategicMerge:\n        metadata: {annotations: {"+(safe-to-evict)": "true"}}\n        spec: {volumes: [{"<(emptyDir)": {}}]}\n')));
  assert.deepEqual(e.spec.when, { volumeTypes: ['emptyDir'] });
  assert.deepEqual(e.spec.annotations, { 'safe-to-evict': { default: 'true' } });
});

test('mutations: +(key) is a default, a plain key overwrites, JSON patch add overwrites; resource +(cpu) is a default, a plain one is refused', () => {
  const smp = only(policy(podRule('    mutate: {patchStrategicMerge: {metadata: {labels: {"+(team)": none, env: dev}}}}\n')));
  assert.deepEqual(smp.spec.labels, { team: { default: 'none' }, env: { default: 'dev', overwrite: true } });
  const jp = only(policy(podRule('    mutate:\n      patchesJson6902: |-\n        - op: add\n          path: /metadata/annotations/example.com~1owner\n          value: platform\n')));
  assert.deepEqual(jp.spec.annotations, { 'example.com/owner': { default: 'platform', overwrite: true } });
  const res = only(
    policy(podRule('    mutate:\n      foreach:\n      - list: "request.object.spec.[ephemeralContainers, initContainers, containers][]"\n        patchStrategicMerge: {spec: {containers: [{"(name)": "{{element.name}}", resources: {requests: {"+(cpu)": 100m}}}]}}\n')),
  );
  assert.deepEqual(res.spec.resources, { defaults: { requests: { cpu: '100m' } } });
  // A patch or foreach over `containers` alone leaves init containers as they are, as Kyverno does.
  const onlyContainers = only(policy(podRule('    mutate:\n      foreach:\n      - list: "request.object.spec.containers"\n        patchStrategicMerge: {spec: {containers: [{"(name)": "{{element.name}}", resources: {requests: {"+(cpu)": 100m}}}]}}\n')));
  assert.deepEqual(onlyContainers.spec.resources, { defaults: { requests: { cpu: '100m' } }, initContainers: false });
  const overlay = only(policy(podRule('    mutate: {patchStrategicMerge: {spec: {containers: [{"(name)": "*", resources: {limits: {"+(cpu)": "1"}}}]}}}\n')));
  assert.deepEqual(overlay.spec.resources, { defaults: { limits: { cpu: '1' } }, initContainers: false });
  assert.match(refusedReason(policy(podRule('    mutate: {patchStrategicMerge: {spec: {containers: [{"(name)": "*", resources: {limits: {cpu: "1"}}}]}}}\n'))), /replaces a value that is set.*\+\(cpu\)/);
});

test('preconditions on request.operation become when.operations; match.exclude → exclude, alternatives → exceptions; Policy stays in its namespace', () => {
  const p = only(
    policy(`  - name: r
    match: {any: [{resources: {kinds: [Pod], namespaces: ["team-*"]}}]}
    exclude: {any: [{resources: {namespaces: [team-sandbox, team-lab]}}, {resources: {kinds: [Pod], selector: {matchLabels: {tier: batch}}}}]}
    preconditions: {any: [{key: "{{ request.operation || 'BACKGROUND' }}", operator: Equals, value: UPDATE}]}
    validate: {pattern: {metadata: {labels: {team: "?*"}}}}
`),
  );
  assert.deepEqual(p.spec.when, { operations: ['UPDATE'] });
  assert.deepEqual(p.spec.match, { namespaces: ['team-*'], kinds: ['Pod'] });
  assert.deepEqual(
    (p.spec.exceptions as { namespace?: string }[]).map((e) => e.namespace ?? JSON.stringify(e)),
    ['team-sandbox', 'team-lab', JSON.stringify({ kinds: ['Pod'], selector: { matchLabels: { tier: 'batch' } }, reason: 'excluded by Kyverno policy ClusterPolicy/p (exclude.any[1])' })],
  );
  const vol = only(
    policy(
      podRule(
        "    preconditions:\n      all:\n      - key: \"{{ request.object.spec.volumes[?contains(keys(@), 'emptyDir')] || `[]` | length(@) }}\"\n        operator: GreaterThanOrEquals\n        value: 1\n      - {key: \"{{request.operation || 'BACKGROUND'}}\", operator: AnyIn, value: [CREATE, UPDATE]}\n    validate: {pattern: {spec: {containers: [{resources: {requests: {ephemeral-storage: \"?*\"}}}]}}}\n",
      ),
    ),
  );
  assert.deepEqual(vol.spec.when, { volumeTypes: ['emptyDir'] });
  const single = only(policy(podRule('    exclude: {any: [{resources: {namespaces: [kube-system]}}]}\n    validate: {pattern: {metadata: {labels: {team: "?*"}}}}\n')));
  assert.deepEqual(single.spec.exclude, { namespaces: ['kube-system'] });
  const ns = parse('apiVersion: kyverno.io/v2beta1\nkind: Policy\nmetadata: {name: p, namespace: shop}\nspec:\n  rules:\n' + podRule('    validate: {pattern: {metadata: {labels: {team: "?*"}}}}\n'));
  const q = only(ns);
  assert.deepEqual(q.spec.match, { kinds: ['Pod'], namespaces: ['shop'] });
  assert.equal(q.metadata.name, 'shop-p');
  assert.equal(q.metadata.annotations['governor.io/kyverno-policy'], 'shop/p');
});

test('validate.cel → spec.validations with variables; the message fills each expression that has none', () => {
  const p = only(policy(podRule('    validate:\n      message: few replicas\n      cel:\n        variables: [{name: n, expression: "object.spec.replicas"}]\n        expressions: [{expression: "variables.n <= 3"}, {expression: "true", message: own}]\n')));
  assert.deepEqual(p.spec.validations, [
    { message: 'few replicas', expression: 'variables.n <= 3' },
    { message: 'own', expression: 'true' },
  ]);
  assert.deepEqual(p.spec.variables, [{ name: 'n', expression: 'object.spec.replicas' }]);
});

test('refusals name what has no equivalent: deny, foreach, anyPattern, context, generate, subjects, names, other fields, comparisons, "*" on a required key', () => {
  const cases: [string, RegExp][] = [
    ['    validate: {deny: {conditions: {any: [{key: a, operator: Equals, value: b}]}}}\n', /validate\.deny: JMESPath/],
    ['    validate: {foreach: [{list: x, pattern: {}}]}\n', /validate\.foreach/],
    ['    validate: {anyPattern: [{}, {}]}\n', /anyPattern/],
    ['    context: [{name: x, configMap: {name: c, namespace: n}}]\n    validate: {pattern: {metadata: {labels: {a: "?*"}}}}\n', /^context/],
    ['    generate: {kind: ConfigMap}\n', /generating objects/],
    ['    validate: {pattern: {spec: {containers: [{image: "reg/*"}]}}}\n', /container field image is not a resource/],
    ['    validate: {pattern: {spec: {containers: [{resources: {limits: {memory: "<=2Gi"}}}]}}}\n', /compares the quantity/],
    ['    validate: {pattern: {metadata: {labels: {a: "*"}}}}\n', /present but empty value/],
    ['    validate: {pattern: {metadata: {labels: {a: ">3"}}}}\n', /numeric comparison/],
    ['    validate: {pattern: {metadata: {"=(labels)": {a: "?*"}}}}\n', /required only when the object has labels/],
    ['    validate: {pattern: {spec: {containers: [{resources: {limits: {"X(cpu)": null}}}]}}}\n', /requires limits to exist/],
    ['    validate: {pattern: {metadata: {labels: {a: "{{ request.object.metadata.name }}"}}}}\n', /Kyverno variable/],
    ['    mutate: {patchStrategicMerge: {metadata: {labels: {a: b}}, spec: {volumes: [{emptyDir: {}}]}}}\n', /no condition anchor/],
    ['    mutate: {patchStrategicMerge: {metadata: {labels: {a: null}}}}\n', /removing a key/],
    ['    preconditions: {all: [{key: "{{ request.object.spec.replicas }}", operator: GreaterThan, value: 1}]}\n    validate: {pattern: {metadata: {labels: {a: "?*"}}}}\n', /only conditions on request\.operation/],
  ];
  for (const [body, re] of cases) assert.match(refusedReason(policy(podRule(body))), re, body);
  const subjects = `  - name: r\n    match: {any: [{resources: {kinds: [Pod]}, subjects: [{kind: User, name: bob}]}]}\n    validate: {pattern: {metadata: {labels: {a: "?*"}}}}\n`;
  assert.match(refusedReason(policy(subjects)), /who sends the request/);
  const names = `  - name: r\n    match: {any: [{resources: {kinds: [Pod], names: [web-*]}}]}\n    validate: {pattern: {metadata: {labels: {a: "?*"}}}}\n`;
  assert.match(refusedReason(policy(names)), /by object name/);
  const sub = `  - name: r\n    match: {any: [{resources: {kinds: [Pod/exec]}}]}\n    validate: {pattern: {metadata: {labels: {a: "?*"}}}}\n`;
  assert.match(refusedReason(policy(sub)), /subresource/);
  assert.match(refusedReason(policy(podRule('    validate: {pattern: {metadata: {labels: {a: "?*"}}}}\n'), '  admission: false\n')), /background scans only/);
  const keep = only(policy(podRule('    validate: {allowExistingViolations: false, pattern: {metadata: {labels: {a: "?*"}}}}\n')));
  assert.equal(keep.spec.allowExistingViolations, false);
  const overrides = '  validationFailureActionOverrides: [{action: Enforce, namespaces: [prod]}]\n';
  assert.match(refusedReason(policy(podRule('    validate: {pattern: {metadata: {labels: {a: "?*"}}}}\n'), overrides)), /mode per namespace/);
});

test('one GovernancePolicy per translated rule, named policy-rule, unique across inputs; refused rules beside translated ones', () => {
  const doc = policy(podRule('    validate: {pattern: {metadata: {labels: {a: "?*"}}}}\n', 'Check_A') + podRule('    validate: {deny: {}}\n', 'check-b'));
  const taken = new Set(['p-check-a']);
  const c = convertKyvernoPolicy(doc, taken);
  assert.deepEqual(
    c.policies.map((p) => p.metadata.name),
    ['p-check-a-2'],
  );
  assert.deepEqual(
    c.refused.map((r) => [r.policy, r.rule]),
    [['ClusterPolicy/p', 'check-b']],
  );
});

test('documents that are not Kyverno policies, or have no rules, are input errors, not refusals', () => {
  assert.equal(isKyvernoPolicy({ apiVersion: 'v1', kind: 'Pod' }), false);
  assert.equal(isKyvernoPolicy({ apiVersion: 'kyverno.io/v1', kind: 'ClusterPolicy' }), true);
  assert.throws(() => convertKyvernoPolicy({ apiVersion: 'v1', kind: 'Pod' }), KyvernoInputError);
  assert.throws(() => convertKyvernoPolicy({ apiVersion: 'kyverno.io/v1', kind: 'ClusterPolicy', metadata: { name: 'x' }, spec: {} }), /spec\.rules is missing/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { parsePolicyText } from '../policy/parse.js';
import { decodeAdmissionReview, type AdmissionRequest } from './review.js';
import { MAX_LINE, MAX_POLICY_ERRORS, withPolicyValidation } from './policy-review.js';
import type { AdmissionHandler } from './handlers.js';

const BAD_GOVERNANCE = `apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: tags}
spec:
  labels:
    cost-center: {required: true, pattern: '([a-z'}
    "bad key!": {required: true}
  resources:
    max: {cpu: "1"}
    defaults: {requests: {cpu: "4"}}
  exceptions:
    - {reason: r, rules: [no-such-rule]}
`;

const GOOD_SCALING = `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: web, namespace: shop, generation: 3, uid: abc, resourceVersion: "7", managedFields: []}
spec:
  target: {kind: Deployment, name: web}
  load: {prometheus: {query: up}}
  thresholds: {low: 1, high: 5}
  replicas: {max: 4}
status: {replicas: 2}
`;

function review(obj: any, o: { operation?: string; subResource?: string; group?: string } = {}): AdmissionRequest {
  return decodeAdmissionReview({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u1',
      operation: o.operation ?? 'CREATE',
      kind: { group: o.group ?? 'governor.io', version: 'v1alpha1', kind: obj?.kind ?? 'ScalingPolicy' },
      ...(o.subResource ? { subResource: o.subResource } : {}),
      name: obj?.metadata?.name,
      ...(obj?.metadata?.namespace ? { namespace: obj.metadata.namespace } : {}),
      object: obj,
    },
  });
}

let forwarded = 0;
const workloads: AdmissionHandler = (req) => {
  forwarded++;
  return { uid: req.uid, allowed: true };
};
const handler = withPolicyValidation(workloads);

test('a governor.io object is refused with the problems `governor lint` reports for the same document', () => {
  const lint = parsePolicyText(BAD_GOVERNANCE, 'tags.yaml').errors;
  assert.ok(lint.length >= 4, `lint found ${lint.length} problems`);
  const r = handler(review(parseYaml(BAD_GOVERNANCE)));
  assert.equal(r.allowed, false);
  assert.equal(r.status?.code, 422);
  const lines = r.status!.message.split('\n');
  assert.equal(lines[0], 'invalid GovernancePolicy:');
  // Same path and message per problem; the "file" is the object (as the cluster loader names it) instead of tags.yaml.
  for (const e of lint) assert.ok(lines.some((l) => l === `cluster:GovernancePolicy/tags (document 1, GovernancePolicy/tags): ${e.path}: ${e.message}`), `missing: ${e.path}: ${e.message}\n${r.status!.message}`);
  assert.equal(lines.length, lint.length + 1);
});

test('a valid object is admitted; server metadata and status do not count as unknown fields', () => {
  const obj = parseYaml(GOOD_SCALING);
  const r = handler(review(obj));
  assert.deepEqual(r, { uid: 'u1', allowed: true });
  // Not changed in place (the defaults the check applies stay on its own copy).
  assert.equal(obj.spec.replicas.min, undefined);
});

test('schema problems carry the field path; a misspelled field is named', () => {
  const obj = parseYaml(GOOD_SCALING);
  obj.spec.thresholds = { low: 1, hgh: 5 };
  const r = handler(review(obj, { operation: 'UPDATE' }));
  assert.equal(r.allowed, false);
  assert.match(r.status!.message, /spec\.thresholds\.hgh: is not a known field \(check the spelling\)/);
  assert.match(r.status!.message, /spec\.thresholds\.high: is required/);
});

test('deletions, status writes and other groups are never refused here; other groups go to the workload handler', () => {
  const bad = { apiVersion: 'governor.io/v1alpha1', kind: 'ScalingPolicy', metadata: { name: 'x', namespace: 'n' }, spec: {} };
  assert.equal(handler(review(bad, { operation: 'DELETE' })).allowed, true);
  assert.equal(handler(review(bad, { operation: 'UPDATE', subResource: 'status' })).allowed, true);
  const before = forwarded;
  assert.equal(handler(review({ kind: 'Deployment', metadata: { name: 'd', namespace: 'n' } }, { group: 'apps' })).allowed, true);
  assert.equal(forwarded, before + 1);
});

test('the denial is bounded: at most MAX_POLICY_ERRORS problems, then a count', () => {
  const labels = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`bad key ${i}!`, { required: true }]));
  const obj = { apiVersion: 'governor.io/v1alpha1', kind: 'GovernancePolicy', metadata: { name: 'many' }, spec: { labels } };
  const r = handler(review(obj));
  const lines = r.status!.message.split('\n');
  assert.equal(lines.length, MAX_POLICY_ERRORS + 2);
  assert.match(lines.at(-1)!, /^\.\.\. and 180 more$/);
});

test('an object with generateName and no name yet is checked on its spec', () => {
  const obj = parseYaml(GOOD_SCALING);
  delete obj.metadata.name;
  obj.metadata.generateName = 'web-';
  assert.equal(handler(review(obj)).allowed, true);
  obj.spec.thresholds.high = 0;
  assert.match(handler(review(obj)).status!.message, /spec\.thresholds\.high: must be greater than thresholds\.low \(1\)/);
});

test('a huge user value quoted in a message is cut: the denial stays small', () => {
  const obj = { apiVersion: 'governor.io/v1alpha1', kind: 'GovernancePolicy', metadata: { name: 'big' }, spec: { exceptions: [{ reason: 'r', rules: ['x'.repeat(1_000_000)] }] } };
  const r = handler(review(obj));
  assert.equal(r.allowed, false);
  const lines = r.status!.message.split('\n');
  assert.equal(lines.length, 2);
  assert.equal(lines[1]!.length, MAX_LINE);
  assert.match(lines[1]!, /spec\.exceptions\[0\]\.rules\[0\]: unknown rule "xxx/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import { GovernanceEngine } from './engine.js';
import { patchBase64, patchText } from '../wire/json-patch-text.js';
import { policiesFrom } from './testing.js';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = new URL('../../policies/governance/', import.meta.url).pathname;
const SAMPLES = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => policiesFrom(readFileSync(join(dir, f), 'utf8')));
const engine = new GovernanceEngine(SAMPLES, { activeMigrationSource: (_ns, _k, name) => (name === 'src' ? 'move' : undefined) });

// Policies whose selectors, excludes and exceptions depend on labels that other policies default (in either name
// order): mutation must still reach its fixed point in one review.
const CHAINED = new GovernanceEngine(
  policiesFrom(`apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: a-needs-expose}
spec:
  match: {selector: {matchLabels: {expose: internal}}}
  labels: {tier: {default: web}}
  resources: {defaults: {limits: {memory: 1Gi}}}
  exceptions:
    - {selector: {matchExpressions: [{key: owner, operator: DoesNotExist}]}, rules: [resources], reason: r}
---
apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: b-sets-expose}
spec:
  match: {selector: {matchExpressions: [{key: app, operator: Exists}]}}
  exclude: {selector: {matchLabels: {tier: batch}}}
  labels: {expose: {default: internal}, owner: {default: team-a}}
---
apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: c-needs-tier}
spec:
  match: {selector: {matchLabels: {tier: web}}}
  labels: {app: {default: web}}
  annotations: {cost-center: {default: CC-0001}}
  resources: {defaults: {requests: {cpu: 100m}}}
  allowExceptionAnnotations: [resources]
`),
);

// `when` conditions whose inputs a mutation changes (labels, container resources), in either name order, and the
// example policies with conditions: mutation must still reach its fixed point in one review.
const examples = new URL('../../examples/policies/', import.meta.url).pathname;
const CONDITIONAL = new GovernanceEngine([
  ...['gpu-workloads.yaml', 'host-volumes.yaml', 'stable-identity.yaml'].flatMap((f) => policiesFrom(readFileSync(join(examples, f), 'utf8'))),
  ...policiesFrom(`apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: a-when-gpu-label}
spec:
  when: {labels: {matchLabels: {gpu: "yes"}}}
  annotations: {gpu-note: {default: x}}
---
apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: b-when-gpu-resource}
spec:
  labels: {gpu: {default: "yes", when: {containerResources: [nvidia.com/gpu]}}}
---
apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: c-gpu-default}
spec:
  match: {selector: {matchLabels: {app: web}}}
  resources: {when: {volumeTypes: [emptyDir]}, defaults: {limits: {nvidia.com/gpu: "1"}}}
`),
]);

const KINDS = [
  ['apps/v1', 'Deployment'],
  ['apps/v1', 'StatefulSet'],
  ['apps/v1', 'DaemonSet'],
  ['apps/v1', 'ReplicaSet'],
  ['batch/v1', 'Job'],
  ['batch/v1', 'CronJob'],
  ['v1', 'Pod'],
  ['v1', 'ConfigMap'],
] as const;

const quantity = fc.oneof(fc.constantFrom('100m', '1', '2Gi', '512Mi', '0', '8Gi', '5', 'lots', '', '1e3'), fc.integer({ min: 0, max: 64 }), fc.constant(null), fc.jsonValue());
const resourceMap = fc.dictionary(fc.constantFrom('cpu', 'memory', 'ephemeral-storage', 'nvidia.com/gpu'), quantity, { maxKeys: 3 });
const container = fc.oneof(
  { weight: 8, arbitrary: fc.record({ name: fc.string(), image: fc.string(), resources: fc.oneof(fc.record({ requests: resourceMap, limits: resourceMap }, { requiredKeys: [] }), fc.constant(null), fc.jsonValue()) }, { requiredKeys: ['name'] }) },
  { weight: 1, arbitrary: fc.jsonValue() },
);
const tagKey = fc.constantFrom('owner', 'expose', 'tier', 'data-classification', 'governor.io/migration', 'governor.io/migration-role', 'governor.io/migration-group', 'cost-center', 'app', 'a~b/c', 'governor.io/exception.resources', 'governor.io/force-delete');
const tagValue = fc.oneof(fc.constantFrom('internal', 'web', 'batch', 'pinned', 'source', 'live', 'restart', 'internal', 'pii', 'team-a', 'BAD VALUE', 'CC-1234', 'true', ''), fc.string(), fc.jsonValue());
const tags = fc.oneof({ weight: 6, arbitrary: fc.dictionary(tagKey, tagValue, { maxKeys: 6 }) }, { weight: 1, arbitrary: fc.jsonValue() });
const volume = fc.oneof(
  fc.record({ name: fc.string(), emptyDir: fc.constant({}) }),
  fc.record({ name: fc.string(), hostPath: fc.record({ path: fc.oneof(fc.constantFrom('/var/run/docker.sock', '/run/containerd/containerd.sock', '/var/log'), fc.jsonValue()) }) }),
  fc.jsonValue(),
);
const podSpec = fc.record(
  { containers: fc.oneof(fc.array(container, { maxLength: 3 }), fc.jsonValue()), initContainers: fc.array(container, { maxLength: 2 }), volumes: fc.oneof(fc.array(volume, { maxLength: 3 }), fc.jsonValue()) },
  { requiredKeys: [] },
);
const podTemplate = fc.record({ metadata: fc.record({ labels: tags, annotations: tags }, { requiredKeys: [] }), spec: podSpec }, { requiredKeys: [] });
const workload = fc.tuple(fc.constantFrom(...KINDS), fc.record({ name: fc.constantFrom('web', 'src', 'old-batch', ''), labels: tags, annotations: tags }, { requiredKeys: [] }), podTemplate, podSpec).map(
  ([[apiVersion, kind], metadata, template, spec]) => {
    const body = kind === 'Pod' ? spec : kind === 'CronJob' ? { jobTemplate: { spec: { template } } } : { template };
    return { apiVersion, kind, metadata, spec: body } as Record<string, unknown>;
  },
);
const namespace = fc.constantFrom('shop', 'legacy', 'analytics', 'analytics-eu', 'kube-system', 'team-a', 'ml', 'platform');
const nsInfo = fc.record({
  labels: fc.dictionary(fc.constantFrom('tier', 'migrations', 'data-classification', 'governor.io/migration-group'), fc.constantFrom('prod', 'enabled', 'internal', 'bad value', 'g1')),
  annotations: fc.dictionary(fc.constantFrom('cost-center', 'data-classification'), fc.constantFrom('CC-0001', 'x', 'pii')),
});
const operation = fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'CONNECT') as fc.Arbitrary<'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT'>;

test('property: the engine never throws, whatever the object (arbitrary values included)', () => {
  fc.assert(
    fc.property(fc.oneof(workload, fc.anything()), fc.oneof(workload, fc.anything()), namespace, nsInfo, operation, (obj, old, ns, info, op) => {
      const ctx = { namespace: ns, namespaceInfo: info, operation: op, oldObject: old };
      for (const e of [engine, CONDITIONAL]) {
        const r = e.review(obj, ctx);
        assert.ok(Array.isArray(r.mutation.patch));
        assert.equal(typeof r.validation.decision.allowed, 'boolean');
      }
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 1500) },
  );
});

test('property: mutation is idempotent and its patch, applied by fast-json-patch, yields the mutated object', () => {
  fc.assert(
    fc.property(workload, namespace, nsInfo, fc.constantFrom('CREATE', 'UPDATE') as fc.Arbitrary<'CREATE' | 'UPDATE'>, (generated, ns, info, op) => {
      const obj = JSON.parse(JSON.stringify(generated)); // what the API server sends: plain JSON
      const ctx = { namespace: ns, namespaceInfo: info, operation: op, oldObject: obj };
      for (const e of [engine, CHAINED, CONDITIONAL]) {
        const first = e.mutate(obj, ctx);
        const applied = jsonpatch.applyPatch(structuredClone(obj), jsonpatch.deepClone(first.patch), true, false).newDocument;
        assert.deepEqual(applied, first.mutated);
        assert.deepEqual(e.mutate(first.mutated, ctx).patch, [], 'a second review adds nothing');
        // In place (the webhook): the same patch, and the object itself becomes the mutated one.
        const own = JSON.parse(JSON.stringify(obj));
        const inPlace = e.mutate(own, ctx, { inPlace: true });
        assert.deepEqual(inPlace.patch, first.patch);
        assert.equal(patchText(inPlace.patch), JSON.stringify(inPlace.patch), 'the webhook writes the patch as JSON.stringify would');
        assert.equal(patchBase64(inPlace.patch), Buffer.from(JSON.stringify(inPlace.patch)).toString('base64'));
        assert.deepEqual(own, first.mutated);
      }
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 1500) },
  );
});

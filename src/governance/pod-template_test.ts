import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containersOf, groupOf, podLocation, workloadKind } from './pod-template.js';
import { yamlObject } from './testing.js';
import { formatPath } from '../policy/parse.js';
import type { WorkloadKind } from '../policy/governance-policy.js';

// Inline YAML per kind, written out in full so each fixture reads like the manifest a user applies.
const cases: { kind: WorkloadKind; prefix: string; yaml: string }[] = [
  {
    kind: 'Pod',
    prefix: 'spec',
    yaml: `
apiVersion: v1
kind: Pod
spec:
  initContainers: [{name: init, image: busybox}]
  containers: [{name: app, image: nginx}, {name: sidecar, image: envoy}]
  ephemeralContainers: [{name: debug, image: busybox}]
`,
  },
  ...(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'] as const).map((kind) => ({
    kind,
    prefix: 'spec.template.spec',
    yaml: `
apiVersion: apps/v1
kind: ${kind}
spec:
  template:
    spec:
      initContainers: [{name: init, image: busybox}]
      containers: [{name: app, image: nginx}, {name: sidecar, image: envoy}]
      ephemeralContainers: [{name: debug, image: busybox}]
`,
  })),
  {
    kind: 'Job',
    prefix: 'spec.template.spec',
    yaml: `
apiVersion: batch/v1
kind: Job
spec:
  template:
    spec:
      restartPolicy: Never
      initContainers: [{name: init, image: busybox}]
      containers: [{name: app, image: nginx}, {name: sidecar, image: envoy}]
`,
  },
  {
    kind: 'CronJob',
    prefix: 'spec.jobTemplate.spec.template.spec',
    yaml: `
apiVersion: batch/v1
kind: CronJob
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          initContainers: [{name: init, image: busybox}]
          containers: [{name: app, image: nginx}, {name: sidecar, image: envoy}]
`,
  },
];

for (const c of cases) {
  test(`${c.kind}: containers and init containers at ${c.prefix}, ephemeral containers left out`, () => {
    const obj = yamlObject(c.yaml);
    const found = [...containersOf(obj, c.kind)].map((r) => `${formatPath(r.path)}=${r.container.name}`);
    assert.deepEqual(found, [`${c.prefix}.containers[0]=app`, `${c.prefix}.containers[1]=sidecar`, `${c.prefix}.initContainers[0]=init`]);
    assert.equal(workloadKind(groupOf(obj.apiVersion), c.kind), c.kind);
    assert.equal(formatPath(podLocation(c.kind).spec), c.prefix);
  });
}

test('kinds of other groups, unknown kinds and malformed specs are not workloads or have no containers', () => {
  assert.equal(workloadKind('example.com', 'Deployment'), undefined);
  assert.equal(workloadKind('apps', 'Pod'), undefined);
  assert.equal(workloadKind('', 'ConfigMap'), undefined);
  assert.equal(groupOf('v1'), '');
  assert.equal(groupOf(undefined), '');
  assert.deepEqual(containersOf({ spec: { template: { spec: { containers: 'nope' } } } }, 'Deployment'), []);
  assert.deepEqual(containersOf({ spec: { containers: [null, 3, { name: 'ok' }] } }, 'Pod').map((r) => formatPath(r.path)), ['spec.containers[2]']);
  assert.equal(podLocation('Pod').isPod, true);
  assert.equal(formatPath(podLocation('CronJob').metadata), 'spec.jobTemplate.spec.template.metadata');
});

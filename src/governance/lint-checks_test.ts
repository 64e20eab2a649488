import { test } from 'node:test';
import assert from 'node:assert/strict';
import { governanceWarnings } from './lint-checks.js';
import { policy } from './testing.js';
import { formatPolicyError } from '../policy/types.js';

test('conflicting defaults, never-evaluated namespaces and catch-all exceptions are warned about', () => {
  const w = governanceWarnings([
    policy('b', `  labels: {tier: {default: web}}\n  match: {namespaces: [kube-system, shop]}\n  exceptions: [{rules: [resources], reason: x}]`),
    policy('a', `  labels: {tier: {default: backend}, other: {default: same}}`),
    policy('c', `  labels: {other: {default: same}}`),
  ]).map(formatPolicyError);
  assert.deepEqual(w, [
    'inline.yaml (document 1, GovernancePolicy/b): spec.labels.tier.default: default "web" conflicts with "backend" of policy a; where both match, a applies first and wins',
    'inline.yaml (document 1, GovernancePolicy/b): spec.match.namespaces: kube-system is never evaluated by the webhook (so the cluster cannot be locked out)',
    'inline.yaml (document 1, GovernancePolicy/b): spec.exceptions[0]: names no namespace, name, kinds or selector: it excuses every object from resources',
  ]);
});

test('the sample policies lint without warnings', async () => {
  const { loadPolicyFiles } = await import('../policy/load-files.js');
  const r = await loadPolicyFiles([new URL('../../policies/governance/', import.meta.url).pathname]);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(governanceWarnings(r.policies as never), []);
});

test('a when that can never hold, or that excludes UPDATE for an immutable key, and a no-op transition are warned about', () => {
  const w = governanceWarnings([
    policy(
      'w',
      `  when: {volumeTypes: [EmptyDir, emptyDir, nfs2]}
  resources: {when: {volumeTypes: [hostPath]}, require: [limits.memory]}
  labels:
    team: {immutable: true, when: {operations: [CREATE]}, transitions: [{from: a, to: a}, {from: '*', to: '*'}]}
    app: {required: true, when: {operations: [CREATE]}}`,
    ),
  ]).map((e) => `${e.path}: ${e.message}`);
  assert.deepEqual(w, [
    'spec.when.volumeTypes: "EmptyDir" is not a volume type Kubernetes knows (did you mean emptyDir?): the condition never holds for it',
    'spec.when.volumeTypes: "nfs2" is not a volume type Kubernetes knows (emptyDir, hostPath, configMap, secret, persistentVolumeClaim...): the condition never holds for it',
    'spec.labels.team.when.operations: immutable is only checked on UPDATE, which this condition excludes: it never applies',
    'spec.labels.team.transitions[0]: from and to are the same value: an unchanged value is always allowed',
  ]);
});

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

test('issue 13: a policy naming Namespace (or another cluster-scoped kind) is warned about; resource rules name the kinds they skip', () => {
  const w = governanceWarnings([
    policy('ns', `  match: {kinds: [Namespace, Service]}\n  labels: {team: {required: true}}`),
    policy('mixed', `  match: {kinds: [Deployment, Service]}\n  resources: {require: [limits.memory]}`),
    policy('fine', `  match: {kinds: [v1/Pod]}\n  resources: {require: [limits.memory]}`),
  ]).map(formatPolicyError);
  assert.deepEqual(w, [
    'inline.yaml (document 1, GovernancePolicy/mixed): spec.resources: resource rules act on pods and pod controllers only: not on Service',
    'inline.yaml (document 1, GovernancePolicy/ns): spec.match.kinds: Namespace is cluster-scoped: governor review and governor test check it, but the webhook never registers writes of cluster-scoped kinds (a broken webhook could lock the cluster out)',
  ]);
});

test('issue 13: conflicting defaults with overwrite say which wins, and that two overwrites never settle', () => {
  const w = governanceWarnings([
    policy('a', `  annotations: {karpenter.sh/do-not-disrupt: {default: 'false'}}`),
    policy('b', `  annotations: {karpenter.sh/do-not-disrupt: {default: 'true', overwrite: true}}`),
    policy('c', `  labels: {x: {default: 'a', overwrite: true}}`),
    policy('d', `  labels: {x: {default: 'b', overwrite: true}}`),
  ]).map(formatPolicyError);
  assert.deepEqual(w, [
    'inline.yaml (document 1, GovernancePolicy/b): spec.annotations.karpenter.sh/do-not-disrupt.default: default "true" conflicts with "false" of policy a; where both match, b overwrites it and wins',
    'inline.yaml (document 1, GovernancePolicy/d): spec.labels.x.default: default "b" conflicts with "a" of policy c; where both match, both overwrite: the value changes twice on every review (the patch is never empty)',
  ]);
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

test('lint warns that CEL validations of a Pod policy do not run on pod controllers (no autogen)', () => {
  const w = governanceWarnings([policy('pods', `  match: {kinds: [Pod]}\n  validations: [{expression: "true"}]\n`), policy('deploys', `  match: {kinds: [Deployment]}\n  validations: [{expression: "true"}]\n`)]);
  assert.deepEqual(
    w.map((x) => [x.policy, x.path]),
    [['GovernancePolicy/pods', 'spec.validations']],
  );
  assert.match(w[0]!.message, /run on Pods only/);
});

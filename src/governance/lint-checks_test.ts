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

test('lint warns that CEL validations of a Pod policy do not run on pod controllers (no autogen)', () => {
  const w = governanceWarnings([policy('pods', `  match: {kinds: [Pod]}\n  validations: [{expression: "true"}]\n`), policy('deploys', `  match: {kinds: [Deployment]}\n  validations: [{expression: "true"}]\n`)]);
  assert.deepEqual(
    w.map((x) => [x.policy, x.path]),
    [['GovernancePolicy/pods', 'spec.validations']],
  );
  assert.match(w[0]!.message, /run on Pods only/);
});

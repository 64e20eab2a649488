// The engine's per-namespace memo (namespaceSelectors evaluated once per namespace version) never changes a decision:
// policies that cannot match do not alter the outcome, and a namespace whose labels change is re-evaluated at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GovernanceEngine } from '../../src/governance/engine.js';
import { policy } from '../../src/governance/testing.js';
import { StaticNamespaces } from '../../src/kube/namespaces.js';
import { realisticDeployment, sampleNamespaces, samplePolicies } from '../integration/webhook_fixtures.js';

const noise = (n: number) =>
  Array.from({ length: n }, (_, i) => policy(`noise-${i}`, `  match: {namespaceSelector: {matchLabels: {team: team-${i}}}}\n  labels: {owner: {required: true}}\n  resources: {require: [limits.memory]}`));

test('a thousand non-matching policies leave every decision as it was', () => {
  const plain = new GovernanceEngine(samplePolicies());
  const crowded = new GovernanceEngine([...samplePolicies(), ...noise(1000)]);
  for (const ns of ['shop', 'analytics', 'legacy', 'dev']) {
    const ctx = { namespace: ns, kind: 'Deployment', group: 'apps', operation: 'CREATE' as const, namespaceInfo: sampleNamespaces().get(ns)! };
    const dep = realisticDeployment(ns);
    assert.deepEqual(crowded.review(dep, ctx), plain.review(dep, ctx), ns);
  }
});

test('a namespace label change takes effect on the next review (the memo is keyed by the labels object)', () => {
  const engine = new GovernanceEngine([...samplePolicies(), ...noise(50)]);
  const namespaces = new StaticNamespaces([['shop', { labels: { tier: 'dev' } }]]);
  const dep = realisticDeployment('shop');
  const review = () => engine.mutate(dep, { namespace: 'shop', kind: 'Deployment', group: 'apps', operation: 'CREATE', namespaceInfo: namespaces.get('shop')! });
  const before = review().policies.map((p) => p.policy);
  assert.ok(!before.includes('team-defaults'), 'team-defaults selects tier=prod only');
  namespaces.set('shop', { labels: { tier: 'prod', 'data-classification': 'internal' } });
  assert.ok(review().policies.map((p) => p.policy).includes('team-defaults'));
  namespaces.set('shop', { labels: { tier: 'dev', team: 'team-7' } });
  const after = review().policies.map((p) => p.policy);
  assert.ok(!after.includes('team-defaults') && after.includes('noise-7'), after.join(','));
});

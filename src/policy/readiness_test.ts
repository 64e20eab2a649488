import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicyText } from './parse.js';
import { PolicyReadiness } from './readiness.js';
import { PolicyStore } from './store.js';

const GOOD = `apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: defaults}
spec: {mode: enforce}
`;
const TYPO = GOOD.replace('mode: enforce', 'mdoe: enforce');

function offer(store: PolicyStore, files: Record<string, string>, source = 'files') {
  const rs = Object.entries(files).map(([f, t]) => parsePolicyText(t, f));
  return store.offer(rs.flatMap((r) => r.policies), rs.flatMap((r) => r.errors), source);
}

test('not ready until every source is read; then not ready while a policy given at start is invalid; once ready, stays ready', () => {
  const store = new PolicyStore();
  let clusterSynced: true | string = 'waiting for the first list of governancepolicies';
  let filesRead = false;
  const r = new PolicyReadiness(store, [
    { name: 'files', synced: () => filesRead || 'policy files not read yet' },
    { name: 'cluster', synced: () => clusterSynced },
  ]);
  assert.deepEqual(r.check(), ['files: policy files not read yet', 'cluster: waiting for the first list of governancepolicies']);

  offer(store, { 'policies/good.yaml': GOOD, 'policies/x.yaml': TYPO.replace('defaults', 'other') });
  filesRead = true;
  clusterSynced = true;
  const reasons = r.check();
  assert.ok(Array.isArray(reasons));
  assert.equal(reasons.length, 1);
  assert.match(reasons[0]!, /^policies\/x\.yaml:4:\d+ \(document 1, GovernancePolicy\/other\): spec\.mdoe: is not a known field/);
  assert.equal(store.current().governance.length, 1, 'the valid policy is enforced meanwhile');

  offer(store, { 'policies/good.yaml': GOOD });
  assert.equal(r.check(), true);
  // a broken update later: the last good version stays and so does readiness
  offer(store, { 'policies/good.yaml': TYPO });
  assert.equal(store.lastErrors().length, 1);
  assert.equal(store.current().governance.length, 1);
  assert.equal(r.check(), true);
  clusterSynced = 'watch failed';
  assert.equal(r.check(), true, 'a source that fails later keeps its last good policies; readiness holds');
});

test('an invalid cluster object given at start keeps the server not ready too', () => {
  const store = new PolicyStore();
  const r = new PolicyReadiness(store, [{ name: 'cluster', synced: () => true }]);
  offer(store, { 'cluster:GovernancePolicy/defaults': TYPO }, 'cluster');
  const reasons = r.check();
  assert.ok(Array.isArray(reasons) && /^cluster:GovernancePolicy\/defaults/.test(reasons[0]!));
});

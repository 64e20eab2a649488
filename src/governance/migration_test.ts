import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GovernanceEngine } from './engine.js';
import { formatViolation } from './result.js';
import { policy, yamlObject } from './testing.js';

const MIG = policy(
  'mig',
  `
  labels:
    governor.io/migration: {required: true, default: restart}
    governor.io/migration-group: {pattern: '^[a-z0-9-]+$'}
`,
);
const deployment = (labels: string) =>
  yamlObject(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop, labels: {${labels}}}
spec: {template: {spec: {containers: [{name: a, image: b}]}}}
`);

test('migration labels form their own family: default-migration-labels fills the mode on the workload and its pods', () => {
  const e = new GovernanceEngine([MIG]);
  const m = e.mutate(deployment('app: api'), { namespace: 'shop' });
  assert.deepEqual(m.patch, [
    { op: 'add', path: '/metadata/labels/governor.io~1migration', value: 'restart' },
    { op: 'add', path: '/spec/template/metadata', value: { labels: { 'governor.io/migration': 'restart' } } },
  ]);
  assert.equal(MIG.migration, true);
  assert.equal(MIG.labels[0]!.family, 'migration');
});

test('built-in values: modes live|restart|pinned and roles source|target', () => {
  const e = new GovernanceEngine([MIG]);
  const v = e.validate(deployment('governor.io/migration: teleport, governor.io/migration-role: sink'), { namespace: 'shop' });
  assert.deepEqual(v.decision.denials.map(formatViolation), [
    'metadata.labels["governor.io/migration"] must be one of live, restart, pinned (is "teleport") (policy mig, rule migration-label-values)',
    'metadata.labels["governor.io/migration-role"] must be one of source, target (is "sink") (policy mig, rule migration-label-values)',
  ]);
});

test('pinned-not-source: a pinned workload cannot carry role=source, nor be the source of a running migration', () => {
  const e = new GovernanceEngine([MIG], { activeMigrationSource: (ns, kind, name) => (ns === 'shop' && kind === 'Deployment' && name === 'api' ? 'move-api' : undefined) });
  const v = e.validate(deployment('governor.io/migration: pinned, governor.io/migration-role: source'), { namespace: 'shop' });
  assert.deepEqual(
    v.decision.denials.map((r) => `${r.rule} ${r.path}`),
    ['pinned-not-source metadata.labels["governor.io/migration-role"]', 'pinned-not-source metadata.labels["governor.io/migration"]'],
  );
  assert.match(v.decision.denials[1]!.message, /source of MigrationPolicy move-api/);
  assert.equal(e.validate(deployment('governor.io/migration: live, governor.io/migration-role: source'), { namespace: 'shop' }).decision.allowed, true);
});

test('protect-migration-source: DELETE of a running migration source is denied unless force-delete is set on the stored object', () => {
  const e = new GovernanceEngine([], { activeMigrationSource: (_ns, _k, name) => (name === 'api' ? 'move-api' : undefined) });
  const old = deployment('app: api');
  const denied = e.validate(null, { namespace: 'shop', operation: 'DELETE', oldObject: old, group: 'apps', kind: 'Deployment', name: 'api' });
  assert.equal(denied.decision.allowed, false);
  assert.equal(
    formatViolation(denied.decision.denials[0]!),
    'Deployment shop/api is the source of a running migration: wait until it ends, or annotate governor.io/force-delete="true" to delete anyway (policy move-api, rule protect-migration-source)',
  );
  (old.metadata as any).annotations = { 'governor.io/force-delete': 'true' };
  const forced = e.validate(null, { namespace: 'shop', operation: 'DELETE', oldObject: old, group: 'apps', kind: 'Deployment', name: 'api' });
  assert.equal(forced.decision.allowed, true);
  assert.equal(forced.decision.warnings.length, 1);
  const other = e.validate(null, { namespace: 'shop', operation: 'DELETE', oldObject: null, group: 'apps', kind: 'Deployment', name: 'web' });
  assert.equal(other.decision.allowed, true);
  assert.equal(other.results.length, 0);
});

test('without migration label rules a policy has no built-in migration checks', () => {
  const e = new GovernanceEngine([policy('plain', `  labels: {owner: {default: x}}`)]);
  assert.equal(e.validate(deployment('governor.io/migration: teleport'), { namespace: 'shop' }).decision.allowed, true);
});

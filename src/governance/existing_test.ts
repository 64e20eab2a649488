import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GovernanceEngine } from './engine.js';
import { policy } from './testing.js';

// max: cpu 4, with the old object over it at 4500m (admitted before the policy existed).
const MAX = policy('max', `  target: object\n  resources:\n    max: {cpu: "4", memory: 8Gi}\n    maxLimitRequestRatio: {cpu: 4}\n  labels:\n    tier: {allowed: [web, batch]}\n    owner: {required: true}`);
const engine = new GovernanceEngine([MAX]);

function dep(containers: { name: string; cpu?: string; req?: string }[], labels: Record<string, string> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', labels },
    spec: {
      template: {
        spec: {
          containers: containers.map((c) => ({ name: c.name, image: 'x', resources: { ...(c.req ? { requests: { cpu: c.req } } : {}), limits: { cpu: c.cpu ?? '1' } } })),
        },
      },
    },
  };
}

const update = (object: unknown, oldObject: unknown) => engine.validate(object, { namespace: 'shop', operation: 'UPDATE', oldObject });
const statuses = (v: ReturnType<typeof update>) => v.results.map((r) => `${r.rule}:${r.status}`);
const OLD = dep([{ name: 'app', cpu: '4500m' }, { name: 'side' }], { owner: 'me' });

test('UPDATE: a pre-existing max-resources violation passes only when not made worse', () => {
  const worse = update(dep([{ name: 'app', cpu: '64' }, { name: 'side' }], { owner: 'me' }), OLD);
  assert.equal(worse.decision.allowed, false, 'raised from 4500m to 64 cores');
  assert.match(worse.decision.denials[0]!.message, /must be at most 4 \(is 64\) \(made worse by this update: was "4500m"\)/);
  const same = update(dep([{ name: 'app', cpu: '4500m' }, { name: 'side' }], { owner: 'me' }), OLD);
  assert.equal(same.decision.allowed, true);
  assert.deepEqual(statuses(same), ['max-resources:warn']);
  assert.match(same.results[0]!.message, /pre-existing/);
  const lower = update(dep([{ name: 'app', cpu: '4200m' }, { name: 'side' }], { owner: 'me' }), OLD);
  assert.equal(lower.decision.allowed, true, 'lowered from 4500m to 4200m');
  assert.deepEqual(statuses(lower), ['max-resources:warn']);
  // The same amount written another way is the same amount.
  assert.equal(update(dep([{ name: 'app', cpu: '4.5' }, { name: 'side' }], { owner: 'me' }), OLD).decision.allowed, true);
  assert.equal(update(dep([{ name: 'app', cpu: '4500000001n' }, { name: 'side' }], { owner: 'me' }), OLD).decision.allowed, false);
  assert.equal(update(dep([{ name: 'app', cpu: '1e309' }, { name: 'side' }], { owner: 'me' }), OLD).decision.allowed, false);
});

test('UPDATE: violations are matched by container name, not index', () => {
  const reordered = update(dep([{ name: 'side' }, { name: 'app', cpu: '4500m' }], { owner: 'me' }), OLD);
  assert.equal(reordered.decision.allowed, true, 'containers reordered: still the same container');
  assert.equal(reordered.results[0]!.path, 'spec.template.spec.containers[1].resources.limits.cpu');
  const intruder = update(dep([{ name: 'new', cpu: '4500m' }, { name: 'side' }], { owner: 'me' }), OLD);
  assert.equal(intruder.decision.allowed, false, 'a different container at the old index is a new violation');
  assert.deepEqual(statuses(intruder), ['max-resources:fail']);
  const added = update(dep([{ name: 'app', cpu: '4500m' }, { name: 'side' }, { name: 'extra', cpu: '5' }], { owner: 'me' }), OLD);
  assert.deepEqual(statuses(added), ['max-resources:warn', 'max-resources:fail']);
});

test('UPDATE: ratios may not grow, required values stay absent at most, allowed-value violations keep their value', () => {
  const oldRatio = dep([{ name: 'app', cpu: '3', req: '500m' }], { owner: 'me' }); // 6x over 4x
  assert.equal(update(dep([{ name: 'app', cpu: '3', req: '500m' }], { owner: 'me' }), oldRatio).decision.allowed, true);
  assert.equal(update(dep([{ name: 'app', cpu: '3', req: '600m' }], { owner: 'me' }), oldRatio).decision.allowed, true, '5x: better');
  assert.equal(update(dep([{ name: 'app', cpu: '3', req: '400m' }], { owner: 'me' }), oldRatio).decision.allowed, false, '7.5x: worse');
  assert.equal(update(dep([{ name: 'app', cpu: '3', req: '0' }], { owner: 'me' }), oldRatio).decision.allowed, false, 'unbounded: worse');
  const noOwner = dep([{ name: 'app' }]);
  assert.equal(update(dep([{ name: 'app' }]), noOwner).decision.allowed, true, 'still missing: pre-existing');
  const badTier = dep([{ name: 'app' }], { owner: 'me', tier: 'gold' });
  assert.equal(update(dep([{ name: 'app' }], { owner: 'me', tier: 'gold' }), badTier).decision.allowed, true);
  const changed = update(dep([{ name: 'app' }], { owner: 'me', tier: 'platinum' }), badTier);
  assert.equal(changed.decision.allowed, false, 'a different disallowed value is a new violation');
  assert.match(changed.decision.denials[0]!.message, /was "gold"/);
});

test('UPDATE: with allowExistingViolations false every violation denies', () => {
  const strict = new GovernanceEngine([policy('strict', `  allowExistingViolations: false\n  resources:\n    max: {cpu: "4"}`)]);
  const v = strict.validate(dep([{ name: 'app', cpu: '4500m' }]), { namespace: 'shop', operation: 'UPDATE', oldObject: dep([{ name: 'app', cpu: '4500m' }]) });
  assert.equal(v.decision.allowed, false);
});

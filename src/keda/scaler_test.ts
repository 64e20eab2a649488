import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { matches } from '../common/labels.js';
import { BadRequestError, NoMatchingPolicyError, ValueUnavailableError } from '../adapter/errors.js';
import { FakeMetricsProvider } from '../adapter/fake-provider.js';
import { policyLabels } from '../adapter/policy-provider.js';
import { migrationLabels } from '../adapter/migration-provider.js';
import type { MigrationPolicy, ScalingPolicy } from '../policy/types.js';
import { ExternalScaler, METRIC_SPEC, scalerTarget, targetSelector, type ScaledObjectRef } from './scaler.js';

const ref = (scalerMetadata: Record<string, string>, namespace = 'shop', name = 'checkout'): ScaledObjectRef => ({ name, namespace, scalerMetadata });
const value = (v: string) => ({ metricName: 'desired-replicas', metricLabels: {}, timestamp: '2026-12-04T00:00:00Z', window: 30, value: v });

describe('trigger metadata', () => {
  test('policy by name in the ScaledObject namespace, or namespace/name of the same namespace', () => {
    assert.deepEqual(scalerTarget(ref({ policy: 'checkout' })), { namespace: 'shop', policy: 'checkout' });
    assert.deepEqual(scalerTarget(ref({ policy: 'shop/checkout', scalerAddress: 'x:1' })), { namespace: 'shop', policy: 'checkout' });
    assert.deepEqual(scalerTarget(ref({ policy: 'move', role: 'source' })), { namespace: 'shop', policy: 'move', role: 'source' });
    assert.deepEqual(scalerTarget(ref({ policy: 'move', role: '' })), { namespace: 'shop', policy: 'move' });
  });

  test('refuses what is not a policy of its own namespace, with the reason', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /"policy" is required/],
      [{ policy: '' }, /"policy" is required/],
      [{ policy: 'other/checkout' }, /names namespace other, but the ScaledObject is in shop/],
      [{ policy: 'a/b/c' }, /<name> or <namespace>\/<name>/],
      [{ policy: 'Check_out' }, /not a policy name/],
      [{ policy: 'x'.repeat(64) }, /not a policy name/],
      [{ policy: 'checkout', role: 'both' }, /"role" is source or target/],
      [{ policy: `${'y'.repeat(10_000)}` }, /not a policy name/],
    ];
    for (const [meta, re] of cases) {
      assert.throws(() => scalerTarget(ref(meta)), (e: unknown) => e instanceof BadRequestError && re.test(e.message) && e.message.length < 400, JSON.stringify(meta).slice(0, 60));
    }
  });

  test('a client that sends no namespace reads the namespace it names', () => {
    assert.deepEqual(scalerTarget(ref({ policy: 'shop/checkout' }, '')), { namespace: 'shop', policy: 'checkout' });
  });
});

describe('the selector is the one an HPA from `governor hpa` sends', () => {
  const scaling = { name: 'checkout', namespace: 'shop', target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'checkout' } } as unknown as ScalingPolicy;
  const migration = {
    name: 'checkout',
    namespace: 'shop',
    source: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'old' },
    target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'new' },
  } as unknown as MigrationPolicy;

  test('without a role it selects the ScalingPolicy and neither side of a same-named migration', () => {
    const { selector, text } = targetSelector({ namespace: 'shop', policy: 'checkout' });
    assert.equal(matches(selector, policyLabels(scaling)), true);
    assert.equal(matches(selector, migrationLabels(migration, 'source')), false);
    assert.equal(matches(selector, migrationLabels(migration, 'target')), false);
    assert.equal(text, 'governor.io/policy=checkout,!governor.io/role');
  });

  test('with a role it selects that side only', () => {
    for (const role of ['source', 'target'] as const) {
      const { selector } = targetSelector({ namespace: 'shop', policy: 'checkout', role });
      assert.equal(matches(selector, migrationLabels(migration, role)), true);
      assert.equal(matches(selector, migrationLabels(migration, role === 'source' ? 'target' : 'source')), false);
      assert.equal(matches(selector, policyLabels(scaling)), false);
    }
  });
});

describe('ExternalScaler', () => {
  test('R from the provider: metric value R, target 1, active while R > 0', async () => {
    let answer = [value('7')];
    const provider = new FakeMetricsProvider(['desired-replicas'], {});
    Object.defineProperty(provider, 'getValues', { value: async () => answer });
    const s = new ExternalScaler(provider);
    assert.deepEqual(await s.read(ref({ policy: 'checkout' })), { replicas: 7, active: true, intervalMs: 30_000 });
    assert.deepEqual(await s.metrics(ref({ policy: 'checkout' }), 'desired-replicas'), { metricName: 'desired-replicas', metricValue: 7, metricValueFloat: 7 });
    assert.equal(await s.isActive(ref({ policy: 'checkout' })), true);
    answer = [value('0')];
    assert.equal(await s.isActive(ref({ policy: 'checkout' })), false);
    assert.equal((await s.metrics(ref({ policy: 'checkout' }), 'desired-replicas')).metricValue, 0);
    assert.deepEqual(s.metricSpec(ref({ policy: 'checkout' })), METRIC_SPEC);
    assert.equal(METRIC_SPEC.targetSize, 1);
  });

  test('asks the provider for the namespace and selector of the trigger', async () => {
    const provider = new FakeMetricsProvider(['desired-replicas'], { 'shop/desired-replicas': [value('2')] });
    await new ExternalScaler(provider).read(ref({ policy: 'move', role: 'target' }));
    assert.equal(provider.calls.length, 1);
    assert.equal(provider.calls[0]!.namespace, 'shop');
    assert.deepEqual(provider.calls[0]!.selector, targetSelector({ namespace: 'shop', policy: 'move', role: 'target' }).selector);
  });

  test('errors keep their kind: unknown policy, no value, wrong metric, bad metadata before any lookup', async () => {
    const notFound = new FakeMetricsProvider(['desired-replicas'], { 'shop/desired-replicas': new NoMatchingPolicyError('shop', 'x', []) });
    await assert.rejects(new ExternalScaler(notFound).isActive(ref({ policy: 'checkout' })), NoMatchingPolicyError);
    const down = new FakeMetricsProvider(['desired-replicas'], { 'shop/desired-replicas': new ValueUnavailableError('source down') });
    await assert.rejects(new ExternalScaler(down).metrics(ref({ policy: 'checkout' }), 'desired-replicas'), ValueUnavailableError);
    const ok = new FakeMetricsProvider(['desired-replicas'], { 'shop/desired-replicas': [value('2')] });
    await assert.rejects(new ExternalScaler(ok).metrics(ref({ policy: 'checkout' }), 's0-other'), /serves the metric desired-replicas/);
    assert.throws(() => new ExternalScaler(ok).metricSpec(ref({})), BadRequestError);
    await assert.rejects(new ExternalScaler(ok).read(ref({ policy: 'Nope' })), BadRequestError);
    assert.equal(ok.calls.length, 0);
  });

  test('a provider answering with more than one item is an internal error, not a guess', async () => {
    const two = new FakeMetricsProvider(['desired-replicas'], { 'shop/desired-replicas': [value('2'), value('3')] });
    await assert.rejects(new ExternalScaler(two).read(ref({ policy: 'checkout' })), /expected one desired-replicas value/);
  });
});

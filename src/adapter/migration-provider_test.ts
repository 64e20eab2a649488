// MigrationPolicy values on the external metrics API: one item per role, one evaluation per interval, state in the
// store, composition with the ScalingPolicy provider.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSelector } from '../common/labels.js';
import { MigrationStateCache, WorkloadApiError } from '../kube/migration-state.js';
import { FakeScaleReader, ScaleReadError, type ScaleReader } from '../kube/scale.js';
import { silentLogger } from '../observability/log.js';
import { migrationPolicyYaml, parsedPolicies, scalingPolicyYaml, yamlStream } from '../policy/testing.js';
import { PolicyStore } from '../policy/store.js';
import { FakeMigrationStateStore, migrationKey } from '../scaling/migration.js';
import { LoadCache } from '../sources/cache.js';
import { SourceUnavailableError } from '../sources/errors.js';
import { FakeMetricSource } from '../sources/fake.js';
import { DecisionService } from './decisions.js';
import { ValueUnavailableError } from './errors.js';
import { CompositeMetricsProvider, MigrationMetricsProvider, NoMatchingMigrationError, NoMatchingPolicyOrMigrationError } from './migration-provider.js';
import { PolicyMetricsProvider } from './policy-provider.js';

const QUERY = 'sum(rate(http_requests_total{app="checkout"}[1m]))';
const CHECKOUT = scalingPolicyYaml({ name: 'checkout', load: "{prometheus: {query: 'other'}}", replicas: '{min: 1, base: 2, max: 10}' });
const migration = (o: { base?: number; capacity?: string } = {}) =>
  migrationPolicyYaml({ name: 'move', source: 'checkout-a', target: 'checkout-b', load: `{prometheus: {query: '${QUERY}'}}`, base: 6, step: 2, capacity: '{replicas: 6}', ...o });
const YAML = yamlStream(CHECKOUT, migration());

function setup(yaml = YAML, scale?: ScaleReader) {
  let now = Date.UTC(2026, 0, 1);
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const source = new FakeMetricSource().set(QUERY, 800).set('other', 450);
  const cache = new LoadCache(source, { now: clock.now });
  const store = new PolicyStore();
  assert.equal(store.offer(parsedPolicies(yaml), []).applied, true);
  const stateStore = new FakeMigrationStateStore();
  const states = new MigrationStateCache(() => store.current().migration);
  const decisions = new DecisionService({ cache, now: clock.now, log: silentLogger });
  const migrations = new MigrationMetricsProvider({ store, cache, stateStore, states, decisions, ...(scale ? { scale } : {}), now: clock.now, log: silentLogger });
  const composite = new CompositeMetricsProvider(new PolicyMetricsProvider(store, decisions), migrations);
  const get = async (sel: string, p: { getValues: CompositeMetricsProvider['getValues'] } = composite) => p.getValues('shop', 'desired-replicas', parseSelector(sel), sel);
  return { clock, source, store, stateStore, states, migrations, composite, get };
}

test('one item per role, selected by governor.io/policy and governor.io/role, following the migration model', async () => {
  const s = setup();
  const src = await s.get('governor.io/policy=move,governor.io/role=source');
  assert.equal(src.length, 1);
  assert.equal(src[0]!.value, '6');
  assert.deepEqual(src[0]!.metricLabels, { 'governor.io/policy': 'move', 'governor.io/role': 'source', 'governor.io/target-kind': 'Deployment', 'governor.io/target-name': 'checkout-a' });
  assert.equal(src[0]!.window, 30);
  const tgt = await s.get('governor.io/policy=move,governor.io/role=target');
  assert.equal(tgt[0]!.value, '1');
  // next interval: load 800 drains ΔR = 2
  s.clock.advance(30_000);
  assert.equal((await s.get('governor.io/policy=move,governor.io/role=source'))[0]!.value, '4');
  assert.equal((await s.get('governor.io/policy=move,governor.io/role=target'))[0]!.value, '2');
  // the state went to the store, and to the cache the webhook reads
  const stored = await s.stateStore.read(migrationKey(s.store.current().migration[0]!));
  assert.equal(stored.state!.sourceExact, 4);
  assert.equal(s.states.get('shop', 'Deployment', 'checkout-a')!.phase, 'Migrating');
});

test('both HPAs polling many times in one interval cause one evaluation, one source query and one state write', async () => {
  const s = setup();
  await s.get('governor.io/policy=move,governor.io/role=source');
  s.clock.advance(30_000);
  const writes = s.stateStore.writes;
  const queries = s.source.calls(QUERY);
  const answers = await Promise.all(
    Array.from({ length: 10 }, (_, i) => s.get(`governor.io/policy=move,governor.io/role=${i % 2 ? 'target' : 'source'}`)),
  );
  assert.deepEqual(new Set(answers.map((a) => `${a[0]!.metricLabels['governor.io/role']}=${a[0]!.value}`)), new Set(['source=4', 'target=2']));
  assert.equal(s.stateStore.writes - writes, 1);
  assert.equal(s.source.calls(QUERY) - queries, 1);
});

test('a selector without a role matches both items; ScalingPolicies still answer; neither gives one 404 for both kinds', async () => {
  const s = setup();
  const both = await s.get('governor.io/policy=move');
  assert.deepEqual(both.map((i) => i.metricLabels['governor.io/role']).sort(), ['source', 'target']);
  const scaling = await s.get('governor.io/policy=checkout');
  assert.equal(scaling.length, 1);
  assert.equal(scaling[0]!.value, '6'); // 2 + 350/700 · 8
  await assert.rejects(s.get('governor.io/policy=nope'), (e: unknown) => e instanceof NoMatchingPolicyOrMigrationError && /no ScalingPolicy or MigrationPolicy in namespace shop .*migrations there: move/.test((e as Error).message));
  await assert.rejects(s.get('governor.io/policy=checkout', s.migrations), NoMatchingMigrationError);
});

test('a failing load source holds the migration; the values stay published', async () => {
  const s = setup();
  await s.get('governor.io/policy=move,governor.io/role=source');
  s.source.set(QUERY, new SourceUnavailableError('prometheus down', QUERY));
  s.clock.advance(30_000);
  assert.equal((await s.get('governor.io/policy=move,governor.io/role=source'))[0]!.value, '6');
  s.source.set(QUERY, 800);
  s.clock.advance(30_000);
  assert.equal((await s.get('governor.io/policy=move,governor.io/role=source'))[0]!.value, '4');
});

test('capacity from a ScalingPolicy comes from its current decision', async () => {
  const s = setup(yamlStream(CHECKOUT, migration({ capacity: '{scalingPolicy: checkout}' })));
  // checkout decides 6 at load 450; source 6 → target max(1, 6 − 6) = 1
  assert.equal((await s.get('governor.io/policy=move,governor.io/role=target'))[0]!.value, '1');
  s.clock.advance(30_000);
  // source drains to 4: target 6 − 4 = 2
  assert.equal((await s.get('governor.io/policy=move,governor.io/role=target'))[0]!.value, '2');
});

test('without spec.base and without a scale reader the migration stays Pending: 503 with the reason', async () => {
  const s = setup(yamlStream(CHECKOUT, migration({ base: undefined })));
  await assert.rejects(s.get('governor.io/policy=move,governor.io/role=source'), (e: unknown) => e instanceof ValueUnavailableError && /MigrationPolicy shop\/move \(source\): waiting for the source replica count/.test((e as Error).message));
});

test('a state store failure becomes a 503 and is retried at the next poll', async () => {
  const s = setup();
  const read = s.stateStore.read.bind(s.stateStore);
  let fail = true;
  s.stateStore.read = async (k) => {
    if (fail) throw new WorkloadApiError('cannot read Deployment shop/checkout-a: the API server is unreachable', { cause: new Error('connect ECONNREFUSED 10.96.0.1:443') });
    return read(k);
  };
  await assert.rejects(s.get('governor.io/policy=move,governor.io/role=source'), (e: unknown) => {
    assert.ok(e instanceof ValueUnavailableError);
    assert.equal(e.message, 'MigrationPolicy shop/move: cannot read Deployment shop/checkout-a: the API server is unreachable');
    assert.match(e.detail!, /ECONNREFUSED 10\.96\.0\.1/);
    return true;
  });
  fail = false;
  assert.equal((await s.get('governor.io/policy=move,governor.io/role=source'))[0]!.value, '6');
});

test('make before break: a role shrinks only once the other workload has grown, so independent HPA syncs keep the capacity', async () => {
  const a = { kind: 'Deployment', name: 'checkout-a' };
  const b = { kind: 'Deployment', name: 'checkout-b' };
  const scale = new FakeScaleReader().set('shop', a, 6).set('shop', b, 1);
  const s = setup(YAML, scale);
  const source = async () => (await s.get('governor.io/policy=move,governor.io/role=source'))[0]!.value;
  const target = async () => (await s.get('governor.io/policy=move,governor.io/role=target'))[0]!.value;
  assert.equal(await source(), '6');
  assert.equal(await target(), '1');
  s.clock.advance(30_000); // load 800: the model drains ΔR = 2 → source 4, target 2
  // The target's HPA has not synced yet (checkout-b still at 1): the source holds 6 - 1 = 5, the target grows.
  assert.equal(await source(), '5');
  assert.equal(await target(), '2');
  scale.set('shop', b, 2); // the target HPA acted; within the same interval the source follows the model
  assert.equal(await source(), '4');
  // A failed read publishes the model's value (no worse than without the guard).
  scale.set('shop', b, new ScaleReadError('apiserver down'));
  assert.equal(await source(), '4');
  // Rollback direction: the target would shrink first; it holds while the source is still short.
  scale.set('shop', b, 2).set('shop', a, 2);
  assert.equal(await target(), '4');
});

test('readiness: the source drains only as the target pods become Ready (status.readyReplicas), read per poll', async () => {
  const a = { kind: 'Deployment', name: 'checkout-a' };
  const b = { kind: 'Deployment', name: 'checkout-b' };
  const scale = new FakeScaleReader().set('shop', a, 6).set('shop', b, { specReplicas: 1, statusReplicas: 1, readyReplicas: 1 });
  const s = setup(YAML, scale);
  const source = async () => (await s.get('governor.io/policy=move,governor.io/role=source'))[0]!.value;
  const target = async () => (await s.get('governor.io/policy=move,governor.io/role=target'))[0]!.value;
  assert.equal(await source(), '6');
  s.clock.advance(30_000); // the model: source 4, target 2
  assert.equal(await target(), '2');
  // The target's HPA acted (2 pods) but the new pod is not Ready: the source still carries 6 − 1 = 5.
  scale.set('shop', b, { specReplicas: 2, statusReplicas: 2, readyReplicas: 1 });
  assert.equal(await source(), '5');
  scale.set('shop', b, { specReplicas: 2, statusReplicas: 2, readyReplicas: 2 });
  assert.equal(await source(), '4');
  // A failed Ready read falls back to the model's value (with make-before-break on spec.replicas).
  scale.set('shop', b, new ScaleReadError('apiserver down'));
  assert.equal(await source(), '4');
});

test('drained but the target not Ready: the migration stays Migrating (its source may not be deleted) until the target is', async () => {
  const a = { kind: 'Deployment', name: 'checkout-a' };
  const b = { kind: 'Deployment', name: 'checkout-b' };
  const scale = new FakeScaleReader().set('shop', a, 6).set('shop', b, { specReplicas: 1, statusReplicas: 1, readyReplicas: 1 });
  const s = setup(YAML, scale);
  const phase = () => s.states.get('shop', 'Deployment', 'checkout-a')?.phase;
  const source = async () => (await s.get('governor.io/policy=move,governor.io/role=source'))[0]!.value;
  assert.equal(await source(), '6');
  // load 800 drains ΔR = 2 per interval: R′ 4, 2, 0; the target's pods never become Ready
  for (let k = 0; k < 3; k++) {
    s.clock.advance(30_000);
    await source();
  }
  const stored = await s.stateStore.read(migrationKey(s.store.current().migration[0]!));
  assert.equal(stored.state!.sourceExact, 0);
  assert.equal(phase(), 'Migrating');
  assert.equal(await source(), '5'); // 6 − 1 Ready target pod
  // a failed read of the target does not complete it either
  scale.set('shop', b, new ScaleReadError('apiserver down'));
  s.clock.advance(30_000);
  await source();
  assert.equal(phase(), 'Migrating');
  // the target's 6 pods Ready: Completed at the next interval, the source published at 0
  scale.set('shop', b, { specReplicas: 6, statusReplicas: 6, readyReplicas: 6 });
  s.clock.advance(30_000);
  assert.equal(await source(), '0');
  assert.equal(phase(), 'Completed');
});

test('a bug in the evaluation is no 503: the error goes on as it is (a 500, logged with its stack)', async () => {
  const s = setup();
  s.stateStore.read = async () => {
    throw new TypeError("Cannot read properties of undefined (reading 'phase')");
  };
  await assert.rejects(s.get('governor.io/policy=move,governor.io/role=source'), (e: unknown) => e instanceof TypeError && !(e instanceof ValueUnavailableError));
});

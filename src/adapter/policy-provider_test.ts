// The policy provider with the decision service: selection, one item per policy, quantities, per-interval evaluation, failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSelector } from '../common/labels.js';
import { Writable } from 'node:stream';
import { createLogger, silentLogger } from '../observability/log.js';
import { createMetrics } from '../observability/metrics.js';
import { parsedPolicies, scalingPolicyYaml, yamlStream } from '../policy/testing.js';
import { PolicyStore } from '../policy/store.js';
import { FakeScaleReader } from '../kube/scale.js';
import { LoadCache } from '../sources/cache.js';
import { SourceUnavailableError } from '../sources/errors.js';
import { FakeMetricSource } from '../sources/fake.js';
import { DecisionService } from './decisions.js';
import { MetricNotFoundError, NoMatchingPolicyError, ValueUnavailableError } from './errors.js';
import { PolicyMetricsProvider } from './policy-provider.js';

/** shop/checkout, whose thresholds a test changes. */
const shopCheckout = (high = 800) =>
  scalingPolicyYaml({ name: 'checkout', load: "{prometheus: {query: 'rps_checkout'}}", thresholds: `{low: 100, high: ${high}}`, replicas: '{min: 2, base: 3, max: 20, cap: 30}', step: 2, more: ['onSourceFailure: {action: hold, after: 2}'] });
const others = [
  scalingPolicyYaml({ name: 'search', load: "{http: {url: 'http://127.0.0.1:1/stats', valuePath: 'data.rps'}}", thresholds: '{low: 0, high: 10}', replicas: '{min: 1, base: 1, max: 4}', interval: '10s', more: ['onSourceFailure: {action: fixed, replicas: 3, after: 1}'] }),
  scalingPolicyYaml({ name: 'checkout', namespace: 'other', load: "{prometheus: {query: 'rps_other'}}", thresholds: '{low: 1, high: 2}', replicas: '{max: 5}' }),
];
const POLICIES = yamlStream(shopCheckout(), ...others);

const I = 30_000;

/** A logger at info whose lines (level as a name, message) the test reads. */
function capturedLog() {
  const lines: { level: string; msg: string }[] = [];
  const log = createLogger({ level: 'info', destination: new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }) });
  return { log, lines };
}
function setup() {
  let now = 2_000 * I + 1_000;
  const store = new PolicyStore();
  assert.equal(store.offer(parsedPolicies(POLICIES), []).applied, true);
  const source = new FakeMetricSource().set('rps_checkout', 450).set('GET http://127.0.0.1:1/stats → data.rps', 5).set('rps_other', 0);
  const scale = new FakeScaleReader();
  const metrics = createMetrics({ defaultMetrics: false });
  const cache = new LoadCache(source, { now: () => now });
  const decisions = new DecisionService({ cache, scale, now: () => now, log: silentLogger, metrics });
  const provider = new PolicyMetricsProvider(store, decisions);
  const values = (ns: string, sel: string, metric = 'desired-replicas') => provider.getValues(ns, metric, parseSelector(sel), sel);
  return { store, source, scale, metrics, provider, values, decisions, advance: (ms: number) => (now += ms), now: () => now };
}

test('the HPA recipe selector yields exactly one item with the formula value', async () => {
  const { values } = setup();
  const items = await values('shop', 'governor.io/policy=checkout');
  assert.equal(items.length, 1);
  assert.deepEqual(items[0], {
    metricName: 'desired-replicas',
    metricLabels: { 'governor.io/policy': 'checkout', 'governor.io/target-kind': 'Deployment', 'governor.io/target-name': 'checkout' },
    timestamp: new Date(2_000 * I + 1_000).toISOString().replace('.000Z', 'Z'),
    window: 30,
    value: '12',
  });
});

test('the namespace comes from the path: the same policy name elsewhere is another policy', async () => {
  const { values } = setup();
  const items = await values('other', 'governor.io/policy=checkout');
  assert.equal(items.length, 1);
  assert.equal(items[0]!.value, '1');
  assert.equal(items[0]!.window, 30);
});

test('an empty selector returns one item per policy of the namespace', async () => {
  const { values } = setup();
  const items = await values('shop', '');
  assert.deepEqual(items.map((i) => i.metricLabels['governor.io/policy']).sort(), ['checkout', 'search']);
});

test('a selector matching nothing is a 404 that says so and names the policies there', async () => {
  const { values } = setup();
  await assert.rejects(values('shop', 'governor.io/policy=nope'), (e: unknown) => {
    assert.ok(e instanceof NoMatchingPolicyError);
    assert.match(e.message, /no ScalingPolicy in namespace shop matches selector "governor.io\/policy=nope" \(policies there: checkout, search/);
    return true;
  });
  await assert.rejects(values('empty', 'governor.io/policy=x'), /\(there are none\)/);
  await assert.rejects(values('shop', '', 'cpu'), MetricNotFoundError);
});

test('many polls in one interval: one source query, one scale read, the same value', async () => {
  const { values, source, scale, advance } = setup();
  scale.set('shop', { kind: 'Deployment', name: 'checkout' }, 20);
  source.set('rps_checkout', 5000);
  const first = await Promise.all(Array.from({ length: 50 }, () => values('shop', 'governor.io/policy=checkout')));
  for (let i = 0; i < 5; i++) {
    advance(3_000);
    scale.set('shop', { kind: 'Deployment', name: 'checkout' }, 22); // the HPA applied our 22 meanwhile
    first.push(await values('shop', 'governor.io/policy=checkout'));
  }
  assert.ok(first.every((items) => items[0]!.value === '22'), 'no compounding inside the interval');
  assert.equal(source.calls('rps_checkout'), 1);
  assert.equal(scale.reads, 1);
  advance(I);
  assert.equal((await values('shop', 'governor.io/policy=checkout'))[0]!.value, '24');
  assert.equal(source.calls('rps_checkout'), 2);
});

test('a source down with nothing to hold is a 503 naming the source type, policy and failure class (URL and query only in the detail); fixed publishes its value', async () => {
  const { values, source } = setup();
  source.set('rps_checkout', new SourceUnavailableError('prometheus http://127.0.0.1:9090 unreachable (ECONNREFUSED) for query "rps_checkout"', 'rps_checkout'));
  await assert.rejects(values('shop', 'governor.io/policy=checkout'), (e: unknown) => {
    assert.ok(e instanceof ValueUnavailableError);
    assert.equal(e.code, 503);
    assert.equal(e.message, 'load source prometheus of policy shop/checkout failing: unreachable');
    assert.match(e.detail!, /ScalingPolicy shop\/checkout: .*http:\/\/127\.0\.0\.1:9090 unreachable \(ECONNREFUSED\) for query "rps_checkout"/);
    return true;
  });
  source.set('GET http://127.0.0.1:1/stats → data.rps', new SourceUnavailableError('down', 'q'));
  assert.equal((await values('shop', 'governor.io/policy=search'))[0]!.value, '3');
});

test('a source failure after a good value keeps the last decision, then holds the live count', async () => {
  const { values, source, scale, advance } = setup();
  assert.equal((await values('shop', 'governor.io/policy=checkout'))[0]!.value, '12');
  source.set('rps_checkout', new SourceUnavailableError('down', 'rps_checkout'));
  scale.set('shop', { kind: 'Deployment', name: 'checkout' }, 9);
  advance(I);
  assert.equal((await values('shop', 'governor.io/policy=checkout'))[0]!.value, '12');
  advance(I);
  assert.equal((await values('shop', 'governor.io/policy=checkout'))[0]!.value, '9');
});

test('metrics: decision replicas and load per policy, value age', async () => {
  const { values, metrics, advance } = setup();
  await values('shop', 'governor.io/policy=checkout');
  advance(5_000);
  const text = await metrics.registry.metrics();
  assert.match(text, /governor_decision_replicas\{policy="shop\/checkout",role="scale"\} 12/);
  assert.match(text, /governor_decision_load\{policy="shop\/checkout"\} 450/);
  assert.match(text, /governor_load_value_age_seconds\{policy="shop\/checkout"\} 0/);
});

test('a reload that removes a policy makes it unknown and forgets its state', async () => {
  const { values, store, decisions } = setup();
  await values('shop', 'governor.io/policy=checkout');
  const keep = parsedPolicies(yamlStream(...others));
  assert.equal(store.offer(keep, []).applied, true);
  await assert.rejects(values('shop', 'governor.io/policy=checkout'), NoMatchingPolicyError);
  assert.equal(decisions.last('shop/checkout'), undefined);
});

test('a reloaded policy with new thresholds is evaluated at once, not at the next interval', async () => {
  const { values, store } = setup();
  assert.equal((await values('shop', 'governor.io/policy=checkout'))[0]!.value, '12');
  assert.equal(store.offer(parsedPolicies(yamlStream(shopCheckout(450), ...others)), []).applied, true);
  assert.equal((await values('shop', 'governor.io/policy=checkout'))[0]!.value, '20');
});

test('an outage is logged when it starts, changes and ends, not on every interval', async () => {
  const { log, lines } = capturedLog();
  let now = 2_000 * I + 1_000;
  const store = new PolicyStore();
  store.offer(parsedPolicies(POLICIES), []);
  const source = new FakeMetricSource().set('rps_checkout', 450);
  const cache = new LoadCache(source, { now: () => now });
  const decisions = new DecisionService({ cache, now: () => now, log });
  const checkout = store.current().scaling.find((p) => p.name === 'checkout' && p.namespace === 'shop')!;
  await decisions.decide(checkout);
  source.set('rps_checkout', new SourceUnavailableError('down', 'rps_checkout'));
  for (let i = 0; i < 6; i++) {
    now += I;
    await decisions.decide(checkout);
  }
  source.set('rps_checkout', 450);
  now += I;
  await decisions.decide(checkout);
  await new Promise((r) => setImmediate(r));
  const failing = lines.filter((l) => /load source (still )?failing/.test(l.msg));
  // Six failed intervals (onSourceFailure: hold, after: 2): a line when the failure starts (last good decision kept)
  // and one when the hold begins; the four intervals after that are debug.
  assert.equal(failing.length, 2, JSON.stringify(lines.map((l) => l.msg)));
  assert.ok(failing.every((l) => l.level === 'warn'));
  assert.match(failing[1]!.msg, /holding the last published value/);
  assert.ok(lines.some((l) => l.level === 'info' && /^decision:/.test(l.msg) && lines.indexOf(l) > lines.indexOf(failing[0]!)), 'recovery is logged');
});

test('no value to publish: error where a cluster scales on it, warn in a local run without a Kubernetes API', async () => {
  const levels = async (withCluster: boolean) => {
    const { log, lines } = capturedLog();
    const store = new PolicyStore();
    store.offer(parsedPolicies(POLICIES), []);
    const source = new FakeMetricSource().set('rps_other', new SourceUnavailableError('down', 'rps_other'));
    const cache = new LoadCache(source, { now: () => 2_000 * I });
    const decisions = new DecisionService({ cache, ...(withCluster ? { scale: new FakeScaleReader() } : {}), now: () => 2_000 * I, log });
    await decisions.decide(store.current().scaling.find((p) => p.namespace === 'other')!);
    await new Promise((r) => setImmediate(r));
    return lines.filter((l) => /no value to publish/.test(l.msg)).map((l) => l.level);
  };
  assert.deepEqual(await levels(true), ['error']);
  assert.deepEqual(await levels(false), ['warn']);
});

test('one policy: the same answer (same items) for the whole interval, a new one with the next decision', async () => {
  const { values, source, advance } = setup();
  const a = await values('shop', 'governor.io/policy=checkout');
  const b = await values('shop', 'governor.io/policy=checkout');
  assert.equal(a, b, 'the answer is reused within the interval');
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a[0]), 'a shared answer cannot be changed by a caller');
  source.set('rps_checkout', 100);
  advance(I);
  const c = await values('shop', 'governor.io/policy=checkout');
  assert.notEqual(c, a);
  assert.equal(c[0]!.value, '3');
  assert.equal(a[0]!.value, '12', 'the earlier answer is untouched');
});

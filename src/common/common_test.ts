import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareQuantities, formatQuantity, parseQuantity, QuantityError, tryParseQuantity } from './quantity.js';
import { formatDuration, parseDuration } from './duration.js';
import { isValidLabelKey, matches, parseSelector, pinnedValue, SelectorError, selectorRequirements } from './labels.js';

test('parseQuantity reads Kubernetes suffixes', () => {
  const eq = (a: string | number, b: string) => assert.equal(compareQuantities(parseQuantity(a), parseQuantity(b)), 0, `${a} = ${b}`);
  assert.equal(parseQuantity('100m').nanos, 1e8);
  assert.equal(parseQuantity('4').nanos, 4e9);
  eq('8Gi', String(8 * 2 ** 30));
  eq('128Mi', String(128 * 2 ** 20));
  eq('1k', '1000');
  eq('1.5', '1500m');
  eq('2e3', '2k');
  eq(3, '3');
  assert.throws(() => parseQuantity('4 cores'), QuantityError);
  assert.throws(() => parseQuantity('Gix'), QuantityError);
  assert.equal(tryParseQuantity({}), undefined);
});

test('formatQuantity publishes integers plain and fractions as milli-units rounded up', () => {
  assert.equal(formatQuantity(3), '3');
  assert.equal(formatQuantity(1.5), '1500m');
  assert.equal(formatQuantity(0.0001), '1m');
  assert.equal(formatQuantity(2.9999999999), '3');
  assert.throws(() => formatQuantity(NaN), QuantityError);
});

test('parseDuration reads Go durations', () => {
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration(15), 15_000);
  assert.throws(() => parseDuration('30'), /not a duration/);
  assert.throws(() => parseDuration('-1s'), /not a duration/);
  assert.equal(formatDuration(90_000), '1m30s');
  assert.equal(formatDuration(0), '0ms');
});

test('parseSelector handles equality, set and existence forms', () => {
  const reqs = parseSelector('governor.io/policy=checkout,env!=dev,tier in (web, api),!legacy,team');
  assert.deepEqual(reqs, [
    { key: 'governor.io/policy', operator: 'In', values: ['checkout'] },
    { key: 'env', operator: 'NotIn', values: ['dev'] },
    { key: 'tier', operator: 'In', values: ['web', 'api'] },
    { key: 'legacy', operator: 'DoesNotExist', values: [] },
    { key: 'team', operator: 'Exists', values: [] },
  ]);
  assert.equal(pinnedValue(reqs, 'governor.io/policy'), 'checkout');
  assert.ok(matches(reqs, { 'governor.io/policy': 'checkout', tier: 'web', team: 'a' }));
  assert.ok(!matches(reqs, { 'governor.io/policy': 'checkout', tier: 'web', team: 'a', legacy: 'y' }));
  assert.deepEqual(parseSelector(''), []);
  assert.deepEqual(parseSelector('a==b'), [{ key: 'a', operator: 'In', values: ['b'] }]);
});

test('parseSelector rejects malformed selectors with a reason', () => {
  for (const bad of ['=x', 'a=b=c', 'a in (x', 'a in ()', '../../etc=x', 'a=b,,c', 'a=' + 'x'.repeat(64), 'x'.repeat(5000)]) {
    assert.throws(() => parseSelector(bad), SelectorError, bad);
  }
  assert.ok(isValidLabelKey('app.kubernetes.io/name'));
  assert.ok(!isValidLabelKey('-bad'));
});

test('selectorRequirements converts matchLabels and matchExpressions', () => {
  const reqs = selectorRequirements({ matchLabels: { a: '1' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['prod'] }] });
  assert.ok(matches(reqs, { a: '1', tier: 'prod' }));
  assert.ok(!matches(reqs, { a: '1', tier: 'dev' }));
  assert.ok(matches(selectorRequirements(undefined), {}));
});

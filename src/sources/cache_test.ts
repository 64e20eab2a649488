// LoadCache: one query per policy per interval, single flight for concurrent callers, value age, failures as samples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadSource } from '../policy/types.js';
import { LoadCache, type QueryObservation } from './cache.js';
import { SourceTimeoutError } from './errors.js';
import { FakeMetricSource } from './fake.js';

const load: LoadSource = { type: 'prometheus', query: 'sum(rate(http_requests_total[1m]))' };
const other: LoadSource = { type: 'prometheus', query: 'sum(queue_depth)' };
const I = 30_000;

function setup() {
  let now = 1_000 * I + 1; // just inside a bucket
  const fake = new FakeMetricSource().setFor(load, { delayMs: 20, then: 450 }).setFor(other, 7);
  const seen: QueryObservation[] = [];
  const cache = new LoadCache(fake, { now: () => now, onQuery: (o) => seen.push(o) });
  return { fake, cache, seen, advance: (ms: number) => (now += ms), now: () => now };
}

test('200 concurrent polls in one interval share one in-flight query', async () => {
  const { fake, cache } = setup();
  const all = await Promise.all(Array.from({ length: 200 }, () => cache.get('shop/checkout', load, I)));
  assert.equal(fake.calls(load.query), 1);
  for (const s of all) assert.deepEqual(s, all[0]);
  assert.equal(all[0]!.ok && all[0]!.value, 450);
});

test('later polls in the same interval reuse the settled value; the next interval queries again', async () => {
  const { fake, cache, advance } = setup();
  await cache.get('shop/checkout', load, I);
  for (let i = 0; i < 10; i++) {
    advance(2_000); // HPA polls every 15 s, kubectl more often: 10 polls over 20 s stay in the bucket
    await cache.get('shop/checkout', load, I);
  }
  assert.equal(fake.calls(load.query), 1);
  advance(10_000);
  await cache.get('shop/checkout', load, I);
  assert.equal(fake.calls(load.query), 2);
});

test('policies are cached separately', async () => {
  const { fake, cache } = setup();
  await Promise.all([cache.get('a', load, I), cache.get('b', other, I), cache.get('b', other, I)]);
  assert.equal(fake.calls(load.query), 1);
  assert.equal(fake.calls(other.query), 1);
});

test('a changed load block is queried at once, not served from the old entry', async () => {
  const { fake, cache } = setup();
  await cache.get('a', load, I);
  const s = await cache.get('a', other, I);
  assert.equal(s.ok && s.value, 7);
  assert.equal(fake.calls(other.query), 1);
});

test('a failure comes back as a sample with reason and message, cached for the interval too', async () => {
  const { fake, cache, seen } = setup();
  fake.setFor(load, new SourceTimeoutError('prometheus: no answer within 5000 ms for query "x"', 'x'));
  const a = await cache.get('a', load, I);
  const b = await cache.get('a', load, I);
  assert.deepEqual(a, { ok: false, reason: 'timeout', error: 'prometheus: no answer within 5000 ms for query "x"' });
  assert.equal(b, a);
  assert.equal(fake.calls(load.query), 1);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.ok, false);
  assert.equal(seen[0]!.reason, 'timeout');
});

test('a non-SourceError failure is reported as internal, never thrown', async () => {
  const boom = { query: () => Promise.reject(new TypeError('bug')) };
  const cache = new LoadCache(boom);
  const s = await cache.get('a', load, I);
  assert.equal(s.ok, false);
  assert.equal(!s.ok && s.reason, 'internal');
});

test('the age of the last good value is known and survives failures', async () => {
  const { fake, cache, advance } = setup();
  assert.equal(cache.ageMs('a'), undefined);
  await cache.get('a', load, I);
  assert.equal(cache.ageMs('a'), 0);
  fake.setFor(load, new Error('down'));
  advance(I);
  await cache.get('a', load, I);
  assert.equal(cache.ageMs('a'), I);
  assert.equal(cache.lastGood('a')!.value, 450);
});

test('retain drops removed policies', async () => {
  const { cache } = setup();
  await Promise.all([cache.get('a', load, I), cache.get('b', other, I)]);
  cache.retain(new Set(['b']));
  assert.equal(cache.size(), 1);
  assert.equal(cache.ageMs('a'), undefined);
});

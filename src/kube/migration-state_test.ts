// Migration state on the source workload: annotation codec, the shared store contract (fake and cluster-backed),
// conflicts from other writers, restart, and the cache behind the webhook's activeMigrationSource.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EMPTY_POLICY_SET } from '../policy/policy-set.js';
import type { MigrationPolicy } from '../policy/types.js';
import { evaluateMigration, FakeMigrationStateStore, startMigration, type MigrationState, type MigrationStateStore } from '../scaling/migration.js';
import {
  activeMigrationSource,
  decodeMigrationState,
  encodeMigrationState,
  FakeWorkloadApi,
  KubeMigrationStateStore,
  MIGRATION_STATE_ANNOTATION,
  MigrationStateCache,
  MigrationStateError,
} from './migration-state.js';

const NS = 'shop';
const source = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'checkout-a' };
const key = { namespace: NS, name: 'move', source };
const params = { ...key, thresholds: { low: 100, high: 800 }, step: 2, minDrain: 0, intervalMs: 30_000, base: 6, target: { minReplicas: 1, maxReplicas: 20 } };
const sample: MigrationState = { ...startMigration(params, { nowMs: Date.UTC(2026, 0, 1), capacity: 6 }), sourceExact: 3.25, phase: 'Paused', resumeTo: 'Migrating' };

test('annotation codec round-trips and names what is wrong in a bad annotation', () => {
  const text = encodeMigrationState('move', sample);
  assert.match(text, /"phase":"Paused"/);
  assert.match(text, /"startedAt":"2026-01-01T00:00:00.000Z"/);
  assert.deepEqual(decodeMigrationState(text), { policy: 'move', state: sample });
  const bad: [string, RegExp][] = [
    ['{', /not JSON/],
    ['{"v":2}', /unknown version/],
    [text.replace('"Paused"', '"Sleeping"'), /unknown phase/],
    [text.replace('"sourceExact":3.25', '"sourceExact":-1'), /sourceExact must be a number >= 0/],
    [text.replace('"2026-01-01T00:00:00.000Z"', '"yesterday"'), /startedAt must be an RFC 3339 time/],
    [text.replace('"policy":"move"', '"policy":""'), /policy is missing/],
  ];
  for (const [t, re] of bad) assert.throws(() => decodeMigrationState(t), (e: unknown) => e instanceof MigrationStateError && re.test((e as Error).message), t);
});

/** The contract every MigrationStateStore meets. */
function storeContract(name: string, make: () => { store: MigrationStateStore; otherWriter: () => void }) {
  test(`${name}: empty read, write with the read version, stale version refused`, async () => {
    const { store, otherWriter } = make();
    const first = await store.read(key);
    assert.equal(first.state, undefined);
    assert.equal(await store.write(key, sample, first.version), true);
    const second = await store.read(key);
    assert.deepEqual(second.state, sample);
    // the old version no longer works
    assert.equal(await store.write(key, { ...sample, sourceExact: 1 }, first.version), false);
    // another writer in between makes the version stale
    otherWriter();
    assert.equal(await store.write(key, { ...sample, sourceExact: 1 }, second.version), false);
    const third = await store.read(key);
    assert.deepEqual(third.state, sample);
    assert.equal(await store.write(key, { ...sample, sourceExact: 1 }, third.version), true);
    assert.equal((await store.read(key)).state!.sourceExact, 1);
  });
}

storeContract('FakeMigrationStateStore', () => {
  const store = new FakeMigrationStateStore();
  return { store, otherWriter: () => store.put(key, sample) };
});
storeContract('KubeMigrationStateStore', () => {
  const api = new FakeWorkloadApi().put(NS, source, 6);
  return { store: new KubeMigrationStateStore(api), otherWriter: () => api.touch(NS, source, 5) };
});

test('the state lands in the source annotation and survives a restart of the evaluator', async () => {
  const api = new FakeWorkloadApi().put(NS, source, 6);
  const loads = [0, 450, 450, 800, 50, 5000, 300];
  const published: number[] = [];
  for (let k = 0; k < loads.length; k++) {
    // a new store object each time: nothing survives in memory; and the HPA keeps bumping the resourceVersion
    const d = await evaluateMigration(params, new KubeMigrationStateStore(api), { nowMs: k * 30_000, load: loads[k]!, capacity: 6 });
    published.push(d.published!.source);
    api.touch(NS, source, d.published!.source);
  }
  assert.deepEqual(published, [6, 5, 4, 2, 2, 0, 0]);
  const w = await api.get(NS, source);
  const d = decodeMigrationState(w.annotations[MIGRATION_STATE_ANNOTATION]!);
  assert.equal(d.policy, 'move');
  assert.equal(d.state.phase, 'Completed');
});

test('a state written by another MigrationPolicy is refused, not overwritten', async () => {
  const api = new FakeWorkloadApi().put(NS, source, 6, { [MIGRATION_STATE_ANNOTATION]: encodeMigrationState('other', sample) });
  await assert.rejects(new KubeMigrationStateStore(api).read(key), /carries the state of MigrationPolicy other, not move/);
});

test('MigrationStateCache + activeMigrationSource: the webhook lookup follows the states read from the cluster', async () => {
  const api = new FakeWorkloadApi().put(NS, source, 6);
  const policy = { kind: 'MigrationPolicy', name: 'move', namespace: NS, source } as unknown as MigrationPolicy;
  const set = { ...EMPTY_POLICY_SET, migration: [policy] };
  const errors: string[] = [];
  const cache = new MigrationStateCache(() => set.migration, new KubeMigrationStateStore(api), (_p, e) => errors.push(e.message));
  const lookup = activeMigrationSource({ current: () => set }, cache);
  await cache.refresh();
  assert.equal(lookup(NS, 'Deployment', 'checkout-a'), 'move'); // not started: Pending counts as running
  await api.annotate(NS, source, { [MIGRATION_STATE_ANNOTATION]: encodeMigrationState('move', { ...sample, phase: 'Completed' }) }, (await api.get(NS, source)).resourceVersion);
  await cache.refresh();
  assert.equal(lookup(NS, 'Deployment', 'checkout-a'), undefined);
  cache.offer(policy, { ...sample, phase: 'RollingBack' });
  assert.equal(lookup(NS, 'Deployment', 'checkout-a'), 'move');
  assert.equal(lookup(NS, 'Deployment', 'checkout-b'), undefined);
  // an unreadable workload keeps the last known state and reports the error
  const broken = new MigrationStateCache(() => [{ ...policy, source: { ...source, name: 'gone' } }], new KubeMigrationStateStore(api), (_p, e) => errors.push(e.message));
  await broken.refresh();
  assert.match(errors.join('\n'), /Deployment shop\/gone not found/);
});

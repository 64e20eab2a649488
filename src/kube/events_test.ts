import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CoreV1Event } from '@kubernetes/client-node';
import { FakeEventRecorder, KubeEventRecorder, type EventRecorder, type GovernorEvent } from './events.js';
import { silentLogger } from '../observability/log.js';

const EVENT: GovernorEvent = {
  regarding: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', uid: 'u1' },
  type: 'Warning',
  reason: 'PolicyViolation',
  message: 'metadata.labels.owner is required (policy p, rule require-labels)',
};

for (const [name, make] of [
  ['FakeEventRecorder', () => new FakeEventRecorder()],
  ['KubeEventRecorder (API failing)', () => new KubeEventRecorder({ create: () => Promise.reject(new Error('forbidden')), log: silentLogger })],
] as [string, () => EventRecorder][]) {
  test(`${name}: record returns at once and never throws`, async () => {
    const r = make();
    assert.equal(r.record(EVENT), undefined);
    await new Promise((res) => setImmediate(res));
  });
}

test('KubeEventRecorder writes a core/v1 Event about the object, dedupes within the window, bounds in-flight writes', async () => {
  const sent: { ns: string; body: CoreV1Event }[] = [];
  let now = 1_000_000;
  const pending: (() => void)[] = [];
  const r = new KubeEventRecorder({
    create: (ns, body) => {
      sent.push({ ns, body });
      return new Promise((res) => pending.push(() => res(undefined)));
    },
    log: silentLogger,
    now: () => now,
    maxInFlight: 2,
    dedupeWindowMs: 60_000,
  });
  r.record(EVENT);
  r.record(EVENT);
  assert.equal(sent.length, 1, 'same event within the window: once');
  const e = sent[0]!;
  assert.equal(e.ns, 'shop');
  assert.deepEqual(e.body.involvedObject, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop', uid: 'u1' });
  assert.equal(e.body.reason, 'PolicyViolation');
  assert.equal(e.body.type, 'Warning');
  assert.equal(e.body.metadata?.namespace, 'shop');
  assert.match(e.body.metadata?.name ?? '', /^web\./);
  r.record({ ...EVENT, reason: 'PolicyAudit' });
  r.record({ ...EVENT, reason: 'PolicyException' });
  assert.equal(sent.length, 2, 'third concurrent write dropped');
  pending.forEach((p) => p());
  await new Promise((res) => setImmediate(res));
  now += 61_000;
  r.record(EVENT);
  assert.equal(sent.length, 3, 'recorded again after the window');
  r.record({ ...EVENT, regarding: { ...EVENT.regarding, name: '' } });
  assert.equal(sent.length, 3, 'no name (generateName): nothing to attach to');
  r.record({ ...EVENT, message: 'x'.repeat(5000), reason: 'Long' });
  assert.equal(sent[3]!.body.message!.length, 1024);
});

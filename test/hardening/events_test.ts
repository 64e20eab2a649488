// Events for anyone (issue 17, point 6): a caller of /validate chooses everything in the request, and an Event is a
// write our ServiceAccount makes. Events are written only when the webhook authenticates its callers (or the operator
// says always), only about the object the request carries (by its own metadata), with names the API server would
// accept, clipped, and at a bounded rate per namespace and overall.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CoreV1Event } from '@kubernetes/client-node';
import { eventSubject, mutateHandler, reviewFunction, validateHandler, type AdmissionEnvironment } from '../../src/admission/handlers.js';
import { decodeAdmissionReview } from '../../src/admission/review.js';
import { eventsEnabled } from '../../src/admission/webhook.js';
import { FakeEventRecorder, KubeEventRecorder, type GovernorEvent } from '../../src/kube/events.js';
import { silentLogger } from '../../src/observability/log.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { admissionReview, realisticDeployment, sampleEngine, sampleNamespaces } from '../integration/webhook_fixtures.js';

/** A Deployment in shop that team-defaults denies (no owner label), as the review the API server would send. */
function deniedReview(o: { namespace?: string; name?: string; objectName?: string | null; objectNamespace?: string; dryRun?: boolean; operation?: 'CREATE' | 'DELETE' } = {}) {
  const dep: any = realisticDeployment(o.namespace ?? 'shop', o.objectName ?? 'checkout');
  delete dep.metadata.labels;
  if (o.objectName === null) {
    delete dep.metadata.name;
    dep.metadata.generateName = 'checkout-';
  }
  if (o.objectNamespace !== undefined) dep.metadata.namespace = o.objectNamespace;
  return admissionReview({ kind: 'Deployment', namespace: o.namespace ?? 'shop', name: o.name ?? 'checkout', object: dep, ...(o.dryRun ? { dryRun: true } : {}) });
}

function setup() {
  const events = new FakeEventRecorder();
  const metrics = createMetrics({ defaultMetrics: false });
  const engine = sampleEngine();
  const env: AdmissionEnvironment = { engine: () => engine, namespaces: sampleNamespaces(), events, log: silentLogger, metrics };
  return { events, metrics, validate: reviewFunction('validate', validateHandler(env), env), mutate: reviewFunction('mutate', mutateHandler(env), env) };
}

test('Events only about the object the request carries: named by its own metadata, in the request namespace', async () => {
  const { events, metrics, validate } = setup();
  const denied = validate(deniedReview()) as any;
  assert.equal(denied.response.allowed, false, 'the fixture is denied');
  assert.equal(events.events.length, 1);
  assert.deepEqual(events.events[0]!.regarding, { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'checkout' });
  // The request names one object, the body carries another: same decision, no Event about either.
  for (const [what, review] of [
    ['request name differs from the object name', deniedReview({ name: 'payments' })],
    ['object in another namespace than the request', deniedReview({ objectNamespace: 'kube-public' })],
    ['generateName (no name yet)', deniedReview({ objectName: null })],
    ['dry run', deniedReview({ dryRun: true })],
  ] as const) {
    const before: number = events.events.length;
    assert.equal((validate(review) as any).response.allowed, false, what);
    assert.equal(events.events.length, before, `${what}: no Event`);
  }
  assert.match(await metrics.registry.metrics(), /governor_events_suppressed_total\{reason="subject"\} 3/);
});

test('eventSubject: DELETE names the old object; kind and apiVersion must agree with the request', () => {
  const dep = realisticDeployment('shop', 'checkout') as any;
  const req = (over: Record<string, unknown>) => decodeAdmissionReview({ ...admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', object: dep }), ...{} , request: { ...admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', object: dep }).request, ...over } });
  assert.equal(eventSubject(req({}))?.name, 'checkout');
  assert.equal(eventSubject(req({ operation: 'DELETE', object: null, oldObject: dep }))?.name, 'checkout');
  assert.equal(eventSubject(req({ operation: 'DELETE', object: null, oldObject: null })), undefined);
  assert.equal(eventSubject(req({ object: { ...dep, kind: 'StatefulSet' } })), undefined);
  assert.equal(eventSubject(req({ object: { ...dep, apiVersion: 'v1' } })), undefined);
  assert.equal(eventSubject(req({ namespace: '' })), undefined);
  assert.equal(eventSubject(req({ object: { ...dep, metadata: { ...dep.metadata, name: 42 } } })), undefined);
});

test('Events are on by default only when the webhook requires client certificates', () => {
  assert.equal(eventsEnabled('authenticated', true), true);
  assert.equal(eventsEnabled('authenticated', false), false);
  assert.equal(eventsEnabled('always', false), true);
  assert.equal(eventsEnabled('never', true), false);
});

const EVENT: GovernorEvent = { regarding: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' }, type: 'Warning', reason: 'PolicyViolation', message: 'm' };

function recorder(over: Partial<ConstructorParameters<typeof KubeEventRecorder>[0]> = {}) {
  const sent: { ns: string; body: CoreV1Event }[] = [];
  const suppressed: string[] = [];
  let now = 1_000_000;
  const r = new KubeEventRecorder({
    create: async (ns, body) => void sent.push({ ns, body }),
    log: silentLogger,
    now: () => now,
    maxInFlight: 1000,
    onSuppressed: (reason) => suppressed.push(reason),
    ...over,
  });
  return { r, sent, suppressed, advance: (ms: number) => (now += ms) };
}

test('KubeEventRecorder: a flood naming one namespace is held to its bucket; other namespaces keep theirs; the global bucket caps the sum', async () => {
  const { r, sent, suppressed, advance } = recorder({ namespaceRate: { burst: 5, perSecond: 1 }, globalRate: { burst: 12, perSecond: 2 } });
  // Distinct messages, so deduplication is not what stops them.
  for (let i = 0; i < 50; i++) r.record({ ...EVENT, message: `flood ${i}` });
  await new Promise((res) => setImmediate(res));
  assert.equal(sent.length, 5, 'the burst of one namespace');
  assert.equal(suppressed.filter((s) => s === 'rate-limited').length, 45);
  for (let i = 0; i < 5; i++) r.record({ ...EVENT, regarding: { ...EVENT.regarding, namespace: 'payments' }, message: `other ${i}` });
  assert.equal(sent.filter((s) => s.ns === 'payments').length, 5, 'another namespace is not starved by the flood');
  for (let i = 0; i < 5; i++) r.record({ ...EVENT, regarding: { ...EVENT.regarding, namespace: `ns-${i}` }, message: 'spread' });
  assert.equal(sent.length, 12, 'the global bucket caps a flood spread over namespaces');
  advance(2000); // 2 tokens back in shop's bucket, 4 in the global one
  for (let i = 0; i < 10; i++) r.record({ ...EVENT, message: `later ${i}` });
  assert.equal(sent.length, 14);
});

test('KubeEventRecorder: names the API server would refuse are not written; long names and messages are clipped', async () => {
  const { r, sent, suppressed } = recorder();
  for (const regarding of [
    { ...EVENT.regarding, namespace: 'Shop' },
    { ...EVENT.regarding, namespace: 'a'.repeat(64) },
    { ...EVENT.regarding, name: 'web/../../x' },
    { ...EVENT.regarding, name: 'x'.repeat(254) },
    { ...EVENT.regarding, uid: 'u'.repeat(200) },
  ]) r.record({ ...EVENT, regarding });
  assert.equal(sent.length, 0);
  assert.deepEqual(suppressed, ['subject', 'subject', 'subject', 'subject', 'subject']);
  r.record({ ...EVENT, regarding: { ...EVENT.regarding, name: 'n'.repeat(253) }, message: 'v'.repeat(2_000_000) });
  assert.equal(sent.length, 1);
  assert.ok(sent[0]!.body.metadata!.name!.length <= 253, 'the Event name stays a valid name');
  assert.equal(sent[0]!.body.message!.length, 1024);
});

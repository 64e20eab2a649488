import { test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import jsonpatch from 'fast-json-patch';
import { mutateHandler, reviewFunction, validateHandler, type AdmissionEnvironment } from '../../src/admission/handlers.js';
import { createWebhookListener, MAX_BODY_BYTES } from '../../src/admission/http.js';
import { FakeEventRecorder } from '../../src/kube/events.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { silentLogger } from '../../src/observability/log.js';
import { admissionReview, realisticDeployment, sampleEngine, sampleNamespaces } from './webhook_fixtures.js';

function setup(opts: { ready?: () => boolean } = {}) {
  const events = new FakeEventRecorder();
  const metrics = createMetrics({ defaultMetrics: false });
  const engine = sampleEngine((ns, kind, name) => (ns === 'shop' && kind === 'StatefulSet' && name === 'orders-db' ? 'move-orders-db' : undefined));
  const env: AdmissionEnvironment = { engine: () => engine, namespaces: sampleNamespaces(), events, log: silentLogger, metrics };
  const app = createWebhookListener({
    mutate: reviewFunction('mutate', mutateHandler(env), env),
    validate: reviewFunction('validate', validateHandler(env), env),
    ...(opts.ready ? { ready: opts.ready } : {}),
    log: silentLogger,
    metrics,
  });
  return { app, events, metrics };
}

type Resp = { uid: string; allowed: boolean; status?: { code: number; message: string }; patchType?: string; patch?: string; warnings?: string[]; auditAnnotations?: Record<string, string> };

async function post(app: ReturnType<typeof setup>['app'], path: string, body: unknown): Promise<Resp> {
  const res = await request(app).post(path).send(body as object).expect(200).expect('Content-Type', /json/);
  assert.equal(res.body.apiVersion, 'admission.k8s.io/v1');
  assert.equal(res.body.kind, 'AdmissionReview');
  return res.body.response as Resp;
}

function decodePatch(r: Resp): jsonpatch.Operation[] {
  if (!r.patch) return [];
  assert.equal(r.patchType, 'JSONPatch');
  return JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8'));
}

/** What the API server does between the webhooks: apply the mutating patch, then send the result to /validate. */
function applyPatch<T>(obj: T, r: Resp): T {
  return jsonpatch.applyPatch(structuredClone(obj), decodePatch(r), true, false).newDocument;
}

test('Deployment CREATE: defaults and namespace tags are patched in (applied and checked), the mutated object is admitted, and a second pass patches nothing', async () => {
  const { app, events } = setup();
  const dep = realisticDeployment();
  const m = await post(app, '/mutate?timeout=10s', admissionReview({ uid: 'u-dep', kind: 'Deployment', namespace: 'shop', name: 'checkout', object: dep }));
  assert.equal(m.uid, 'u-dep');
  assert.equal(m.allowed, true);
  const mutated = applyPatch(dep, m);
  const pod = mutated.spec.template.spec as any;
  assert.deepEqual(pod.containers[0].resources, { requests: { cpu: '500m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } });
  assert.deepEqual(pod.containers[1].resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } });
  assert.deepEqual(pod.initContainers[0].resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } });
  assert.equal((mutated.metadata.labels as any)['data-classification'], 'internal', 'fromNamespace');
  assert.equal((mutated.metadata.labels as any)['governor.io/migration'], 'restart', 'default');
  assert.equal((mutated.metadata.labels as any)['governor.io/migration-group'], 'shop', 'fromNamespace (migration-labels)');
  assert.equal((mutated.spec.template.metadata.labels as any)['governor.io/migration'], 'restart', 'copied to the pod template');
  assert.equal((mutated.spec.template.metadata.labels as any).owner, 'payments', 'governed labels reach the pods');
  assert.equal(mutated.spec.template.metadata.annotations['prometheus.io/scrape'], 'true', 'untouched');
  assert.ok(decodePatch(m).every((op) => op.op === 'add'), 'adds only');
  assert.ok(decodePatch(m).some((op) => op.path === '/metadata/labels/governor.io~1migration'), 'escaped key');

  const v = await post(app, '/validate?timeout=10s', admissionReview({ uid: 'u-dep', kind: 'Deployment', namespace: 'shop', name: 'checkout', object: mutated }));
  assert.deepEqual(v, { uid: 'u-dep', allowed: true });
  const again = await post(app, '/mutate', admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', object: mutated }));
  assert.equal(again.patch, undefined, 'idempotent: reinvocation adds nothing');
  assert.equal(events.events.length, 0);
});

test('Deployment CREATE without tags: 403 with one line per violation, path and fix; Warning event recorded', async () => {
  const { app, events, metrics } = setup();
  const dep = realisticDeployment() as any;
  delete dep.metadata.labels.owner;
  delete dep.metadata.annotations['cost-center'];
  dep.spec.template.spec.containers[0].resources = { requests: { cpu: '250m', memory: '10Gi' }, limits: { cpu: '2', memory: '10Gi' } };
  const m = await post(app, '/mutate', admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', object: dep }));
  const v = await post(app, '/validate', admissionReview({ uid: 'u-deny', kind: 'Deployment', namespace: 'shop', name: 'checkout', object: applyPatch(dep, m) }));
  assert.equal(v.uid, 'u-deny');
  assert.equal(v.allowed, false);
  assert.equal(v.status!.code, 403);
  assert.deepEqual(v.status!.message.split('\n'), [
    'spec.template.spec.containers[0].resources.requests.memory must be at most 8Gi (is 10Gi) (policy team-defaults, rule max-resources)',
    'spec.template.spec.containers[0].resources.limits.memory must be at most 8Gi (is 10Gi) (policy team-defaults, rule max-resources)',
    'spec.template.spec.containers[0].resources.limits.cpu must be at most 4x the request (is 8x) (policy team-defaults, rule max-limit-request-ratio)',
    'metadata.labels.owner is required (matching ^[a-z][a-z0-9-]*$) (policy team-defaults, rule require-labels)',
  ]);
  // cost-center was filled from the namespace by compliance-tags (fromNamespace) in the pod template, where both
  // policies check it (issue 13: a default is written where its rule applies), so team-defaults' requirement holds.
  assert.equal(applyPatch(dep, m).spec.template.metadata.annotations['cost-center'], 'CC-1001');
  // compliance-tags is in audit mode: its findings come back as warnings, each within 120 characters.
  assert.ok(v.warnings && v.warnings.length >= 1);
  assert.ok(v.warnings.every((w) => w.length <= 120 && w.startsWith('[audit] compliance-tags/')), v.warnings.join('\n'));
  assert.equal(events.events.length, 1);
  assert.equal(events.events[0]!.reason, 'PolicyViolation');
  assert.equal(events.events[0]!.regarding.name, 'checkout');
  const text = await metrics.registry.metrics();
  assert.match(text, /governor_admission_requests_total\{webhook="validate",operation="CREATE",kind="Deployment",result="denied",policy="team-defaults"\} 1/);
  assert.match(text, /governor_rule_violations_total\{policy="team-defaults",rule="max-resources",mode="enforce"\} 2/);
  assert.match(text, /governor_admission_review_duration_seconds_count\{webhook="validate"\} 1/);
});

test('a forged controller ownerReference skips nothing: denied from a user, only warned from the ReplicaSet controller', async () => {
  const { app } = setup();
  const dep = realisticDeployment() as any;
  delete dep.metadata.labels.owner;
  const rs = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { ...dep.metadata, name: 'checkout-5d8', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'no-such-deployment', uid: 'u-x', controller: true }] },
    spec: { replicas: 1, selector: dep.spec.selector, template: dep.spec.template },
  };
  const review = (username: string) => {
    const r = admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout-5d8', object: rs, username });
    Object.assign(r.request, { kind: { group: 'apps', version: 'v1', kind: 'ReplicaSet' }, resource: { group: 'apps', version: 'v1', resource: 'replicasets' } });
    return r;
  };
  const byUser = await post(app, '/validate', review('alice'));
  assert.equal(byUser.allowed, false);
  assert.match(byUser.status!.message, /metadata\.labels\.owner is required/);
  const byController = await post(app, '/validate', review('system:serviceaccount:kube-system:replicaset-controller'));
  assert.equal(byController.allowed, true);
  // Each warning names its policy and rule first; the reason is clipped to fit, and whole in the audit annotation.
  assert.ok(byController.warnings?.some((w) => /^team-defaults\/require-labels: metadata\.labels\.owner is required .*\(owned by/.test(w)), byController.warnings?.join('\n'));
  assert.match((byController as any).auditAnnotations?.warnings ?? '', /owned by Deployment no-such-deployment/);
});

test('StatefulSet: migration labels defaulted; pinned + source denied; a pinned source of a running migration denied', async () => {
  const { app } = setup();
  const sts = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'orders-db', namespace: 'shop', labels: { app: 'orders-db', owner: 'data', 'governor.io/migration': 'pinned' }, annotations: { 'cost-center': 'CC-1001' } },
    spec: {
      serviceName: 'orders-db',
      selector: { matchLabels: { app: 'orders-db' } },
      template: { metadata: { labels: { app: 'orders-db' } }, spec: { containers: [{ name: 'pg', image: 'postgres:16', resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '4Gi' } } }] } },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } } }],
    },
  };
  const m = await post(app, '/mutate', admissionReview({ kind: 'StatefulSet', namespace: 'shop', name: 'orders-db', object: sts }));
  const mutated = applyPatch(sts, m) as any;
  assert.equal(mutated.metadata.labels['governor.io/migration'], 'pinned', 'never overwritten');
  assert.equal(mutated.spec.template.metadata.labels['governor.io/migration'], 'pinned');
  assert.deepEqual(mutated.spec.volumeClaimTemplates, sts.spec.volumeClaimTemplates);
  const v = await post(app, '/validate', admissionReview({ kind: 'StatefulSet', namespace: 'shop', name: 'orders-db', object: mutated }));
  assert.equal(v.allowed, false);
  assert.match(v.status!.message, /metadata\.labels\["governor\.io\/migration"\] must not be "pinned" while the workload is the source of MigrationPolicy move-orders-db/);
  const other = structuredClone(mutated);
  other.metadata.name = 'cache';
  other.metadata.labels['governor.io/migration-role'] = 'source';
  const v2 = await post(app, '/validate', admissionReview({ kind: 'StatefulSet', namespace: 'shop', name: 'cache', object: other }));
  assert.equal(v2.allowed, false);
  assert.match(v2.status!.message, /migration-role"\] must not be "source" on a pinned workload .*rule pinned-not-source/);
});

test('CronJob: resources defaulted at spec.jobTemplate.spec.template.spec; bare Pod at spec', async () => {
  const { app } = setup();
  const cron = {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'nightly-report', namespace: 'analytics', labels: { owner: 'bi' }, annotations: { 'cost-center': 'CC-2002' } },
    spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'report', image: 'python:3.12', resources: { requests: { memory: '3Gi' } } }] } } } } },
  };
  const m = await post(app, '/mutate', admissionReview({ kind: 'CronJob', namespace: 'analytics', name: 'nightly-report', object: cron }));
  const got = applyPatch(cron, m) as any;
  assert.deepEqual(got.spec.jobTemplate.spec.template.spec.containers[0].resources, {
    requests: { cpu: '250m', memory: '3Gi', 'ephemeral-storage': '1Gi' },
    limits: { memory: '3Gi', 'ephemeral-storage': '2Gi' },
  });
  assert.equal((await post(app, '/validate', admissionReview({ kind: 'CronJob', namespace: 'analytics', name: 'nightly-report', object: got }))).allowed, true);

  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'debug', namespace: 'shop', labels: { owner: 'sre' }, annotations: { 'cost-center': 'CC-1001' } }, spec: { containers: [{ name: 'sh', image: 'busybox' }] } };
  const pm = await post(app, '/mutate', admissionReview({ kind: 'Pod', namespace: 'shop', name: 'debug', object: pod }));
  const pgot = applyPatch(pod, pm) as any;
  assert.deepEqual(pgot.spec.containers[0].resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } });
  assert.equal(pgot.metadata.labels['governor.io/migration'], 'restart');
  assert.equal((await post(app, '/validate', admissionReview({ kind: 'Pod', namespace: 'shop', name: 'debug', object: pgot }))).allowed, true);
});

test('DELETE with a null object is allowed; deleting a running migration source is denied unless force-delete is set', async () => {
  const { app } = setup();
  const plain = await post(app, '/validate', admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', operation: 'DELETE', object: null, oldObject: realisticDeployment() }));
  assert.deepEqual(plain, { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
  assert.deepEqual(await post(app, '/mutate', admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', operation: 'DELETE' })), { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
  const old = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'orders-db', namespace: 'shop', uid: 'sts-1' }, spec: {} };
  const denied = await post(app, '/validate', admissionReview({ kind: 'StatefulSet', namespace: 'shop', name: 'orders-db', operation: 'DELETE', object: null, oldObject: old }));
  assert.equal(denied.allowed, false);
  assert.equal(denied.status!.code, 403);
  assert.match(denied.status!.message, /StatefulSet shop\/orders-db is the source of a running migration: .*governor\.io\/force-delete="true".*\(policy move-orders-db, rule protect-migration-source\)/);
  const forced = { ...old, metadata: { ...old.metadata, annotations: { 'governor.io/force-delete': 'true' } } };
  const ok = await post(app, '/validate', admissionReview({ kind: 'StatefulSet', namespace: 'shop', name: 'orders-db', operation: 'DELETE', object: null, oldObject: forced }));
  assert.equal(ok.allowed, true);
  assert.equal(ok.warnings!.length, 1);
  const connect = await post(app, '/validate', admissionReview({ kind: 'Pod', namespace: 'shop', name: 'p', operation: 'CONNECT' }));
  assert.equal(connect.allowed, true);
});

test('status and scale subresources, unknown kinds and skipped namespaces pass through untouched', async () => {
  const { app } = setup();
  const bad = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x', namespace: 'shop' }, spec: { template: { spec: { containers: [{ name: 'a', image: 'b' }] } } } };
  for (const sub of ['status', 'scale']) {
    for (const path of ['/mutate', '/validate']) {
      const r = await post(app, path, admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'x', operation: 'UPDATE', subResource: sub, object: bad, oldObject: bad }));
      assert.deepEqual(r, { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true }, `${sub} ${path}`);
    }
  }
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'shop' }, data: { a: 'b' } };
  assert.deepEqual(await post(app, '/mutate', admissionReview({ kind: 'ConfigMap', namespace: 'shop', name: 'c', object: cm })), { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
  for (const ns of ['kube-system', 'kube-governor']) {
    const obj = { ...bad, metadata: { name: 'x', namespace: ns } };
    assert.deepEqual(await post(app, '/mutate', admissionReview({ kind: 'Deployment', namespace: ns, name: 'x', object: obj })), { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
    assert.equal((await post(app, '/validate', admissionReview({ kind: 'Deployment', namespace: ns, name: 'x', object: obj }))).allowed, true);
  }
});

test('dryRun: same decision, no Events', async () => {
  const { app, events } = setup();
  const dep = realisticDeployment() as any;
  delete dep.metadata.labels.owner;
  const dry = await post(app, '/validate', admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', object: dep, dryRun: true }));
  assert.equal(dry.allowed, false);
  assert.equal(events.events.length, 0);
  const wet = await post(app, '/validate', admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', object: dep }));
  assert.equal(wet.status!.message, dry.status!.message);
  assert.equal(events.events.length, 1);
});

test('UPDATE: a violation the stored object already had warns; a new one denies; a Job template is never patched on UPDATE', async () => {
  const { app } = setup();
  const old = realisticDeployment() as any;
  delete old.metadata.annotations['cost-center'];
  const next = structuredClone(old);
  next.spec.replicas = 5;
  const warned = await post(app, '/validate', admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', operation: 'UPDATE', object: next, oldObject: old }));
  assert.equal(warned.allowed, true);
  assert.ok(warned.warnings!.some((w) => w.includes('metadata.annotations.cost-center is required (pre-existing)')), warned.warnings!.join('\n'));
  const worse = structuredClone(next);
  worse.metadata.labels.owner = 'Payments Team';
  const denied = await post(app, '/validate', admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', operation: 'UPDATE', object: worse, oldObject: old }));
  assert.equal(denied.allowed, false);
  assert.match(denied.status!.message, /^metadata\.labels\.owner must match/);
  assert.doesNotMatch(denied.status!.message, /cost-center/);

  const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j', namespace: 'analytics', labels: { owner: 'bi' } }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'a', image: 'b' }] } } } };
  const jm = await post(app, '/mutate', admissionReview({ kind: 'Job', namespace: 'analytics', name: 'j', operation: 'UPDATE', object: job, oldObject: job }));
  assert.ok(decodePatch(jm).every((op) => !op.path.startsWith('/spec')), JSON.stringify(decodePatch(jm)));
});

test('malformed bodies get 400 with a clear message and the server keeps serving', async () => {
  const { app } = setup();
  const cases: [string | object, RegExp][] = [
    ['{not json', /body is not valid JSON/],
    [{ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }, /apiVersion must be admission\.k8s\.io\/v1 .*admissionReviewVersions/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'Review', request: { uid: 'x' } }, /kind must be AdmissionReview/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, /request is required/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { operation: 'CREATE', kind: { kind: 'Pod' } } }, /request\.uid is required/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'x', operation: 'PATCH', kind: { kind: 'Pod' } } }, /request\.operation must be one of/],
    [[1, 2], /must be a JSON object/],
  ];
  for (const [body, message] of cases) {
    const res = await request(app).post('/validate').set('Content-Type', 'application/json').send(typeof body === 'string' ? body : JSON.stringify(body)).expect(400);
    assert.equal(res.body.kind, 'Status');
    assert.equal(res.body.code, 400);
    assert.match(res.body.message, message);
  }
  const huge = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'x', pad: 'x'.repeat(MAX_BODY_BYTES) } });
  const big = await request(app).post('/mutate').set('Content-Type', 'application/json').send(huge).expect(400);
  assert.match(big.body.message, /larger than 3145728 bytes \(3 MiB\)/);
  const ok = await post(app, '/mutate', admissionReview({ kind: 'Pod', namespace: 'dev', name: 'p', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [] } } }));
  assert.equal(ok.allowed, true);
});

test('routes: probes, 404 for unknown paths, 405 for GET on a webhook path, readiness follows the namespace cache', async () => {
  let ready = false;
  const { app } = setup({ ready: () => ready });
  await request(app).get('/healthz').expect(200, 'ok');
  await request(app).get('/livez').expect(200, 'ok');
  await request(app).get('/readyz').expect(503);
  ready = true;
  await request(app).get('/readyz').expect(200);
  await request(app).get('/nope').expect(404);
  const r = await request(app).get('/validate').expect(405);
  assert.equal(r.headers.allow, 'POST');
});

test('exceptions used are counted, logged as audit annotations and recorded as Normal events', async () => {
  const { app, events, metrics } = setup();
  const dep = realisticDeployment() as any;
  dep.metadata.annotations['governor.io/exception.resources'] = 'JVM sized by the vendor, INC-4411';
  dep.spec.template.spec.containers[0].resources = { requests: { cpu: '100m', memory: '12Gi' }, limits: { cpu: '4', memory: '12Gi' } };
  const m = await post(app, '/mutate', admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', object: dep }));
  const mutated = applyPatch(dep, m) as any;
  assert.equal(mutated.spec.template.spec.containers[1].resources, undefined, 'excused: no resource defaults either');
  const v = await post(app, '/validate', admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', object: mutated }));
  assert.equal(v.allowed, true, JSON.stringify(v));
  assert.equal(
    v.auditAnnotations!.exceptions,
    'team-defaults/max-resources: JVM sized by the vendor, INC-4411; team-defaults/max-limit-request-ratio: JVM sized by the vendor, INC-4411; ' +
      'team-defaults/require-requests: JVM sized by the vendor, INC-4411; team-defaults/require-limits: JVM sized by the vendor, INC-4411',
    'one entry per policy and rule',
  );
  assert.ok(events.events.some((e) => e.reason === 'PolicyException' && e.type === 'Normal'));
  assert.match(await metrics.registry.metrics(), /governor_exceptions_used_total\{policy="team-defaults",rule="max-resources",via="annotation"\} 1/);
});

test('answers carrying non-ASCII text (a denial quoting the value, a patch copying it) arrive intact, Content-Length in bytes', async () => {
  const { app } = setup();
  const dep = realisticDeployment() as any;
  dep.metadata.labels.owner = 'équipe-ü';
  dep.metadata.annotations['cost-center'] = 'CC-ñ';
  const mutated = await request(app).post('/mutate').send(admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', object: dep })).expect(200);
  assert.equal(Number(mutated.headers['content-length']), Buffer.byteLength(mutated.text));
  const m = mutated.body.response as Resp;
  // The template copies the object's own tags, non-ASCII ones included.
  assert.equal(applyPatch(dep, m).spec.template.metadata.annotations['cost-center'], 'CC-ñ');
  const res = await request(app).post('/validate').send(admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', object: applyPatch(dep, m) })).expect(200);
  assert.equal(Number(res.headers['content-length']), Buffer.byteLength(res.text));
  assert.equal(res.body.response.allowed, false);
  assert.match(res.body.response.status.message, /metadata\.labels\.owner must match .* \(is "équipe-ü"\)/);
});

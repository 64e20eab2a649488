import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../observability/log.js';
import { createMetrics } from '../observability/metrics.js';
import { compileClusterObjects } from '../policy/load-cluster.js';
import { parsePolicyText } from '../policy/parse.js';
import { PolicyStore } from '../policy/store.js';
import type { Decision } from '../scaling/planner.js';
import { PolicyObservations } from './observations.js';
import { PolicyStatusController, type PolicyObject, type StatusRef } from './status-controller.js';
import { statusPatch, type PolicyStatus } from './policy-status.js';

function scalingObject(name: string, o: { generation?: number; high?: number; ns?: string } = {}): any {
  return {
    apiVersion: 'governor.io/v1alpha1',
    kind: 'ScalingPolicy',
    metadata: { name, namespace: o.ns ?? 'shop', uid: `uid-${name}`, generation: o.generation ?? 1 },
    spec: { target: { kind: 'Deployment', name }, load: { prometheus: { query: 'q' } }, thresholds: { low: 10, high: o.high ?? 100 }, replicas: { min: 1, max: 10 }, interval: '30s' },
  };
}

const badGovernance = {
  apiVersion: 'governor.io/v1alpha1',
  kind: 'GovernancePolicy',
  metadata: { name: 'tags', uid: 'uid-tags', generation: 4 },
  spec: { labels: { team: { required: true, pattern: '([a-z' } } },
};

/** RFC 7386 JSON merge patch, as the API server applies it. */
function mergePatch(target: any, patch: any): any {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

class FakePatcher {
  readonly calls: { ref: StatusRef; body: any }[] = [];
  fail: Error | undefined;
  constructor(private readonly objects: PolicyObject[]) {}
  async patchStatus(ref: StatusRef, body: { status: Record<string, unknown> }) {
    if (this.fail) throw this.fail;
    this.calls.push({ ref, body });
    // As the API server would: merge into the stored status (null removes), visible to the informer.
    const o = this.objects.find((x: any) => x.kind === ref.kind && x.metadata.name === ref.name && (x.metadata.namespace ?? undefined) === ref.namespace) as any;
    o.status = mergePatch(o.status ?? {}, body.status);
  }
}

function setup(objects: any[], o: { leader?: boolean; now?: () => number; files?: string; decide?: (p: any) => Decision; minWriteIntervalMs?: number; visitsPerSlice?: number } = {}) {
  const lines: any[] = [];
  const log = createLogger({ level: 'info', destination: new Writable({ write(c, _e, cb) { lines.push(JSON.parse(String(c))); cb(); } }) });
  const store = new PolicyStore();
  const compiled = compileClusterObjects(objects);
  store.offer(compiled.policies, [], 'cluster');
  if (o.files) store.offer(parsePolicyText(o.files, 'policies/web.yaml').policies, [], 'files');
  const observations = new PolicyObservations();
  const evaluated: string[] = [];
  if (o.decide) {
    observations.setScalingEvaluator(async (p) => {
      evaluated.push(p.name);
      const d = o.decide!(p);
      observations.recordDecision(`${p.namespace}/${p.name}`, d, p);
      return d;
    });
  }
  const metrics = createMetrics({ defaultMetrics: false });
  const patcher = new FakePatcher(objects);
  let leader = o.leader ?? true;
  const c = new PolicyStatusController({
    store,
    observations,
    objects: { list: () => objects },
    patcher,
    isLeader: () => leader,
    log,
    metrics,
    now: o.now ?? (() => 1_000_000),
    ...(o.minWriteIntervalMs ? { minWriteIntervalMs: o.minWriteIntervalMs } : {}),
    ...(o.visitsPerSlice ? { visitsPerSlice: o.visitsPerSlice } : {}),
  });
  return { c, patcher, lines, metrics, observations, evaluated, setLeader: (l: boolean) => (leader = l), store };
}

const cond = (s: any, type: string) => s.conditions.find((x: any) => x.type === type);

test('the leader writes Valid/Ready with observedGeneration to a valid object in force, then nothing while nothing changes', async () => {
  const objs = [scalingObject('web', { generation: 3 })];
  const { c, patcher } = setup(objs);
  assert.equal((await c.reconcile()).written, 1);
  const s = objs[0].status;
  assert.equal(s.observedGeneration, 3);
  assert.deepEqual([cond(s, 'Valid').status, cond(s, 'Ready').status, cond(s, 'Ready').reason], ['True', 'True', 'InForce']);
  assert.equal(cond(s, 'Ready').observedGeneration, 3);
  assert.deepEqual(patcher.calls[0]!.ref, { kind: 'ScalingPolicy', namespace: 'shop', name: 'web' });
  assert.equal((await c.reconcile()).written, 0);
  assert.equal(patcher.calls.length, 1);
});

test('an invalid object gets Valid=False with governor lint\'s path and message and Ready=False; the reason is logged', async () => {
  const objs = [badGovernance];
  const { c, lines } = setup(objs);
  await c.reconcile();
  const s = (objs[0] as any).status;
  assert.equal(cond(s, 'Valid').status, 'False');
  const { status: _s, ...doc } = badGovernance as any;
  const lint = parsePolicyText(JSON.stringify(doc), 'x').errors;
  assert.ok(lint.length > 0);
  for (const e of lint) assert.ok(cond(s, 'Valid').message.includes(`${e.path}: ${e.message}`), cond(s, 'Valid').message);
  assert.deepEqual([cond(s, 'Ready').status, cond(s, 'Ready').reason], ['False', 'Invalid']);
  assert.equal(s.inForce, false);
  assert.equal(s.observedGeneration, 4);
  assert.ok(lines.some((l) => l.msg === 'policy status' && l.kind === 'GovernancePolicy' && l.ready === 'False' && l.level === 'warn'));
});

test('a follower writes nothing but exports and logs the same status; it writes once it leads', async () => {
  const objs = [scalingObject('web')];
  const { c, patcher, metrics, setLeader, lines } = setup(objs, { leader: false });
  await c.reconcile();
  assert.equal(patcher.calls.length, 0);
  const ready = await metrics.policyReady.get();
  assert.deepEqual(ready.values.map((v) => [v.labels.kind, v.labels.policy, v.value]), [['ScalingPolicy', 'shop/web', 1]]);
  assert.equal(lines.filter((l) => l.msg === 'policy status').length, 1);
  await c.reconcile();
  assert.equal(lines.filter((l) => l.msg === 'policy status').length, 1, 'logged on change only');
  setLeader(true);
  await c.reconcile();
  assert.equal(patcher.calls.length, 1);
});

test('writes are rate limited: a burst, then the rate, each object once', async () => {
  let now = 1_000_000;
  const objs = Array.from({ length: 40 }, (_, i) => scalingObject(`w${i}`));
  const { c, patcher } = setup(objs, { now: () => now });
  assert.equal((await c.reconcile()).written, 10, 'burst of 10');
  assert.equal((await c.reconcile()).written, 0, 'no tokens left at the same instant');
  now += 1000;
  assert.equal((await c.reconcile()).written, 5, '5 per second');
  now += 10_000;
  assert.equal((await c.reconcile()).written, 10);
  now += 10_000;
  assert.equal((await c.reconcile()).written, 10);
  assert.equal(patcher.calls.length, 35);
  assert.equal(new Set(patcher.calls.map((x) => x.ref.name)).size, 35, 'each object written once');
});

test('ScalingPolicy status: decided replicas, regime, load and source health; a new load waits minWriteInterval, a source failure does not', async () => {
  let now = 1_000_000;
  let load = 50;
  const good = (): Decision => ({ bucket: 1, atMs: now, replicas: 5, basis: 'load', regime: 'proportional', load, loadAtMs: now, stale: false, failures: 0, reason: `load ${load}` });
  const objs = [scalingObject('web')];
  const { c, patcher, evaluated, observations } = setup(objs, { now: () => now, decide: good, minWriteIntervalMs: 120_000 });
  const round = async () => {
    await c.reconcile(); // starts the evaluation when due
    await new Promise((r) => setImmediate(r));
    await c.reconcile();
  };
  await round();
  assert.deepEqual(evaluated, ['web'], 'evaluated once for this interval');
  let s = objs[0].status;
  assert.equal(s.replicas, 5);
  assert.equal(s.regime, 'proportional');
  assert.equal(s.load, 50);
  assert.deepEqual(s.source, { healthy: true, consecutiveFailures: 0 });
  assert.equal(cond(s, 'Ready').message, 'in force');
  assert.equal(patcher.calls.length, 1);

  now += 45_000;
  await round();
  assert.deepEqual(evaluated, ['web'], 'a decision 45 s old is recent enough (an HPA polls this policy here)');
  now += 15_000;
  load = 60;
  await round();
  assert.deepEqual(evaluated, ['web', 'web'], 'no decision for two intervals (60 s): the leader evaluates it');
  assert.equal(patcher.calls.length, 1, 'a new load 60 s after the last write waits for minWriteInterval (120 s)');
  assert.equal(objs[0].status.load, 50);

  now += 10_000;
  observations.recordDecision('shop/web', { ...good(), basis: 'last-good', failures: 1, stale: false, reason: 'kept', error: 'connection refused' });
  await round();
  assert.equal(patcher.calls.length, 2, 'a source failure is written at once');
  s = objs[0].status;
  assert.deepEqual(s.source, { healthy: false, consecutiveFailures: 1, message: 'connection refused' });
  assert.equal(s.basis, 'last-good');
  assert.equal(s.load, 60, 'with the latest fields');

  now += 5_000;
  observations.recordDecision('shop/web', { ...good(), replicas: 7 });
  await round();
  assert.equal(patcher.calls.length, 3, 'new decided replicas are written at once');
  assert.equal(objs[0].status.replicas, 7);
  assert.deepEqual(objs[0].status.source, { healthy: true, consecutiveFailures: 0 }, 'the source message is gone (merge patch null)');

  // Nothing stays behind that the decision no longer says: the merge patch removes it.
  assert.deepEqual(statusPatch({ conditions: [], regime: 'below' } as any, { conditions: [] } as PolicyStatus), { status: { conditions: [], regime: null } });
  assert.deepEqual(statusPatch({ conditions: [], source: { healthy: false, message: 'x' } } as any, { conditions: [], source: { healthy: true } } as any), {
    status: { conditions: [], source: { healthy: true, message: null } },
  });
});

test('a valid object that is not in force says why (another policy already scales the same workload)', async () => {
  const a = scalingObject('a');
  const b = scalingObject('b');
  b.spec.target.name = 'a';
  const objs = [a, b];
  const { c, store } = setup(objs);
  // a first; then b joins: the set with both is refused and a stays in force.
  assert.equal(store.offer(compileClusterObjects([a]).policies, [], 'cluster').applied, true);
  const both = compileClusterObjects(objs);
  assert.equal(store.offer(both.policies, both.errors, 'cluster').applied, false);
  await c.reconcile();
  assert.equal(cond(a.status, 'Ready').status, 'True');
  assert.equal(cond(b.status, 'Ready').reason, 'Conflict');
  assert.match(cond(b.status, 'Ready').message, /already scaled by ScalingPolicy\/shop\/a/);
});

test('policies from files appear in metrics and logs, never written', async () => {
  const file = `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: files, namespace: shop}
spec:
  target: {kind: Deployment, name: files}
  load: {prometheus: {query: q}}
  thresholds: {low: 1, high: 2}
  replicas: {max: 3}
`;
  const { c, patcher, metrics, lines } = setup([], { files: file });
  await c.reconcile();
  assert.equal(patcher.calls.length, 0);
  const ready = await metrics.policyReady.get();
  assert.deepEqual(ready.values.map((v) => [v.labels.policy, v.value]), [['shop/files', 1]]);
  assert.ok(lines.some((l) => l.msg === 'policy status' && l.policy === 'shop/files' && l.ready === 'True'));
  // A round where nothing changed recomputes nothing (with 10,000 file policies every round did, every 5 s): the
  // gauge, set aside here, is not set again.
  metrics.policyReady.set({ kind: 'ScalingPolicy', policy: 'shop/files' }, 7);
  await c.reconcile();
  assert.deepEqual((await metrics.policyReady.get()).values.map((v) => [v.labels.policy, v.value]), [['shop/files', 7]]);
});

test('a failing status write is logged once, counted, and retried', async () => {
  let now = 1_000_000;
  const objs = [scalingObject('web')];
  const { c, patcher, lines, metrics } = setup(objs, { now: () => now });
  patcher.fail = new Error('forbidden');
  await c.reconcile();
  now += 5000;
  await c.reconcile();
  assert.equal(lines.filter((l) => l.msg === 'cannot write policy status').length, 1);
  patcher.fail = undefined;
  now += 5000;
  await c.reconcile();
  assert.equal(patcher.calls.length, 1);
  const writes = await metrics.statusWrites.get();
  assert.deepEqual(Object.fromEntries(writes.values.map((v) => [v.labels.result, v.value])), { error: 2, ok: 1 });
});

test('after a spec change the leader evaluates the new version at once, not when the old decision ages', async () => {
  const now = 1_000_000;
  const objs = [scalingObject('web')];
  const decide = (p: any): Decision => ({ bucket: 1, atMs: now, replicas: p.replicas.max, basis: 'load', regime: 'overload', load: 1000, loadAtMs: now, stale: false, failures: 0, reason: 'x' });
  const { c, evaluated, store } = setup(objs, { now: () => now, decide });
  await c.reconcile();
  await new Promise((r) => setImmediate(r));
  await c.reconcile();
  assert.equal(objs[0].status.replicas, 10);
  objs[0].spec.replicas.max = 4;
  objs[0].metadata.generation = 2;
  store.offer(compileClusterObjects(objs).policies, [], 'cluster');
  await c.reconcile();
  await new Promise((r) => setImmediate(r));
  await c.reconcile();
  assert.deepEqual(evaluated, ['web', 'web']);
  assert.equal(objs[0].status.replicas, 4);
  assert.equal(objs[0].status.observedGeneration, 2);
});

test('compiling is bounded per round: thousands of new objects get their status over several rounds', async () => {
  const objs = Array.from({ length: 450 }, (_, i) => scalingObject(`w${i}`));
  const { c, patcher, metrics } = setup(objs, { leader: false });
  await c.reconcile();
  assert.equal((await metrics.policyReady.get()).values.length, 200, 'round 1: the first 200');
  await c.reconcile();
  assert.equal((await metrics.policyReady.get()).values.length, 400);
  await c.reconcile();
  assert.equal((await metrics.policyReady.get()).values.length, 450);
  assert.equal(patcher.calls.length, 0);
});

test('a round over many policies lets the event loop run between slices of visitsPerSlice policies, and still covers every one', async () => {
  const doc = (i: number) => `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: f${i}, namespace: shop}
spec:
  target: {kind: Deployment, name: f${i}}
  load: {prometheus: {query: q}}
  thresholds: {low: 1, high: 2}
  replicas: {max: 3}
`;
  const objs = Array.from({ length: 30 }, (_, i) => scalingObject(`w${i}`));
  const files = Array.from({ length: 70 }, (_, i) => doc(i)).join('---\n');
  const { c, metrics } = setup(objs, { leader: false, files, visitsPerSlice: 10 });
  // Turns of the event loop that ran while the round was under way: a round that held the loop throughout sees none.
  let turns = 0;
  let done = false;
  const spin = () => {
    if (done) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  await c.reconcile();
  done = true;
  assert.ok(turns >= 9, `the loop turned ${turns} times during a round of 100 policies in slices of 10`);
  assert.equal((await metrics.policyReady.get()).values.length, 100, 'every object and every file policy has its status');
});

// Hand-computed HPA controller behaviour: tolerance band, stabilization windows, rate policies, min/max guards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HpaReplay, HpaSpecError, resolveBehavior, validateHpaSpec, type HpaBehavior } from './hpa-replay.js';

const S = 15_000;
/** Windows 0 and no effective rate limit: isolates the rule under test. */
const free: HpaBehavior = {
  scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 1000, periodSeconds: 1 }] },
  scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 1 }] },
};

/** Runs one sync per 15 s with the given metric values; returns the replicas after each sync. */
function run(h: HpaReplay, metrics: readonly (number | undefined)[], start = 0): number[] {
  return metrics.map((m, i) => h.sync(start + i * S, m).replicas);
}

test('tolerance band: the default 10 % keeps 10 replicas for 9..11, both ends inclusive', () => {
  for (const m of [9, 10, 11]) {
    const h = new HpaReplay({ maxReplicas: 20, behavior: free }, 10);
    const r = h.sync(0, m);
    assert.equal(r.replicas, 10, `metric ${m}`);
    assert.equal(r.reason, 'WithinTolerance');
  }
  const up = new HpaReplay({ maxReplicas: 20, behavior: free }, 10);
  assert.equal(up.sync(0, 12).replicas, 12);
  const down = new HpaReplay({ maxReplicas: 20, behavior: free }, 10);
  // ratio 0.89 is outside: desired = ceil(8.9) = 9
  assert.equal(down.sync(0, 8.9).replicas, 9);
});

test('tolerance 0 in behavior tracks every change; ignored without the HPAConfigurableTolerance gate', () => {
  const behavior: HpaBehavior = { scaleUp: { ...free.scaleUp, tolerance: 0 }, scaleDown: { ...free.scaleDown, tolerance: 0 } };
  const h = new HpaReplay({ maxReplicas: 20, behavior }, 10);
  assert.deepEqual(run(h, [11, 10, 9]), [11, 10, 9]);
  const gated = new HpaReplay({ maxReplicas: 20, behavior }, 10, { configurableTolerance: false });
  assert.deepEqual(run(gated, [11, 10, 9]), [10, 10, 10]);
  const flag = new HpaReplay({ maxReplicas: 20, behavior: free }, 10, { tolerance: 0 });
  assert.deepEqual(run(flag, [11]), [11]);
});

test('fractional metric rounds up: 4.2 → 5', () => {
  const h = new HpaReplay({ maxReplicas: 20, behavior: free }, 2);
  assert.equal(h.sync(0, 4.2).replicas, 5);
});

test('default scale-down window (300 s) holds the initial size, then drops at t = 300 s', () => {
  // behavior set without a scale-down window: the controller flag's 5 minutes applies.
  const h = new HpaReplay({ maxReplicas: 20, behavior: { scaleUp: free.scaleUp } }, 10);
  const out = run(h, Array(22).fill(3));
  // syncs at 0..285 s (20 of them) hold 10: the initial recommendation (10 at t=0) is inside the window
  assert.deepEqual(out.slice(0, 20), Array(20).fill(10));
  // at t = 300 s the t=0 records are exactly at the cutoff (time.After is strict) and drop out
  assert.equal(out[20], 3);
  assert.equal(h.sync(21 * S, 3).reason, 'WithinTolerance');
});

test('scale-down stabilization takes the max of the window: a dip shorter than the window is ignored', () => {
  const h = new HpaReplay({ maxReplicas: 20, behavior: { scaleUp: free.scaleUp, scaleDown: { stabilizationWindowSeconds: 60 } } }, 5);
  // t=0..45: 8 (scale up at once); from t=60 the metric says 4, but the 8s recorded at t<=45 stay in the 60 s
  // window until t=105, when the newest of them (t=45) is exactly at the cutoff and drops out.
  const out = run(h, [8, 8, 8, 8, 4, 4, 4, 4, 4]);
  assert.deepEqual(out, [8, 8, 8, 8, 8, 8, 8, 4, 4]);
});

test('scale-up stabilization window takes the min of recent recommendations', () => {
  const h = new HpaReplay({ maxReplicas: 20, behavior: { scaleUp: { stabilizationWindowSeconds: 30, policies: free.scaleUp!.policies! }, scaleDown: free.scaleDown } }, 2);
  // initial recommendation 2 at t=0 bounds scale-up for 30 s
  assert.deepEqual(run(h, [10, 10, 10, 10]), [2, 2, 10, 10]);
  const r = new HpaReplay({ maxReplicas: 20, behavior: { scaleUp: { stabilizationWindowSeconds: 30, policies: free.scaleUp!.policies! }, scaleDown: free.scaleDown } }, 2);
  assert.equal(r.sync(0, 10).reason, 'ScaleUpStabilized');
});

test('default scale-up rate: max(4 pods, 100 %) per 15 s: 1 → 5 → 10 → 20', () => {
  const h = new HpaReplay({ maxReplicas: 20, behavior: { scaleDown: free.scaleDown } }, 1);
  const out = run(h, [20, 20, 20, 20]);
  assert.deepEqual(out, [5, 10, 20, 20]);
  const limited = new HpaReplay({ maxReplicas: 20, behavior: {} }, 1);
  assert.equal(limited.sync(0, 20).reason, 'ScaleUpLimit');
});

test('without behavior the legacy limit max(2·current, 4) applies: 1 → 4 → 8 → 16 → 20', () => {
  const h = new HpaReplay({ maxReplicas: 20 }, 1, { downscaleStabilizationMs: 0 });
  assert.deepEqual(run(h, [20, 20, 20, 20, 20]), [4, 8, 16, 20, 20]);
});

test('without behavior the controller flag window stabilizes scale-down', () => {
  const h = new HpaReplay({ maxReplicas: 20 }, 10, { downscaleStabilizationMs: 30_000 });
  // stabilizeRecommendation keeps records exactly at the cutoff (it drops only those Before it), unlike the
  // behavior path: the t=0 records still count at t=30 s.
  assert.deepEqual(run(h, [3, 3, 3, 3]), [10, 10, 10, 3]);
});

test('Pods policy: 1 pod per 60 s with a 15 s sync adds one pod per minute', () => {
  const h = new HpaReplay({ maxReplicas: 20, behavior: { scaleUp: { policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] }, scaleDown: free.scaleDown } }, 5);
  assert.deepEqual(run(h, Array(9).fill(10)), [6, 6, 6, 6, 7, 7, 7, 7, 8]);
});

test('selectPolicy Min picks the smaller change, Disabled blocks the direction', () => {
  const both = [
    { type: 'Pods' as const, value: 4, periodSeconds: 15 },
    { type: 'Percent' as const, value: 100, periodSeconds: 15 },
  ];
  const min = new HpaReplay({ maxReplicas: 20, behavior: { scaleUp: { selectPolicy: 'Min', policies: both } } }, 2);
  assert.equal(min.sync(0, 20).replicas, 4); // min(2+4, 2·2) = 4
  const max = new HpaReplay({ maxReplicas: 20, behavior: { scaleUp: { selectPolicy: 'Max', policies: both } } }, 2);
  assert.equal(max.sync(0, 20).replicas, 6);
  const disabled = new HpaReplay({ maxReplicas: 20, behavior: { scaleUp: { selectPolicy: 'Disabled' }, scaleDown: free.scaleDown } }, 2);
  assert.deepEqual(run(disabled, [20, 20, 1]), [2, 2, 1]);
  const noDown = new HpaReplay({ maxReplicas: 20, behavior: { scaleUp: free.scaleUp, scaleDown: { stabilizationWindowSeconds: 0, selectPolicy: 'Disabled' } } }, 8);
  assert.deepEqual(run(noDown, [1, 1, 20]), [8, 8, 20]);
});

test('Percent scale-down truncates: 10 → 5 → 2 → 1 at 50 % per 15 s', () => {
  const h = new HpaReplay({ maxReplicas: 20, behavior: { scaleUp: free.scaleUp, scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 50, periodSeconds: 15 }] } } }, 10);
  const out = run(h, [1, 1, 1, 1]);
  assert.deepEqual(out, [5, 2, 1, 1]);
});

test('scale-down Pods policy counts replicas removed earlier in the period', () => {
  const h = new HpaReplay({ maxReplicas: 20, behavior: { scaleUp: free.scaleUp, scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 2, periodSeconds: 30 }] } } }, 10);
  // t=0: 8; t=15: period start = 8 + 2 = 10 → limit 8 → hold; t=30: event at 0 drops out → 6
  assert.deepEqual(run(h, [1, 1, 1, 1]), [8, 8, 6, 6]);
});

test('min/max guards act before metrics; a missing metric changes nothing; zero replicas disable the HPA', () => {
  const above = new HpaReplay({ minReplicas: 2, maxReplicas: 5, behavior: free }, 9);
  const r = above.sync(0, undefined);
  assert.equal(r.replicas, 5);
  assert.equal(r.reason, 'AboveMaxReplicas');
  const below = new HpaReplay({ minReplicas: 2, maxReplicas: 5, behavior: free }, 1);
  assert.equal(below.sync(0, 100).replicas, 2);
  const clampMax = new HpaReplay({ minReplicas: 2, maxReplicas: 5, behavior: free }, 3);
  const c = clampMax.sync(0, 100);
  assert.equal(c.replicas, 5);
  assert.equal(c.reason, 'TooManyReplicas');
  const clampMin = new HpaReplay({ minReplicas: 2, maxReplicas: 5, behavior: free }, 3);
  assert.equal(clampMin.sync(0, 0).replicas, 2);
  const missing = new HpaReplay({ maxReplicas: 5, behavior: free }, 3);
  assert.equal(missing.sync(0, undefined).reason, 'FailedGetExternalMetric');
  assert.equal(missing.replicas, 3);
  const zero = new HpaReplay({ maxReplicas: 5, behavior: free }, 0);
  assert.equal(zero.sync(0, 4).reason, 'ScalingDisabled');
  assert.equal(zero.replicas, 0);
});

test('AverageValue target other than 1 divides the sum', () => {
  const h = new HpaReplay({ maxReplicas: 50, targetAverageValue: 100, behavior: free }, 1);
  assert.equal(h.sync(0, 950).replicas, 10);
});

test('behavior defaults and validation follow the API server', () => {
  const b = resolveBehavior({}, 300_000);
  assert.equal(b.scaleUp.stabilizationWindowSeconds, 0);
  assert.equal(b.scaleDown.stabilizationWindowSeconds, 300);
  assert.equal(b.scaleUp.policies.length, 2);
  assert.equal(b.scaleDown.policies[0]!.type, 'Percent');
  assert.deepEqual(validateHpaSpec({ maxReplicas: 3, minReplicas: 1 }), []);
  assert.ok(validateHpaSpec({ maxReplicas: 3, behavior: { scaleUp: { policies: [] } } }).some((p) => p.includes('at least one')));
  assert.ok(validateHpaSpec({ maxReplicas: 3, behavior: { scaleDown: { policies: [{ type: 'Pods', value: 1, periodSeconds: 1801 }] } } }).length > 0);
  assert.throws(() => new HpaReplay({ maxReplicas: 0 }, 1), HpaSpecError);
});

// Unit tests of the proportional formula: every regime and every boundary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidLoadError, isValidLoad, proportionalReplicas, type FormulaParams } from './formula.js';

/** Formula parameters from [Tmin, Tmax] and [Rmin, R0, Rmax]; the cap is Rmax. */
const params = ([low, high]: [number, number], [min, base, max]: [number, number, number], step = 1): FormulaParams => ({ thresholds: { low, high }, replicas: { min, base, max, cap: max }, step });

// The example: Tmin 100, Tmax 800, Rmin 2, R0 3, Rmax 20, cap 20, ΔR 2.
const P = params([100, 800], [2, 3, 20], 2);
const withCap = (cap: number, step = P.step): FormulaParams => ({ ...P, replicas: { ...P.replicas, cap }, step });

test('below Tmin the base level R0 is published, whatever the previous count', () => {
  assert.deepEqual(proportionalReplicas(0, P), { replicas: 3, regime: 'below', exact: 3 });
  assert.deepEqual(proportionalReplicas(99.999, P, 17), { replicas: 3, regime: 'below', exact: 3 });
});

test('L = Tmin is the start of the proportional regime and gives exactly R0', () => {
  assert.deepEqual(proportionalReplicas(100, P), { replicas: 3, regime: 'proportional', exact: 3 });
});

test('L = Tmax is still proportional and gives exactly Rmax', () => {
  assert.deepEqual(proportionalReplicas(800, P, 5), { replicas: 20, regime: 'proportional', exact: 20 });
});

test('proportional values are rounded up', () => {
  // 450 is half way: 3 + 0.5 · 17 = 11.5 → 12
  const r = proportionalReplicas(450, P);
  assert.equal(r.exact, 11.5);
  assert.equal(r.replicas, 12);
  assert.equal(r.regime, 'proportional');
  // just above Tmin: 3.024… → 4
  assert.equal(proportionalReplicas(101, P).replicas, 4);
});

/** Replica counts for loads under parameters other than the example. */
const counts: { name: string; p: FormulaParams; loads: [load: number, replicas: number][] }[] = [
  // 3 + 0.7 · 10 is 9.999999999999998 or 10.000000000000002 in floats; either way the answer is 10.
  { name: 'float noise does not add a replica: 0.1-step fractions that are whole stay whole', p: params([0, 1], [1, 3, 13]), loads: [[0.7, 10], [0.3, 6]] },
  // The schema forbids base < min; the clamp still guarantees the bound for direct callers.
  { name: 'the result is clamped to Rmin even when the base sits below it', p: params([10, 20], [4, 1, 8]), loads: [[0, 4]] },
  { name: 'min 0 allows scale to zero below Tmin, and only then', p: params([10, 20], [0, 0, 8]), loads: [[0, 0], [10.01, 1]] },
];
for (const c of counts) {
  test(c.name, () => {
    for (const [load, replicas] of c.loads) assert.equal(proportionalReplicas(load, c.p).replicas, replicas, `load ${load}`);
  });
}

test('overload without a previous count starts at Rmax', () => {
  assert.deepEqual(proportionalReplicas(801, P), { replicas: 20, regime: 'overload', exact: 20 });
});

test('overload steps past Rmax by ΔR per evaluation only up to the cap', () => {
  const p = withCap(25);
  assert.equal(proportionalReplicas(5000, p, 20).replicas, 22);
  assert.equal(proportionalReplicas(5000, p, 22).replicas, 24);
  assert.equal(proportionalReplicas(5000, p, 24).replicas, 25); // 26 capped
  assert.equal(proportionalReplicas(5000, p, 25).replicas, 25);
});

test('overload with the default cap (= Rmax) stays at Rmax', () => {
  assert.equal(proportionalReplicas(5000, P, 20).replicas, 20);
  assert.equal(proportionalReplicas(5000, P, 19).replicas, 20);
});

test('overload with a previous count below Rmax jumps to Rmax, not previous + ΔR', () => {
  assert.equal(proportionalReplicas(5000, withCap(40), 4).replicas, 20);
});

test('overload with a previous count above the cap is brought back to the cap', () => {
  assert.equal(proportionalReplicas(5000, withCap(25), 60).replicas, 25);
});

test('ΔR = 0: overload holds at max(Rmax, previous)', () => {
  const p = withCap(30, 0);
  assert.deepEqual(proportionalReplicas(900, p, 20), { replicas: 20, regime: 'overload', exact: 20 });
  assert.equal(proportionalReplicas(900, p, 24).replicas, 24);
});

test('a non-finite previous count is ignored', () => {
  assert.equal(proportionalReplicas(5000, withCap(30), Number.NaN).replicas, 20);
});

test('NaN, ±Infinity and negative loads are rejected, never turned into a replica count', () => {
  for (const bad of [Number.NaN, -1, -0.001, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    assert.equal(isValidLoad(bad), false, String(bad));
    assert.throws(() => proportionalReplicas(bad, P, 5), (e: unknown) => e instanceof InvalidLoadError && e.name === 'InvalidLoadError');
  }
  assert.equal(isValidLoad(0), true);
});

test('properties: whole, within [min, cap], monotone in load below overload', () => {
  const params = fc
    .record({
      low: fc.integer({ min: 0, max: 1000 }),
      span: fc.integer({ min: 1, max: 1000 }),
      min: fc.integer({ min: 0, max: 5 }),
      extraBase: fc.integer({ min: 0, max: 5 }),
      extraMax: fc.integer({ min: 0, max: 50 }),
      extraCap: fc.integer({ min: 0, max: 20 }),
      step: fc.integer({ min: 0, max: 5 }),
    })
    .map((r): FormulaParams => {
      const base = r.min + r.extraBase;
      const max = Math.max(1, base + r.extraMax);
      return { thresholds: { low: r.low, high: r.low + r.span }, replicas: { min: r.min, base, max, cap: max + r.extraCap }, step: r.step };
    });
  fc.assert(
    fc.property(params, fc.double({ min: 0, max: 5000, noNaN: true }), fc.double({ min: 0, max: 5000, noNaN: true }), fc.integer({ min: 0, max: 100 }), (p, a, b, prev) => {
      const ra = proportionalReplicas(a, p, prev);
      assert.ok(Number.isInteger(ra.replicas));
      assert.ok(ra.replicas >= p.replicas.min && ra.replicas <= p.replicas.cap);
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      if (hi <= p.thresholds.high) assert.ok(proportionalReplicas(lo, p).replicas <= proportionalReplicas(hi, p).replicas);
    }),
  );
});

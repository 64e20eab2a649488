// Unit tests of the planner: interval bucketing, no compounding, failures and fallbacks, staleness.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketOf, plan, type Decision, type LoadSample, type PlannerPolicy } from './planner.js';

const S = 1000;
const hold: PlannerPolicy = {
  thresholds: { low: 100, high: 800 },
  replicas: { min: 2, base: 3, max: 20, cap: 30 },
  step: 2,
  intervalMs: 30 * S,
  staleAfterMs: 120 * S,
  onSourceFailure: { action: 'hold', after: 3 },
};
const fixed: PlannerPolicy = { ...hold, onSourceFailure: { action: 'fixed', replicas: 6, after: 2 } };

const ok = (value: number, atMs: number): LoadSample => ({ ok: true, value, atMs });
const down: LoadSample = { ok: false, reason: 'unavailable', error: 'connect ECONNREFUSED 127.0.0.1:9090' };
const T0 = 1_700_000_020_000; // 10 s into a 30 s bucket

test('bucketOf puts instants on a shared grid', () => {
  assert.equal(bucketOf(0, 30 * S), 0);
  assert.equal(bucketOf(29_999, 30 * S), 0);
  assert.equal(bucketOf(30_000, 30 * S), 1);
});

test('a good load gives the formula value with its regime and reason', () => {
  const d = plan(hold, { nowMs: T0, sample: ok(450, T0) });
  assert.equal(d.replicas, 12);
  assert.equal(d.basis, 'load');
  assert.equal(d.regime, 'proportional');
  assert.equal(d.stale, false);
  assert.equal(d.failures, 0);
  assert.match(d.reason, /load 450 within 100\.\.800: proportional 12/);
  assert.equal(d.bucket, bucketOf(T0, hold.intervalMs));
});

test('repeated polls inside one interval return the same decision: overload does not compound', () => {
  let d = plan(hold, { nowMs: T0, sample: ok(5000, T0), liveReplicas: 20 });
  assert.equal(d.replicas, 22);
  // Four more polls in the same interval: even though the HPA already applied 22, the decision stays 22.
  for (let i = 1; i <= 4; i++) {
    const again = plan(hold, { nowMs: T0 + i * 3 * S, sample: ok(5000, T0 + i * 3 * S), liveReplicas: 22 }, d);
    assert.equal(again, d);
  }
  // The next interval steps once from the live count.
  d = plan(hold, { nowMs: T0 + 30 * S, sample: ok(5000, T0 + 30 * S), liveReplicas: 22 }, d);
  assert.equal(d.replicas, 24);
  assert.equal(d.regime, 'overload');
});

test('overload steps from the live count, not from this process memory, so replicas agree', () => {
  const mine: Decision = plan(hold, { nowMs: T0, sample: ok(5000, T0), liveReplicas: 20 }); // 22
  const next = T0 + 30 * S;
  const a = plan(hold, { nowMs: next, sample: ok(5000, next), liveReplicas: 26 }, mine);
  const b = plan(hold, { nowMs: next, sample: ok(5000, next), liveReplicas: 26 }); // a fresh replica, no memory
  assert.equal(a.replicas, 28);
  assert.equal(b.replicas, 28);
});

test('without a live count overload steps from the last decision', () => {
  const d1 = plan(hold, { nowMs: T0, sample: ok(5000, T0) });
  assert.equal(d1.replicas, 20);
  const d2 = plan(hold, { nowMs: T0 + 30 * S, sample: ok(5000, T0 + 30 * S) }, d1);
  assert.equal(d2.replicas, 22);
  const d3 = plan(hold, { nowMs: T0 + 60 * S, sample: ok(5000, T0 + 60 * S) }, d2);
  assert.equal(d3.replicas, 24);
});

test('before `after` failed intervals the last good decision is kept', () => {
  const good = plan(hold, { nowMs: T0, sample: ok(450, T0), liveReplicas: 5 });
  const f1 = plan(hold, { nowMs: T0 + 30 * S, sample: down, liveReplicas: 12 }, good);
  assert.equal(f1.basis, 'last-good');
  assert.equal(f1.replicas, 12);
  assert.equal(f1.failures, 1);
  assert.equal(f1.error, down.error);
  assert.equal(f1.load, 450);
  assert.match(f1.reason, /fewer than 3: keeping the last good decision 12: connect ECONNREFUSED/);
  const f2 = plan(hold, { nowMs: T0 + 60 * S, sample: down, liveReplicas: 12 }, f1);
  assert.equal(f2.basis, 'last-good');
  assert.equal(f2.failures, 2);
});

test('from `after` failed intervals on, hold publishes the live replica count', () => {
  let d = plan(hold, { nowMs: T0, sample: ok(450, T0) });
  for (let i = 1; i <= 3; i++) d = plan(hold, { nowMs: T0 + i * 30 * S, sample: down, liveReplicas: 9 }, d);
  assert.equal(d.failures, 3);
  assert.equal(d.basis, 'hold');
  assert.equal(d.replicas, 9);
  assert.match(d.reason, /holding the live replica count 9/);
});

test('hold without a live count publishes the last decision', () => {
  let d = plan(hold, { nowMs: T0, sample: ok(450, T0) });
  for (let i = 1; i <= 3; i++) d = plan(hold, { nowMs: T0 + i * 30 * S, sample: down }, d);
  assert.equal(d.basis, 'hold');
  assert.equal(d.replicas, 12);
  assert.match(d.reason, /last published value 12/);
});

test('hold keeps the held count within [min, cap]: never 0 when min > 0', () => {
  let d = plan(hold, { nowMs: T0, sample: ok(450, T0) });
  for (let i = 1; i <= 3; i++) d = plan(hold, { nowMs: T0 + i * 30 * S, sample: down, liveReplicas: 0 }, d);
  assert.equal(d.replicas, 2);
  const over = plan(hold, { nowMs: T0 + 4 * 30 * S, sample: down, liveReplicas: 99 }, d);
  assert.equal(over.replicas, 30);
});

test('failed intervals are counted on the grid, so intervals without polls count too', () => {
  const good = plan(hold, { nowMs: T0, sample: ok(450, T0) });
  // Next poll three intervals later: the last good decision is not kept any more.
  const d = plan(hold, { nowMs: T0 + 90 * S, sample: down, liveReplicas: 7 }, good);
  assert.equal(d.failures, 3);
  assert.equal(d.basis, 'hold');
});

test('fixed publishes its replicas from `after` failed intervals on', () => {
  const good = plan(fixed, { nowMs: T0, sample: ok(450, T0) });
  const f1 = plan(fixed, { nowMs: T0 + 30 * S, sample: down }, good);
  assert.equal(f1.basis, 'last-good');
  const f2 = plan(fixed, { nowMs: T0 + 60 * S, sample: down }, f1);
  assert.equal(f2.basis, 'fixed');
  assert.equal(f2.replicas, 6);
});

test('with no good value ever: fixed applies at once, hold holds the live count, or nothing to publish', () => {
  const f = plan(fixed, { nowMs: T0, sample: down });
  assert.equal(f.basis, 'fixed');
  assert.equal(f.replicas, 6);
  const h = plan(hold, { nowMs: T0, sample: down, liveReplicas: 4 });
  assert.equal(h.basis, 'hold');
  assert.equal(h.replicas, 4);
  const u = plan(hold, { nowMs: T0, sample: down });
  assert.equal(u.basis, 'unavailable');
  assert.equal(u.replicas, undefined);
  assert.equal(u.stale, true);
  assert.match(u.reason, /no replica count to hold: connect ECONNREFUSED/);
  // Failures still count up on the grid without a good value.
  const u2 = plan(hold, { nowMs: T0 + 30 * S, sample: down }, u);
  assert.equal(u2.failures, 2);
});

test('a value older than staleAfter is a failure', () => {
  const good = plan(hold, { nowMs: T0, sample: ok(450, T0) });
  const d = plan(hold, { nowMs: T0 + 30 * S, sample: ok(900, T0 + 30 * S - 121 * S), liveReplicas: 8 }, good);
  assert.equal(d.basis, 'last-good');
  assert.match(d.error!, /load value is 121s old \(staleAfter 120s\)/);
});

test('the last good decision is not kept once it is older than staleAfter, even before `after` failures', () => {
  const p: PlannerPolicy = { ...hold, staleAfterMs: 30 * S, onSourceFailure: { action: 'hold', after: 5 } };
  const good = plan(p, { nowMs: T0, sample: ok(450, T0) });
  const f1 = plan(p, { nowMs: T0 + 20 * S, sample: down }, good); // first instant of the next interval; value 20 s old
  assert.equal(f1.bucket, good.bucket + 1);
  assert.equal(f1.basis, 'last-good');
  const f2 = plan(p, { nowMs: T0 + 60 * S, sample: down, liveReplicas: 10 }, f1);
  assert.equal(f2.failures, 2);
  assert.equal(f2.stale, true);
  assert.equal(f2.basis, 'hold');
  assert.equal(f2.replicas, 10);
});

test('NaN and negative loads are failures, never a NaN replica count', () => {
  for (const v of [Number.NaN, -5, Number.POSITIVE_INFINITY]) {
    const d = plan(fixed, { nowMs: T0, sample: ok(v, T0) });
    assert.equal(d.basis, 'fixed');
    assert.equal(d.replicas, 6);
    assert.match(d.error!, /not a finite, non-negative number/);
  }
});

test('a failure inside an interval that already has a good decision changes nothing', () => {
  const good = plan(hold, { nowMs: T0, sample: ok(450, T0) });
  assert.equal(plan(hold, { nowMs: T0 + 5 * S, sample: down }, good), good);
});

test('a good load arriving later in a failed interval replaces the fallback', () => {
  const u = plan(hold, { nowMs: T0, sample: down });
  assert.equal(u.basis, 'unavailable');
  assert.equal(plan(hold, { nowMs: T0 + S, sample: down }, u), u);
  const d = plan(hold, { nowMs: T0 + 2 * S, sample: ok(100, T0 + 2 * S) }, u);
  assert.equal(d.basis, 'load');
  assert.equal(d.replicas, 3);
});

test('recovery after failures goes back to the formula', () => {
  let d = plan(hold, { nowMs: T0, sample: ok(450, T0) });
  for (let i = 1; i <= 4; i++) d = plan(hold, { nowMs: T0 + i * 30 * S, sample: down, liveReplicas: 12 }, d);
  assert.equal(d.basis, 'hold');
  d = plan(hold, { nowMs: T0 + 5 * 30 * S, sample: ok(0, T0 + 5 * 30 * S), liveReplicas: 12 }, d);
  assert.equal(d.basis, 'load');
  assert.equal(d.replicas, 3);
  assert.equal(d.failures, 0);
});

// The decision of one ScalingPolicy for one evaluation interval: load sample + live replicas + previous decision → Decision.
//
// Pure: the caller supplies the clock reading, the load sample and the live replica count. Evaluations sit on a grid
// shared by every governor replica (bucket = floor(now / interval)), so repeated HPA polls inside one interval get the
// same decision (no compounding of overload steps) and replicas evaluate at the same instants.
import type { SourceFailureAction } from '../policy/types.js';
import { isValidLoad, proportionalReplicas, type FormulaParams, type Regime } from './formula.js';

/** The policy fields the planner reads; ScalingPolicy satisfies it. */
export interface PlannerPolicy extends FormulaParams {
  readonly intervalMs: number;
  readonly staleAfterMs: number;
  readonly onSourceFailure: SourceFailureAction;
}

/** One reading of the load source: a value with the time it was taken, or a failure with its reason. */
export type LoadSample =
  | { readonly ok: true; readonly value: number; readonly atMs: number }
  | { readonly ok: false; readonly reason: string; readonly error: string };

export interface PlanInput {
  readonly nowMs: number;
  readonly sample: LoadSample;
  /** The target's replica count from the cluster (scale subresource), when known. */
  readonly liveReplicas?: number;
}

/**
 * What the decision is based on: the load ('load'), the last good decision kept through a short source failure
 * ('last-good'), the onSourceFailure action ('hold', 'fixed'), or nothing at all ('unavailable': no value to publish).
 */
export type DecisionBasis = 'load' | 'last-good' | 'hold' | 'fixed' | 'unavailable';

/** The last decision computed from a good load value; carried forward through failures. */
export interface GoodDecision {
  readonly bucket: number;
  readonly replicas: number;
  readonly regime: Regime;
  readonly load: number;
  readonly loadAtMs: number;
}

export interface Decision {
  /** Grid slot: floor(atMs / intervalMs). */
  readonly bucket: number;
  /** When the decision was computed. */
  readonly atMs: number;
  /** Replicas to publish; undefined when basis is 'unavailable'. */
  readonly replicas: number | undefined;
  readonly basis: DecisionBasis;
  /** The formula's regime, for basis 'load' and 'last-good'. */
  readonly regime?: Regime;
  /** The load behind the value (this interval's, or the last good one's). */
  readonly load?: number;
  readonly loadAtMs?: number;
  /** True when the published value rests on no load younger than staleAfter. */
  readonly stale: boolean;
  /** Consecutive failed intervals on the grid since the last good load (0 when basis is 'load'). */
  readonly failures: number;
  /** One line for logs and the 503 message. */
  readonly reason: string;
  /** The source's error when this interval's load could not be used. */
  readonly error?: string;
  /** Its class (LoadSample.reason: 'unavailable', 'timeout', 'response', 'auth', 'internal', 'pending'): what a client may be told. */
  readonly failure?: string;
  readonly lastGood?: GoodDecision;
}

export function bucketOf(nowMs: number, intervalMs: number): number {
  return Math.floor(nowMs / intervalMs);
}

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));

/**
 * Decides the replicas for this interval. `previous` is the decision this process made last for the same policy.
 * A decision already made from a good load in this interval is returned unchanged; a failed one is recomputed only
 * if a good load arrives inside the same interval.
 */
export function plan(policy: PlannerPolicy, input: PlanInput, previous?: Decision): Decision {
  const { nowMs, sample } = input;
  const bucket = bucketOf(nowMs, policy.intervalMs);
  if (previous && previous.bucket === bucket && (previous.basis === 'load' || !sample.ok)) return previous;

  if (sample.ok) {
    if (!isValidLoad(sample.value)) {
      return failed(policy, input, bucket, previous, 'invalid', `load ${sample.value} is not a finite, non-negative number`);
    }
    const ageMs = nowMs - sample.atMs;
    if (ageMs > policy.staleAfterMs) {
      return failed(policy, input, bucket, previous, 'stale', `load value is ${Math.round(ageMs / 1000)}s old (staleAfter ${Math.round(policy.staleAfterMs / 1000)}s)`);
    }
    // R_prev (overload only): the cluster's count when known, so every governor replica steps from the same base.
    const rPrev = input.liveReplicas ?? previous?.replicas;
    const r = proportionalReplicas(sample.value, policy, rPrev);
    const lastGood: GoodDecision = { bucket, replicas: r.replicas, regime: r.regime, load: sample.value, loadAtMs: sample.atMs };
    return {
      bucket,
      atMs: nowMs,
      replicas: r.replicas,
      basis: 'load',
      regime: r.regime,
      load: sample.value,
      loadAtMs: sample.atMs,
      stale: false,
      failures: 0,
      reason: describeRegime(policy, r.regime, sample.value, r.replicas, rPrev),
      lastGood,
    };
  }
  return failed(policy, input, bucket, previous, sample.reason, sample.error);
}

function describeRegime(p: PlannerPolicy, regime: Regime, load: number, replicas: number, rPrev: number | undefined): string {
  const { low, high } = p.thresholds;
  switch (regime) {
    case 'below':
      return `load ${load} < low ${low}: base level ${replicas}`;
    case 'proportional':
      return `load ${load} within ${low}..${high}: proportional ${replicas}`;
    case 'overload':
      return `load ${load} > high ${high}: overload ${replicas} (previous ${rPrev ?? 'unknown'}, step ${p.step}, cap ${p.replicas.cap})`;
  }
}

function failed(policy: PlannerPolicy, input: PlanInput, bucket: number, previous: Decision | undefined, reason: string, error: string): Decision {
  const { nowMs } = input;
  const lastGood = previous?.lastGood;
  // Counted in grid intervals since the last good load, not in requests: every replica counts the same.
  const failures = lastGood
    ? Math.max(1, bucket - lastGood.bucket)
    : previous && previous.basis !== 'load'
      ? previous.failures + (bucket > previous.bucket ? 1 : 0)
      : 1;
  const lastGoodFresh = lastGood !== undefined && nowMs - lastGood.loadAtMs <= policy.staleAfterMs;
  const base = { bucket, atMs: nowMs, failures, error, failure: reason, stale: !lastGoodFresh, ...(lastGood ? { lastGood } : {}) };
  const what = `load source failed (${reason}) for ${failures} interval${failures === 1 ? '' : 's'}`;
  const f = policy.onSourceFailure;

  if (lastGood && lastGoodFresh && failures < f.after) {
    return {
      ...base,
      replicas: lastGood.replicas,
      basis: 'last-good',
      regime: lastGood.regime,
      load: lastGood.load,
      loadAtMs: lastGood.loadAtMs,
      reason: `${what}, fewer than ${f.after}: keeping the last good decision ${lastGood.replicas}: ${error}`,
    };
  }
  const { min, cap } = policy.replicas;
  if (f.action === 'fixed') {
    return { ...base, replicas: f.replicas, basis: 'fixed', reason: `${what}: onSourceFailure fixed ${f.replicas}: ${error}` };
  }
  const current = input.liveReplicas ?? previous?.replicas;
  if (current === undefined) {
    return { ...base, replicas: undefined, basis: 'unavailable', reason: `${what} and there is no replica count to hold: ${error}` };
  }
  const held = clamp(current, min, cap);
  const from = input.liveReplicas !== undefined ? 'live replica count' : 'last published value';
  return { ...base, replicas: held, basis: 'hold', reason: `${what}: holding the ${from} ${held}: ${error}` };
}

// Pure replay of the HorizontalPodAutoscaler controller for one External metric with an AverageValue target.
//
// Mirrors kube-controller-manager (pkg/controller/podautoscaler, read from v1.37.2) step by step so that `governor
// simulate` predicts what a native HPA does with the values the adapter publishes:
//   reconcileAutoscaler                      min/max guards before any metric, then normalization, then rescale
//   GetExternalPerPodMetricReplicas          usageRatio = sum / (target · statusReplicas); outside the tolerance
//                                            band desired = ceil(sum / target), inside it desired = statusReplicas
//   Tolerances.isWithin / tolerancesForHpa   1 − down ≤ ratio ≤ 1 + up; behavior.*.tolerance overrides the
//                                            controller's --horizontal-pod-autoscaler-tolerance (gate HPAConfigurableTolerance)
//   normalizeDesiredReplicasWithBehaviors    stabilizeRecommendationWithBehaviors, then convertDesiredReplicasWithBehaviorRate
//   normalizeDesiredReplicas                 (behavior unset) stabilizeRecommendation over the controller's downscale
//                                            window, then convertDesiredReplicasWithRules (scale-up limit max(2·current, 4))
//   calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors, getReplicasChangePerPeriod,
//   storeScaleEvent, recordInitialRecommendation, GenerateHPAScaleUpRules / GenerateHPAScaleDownRules (defaults).
// Time is a number of milliseconds supplied by the caller; nothing here reads a clock.

export type HpaPolicyType = 'Pods' | 'Percent';
export type HpaSelectPolicy = 'Max' | 'Min' | 'Disabled';

export interface HpaScalingPolicy {
  readonly type: HpaPolicyType;
  /** > 0: pods, or percent of the replicas at the start of the period. */
  readonly value: number;
  /** 1..1800 */
  readonly periodSeconds: number;
}

/** autoscaling/v2 HPAScalingRules; unset fields take the API server's defaults. */
export interface HpaScalingRules {
  readonly stabilizationWindowSeconds?: number;
  readonly selectPolicy?: HpaSelectPolicy;
  readonly policies?: readonly HpaScalingPolicy[];
  /** Per-HPA tolerance (Kubernetes 1.33+ behind HPAConfigurableTolerance, on by default from 1.35). */
  readonly tolerance?: number;
}

export interface HpaBehavior {
  readonly scaleUp?: HpaScalingRules;
  readonly scaleDown?: HpaScalingRules;
}

/** The parts of an autoscaling/v2 HPA spec that the replay reads. */
export interface HpaSpec {
  /** Default 1, as the API server defaults it. */
  readonly minReplicas?: number;
  readonly maxReplicas: number;
  /** The External metric's target.averageValue; governor's recipe uses 1. */
  readonly targetAverageValue?: number;
  /** Absent: the controller's legacy normalization (normalizeDesiredReplicas) applies. */
  readonly behavior?: HpaBehavior;
}

/** kube-controller-manager settings that change the HPA's decisions. */
export interface HpaControllerOptions {
  /** --horizontal-pod-autoscaler-sync-period, default 15 s. */
  readonly syncPeriodMs?: number;
  /** --horizontal-pod-autoscaler-tolerance, default 0.1. */
  readonly tolerance?: number;
  /** --horizontal-pod-autoscaler-downscale-stabilization, default 5 m. */
  readonly downscaleStabilizationMs?: number;
  /** Whether behavior.*.tolerance is honoured (the HPAConfigurableTolerance gate); default true (beta, on in 1.35+). */
  readonly configurableTolerance?: boolean;
}

export const HPA_DEFAULTS = Object.freeze({
  syncPeriodMs: 15_000,
  tolerance: 0.1,
  downscaleStabilizationMs: 300_000,
  configurableTolerance: true,
});

/** Fully defaulted scaling rules (no undefined field), as the controller sees them after API defaulting. */
export interface ResolvedScalingRules {
  readonly stabilizationWindowSeconds: number;
  readonly selectPolicy: HpaSelectPolicy;
  readonly policies: readonly HpaScalingPolicy[];
  readonly tolerance?: number;
}

// defaultHPAScaleUpRules in pkg/apis/autoscaling/v2/defaults.go: window 0, max of 4 pods or 100 % per 15 s.
const DEFAULT_SCALE_UP: ResolvedScalingRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Pods', value: 4, periodSeconds: 15 },
    { type: 'Percent', value: 100, periodSeconds: 15 },
  ],
};
// defaultHPAScaleDownRules: 100 % per 15 s; the window stays unset and falls back to the controller flag
// (maybeInitScaleDownStabilizationWindow).
const DEFAULT_SCALE_DOWN_POLICIES: readonly HpaScalingPolicy[] = [{ type: 'Percent', value: 100, periodSeconds: 15 }];

/** GenerateHPAScaleUpRules / GenerateHPAScaleDownRules + maybeInitScaleDownStabilizationWindow. */
export function resolveBehavior(
  behavior: HpaBehavior,
  downscaleStabilizationMs: number,
): { readonly scaleUp: ResolvedScalingRules; readonly scaleDown: ResolvedScalingRules } {
  const up = behavior.scaleUp ?? {};
  const down = behavior.scaleDown ?? {};
  return {
    scaleUp: {
      stabilizationWindowSeconds: up.stabilizationWindowSeconds ?? DEFAULT_SCALE_UP.stabilizationWindowSeconds,
      selectPolicy: up.selectPolicy ?? DEFAULT_SCALE_UP.selectPolicy,
      policies: up.policies ?? DEFAULT_SCALE_UP.policies,
      ...(up.tolerance !== undefined ? { tolerance: up.tolerance } : {}),
    },
    scaleDown: {
      // (int32)(a.downscaleStabilisationWindow.Seconds()) truncates.
      stabilizationWindowSeconds: down.stabilizationWindowSeconds ?? Math.trunc(downscaleStabilizationMs / 1000),
      selectPolicy: down.selectPolicy ?? 'Max',
      policies: down.policies ?? DEFAULT_SCALE_DOWN_POLICIES,
      ...(down.tolerance !== undefined ? { tolerance: down.tolerance } : {}),
    },
  };
}

export class HpaSpecError extends Error {
  override name = 'HpaSpecError';
}

/** The API server's validation of the fields the replay uses (validateScalingRules, validateScalingPolicy). */
export function validateHpaSpec(spec: HpaSpec): string[] {
  const problems: string[] = [];
  const min = spec.minReplicas ?? 1;
  if (!Number.isInteger(spec.maxReplicas) || spec.maxReplicas < 1) problems.push('maxReplicas must be an integer >= 1');
  if (!Number.isInteger(min) || min < 0) problems.push('minReplicas must be an integer >= 0');
  if (min > spec.maxReplicas) problems.push('minReplicas must not exceed maxReplicas');
  if (spec.targetAverageValue !== undefined && !(spec.targetAverageValue > 0)) problems.push('targetAverageValue must be > 0');
  for (const dir of ['scaleUp', 'scaleDown'] as const) {
    const r = spec.behavior?.[dir];
    if (!r) continue;
    const w = r.stabilizationWindowSeconds;
    if (w !== undefined && (!Number.isInteger(w) || w < 0 || w > 3600)) problems.push(`behavior.${dir}.stabilizationWindowSeconds must be 0..3600`);
    if (r.policies !== undefined && r.policies.length === 0) problems.push(`behavior.${dir}.policies must specify at least one policy`);
    r.policies?.forEach((p, i) => {
      if (p.type !== 'Pods' && p.type !== 'Percent') problems.push(`behavior.${dir}.policies[${i}].type must be Pods or Percent`);
      if (!Number.isInteger(p.value) || p.value <= 0) problems.push(`behavior.${dir}.policies[${i}].value must be an integer > 0`);
      if (!Number.isInteger(p.periodSeconds) || p.periodSeconds <= 0 || p.periodSeconds > 1800) {
        problems.push(`behavior.${dir}.policies[${i}].periodSeconds must be 1..1800`);
      }
    });
    if (r.tolerance !== undefined && !(r.tolerance >= 0)) problems.push(`behavior.${dir}.tolerance must be >= 0`);
  }
  return problems;
}

/** Why the controller ended where it did (the controller's own condition reasons, where one exists). */
export type HpaReason =
  | 'ScalingDisabled' // current replicas 0: the HPA does nothing
  | 'AboveMaxReplicas' // current > maxReplicas: set to max without reading metrics
  | 'BelowMinReplicas' // current < minReplicas: set to min without reading metrics
  | 'FailedGetExternalMetric' // no metric value: no change
  | 'WithinTolerance' // the ratio is inside the tolerance band
  | 'DesiredWithinRange'
  | 'ScaleUpStabilized'
  | 'ScaleDownStabilized'
  | 'ScaleUpLimit'
  | 'ScaleDownLimit'
  | 'TooManyReplicas'
  | 'TooFewReplicas';

export interface HpaSyncResult {
  /** Controller time of this sync. */
  readonly atMs: number;
  /** scale.spec.replicas before the sync. */
  readonly currentReplicas: number;
  /** The replica count the metric alone proposes (after the tolerance check), before stabilization and rate limits. */
  readonly proposedReplicas: number;
  /** What the controller set (equal to currentReplicas when it did not rescale). */
  readonly replicas: number;
  readonly rescaled: boolean;
  readonly reason: HpaReason;
  /** usageRatio from the metric; undefined when no metric was read. */
  readonly usageRatio?: number;
}

interface TimestampedRecommendation {
  recommendation: number;
  at: number;
}
interface TimestampedScaleEvent {
  change: number;
  at: number;
  outdated: boolean;
}

const MAX_INT32 = 2 ** 31 - 1;

/**
 * One HPA as the controller keeps it: the target's scale plus the controller's in-memory recommendation history and
 * scale events. Call sync() once per sync period with the metric's sum (undefined = the metric could not be read).
 * The target's status.replicas is taken to equal spec.replicas (a Deployment creates its pods within a sync period;
 * pod readiness does not matter for AverageValue targets); pass statusReplicas to model a lag.
 */
export class HpaReplay {
  private current: number;
  private readonly min: number;
  private readonly max: number;
  private readonly target: number;
  private readonly behavior?: { readonly scaleUp: ResolvedScalingRules; readonly scaleDown: ResolvedScalingRules };
  private readonly opts: Required<HpaControllerOptions>;
  private recommendations: TimestampedRecommendation[] | undefined;
  private readonly scaleUpEvents: TimestampedScaleEvent[] = [];
  private readonly scaleDownEvents: TimestampedScaleEvent[] = [];

  constructor(
    readonly spec: HpaSpec,
    initialReplicas: number,
    options: HpaControllerOptions = {},
  ) {
    const problems = validateHpaSpec(spec);
    if (problems.length) throw new HpaSpecError(`invalid HPA spec: ${problems.join('; ')}`);
    if (!Number.isInteger(initialReplicas) || initialReplicas < 0) throw new HpaSpecError('initial replicas must be an integer >= 0');
    this.opts = { ...HPA_DEFAULTS, ...stripUndefined(options) };
    this.current = initialReplicas;
    this.min = spec.minReplicas ?? 1;
    this.max = spec.maxReplicas;
    this.target = spec.targetAverageValue ?? 1;
    if (spec.behavior) this.behavior = resolveBehavior(spec.behavior, this.opts.downscaleStabilizationMs);
  }

  /** scale.spec.replicas now. */
  get replicas(): number {
    return this.current;
  }

  get syncPeriodMs(): number {
    return this.opts.syncPeriodMs;
  }

  /** Someone else (kubectl scale, a rollout) changed the target's replicas. */
  setReplicas(n: number): void {
    this.current = n;
  }

  /** tolerancesForHpa */
  tolerances(): { readonly up: number; readonly down: number } {
    const t = { up: this.opts.tolerance, down: this.opts.tolerance };
    if (!this.behavior || !this.opts.configurableTolerance) return t;
    return {
      up: this.behavior.scaleUp.tolerance ?? t.up,
      down: this.behavior.scaleDown.tolerance ?? t.down,
    };
  }

  /** reconcileAutoscaler for one sync at `atMs` with the External metric's sum (in metric units, not milli). */
  sync(atMs: number, metricSum: number | undefined, statusReplicas: number = this.current): HpaSyncResult {
    const currentReplicas = this.current;
    // recordInitialRecommendation: the first sync seeds the history with the current size.
    this.recommendations ??= [{ recommendation: currentReplicas, at: atMs }];
    const done = (replicas: number, proposed: number, reason: HpaReason, usageRatio?: number): HpaSyncResult => {
      const rescaled = replicas !== currentReplicas;
      if (rescaled) {
        this.storeScaleEvent(currentReplicas, replicas, atMs);
        this.current = replicas;
      }
      return { atMs, currentReplicas, proposedReplicas: proposed, replicas, rescaled, reason, ...(usageRatio !== undefined ? { usageRatio } : {}) };
    };

    // HPAScaleToZero is alpha and off by default; without it a target at 0 disables the HPA (shouldComputeMetricsForZeroReplicas).
    if (currentReplicas === 0) return done(0, 0, 'ScalingDisabled');
    if (currentReplicas > this.max) return done(this.max, this.max, 'AboveMaxReplicas');
    if (currentReplicas < this.min) return done(this.min, this.min, 'BelowMinReplicas');
    if (metricSum === undefined || !Number.isFinite(metricSum)) return { atMs, currentReplicas, proposedReplicas: currentReplicas, replicas: currentReplicas, rescaled: false, reason: 'FailedGetExternalMetric' };

    // GetExternalPerPodMetricReplicas works in milli-units (Quantity.MilliValue rounds up).
    const usage = milli(metricSum);
    const targetMilli = milli(this.target);
    const usageRatio = usage / (targetMilli * statusReplicas);
    let proposed = statusReplicas;
    const tol = this.tolerances();
    const within = 1 - tol.down <= usageRatio && usageRatio <= 1 + tol.up;
    if (!within) proposed = Math.min(MAX_INT32, Math.ceil(usage / targetMilli));

    let stabilized: number;
    let stabilizeReason: HpaReason | undefined;
    let result: number;
    let limitReason: HpaReason;
    if (this.behavior) {
      // normalizeDesiredReplicasWithBehaviors
      const s = this.stabilizeRecommendationWithBehaviors(atMs, currentReplicas, proposed);
      stabilized = s.recommendation;
      if (stabilized !== proposed) stabilizeReason = s.reason;
      const r = this.convertDesiredReplicasWithBehaviorRate(atMs, currentReplicas, stabilized);
      result = r.replicas;
      limitReason = r.reason;
    } else {
      // normalizeDesiredReplicas
      stabilized = this.stabilizeRecommendation(atMs, proposed);
      if (stabilized !== proposed) stabilizeReason = 'ScaleDownStabilized';
      const r = convertDesiredReplicasWithRules(currentReplicas, stabilized, this.min, this.max);
      result = r.replicas;
      limitReason = r.reason;
    }
    let reason: HpaReason;
    if (result !== stabilized) reason = limitReason;
    else if (stabilizeReason) reason = stabilizeReason;
    else if (within) reason = 'WithinTolerance';
    else reason = 'DesiredWithinRange';
    return done(result, proposed, reason, usageRatio);
  }

  /** stabilizeRecommendationWithBehaviors: max of recent recommendations bounds scale-down, min bounds scale-up. */
  private stabilizeRecommendationWithBehaviors(now: number, currentReplicas: number, desired: number): { recommendation: number; reason: HpaReason } {
    const b = this.behavior!;
    const recs = this.recommendations!;
    let upRecommendation = desired;
    const upCutoff = now - b.scaleUp.stabilizationWindowSeconds * 1000;
    let downRecommendation = desired;
    const downCutoff = now - b.scaleDown.stabilizationWindowSeconds * 1000;
    let oldIndex = -1;
    recs.forEach((rec, i) => {
      // time.After / time.Before are strict.
      if (rec.at > upCutoff) upRecommendation = Math.min(rec.recommendation, upRecommendation);
      if (rec.at > downCutoff) downRecommendation = Math.max(rec.recommendation, downRecommendation);
      if (rec.at < upCutoff && rec.at < downCutoff) oldIndex = i;
    });
    let recommendation = currentReplicas;
    if (recommendation < upRecommendation) recommendation = upRecommendation;
    if (recommendation > downRecommendation) recommendation = downRecommendation;
    const entry = { recommendation: desired, at: now };
    if (oldIndex >= 0) recs[oldIndex] = entry;
    else recs.push(entry);
    return { recommendation, reason: desired >= currentReplicas ? 'ScaleUpStabilized' : 'ScaleDownStabilized' };
  }

  /** stabilizeRecommendation (no behavior): the max over the controller's downscale window. */
  private stabilizeRecommendation(now: number, desired: number): number {
    const recs = this.recommendations!;
    let max = desired;
    let oldIndex = -1;
    const cutoff = now - this.opts.downscaleStabilizationMs;
    recs.forEach((rec, i) => {
      if (rec.at < cutoff) oldIndex = i;
      else if (rec.recommendation > max) max = rec.recommendation;
    });
    const entry = { recommendation: desired, at: now };
    if (oldIndex >= 0) recs[oldIndex] = entry;
    else recs.push(entry);
    return max;
  }

  /** convertDesiredReplicasWithBehaviorRate */
  private convertDesiredReplicasWithBehaviorRate(now: number, current: number, desired: number): { replicas: number; reason: HpaReason } {
    const b = this.behavior!;
    if (desired > current) {
      let limit = scaleUpLimit(now, current, this.scaleUpEvents, this.scaleDownEvents, b.scaleUp);
      if (limit < current) limit = current;
      let maxAllowed = this.max;
      let reason: HpaReason = 'TooManyReplicas';
      if (maxAllowed > limit) {
        maxAllowed = limit;
        reason = 'ScaleUpLimit';
      }
      if (desired > maxAllowed) return { replicas: maxAllowed, reason };
    } else if (desired < current) {
      let limit = scaleDownLimit(now, current, this.scaleUpEvents, this.scaleDownEvents, b.scaleDown);
      if (limit > current) limit = current;
      let minAllowed = this.min;
      let reason: HpaReason = 'TooFewReplicas';
      if (minAllowed < limit) {
        minAllowed = limit;
        reason = 'ScaleDownLimit';
      }
      if (desired < minAllowed) return { replicas: minAllowed, reason };
    }
    return { replicas: desired, reason: 'DesiredWithinRange' };
  }

  /** storeScaleEvent: only kept when behavior is set; outdated entries are reused. */
  private storeScaleEvent(prev: number, next: number, now: number): void {
    if (!this.behavior) return;
    const up = next > prev;
    const events = up ? this.scaleUpEvents : this.scaleDownEvents;
    const rules = up ? this.behavior.scaleUp : this.behavior.scaleDown;
    const longest = Math.max(0, ...rules.policies.map((p) => p.periodSeconds));
    // markScaleEventsOutdated
    const cutoff = now - longest * 1000;
    for (const e of events) if (e.at < cutoff) e.outdated = true;
    const entry = { change: Math.abs(next - prev), at: now, outdated: false };
    let oldIndex = -1;
    events.forEach((e, i) => {
      if (e.outdated) oldIndex = i;
    });
    if (oldIndex >= 0) events[oldIndex] = entry;
    else events.push(entry);
  }
}

function milli(v: number): number {
  // resource.Quantity.MilliValue rounds up to a whole milli-unit; strip float noise first (0.1·3).
  return Math.ceil(Math.round(v * 1e3 * 1e6) / 1e6);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** getReplicasChangePerPeriod: the events strictly newer than now − period. */
function changeInPeriod(now: number, periodSeconds: number, events: readonly TimestampedScaleEvent[]): number {
  const cutoff = now - periodSeconds * 1000;
  let n = 0;
  for (const e of events) if (e.at > cutoff) n += e.change;
  return n;
}

type ScaleEvents = readonly TimestampedScaleEvent[];

/** calculateScaleUpLimitWithScalingRules */
export function scaleUpLimit(now: number, current: number, upEvents: ScaleEvents, downEvents: ScaleEvents, rules: ResolvedScalingRules): number {
  // Percent rounds up so that a small workload can still grow.
  return scaleLimit('up', now, current, upEvents, downEvents, rules, (start, p) => (p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100))));
}

/** calculateScaleDownLimitWithBehaviors */
export function scaleDownLimit(now: number, current: number, upEvents: ScaleEvents, downEvents: ScaleEvents, rules: ResolvedScalingRules): number {
  // int32(float64(start) * (1 − v/100)) truncates toward zero.
  return scaleLimit('down', now, current, upEvents, downEvents, rules, (start, p) => (p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100))));
}

/**
 * What both limits share: each policy proposes a count from the count one period ago (`current` less the changes
 * within it), and selectPolicy picks the largest change ('Max') or the smallest ('Min'); going down, the largest
 * change is the lowest count.
 */
function scaleLimit(
  direction: 'up' | 'down',
  now: number,
  current: number,
  upEvents: ScaleEvents,
  downEvents: ScaleEvents,
  rules: ResolvedScalingRules,
  propose: (start: number, p: ResolvedScalingRules['policies'][number]) => number,
): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const highest = (rules.selectPolicy === 'Min') === (direction === 'down');
  let result = highest ? Number.MIN_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
  for (const p of rules.policies) {
    const proposed = propose(current - changeInPeriod(now, p.periodSeconds, upEvents) + changeInPeriod(now, p.periodSeconds, downEvents), p);
    result = highest ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return result;
}

/** convertDesiredReplicasWithRules (behavior unset): clamp to min and to max(2·current, 4) and maxReplicas. */
export function convertDesiredReplicasWithRules(current: number, desired: number, min: number, max: number): { replicas: number; reason: HpaReason } {
  const upLimit = Math.trunc(Math.max(2 * current, 4));
  let maxAllowed: number;
  let reason: HpaReason;
  if (max > upLimit) {
    maxAllowed = upLimit;
    reason = 'ScaleUpLimit';
  } else {
    maxAllowed = max;
    reason = 'TooManyReplicas';
  }
  if (desired < min) return { replicas: min, reason: 'TooFewReplicas' };
  if (desired > maxAllowed) return { replicas: maxAllowed, reason };
  return { replicas: desired, reason: 'DesiredWithinRange' };
}

// The proportional scaling formula: load L → replica count R, pure and deterministic (no clock, no I/O).
//
//   L <  Tmin          R = R0                                       (below: the workload's level at rest)
//   Tmin <= L <= Tmax  R = R0 + (L − Tmin)/(Tmax − Tmin) · (Rmax − R0)  (proportional)
//   L >  Tmax          R = max(Rmax, R_prev + ΔR), at most cap      (overload: one step per evaluation)
//   then R = ceil(R), clamped to [Rmin, cap].
//
// R0 is a base *level*, not the live replica count: the published value depends on the load alone (except in
// overload), so it is stable for a steady load and the HPA supplies the dynamics.

export interface FormulaParams {
  /** Tmin < Tmax (the schema rejects Tmin >= Tmax). */
  readonly thresholds: { readonly low: number; readonly high: number };
  /** Rmin <= R0 (base) <= Rmax (max) <= cap. */
  readonly replicas: { readonly min: number; readonly base: number; readonly max: number; readonly cap: number };
  /** ΔR: replicas added per evaluation in overload. */
  readonly step: number;
}

export type Regime = 'below' | 'proportional' | 'overload';

export interface FormulaResult {
  /** Whole replicas within [min, cap]. */
  readonly replicas: number;
  readonly regime: Regime;
  /** The value before rounding and clamping (for logs, metrics and tests). */
  readonly exact: number;
}

/** A load the formula cannot use: NaN, ±Infinity or negative. Callers check with isValidLoad first; this guards mistakes. */
export class InvalidLoadError extends Error {
  override name = 'InvalidLoadError';
  constructor(readonly load: number) {
    super(`load ${load} is not a finite, non-negative number`);
  }
}

/** True when the formula accepts the load: finite and >= 0. */
export function isValidLoad(load: number): boolean {
  return typeof load === 'number' && Number.isFinite(load) && load >= 0;
}

/**
 * Replicas for load L. `previous` is R_prev, used only in overload: the target's live replica count when the cluster
 * is known (so every governor replica agrees), else the last published decision; absent, overload starts at Rmax.
 * Throws InvalidLoadError for NaN, ±Infinity or negative load: there is no honest replica count for those.
 */
export function proportionalReplicas(load: number, p: FormulaParams, previous?: number): FormulaResult {
  if (!isValidLoad(load)) throw new InvalidLoadError(load);
  const { low, high } = p.thresholds;
  const { min, base, max, cap } = p.replicas;
  let regime: Regime;
  let exact: number;
  if (load < low) {
    regime = 'below';
    exact = base;
  } else if (load <= high) {
    regime = 'proportional';
    // high > low is guaranteed by the schema; guard anyway so a bad caller gets Rmax, not a NaN.
    const span = high - low;
    exact = span > 0 ? base + ((load - low) / span) * (max - base) : max;
  } else {
    regime = 'overload';
    const prev = previous !== undefined && Number.isFinite(previous) ? previous : undefined;
    exact = Math.max(max, prev !== undefined ? prev + p.step : max);
  }
  // Strip float noise before the ceiling: 3 + 0.1·10 must give 4, not 5.
  const rounded = Math.ceil(Math.round(exact * 1e9) / 1e9);
  const replicas = Math.min(cap, Math.max(min, rounded));
  return { replicas, regime, exact };
}

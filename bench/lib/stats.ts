// Small statistics helpers for the benches: quantiles of sorted samples and min–max ranges over repeats.

/** Nearest-rank quantile of an ascending array (p in 0..1). */
export function quantile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i]!;
}

export interface Range {
  readonly min: number;
  readonly max: number;
  readonly median: number;
}

export function range(xs: readonly number[]): Range {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return { min: s[0] ?? Number.NaN, max: s.at(-1) ?? Number.NaN, median: quantile(s, 0.5) };
}

/** "1.23" or "1.2–1.5" when repeats differ. */
export function fmtRange(r: Range, digits = 2): string {
  const a = r.min.toFixed(digits);
  const b = r.max.toFixed(digits);
  return a === b ? a : `${a}–${b}`;
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

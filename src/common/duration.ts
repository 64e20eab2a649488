// Go-style durations ("30s", "2m", "1h30m", "500ms") as used in policy files, to milliseconds.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
export const DURATION_PATTERN = '^(\\d+(\\.\\d+)?(ms|s|m|h))+$';

export class DurationError extends Error {
  override name = 'DurationError';
}

/** Parses "1h30m" style durations into milliseconds; numbers are taken as seconds. */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new DurationError(`duration ${input} must be a non-negative number of seconds`);
    return input * 1000;
  }
  const text = input.trim();
  if (!new RegExp(DURATION_PATTERN).test(text)) {
    throw new DurationError(`"${input}" is not a duration (examples: 15s, 2m, 1h30m, 500ms)`);
  }
  let total = 0;
  for (const [, n, unit] of text.matchAll(PART)) total += Number(n) * UNIT_MS[unit!]!;
  return total;
}

/** Seconds as a short duration ("0s", "1m30s", "2h"). */
export function formatSeconds(t: number): string {
  return t === 0 ? '0s' : formatDuration(t * 1000);
}

/** Formats milliseconds as a short duration string ("90s" → "1m30s"). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s || (!h && !m) ? `${s}s` : ''}`;
}

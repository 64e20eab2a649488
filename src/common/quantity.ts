// Kubernetes resource quantities ("100m", "8Gi", "1.5", "2e3"): parsing to numbers and formatting for the metrics API.

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

// Same grammar as k8s.io/apimachinery/pkg/api/resource: sign, digits with optional fraction, then a suffix or an exponent.
const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

export class QuantityError extends Error {
  override name = 'QuantityError';
}

/** Parses a quantity (string or number) into base units (cores, bytes). Throws QuantityError on bad syntax. */
export function parseQuantity(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new QuantityError(`quantity ${input} is not finite`);
    return input;
  }
  const m = QUANTITY.exec(String(input).trim());
  if (!m) throw new QuantityError(`"${input}" is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 8Gi)`);
  const base = Number(m[1]);
  const suffix = m[2] ?? '';
  let factor: number;
  if (suffix in BINARY) factor = BINARY[suffix]!;
  else if (suffix in DECIMAL) factor = DECIMAL[suffix]!;
  else factor = 10 ** Number(suffix.slice(1)); // exponent form
  const value = base * factor;
  if (!Number.isFinite(value)) throw new QuantityError(`quantity "${input}" is out of range`);
  return value;
}

/** Returns the parsed quantity or undefined when the input is not a valid quantity. */
export function tryParseQuantity(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) ? input : undefined;
  if (typeof input !== 'string') return undefined;
  // Admission reviews parse the same few quantities ("100m", "512Mi") over and over; the memo is bounded.
  const known = PARSED.get(input);
  if (known !== undefined || PARSED.has(input)) return known;
  let value: number | undefined;
  try {
    value = parseQuantity(input);
  } catch {
    value = undefined;
  }
  if (PARSED.size >= MAX_PARSED) PARSED.clear();
  PARSED.set(input, value);
  return value;
}

const PARSED = new Map<string, number | undefined>();
const MAX_PARSED = 4096;

/**
 * Formats a value the way the metrics API expects: whole numbers plain ("3"), anything else rounded up to
 * milli-units ("1500m"), as the HPA itself reads milli-values.
 */
export function formatQuantity(value: number): string {
  if (!Number.isFinite(value)) throw new QuantityError(`cannot format non-finite quantity ${value}`);
  if (Number.isInteger(value)) return String(value);
  const milli = Math.ceil(Math.round(value * 1e6) / 1e3); // strip float noise before the ceiling
  if (milli % 1000 === 0) return String(milli / 1000);
  return `${milli}m`;
}

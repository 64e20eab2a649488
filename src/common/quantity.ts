// Kubernetes resource quantities ("100m", "8Gi", "1.5", "2e3", "1e309"): exact parsing and comparison, and formatting for the metrics API.

/**
 * A quantity as apimachinery reads it: an exact decimal, sign × m × 10^e, rounded away from zero to whole
 * nano-units and, for binary suffixes, capped at 2^63-1 (k8s.io/apimachinery/pkg/api/resource ParseQuantity).
 * Decisions compare these exactly: a float turns "1e309" into Infinity and "999999999999999999999999Ei" into a
 * rounded value, and a comparison with Infinity or NaN is an answer nobody chose.
 */
export interface Quantity {
  readonly sign: -1 | 0 | 1;
  /** The magnitude's digits (0n for zero). */
  readonly m: bigint;
  readonly e: number;
  /** Decimal digits of m (1 for zero). */
  readonly digits: number;
  /** The exact value in nano-units when it is a safe integer (CPU amounts): a comparison fast path. */
  readonly nanos: number | undefined;
  /** The exact value when it is a whole safe integer (byte amounts): the other fast path. */
  readonly whole: number | undefined;
}

export class QuantityError extends Error {
  override name = 'QuantityError';
}

/**
 * apimachinery has no length limit of its own (the API server's 3 MiB request limit is the bound); a real quantity
 * is a handful of characters, and a longer one only costs time here, so it is refused.
 */
export const MAX_QUANTITY_LENGTH = 128;

const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIXES: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const SUFFIX_CHARS = 'eEinumkKMGTP';
const MAX_BINARY = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const NANO = -9;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

function make(sign: -1 | 0 | 1, m: bigint, e: number): Quantity {
  if (sign === 0 || m === 0n) return ZERO;
  const digits = m.toString().length;
  // Exact in a double: at most 15 digits in nano-units (< 2^53), scaled by an exact power of ten.
  const nanos = e >= NANO && digits + e - NANO <= 15 ? sign * Number(m) * 10 ** (e - NANO) : undefined;
  let whole: number | undefined;
  if (e >= 0 && digits + e <= 15) whole = sign * Number(m) * 10 ** e;
  else if (e < 0 && digits <= 15 && nanos === undefined) {
    const d = 10n ** BigInt(-e);
    if (m % d === 0n) whole = sign * Number(m / d);
  }
  return { sign, m, e, digits, nanos, whole };
}

const ZERO: Quantity = { sign: 0, m: 0n, e: 0, digits: 1, nanos: 0, whole: 0 };

/** Compares magnitudes exactly; the work is bounded by the mantissas' lengths, never by the exponents. */
function compareMagnitude(a: Quantity, b: Quantity): -1 | 0 | 1 {
  // m × 10^e lies in [10^(digits+e-1), 10^(digits+e)).
  const la = a.digits + a.e;
  const lb = b.digits + b.e;
  if (la !== lb) return la < lb ? -1 : 1;
  // Same order of magnitude: the exponents differ by at most the mantissas' lengths.
  const e = Math.min(a.e, b.e);
  const x = a.m * 10n ** BigInt(a.e - e);
  const y = b.m * 10n ** BigInt(b.e - e);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** -1, 0 or 1 as a is less than, equal to or greater than b: exact for every quantity. */
export function compareQuantities(a: Quantity, b: Quantity): -1 | 0 | 1 {
  if (a.nanos !== undefined && b.nanos !== undefined) return a.nanos < b.nanos ? -1 : a.nanos > b.nanos ? 1 : 0;
  if (a.whole !== undefined && b.whole !== undefined) return a.whole < b.whole ? -1 : a.whole > b.whole ? 1 : 0;
  if (a.sign !== b.sign) return a.sign < b.sign ? -1 : 1;
  if (a.sign === 0) return 0;
  const mag = compareMagnitude(a, b);
  return a.sign > 0 || mag === 0 ? mag : mag === 1 ? -1 : 1;
}

/** The exact product (for limit/request ratios: limit > ratio × request). */
export function multiplyQuantities(a: Quantity, b: Quantity): Quantity {
  return make((a.sign * b.sign) as -1 | 0 | 1, a.m * b.m, a.e + b.e);
}

/** An approximation for display only (Infinity past the double range): never compare with it. */
export function quantityToNumber(q: Quantity): number {
  if (q.nanos !== undefined) return q.nanos / 1e9;
  if (q.whole !== undefined) return q.whole;
  return q.sign * Number(`${q.m}e${q.e}`);
}

/**
 * Parses a quantity following apimachinery's parseQuantityString and suffix table character for character
 * (so "1E3" is 1000, "1e309" is a very large number, "+" and "k" are zero, "1 " is an error), in one linear scan.
 * Returns the quantity, or why it is not one.
 */
function parseText(str: string, roundToNano = true): Quantity | string {
  const end = str.length;
  if (end === 0) return 'is empty';
  if (end > MAX_QUANTITY_LENGTH) return `is longer than ${MAX_QUANTITY_LENGTH} characters`;
  let pos = 0;
  let sign: -1 | 1 = 1;
  const first = str.charCodeAt(0);
  if (first === 45 /* - */) {
    sign = -1;
    pos++;
  } else if (first === 43 /* + */) pos++;
  const signEnd = pos;
  while (pos < end && str.charCodeAt(pos) === 48) pos++;
  if (pos >= end) return ZERO;
  const numStart = pos;
  while (pos < end && isDigit(str.charCodeAt(pos))) pos++;
  const num = str.slice(numStart, pos);
  let denom = '';
  if (pos < end && str.charCodeAt(pos) === 46 /* . */) {
    const denomStart = ++pos;
    while (pos < end && isDigit(str.charCodeAt(pos))) pos++;
    denom = str.slice(denomStart, pos);
  }
  const suffixStart = pos;
  while (pos < end && SUFFIX_CHARS.includes(str[pos]!)) pos++;
  if (pos < end && (str[pos] === '-' || str[pos] === '+')) pos++;
  while (pos < end && isDigit(str.charCodeAt(pos))) pos++;
  if (pos < end) return 'does not match the quantity grammar <sign><digits>.<digits><suffix> (examples: 500m, 2, 512Mi, 8Gi, 1e3)';
  const suffix = str.slice(suffixStart);
  let base: 2 | 10;
  let exponent: number;
  if (suffix in DECIMAL_SUFFIXES) {
    base = 10;
    exponent = DECIMAL_SUFFIXES[suffix]!;
  } else if (suffix in BINARY_SUFFIXES) {
    base = 2;
    exponent = BINARY_SUFFIXES[suffix]!;
  } else if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E') && /^[+-]?\d+$/.test(suffix.slice(1))) {
    // strconv.ParseInt(…, 10, 64), then int32(…): the API server stores what that wrap gives.
    const parsed = BigInt(suffix.slice(1));
    if (parsed < INT64_MIN || parsed > INT64_MAX) return `has an exponent out of range (${suffix})`;
    base = 10;
    exponent = Number(BigInt.asIntN(32, parsed));
  } else return `has an unknown suffix "${suffix}" (use n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent e<n>)`;
  // No digit at all (".", "k", "-e-10"): zero, except where apimachinery takes its slow path (a scale below nano, or
  // Pi and Ei) and fails to read the empty number.
  if (!num && !denom && numStart === signEnd && (base === 10 ? exponent < NANO : exponent >= 50)) return 'has no digits';
  const digits = (num + denom).replace(/^0+/, '');
  if (!digits) return ZERO;
  let m = BigInt(digits);
  let e = denom.length ? -denom.length : 0;
  if (base === 10) e += exponent;
  else m *= 1n << BigInt(exponent);
  if (e < NANO && roundToNano) {
    // Rounded away from zero to a whole nano-unit: "you asked for some, you get some".
    const shift = NANO - e;
    if (shift > digits.length + 1) m = 1n;
    else {
      const d = 10n ** BigInt(shift);
      m = m / d + (m % d === 0n ? 0n : 1n);
    }
    e = NANO;
  }
  let q = make(sign, m, e);
  if (base === 2 && compareMagnitude(q, CAP) > 0) q = make(sign, MAX_BINARY, 0);
  return q;
}

const CAP: Quantity = make(1, MAX_BINARY, 0);

/**
 * A number of our own (a policy's limit/request ratio) as an exact decimal: its shortest text ("1.5", "1e-10"),
 * not rounded to nano-units as a quantity would be.
 */
export function exactNumber(n: number): Quantity {
  const q = Number.isFinite(n) ? parseText(String(n), false) : 'is not finite';
  if (typeof q === 'string') throw new QuantityError(`${n} ${q}`);
  return q;
}

/** A JSON number as the API server reads it (Quantity's UnmarshalJSON takes the number's text). */
function numberText(n: number): string | undefined {
  return Number.isFinite(n) ? String(n) : undefined;
}

/** Parses a quantity (string or JSON number). Throws QuantityError with the reason. */
export function parseQuantity(input: string | number): Quantity {
  const text = typeof input === 'number' ? numberText(input) : input;
  if (text === undefined) throw new QuantityError(`quantity ${input} is not finite`);
  const q = parseText(text);
  if (typeof q === 'string') throw new QuantityError(`${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)} ${q}`);
  return q;
}

/** The quantity, or the reason it is not one ("is longer than 64 characters", "has an unknown suffix …"). */
export function readQuantity(input: unknown): Quantity | string {
  if (typeof input === 'number') {
    const text = numberText(input);
    return text === undefined ? 'is not a finite number' : memoised(text);
  }
  if (typeof input !== 'string') return `is a ${input === null ? 'null' : Array.isArray(input) ? 'list' : typeof input}, not a quantity string`;
  return memoised(input);
}

/** Returns the parsed quantity or undefined when the input is not a valid quantity. */
export function tryParseQuantity(input: unknown): Quantity | undefined {
  const q = readQuantity(input);
  return typeof q === 'string' ? undefined : q;
}

// Admission reviews parse the same few quantities ("100m", "512Mi") over and over; the memo is bounded in entries,
// and its keys in length (MAX_QUANTITY_LENGTH: longer inputs are refused before they are stored).
function memoised(text: string): Quantity | string {
  const known = PARSED.get(text);
  if (known !== undefined) return known;
  const value = parseText(text);
  if (text.length <= MAX_QUANTITY_LENGTH) {
    if (PARSED.size >= MAX_PARSED) PARSED.clear();
    PARSED.set(text, value);
  }
  return value;
}

const PARSED = new Map<string, Quantity | string>();
const MAX_PARSED = 4096;

/**
 * Formats a value the way the metrics API expects: whole numbers plain ("3"), anything else rounded up to
 * milli-units ("1500m"), as the HPA itself reads milli-values. Only for our own numbers (replica counts, metric
 * values), never for a user's quantity.
 */
export function formatQuantity(value: number): string {
  if (!Number.isFinite(value)) throw new QuantityError(`cannot format non-finite quantity ${value}`);
  if (Number.isInteger(value)) return String(value);
  const milli = Math.ceil(Math.round(value * 1e6) / 1e3); // strip float noise before the ceiling
  if (milli % 1000 === 0) return String(milli / 1000);
  return `${milli}m`;
}

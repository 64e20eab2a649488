import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { compareQuantities, MAX_QUANTITY_LENGTH, multiplyQuantities, parseQuantity, QuantityError, readQuantity, tryParseQuantity, type Quantity } from './quantity.js';

/** The exact decimal text of a quantity (no exponent), as Go's inf.Dec prints it minus trailing fractional zeros. */
function decimal(q: Quantity): string {
  if (q.sign === 0) return '0';
  let s = q.m.toString();
  if (q.e >= 0) s += '0'.repeat(q.e);
  else {
    s = s.padStart(-q.e + 1, '0');
    s = `${s.slice(0, q.e)}.${s.slice(q.e)}`.replace(/\.?0+$/, '');
  }
  return (q.sign < 0 ? '-' : '') + s;
}

const normal = (s: string) => (s.includes('.') ? s.replace(/\.?0+$/, '') : s);

test('every input of the apimachinery reference table reads as ParseQuantity reads it (value or error)', () => {
  const { cases } = JSON.parse(readFileSync(join(import.meta.dirname, 'testdata', 'quantities.json'), 'utf8')) as { cases: { input: string; exact: string | null }[] };
  assert.ok(cases.length > 1000);
  let checked = 0;
  for (const { input, exact } of cases) {
    const q = readQuantity(input);
    if (input.length > MAX_QUANTITY_LENGTH) {
      assert.equal(typeof q, 'string', `${input}: refused for its length`);
      continue;
    }
    if (exact === null) assert.equal(typeof q, 'string', `${JSON.stringify(input)} is an error in apimachinery, read as ${typeof q === 'string' ? q : decimal(q)}`);
    else {
      assert.notEqual(typeof q, 'string', `${JSON.stringify(input)} is ${exact} in apimachinery, refused here: ${String(q)}`);
      assert.equal(decimal(q as Quantity), normal(exact), JSON.stringify(input));
    }
    checked++;
  }
  assert.ok(checked > 1000);
});

test('quantities beyond the double range compare correctly against max (no Infinity, no fail-open)', () => {
  const four = parseQuantity('4');
  const eightGi = parseQuantity('8Gi');
  const cmp = (a: string, b: Quantity) => compareQuantities(parseQuantity(a), b);
  for (const big of ['1e309', '1E309', '999999999999999999999999Ei', '1e400', '4.000000001', '4000001m', '1E3', '9223372036854775808']) assert.equal(cmp(big, four), 1, big);
  for (const small of ['0.0000000001', '-1e309', '-999999999999999999999999Ei', '4', '4000m', '4000000000n', '3.999999999', '1e-400', '+0', '-4']) assert.ok(cmp(small, four) <= 0, small);
  assert.equal(cmp('8589934592', eightGi), 0);
  assert.equal(cmp('8589934593', eightGi), 1);
  assert.equal(cmp('8.589934592G', eightGi), 0);
  assert.equal(cmp('1e309', eightGi), 1);
  assert.equal(cmp('999999999999999999999999Ei', eightGi), 1);
  // The binary cap of apimachinery: every binary value past 2^63-1 is 2^63-1.
  assert.equal(compareQuantities(parseQuantity('999999999999999999999999Ei'), parseQuantity('9223372036854775807')), 0);
  // Below a nano-unit rounds up to one, away from zero.
  assert.equal(compareQuantities(parseQuantity('0.0000000001'), parseQuantity('1n')), 0);
  assert.equal(compareQuantities(parseQuantity('-0.0000000001'), parseQuantity('-1n')), 0);
  assert.equal(parseQuantity(3).nanos, 3e9);
  assert.equal(compareQuantities(parseQuantity(1e21), parseQuantity('1e21')), 0);
});

test('bad quantities are refused with the reason, in time linear in their length', () => {
  for (const bad of ['4 cores', '1 ', ' 1', '1i', '1e', '1.1.M', '-3.01e-', '1e9223372036854775808', 'x'.repeat(MAX_QUANTITY_LENGTH + 1)]) {
    assert.throws(() => parseQuantity(bad), QuantityError, bad);
  }
  assert.match(readQuantity('9'.repeat(1_000_000)) as string, /longer than 128 characters/);
  assert.match(readQuantity({}) as string, /is a object/);
  assert.match(readQuantity(Infinity) as string, /not a finite number/);
  assert.equal(tryParseQuantity([]), undefined);
  // The old regex took quadratic time on a long digit run with a bad ending; the scan takes one pass.
  const t0 = performance.now();
  for (let i = 0; i < 200; i++) readQuantity(`${'1'.repeat(MAX_QUANTITY_LENGTH - 1)}x${i}`);
  assert.ok(performance.now() - t0 < 500);
});

// An independent reference: the value as an exact fraction (BigInt numerator / denominator), rounded to nano-units.
const SUFFIX = { n: [10, -9], u: [10, -6], m: [10, -3], '': [10, 0], k: [10, 3], M: [10, 6], G: [10, 9], T: [10, 12], P: [10, 15], E: [10, 18], Ki: [2, 10], Mi: [2, 20], Gi: [2, 30], Ti: [2, 40], Pi: [2, 50], Ei: [2, 60] } as const;
const CAP = (1n << 63n) - 1n;

function referenceNanos(sign: 1 | -1, int: string, frac: string, suffix: keyof typeof SUFFIX | { exp: number }): bigint {
  let num = BigInt(`${int}${frac}` || '0');
  let den = 10n ** BigInt(frac.length);
  const [base, exponent] = typeof suffix === 'object' ? [10, suffix.exp] : SUFFIX[suffix];
  if (base === 2) num *= 2n ** BigInt(exponent);
  else if (exponent >= 0) num *= 10n ** BigInt(exponent);
  else den *= 10n ** BigInt(-exponent);
  let nanos = (num * 1_000_000_000n) / den + ((num * 1_000_000_000n) % den === 0n ? 0n : 1n);
  if (base === 2 && nanos > CAP * 1_000_000_000n) nanos = CAP * 1_000_000_000n;
  return sign < 0 ? -nanos : nanos;
}

const quantityArb = fc.record({
  sign: fc.constantFrom(1 as const, -1 as const),
  int: fc.stringMatching(/^[0-9]{0,22}$/),
  frac: fc.stringMatching(/^[0-9]{0,14}$/),
  suffix: fc.oneof(fc.constantFrom(...(Object.keys(SUFFIX) as (keyof typeof SUFFIX)[])), fc.record({ exp: fc.integer({ min: -40, max: 40 }) })),
  upper: fc.boolean(),
});

function text(q: { sign: 1 | -1; int: string; frac: string; suffix: keyof typeof SUFFIX | { exp: number }; upper: boolean }): string {
  const body = `${q.int || (q.frac ? '' : '0')}${q.frac ? `.${q.frac}` : ''}`;
  const suffix = typeof q.suffix === 'object' ? `${q.upper ? 'E' : 'e'}${q.suffix.exp}` : q.suffix;
  return `${q.sign < 0 ? '-' : ''}${body}${suffix}`;
}

test('property: comparing two random quantities (mantissa, fraction, suffix or exponent, sign) agrees with exact fractions', () => {
  fc.assert(
    fc.property(quantityArb, quantityArb, (a, b) => {
      const ra = referenceNanos(a.sign, a.int, a.frac, a.suffix);
      const rb = referenceNanos(b.sign, b.int, b.frac, b.suffix);
      const want = ra < rb ? -1 : ra > rb ? 1 : 0;
      assert.equal(compareQuantities(parseQuantity(text(a)), parseQuantity(text(b))), want, `${text(a)} vs ${text(b)}`);
    }),
    { numRuns: 3000 },
  );
});

test('property: huge exponents order by magnitude without building the number', () => {
  fc.assert(
    fc.property(fc.integer({ min: 60, max: 2 ** 31 - 1 }), fc.stringMatching(/^[1-9][0-9]{0,30}$/), fc.constantFrom(...(Object.keys(SUFFIX) as (keyof typeof SUFFIX)[])), (exp, digits, suffix) => {
      const huge = parseQuantity(`1e${exp}`);
      const other = parseQuantity(`${digits}${suffix}`);
      assert.equal(compareQuantities(huge, other), 1, `1e${exp} vs ${digits}${suffix}`);
      assert.equal(compareQuantities(parseQuantity(`-1e${exp}`), other), -1);
      const tiny = parseQuantity(`1e-${exp}`);
      assert.equal(compareQuantities(tiny, parseQuantity('1n')), 0, 'rounds up to one nano-unit');
    }),
    { numRuns: 500 },
  );
});

test('property: products for ratios are exact (limit > ratio × request)', () => {
  fc.assert(
    fc.property(quantityArb, quantityArb, (a, b) => {
      const ra = referenceNanos(a.sign, a.int, a.frac, a.suffix);
      const rb = referenceNanos(b.sign, b.int, b.frac, b.suffix);
      const p = multiplyQuantities(parseQuantity(text(a)), parseQuantity(text(b)));
      // ra × rb in nano² units: compare with the product read back at that scale.
      const want = ra * rb;
      const got = p.sign === 0 ? 0n : BigInt(p.sign) * p.m * 10n ** BigInt(p.e + 18);
      assert.equal(got, want);
    }),
    { numRuns: 1000 },
  );
});

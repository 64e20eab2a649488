import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pemCertificates } from './pem.js';

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';

test('pemCertificates finds the blocks the lazy regex found (property)', () => {
  const token = fc.constantFrom(BEGIN, END, 'MIIB', '\n', 'x', '');
  fc.assert(
    fc.property(fc.array(token, { maxLength: 12 }), (parts) => {
      const text = parts.join('');
      assert.deepEqual(pemCertificates(text), text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []);
    }),
    { numRuns: 3000 },
  );
});

test('pemCertificates is linear on a bundle of BEGIN lines without END (the regex took seconds at 224 KB)', () => {
  const text = `${BEGIN}\n`.repeat(100_000);
  const started = performance.now();
  assert.deepEqual(pemCertificates(text), []);
  assert.deepEqual(pemCertificates(`${text}${END}`).length, 1);
  assert.ok(performance.now() - started < 100);
});

// The wire encodings: JSON Pointers, the patch text and its base64, the ASCII test, response bodies and Status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { patchBase64, patchText, type JsonPatchOp } from './json-patch-text.js';
import { escapePointerSegment, toPointer } from './pointer.js';
import { statusBody, statusResponse } from './status.js';
import { base64Utf8, isAscii, textBody, utf8OfBase64 } from './text.js';

test('pointer segments escape ~ before / (RFC 6901)', () => {
  assert.equal(escapePointerSegment('governor.io/migration'), 'governor.io~1migration');
  assert.equal(escapePointerSegment('a~b/c'), 'a~0b~1c');
  assert.equal(escapePointerSegment('~1'), '~01');
  assert.equal(toPointer(['metadata', 'labels', 'x/y~z']), '/metadata/labels/x~1y~0z');
  assert.equal(toPointer([]), '');
});

test('patchText writes what JSON.stringify writes, for any strings (quotes, controls, lone surrogates) and JSON values', () => {
  const anyString = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });
  const value = fc.oneof(anyString, fc.jsonValue(), fc.dictionary(anyString, fc.oneof(anyString, fc.dictionary(anyString, anyString))), fc.constant(undefined));
  fc.assert(
    fc.property(fc.array(fc.record({ path: anyString, value }), { maxLength: 8 }), (raw) => {
      const ops = raw.map((o) => ({ op: 'add', path: o.path, value: o.value }) as JsonPatchOp);
      assert.equal(patchText(ops), JSON.stringify(ops));
      assert.equal(patchBase64(ops), Buffer.from(JSON.stringify(ops)).toString('base64'));
    }),
    { numRuns: 2000 },
  );
  const proto = JSON.parse('{"__proto__": {"a": "b"}, "x": "\\u0000\\"\\\\"}');
  assert.equal(patchText([{ op: 'add', path: '/a~1b', value: proto }]), JSON.stringify([{ op: 'add', path: '/a~1b', value: proto }]));
});

test('toPointer gives the same string for the same path however often it is asked, numbers and strings alike', () => {
  const a = toPointer(['spec', 'template', 'metadata', 'labels', 'governor.io/migration']);
  assert.equal(a, '/spec/template/metadata/labels/governor.io~1migration');
  assert.equal(toPointer(['spec', 'template', 'metadata', 'labels', 'governor.io/migration']), a);
  assert.equal(toPointer(['spec', 'containers', 0, 'resources'], 3), '/spec/containers/0');
  assert.equal(toPointer(['spec', 'containers', '0']), '/spec/containers/0');
  assert.equal(toPointer(['a~b', '']), '/a~0b/');
  // Past its bound the memo starts over; pointers stay right.
  for (let i = 0; i < 12_000; i++) assert.equal(toPointer(['many', `k/${i}`]), `/many/k~1${i}`);
  assert.equal(toPointer(['spec', 'template', 'metadata', 'labels', 'governor.io/migration']), a);
});

test('isAscii, base64Utf8 and textBody agree with Buffer for any string (ASCII, Latin-1, astral, lone surrogates)', () => {
  const anyString = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });
  const cases = ['', 'plain', 'é', '\u00ff', '\u0080', '𝄞', '\ud800', 'a\u007f'];
  const check = (s: string) => {
    const utf8 = Buffer.from(s, 'utf8');
    assert.equal(isAscii(s), [...s].every((c) => c.charCodeAt(0) < 0x80), JSON.stringify(s));
    assert.equal(base64Utf8(s), utf8.toString('base64'));
    assert.equal(utf8OfBase64(base64Utf8(s)), utf8.toString('utf8'), 'decodes back (lone surrogates as U+FFFD, as Buffer does)');
    const b = textBody(s);
    assert.equal(b.bytes, utf8.length);
    assert.deepEqual(Buffer.from(b.text, b.encoding), utf8, `written with ${b.encoding}, the bytes are the UTF-8`);
  };
  cases.forEach(check);
  fc.assert(fc.property(anyString, check), { numRuns: 1000 });
  assert.equal(textBody('é').encoding, 'utf8');
  assert.equal(textBody('ok').encoding, 'latin1');
});

test('statusResponse is the metav1.Status of statusBody as a body', () => {
  const r = statusResponse(404, 'NotFound', 'no route /x "é"', { name: 'm' });
  assert.deepEqual(JSON.parse(r.text), statusBody(404, 'NotFound', 'no route /x "é"', { name: 'm' }));
  assert.deepEqual(JSON.parse(r.text), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'no route /x "é"', reason: 'NotFound', code: 404, details: { name: 'm' } });
  assert.equal(r.bytes, Buffer.byteLength(r.text));
  assert.equal(r.encoding, 'utf8');
});

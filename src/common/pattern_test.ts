import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compilePattern, PatternError } from './pattern.js';

test('a pattern searches like RegExp.test: unanchored finds a substring, ^…$ matches the whole value', () => {
  assert.equal(compilePattern('b').test('abc'), true);
  assert.equal(compilePattern('^b').test('abc'), false);
  assert.equal(compilePattern('^[a-z][a-z0-9-]*$').test('team-a'), true);
  assert.equal(compilePattern('^[a-z][a-z0-9-]*$').test('Team-a'), false);
  // $ is the end of the text only, as in JavaScript without the m flag.
  assert.equal(compilePattern('^a$').test('a\n'), false);
  assert.equal(compilePattern('').test('anything'), true);
  assert.equal(compilePattern('^(?<team>[a-z]+)-\\d+$').source, '^(?<team>[a-z]+)-\\d+$');
});

test('JavaScript spellings keep their meaning on RE2 (\\uXXXX, \\cX, [^], identity escapes)', () => {
  assert.equal(compilePattern('^\\u0041$').test('A'), true);
  assert.equal(compilePattern('^\\cA$').test('\x01'), true);
  assert.equal(compilePattern('^[^]+$').test('a\nb'), true);
  assert.equal(compilePattern('^a\\/b\\-c$').test('a/b-c'), true);
});

test('patterns agree with JavaScript RegExp on ASCII values (property)', () => {
  const patterns = ['^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', '^(dev|staging|prod)$', '\\d{3}', '^v\\d+\\.\\d+(\\.\\d+)?$', '[A-Z]', '^([a-z0-9]+-?)*$', '^\\w+@\\w+\\.com$', 'a.c'];
  for (const source of patterns) {
    const re2 = compilePattern(source);
    const js = new RegExp(source);
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'abcz09-.@AZ_ /'.split('')), maxLength: 20 }), (s) => re2.test(s) === js.test(s)),
      { numRuns: 300 },
    );
  }
});

test('constructs RE2 cannot run are refused with what to use instead', () => {
  const cases: [string, RegExp][] = [
    ['^(?=.*[a-z])[a-z0-9]+$', /^lookahead \(\?=…\) is not supported: patterns run on RE2 \(linear time\); use an allowed list or split the rule$/],
    ['^(?!default$).*', /^lookahead \(\?!…\) is not supported: .*use an allowed list or split the rule/],
    ['(?<=team-)[a-z]+', /^lookbehind \(\?<=…\) is not supported: .*split the rule/],
    ['(?<!x)y', /^lookbehind \(\?<!…\) is not supported/],
    ['^(a)\\1$', /^backreference \\1 is not supported: patterns run on RE2 \(linear time\); repeat the group, or list the allowed values$/],
    ['^(?<x>a)\\k<x>$', /^named backreference \\k<…> is not supported/],
    ['(?>ab)c', /^atomic group \(\?>…\) is not supported: .*never backtracks/],
    ['a++', /^possessive quantifier \+\+ is not supported/],
    ['a{2}+', /^possessive quantifier \}\+ is not supported/],
    ['\\d{1001}', /repeat count.*RE2 allows at most 1000 repetitions/],
    ['^[]a]$', /^empty character class \[\] never matches in JavaScript.*write \\\] for a literal \]$/],
    ['(', /missing closing \)/],
  ];
  for (const [source, message] of cases) {
    assert.throws(() => compilePattern(source), (e: unknown) => e instanceof PatternError && message.test((e as Error).message), source);
  }
});

test('the scan ignores lookaround spellings inside escapes and character classes', () => {
  assert.equal(compilePattern('^\\(?=x$').test('(=x'), true);
  assert.equal(compilePattern('^[(?=]+$').test('(?='), true);
  assert.equal(compilePattern('^[\\]\\\\1]$').test('1'), true);
  // [^] closes at once (any character), so what follows is read outside a class.
  assert.throws(() => compilePattern('^[^](?=x)'), /lookahead/);
});

test('catastrophic patterns run in linear time on long hostile values', () => {
  const value = `${'a'.repeat(256 * 1024)}!`;
  for (const source of ['^([a-z0-9]+-?)*$', '^(a+)+$', '(a|aa)+$', '(x+x+)+y', '^(\\w+\\s?)*$', '(.*a){12}']) {
    const p = compilePattern(source);
    const started = performance.now();
    p.test(value);
    const ms = performance.now() - started;
    // Linear: 256 KiB takes a few ms; backtracking would not finish in a lifetime.
    assert.ok(ms < 1000, `${source}: ${ms.toFixed(1)} ms`);
  }
});

test('the memo of recent short values never changes an answer, across its clearing and for long values', () => {
  const p = compilePattern('^team-[0-9]+$');
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 1000; i++) {
      assert.equal(p.test(`team-${i}`), true);
      assert.equal(p.test(`team-${i}x`), false);
    }
  }
  assert.equal(p.test(`team-${'1'.repeat(100)}`), true);
  assert.equal(p.test(`team-${'1'.repeat(100)}x`), false);
});

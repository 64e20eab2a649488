import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GovernanceEngine } from './engine.js';
import { denialMessage, formatViolation, formatWarning, MAX_QUOTED_LENGTH, MAX_REPORTED, MAX_VIOLATION_LENGTH, MAX_WARNING_LENGTH, MIN_WARNING_MESSAGE, quoteValue, type RuleResult } from './result.js';
import { policy } from './testing.js';

function dep(n: number, labels: Record<string, string> = {}, annotations: Record<string, string> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', labels, annotations },
    spec: { template: { spec: { containers: Array.from({ length: n }, (_, i) => ({ name: `c${i}`, resources: { limits: { cpu: '5' } } })) } } },
  };
}

test('at most MAX_REPORTED violations per kind are kept; the rest are counted and the message says how many', () => {
  const e = new GovernanceEngine([policy('max', `  resources:\n    max: {cpu: "4"}`), policy('audit', `  mode: audit\n  resources:\n    max: {cpu: "4"}`)]);
  const v = e.validate(dep(200), { namespace: 'shop' });
  assert.equal(v.decision.allowed, false);
  assert.equal(v.decision.denials.length, MAX_REPORTED);
  assert.equal(v.decision.warnings.length, MAX_REPORTED);
  assert.deepEqual(v.decision.omitted, { denials: 150, warnings: 150, exceptions: 0 });
  const message = denialMessage(v.decision.denials, v.decision.omitted!.denials);
  assert.equal(message.split('\n').length, MAX_REPORTED + 1);
  assert.equal(message.split('\n').at(-1), '… and 150 more violations');
  assert.deepEqual(Object.fromEntries(v.policies.map((p) => [p.policy, p.result])), { max: 'fail', audit: 'warn' });
  // A review without violations allocates no counts.
  assert.equal(e.validate(dep(0), { namespace: 'shop' }).decision.omitted, undefined);
});

test('a denial past the reported ones still denies (the kept ones are all warnings)', () => {
  const e = new GovernanceEngine([policy('audit', `  mode: audit\n  resources:\n    max: {cpu: "4"}`), policy('max', `  resources:\n    max: {cpu: "4"}`)]);
  const v = e.validate(dep(120), { namespace: 'shop' });
  assert.equal(v.decision.allowed, false);
  assert.equal(v.decision.denials.length, MAX_REPORTED);
});

test('a 2 MB label or annotation value never comes back whole: messages quote its start', () => {
  const huge = 'x'.repeat(2 * 1024 * 1024);
  const e = new GovernanceEngine([
    policy('tags', `  target: object\n  labels:\n    tier: {allowed: [web]}\n  annotations:\n    cost-center: {pattern: '^CC-[0-9]{4}$'}\n  allowExceptionAnnotations: [resources]\n  resources:\n    max: {cpu: "4"}`),
  ]);
  const v = e.validate(dep(1, { tier: huge }, { 'cost-center': huge }), { namespace: 'shop' });
  assert.equal(v.decision.allowed, false);
  for (const r of v.results) {
    assert.ok(r.message.length < MAX_QUOTED_LENGTH + 200, `${r.rule}: ${r.message.length} characters`);
    assert.ok(formatViolation(r).length <= MAX_VIOLATION_LENGTH);
    assert.ok(formatWarning(r).length <= 120);
  }
  assert.match(v.results.find((r) => r.rule === 'label-values')!.message, /must be one of web \(is "x{63}…"\)/);
  // An exception reason from an annotation is the user's text too.
  const excused = e.validate(dep(1, {}, { 'governor.io/exception.resources': huge }), { namespace: 'shop' });
  assert.ok(excused.decision.exceptions[0]!.exception!.reason.length <= 256);
});

test('quoteValue shows strings clipped and other values by their type', () => {
  assert.equal(quoteValue('5'), '"5"');
  assert.equal(quoteValue('y'.repeat(1000)).length, MAX_QUOTED_LENGTH + 2);
  assert.equal(quoteValue(5), '5');
  assert.equal(quoteValue({ a: 'z'.repeat(1e6) }), 'a object');
  assert.equal(quoteValue(['a']), 'a list');
});

test('a long migration label value is quoted clipped too', () => {
  const e = new GovernanceEngine([policy('mig', `  labels:\n    governor.io/migration: {required: true}`)]);
  const v = e.validate(dep(0, { 'governor.io/migration': 'm'.repeat(100_000) }), { namespace: 'shop' });
  assert.equal(v.decision.allowed, false);
  assert.match(v.decision.denials[0]!.message, /^must be one of live, restart, pinned \(is "m{63}…"\)$/);
});

test('warnings: <policy>/<rule>: <message>, the message shortened and never the policy or the rule', () => {
  const r = (o: Partial<RuleResult>): RuleResult => ({ policy: 'tags', rule: 'require-labels', family: 'labels', mode: 'audit', status: 'fail', path: 'metadata.labels.owner', message: 'is required', ...o }) as RuleResult;
  assert.equal(formatWarning(r({})), '[audit] tags/require-labels: metadata.labels.owner is required');
  assert.equal(formatWarning(r({ status: 'warn', mode: 'enforce', path: '' })), 'tags/require-labels: is required');
  // A very long message with long names: the line fits, the identity is whole, the message ends in an ellipsis.
  const policy = `compliance-${'p'.repeat(30)}`;
  const long = r({ policy, rule: 'max-limit-request-ratio' as RuleResult['rule'], message: `must be at most 4x the request ${'(is 8x) '.repeat(60)}` });
  const w = formatWarning(long);
  assert.equal(w.length, MAX_WARNING_LENGTH, w);
  assert.ok(w.startsWith(`[audit] ${policy}/max-limit-request-ratio: metadata.labels.owner must be at most`), w);
  assert.ok(w.endsWith('...'), w);
  // Names that alone fill the line: still whole, with the start of the message after them.
  const huge = `p${'x'.repeat(200)}`;
  const h = formatWarning(r({ policy: huge, path: '', message: 'y'.repeat(500) }));
  assert.equal(h, `[audit] ${huge}/require-labels: ${'y'.repeat(MIN_WARNING_MESSAGE - 3)}...`);
  // An ellipsis never splits a surrogate pair.
  const emoji = formatWarning(r({ path: '', message: '😀'.repeat(100) }));
  assert.ok(emoji.endsWith('😀...'), emoji);
});

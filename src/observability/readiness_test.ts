import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readiness, wantsVerbose } from './readiness.js';

test('ready: 200 "ok", and the list of checks with ?verbose', () => {
  const r = new Readiness();
  r.add('webhook', () => true);
  r.add('policies', () => true);
  assert.deepEqual(r.answer(), { status: 200, body: 'ok' });
  assert.deepEqual(r.answer(true), { status: 200, body: '[+]webhook ok\n[+]policies ok\nreadyz check passed\n' });
});

test('not ready: 503 with every check and one line per reason, as Kubernetes /readyz?verbose', () => {
  const r = new Readiness();
  r.add('adapter', () => true);
  r.add('policies', () => ['policies/x.yaml:3:5 (document 1): spec.thresholds.low: must be >= 0', 'cluster: waiting for the first list of scalingpolicies']);
  r.add('webhook-namespace-cache', () => 'the namespace cache has not synced yet');
  r.add('broken', () => {
    throw new Error('boom');
  });
  const a = r.answer();
  assert.equal(a.status, 503);
  assert.equal(
    a.body,
    [
      '[+]adapter ok',
      '[-]policies failed: policies/x.yaml:3:5 (document 1): spec.thresholds.low: must be >= 0',
      '[-]policies failed: cluster: waiting for the first list of scalingpolicies',
      '[-]webhook-namespace-cache failed: the namespace cache has not synced yet',
      '[-]broken failed: check failed: boom',
      'readyz check failed',
      '',
    ].join('\n'),
  );
  assert.equal(r.ready(), false);
});

test('the answer stays small whatever the reasons: lines capped per check, each clipped to one line', () => {
  const r = new Readiness();
  r.add('policies', () => Array.from({ length: 5000 }, (_, i) => `f${i}.yaml: ${'x'.repeat(10_000)}\nsecond line`));
  const a = r.answer();
  assert.equal(a.status, 503);
  const lines = a.body.trimEnd().split('\n');
  assert.equal(lines.length, 22);
  assert.equal(lines[20], '[-]policies failed: and 4980 more');
  assert.ok(a.body.length < 20 * 450 + 200, `${a.body.length} bytes`);
});

test('a removed check no longer counts; an empty reason list is a failure', () => {
  const r = new Readiness();
  const remove = r.add('x', () => []);
  assert.equal(r.answer().body, '[-]x failed: not ready\nreadyz check failed\n');
  remove();
  assert.equal(r.answer().status, 200);
});

test('?verbose is recognised as Kubernetes spells it', () => {
  assert.equal(wantsVerbose('/readyz'), false);
  assert.equal(wantsVerbose('/readyz?verbose'), true);
  assert.equal(wantsVerbose('/readyz?verbose=true'), true);
  assert.equal(wantsVerbose('/readyz?verbose=0'), false);
  assert.equal(wantsVerbose('/readyz?exclude=x'), false);
});

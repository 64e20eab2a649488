import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicyText } from './parse.js';
import { PolicyStore } from './store.js';
import { formatPolicyError, type ScalingPolicy } from './types.js';

const GOOD = `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: checkout, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: checkout}
  load:
    prometheus: {query: 'sum(rate(http_requests_total{app="checkout"}[1m]))'}
  thresholds: {low: 100, high: 800}
  replicas: {min: 2, base: 3, max: 20, cap: 20}
  step: 2
  interval: 30s
  staleAfter: 2m
  onSourceFailure: {action: hold, after: 3}
`;

test('the ScalingPolicy contract shape loads and compiles', () => {
  const r = parsePolicyText(GOOD, 'p.yaml');
  assert.deepEqual(r.errors, []);
  const p = r.policies[0] as ScalingPolicy;
  assert.equal(p.kind, 'ScalingPolicy');
  assert.deepEqual(p.replicas, { min: 2, base: 3, max: 20, cap: 20 });
  assert.equal(p.intervalMs, 30_000);
  assert.equal(p.staleAfterMs, 120_000);
  assert.deepEqual(p.load, { type: 'prometheus', query: 'sum(rate(http_requests_total{app="checkout"}[1m]))' });
  assert.deepEqual(p.origin, { file: 'p.yaml', document: 1 });
});

test('defaults: cap = max, base = min, step 1, hold after 3, http valuePath', () => {
  const r = parsePolicyText(
    `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: x}
spec:
  target: {kind: Deployment, name: x}
  load: {http: {url: 'http://127.0.0.1:1/load', valuePath: data.rps}}
  thresholds: {low: 1, high: 2}
  replicas: {max: 5}
`,
    'd.yaml',
  );
  assert.deepEqual(r.errors, []);
  const p = r.policies[0] as ScalingPolicy;
  assert.deepEqual(p.replicas, { min: 1, base: 1, max: 5, cap: 5 });
  assert.equal(p.step, 1);
  assert.equal(p.namespace, 'default');
  assert.deepEqual(p.onSourceFailure, { action: 'hold', after: 3 });
  assert.deepEqual(p.load, { type: 'http', url: 'http://127.0.0.1:1/load', valuePath: 'data.rps' });
});

test('Tmin = Tmax, unknown fields, two sources and inverted bounds are rejected with path and line', () => {
  const bad = GOOD.replace('high: 800', 'high: 100').replace('step: 2', 'stepp: 2').replace('base: 3', 'base: 1');
  const r = parsePolicyText(`---\n${GOOD}---\n${bad}`, 'bad.yaml');
  assert.equal(r.policies.length, 1, 'the good document still parses');
  const msgs = r.errors.map(formatPolicyError);
  assert.ok(msgs.some((m) => /bad\.yaml:\d+:\d+ \(document 2, ScalingPolicy\/shop\/checkout\): spec\.thresholds\.high: must be greater than thresholds\.low \(100\)/.test(m)), msgs.join('\n'));
  assert.ok(msgs.some((m) => m.includes('spec.stepp: is not a known field')));
  assert.ok(msgs.some((m) => m.includes('spec.replicas.base: must be >= 2')));
  const line = r.errors.find((e) => e.path === 'spec.thresholds.high')!.line!;
  assert.equal(`---\n${GOOD}---\n${bad}`.split('\n')[line - 1]!.includes('high: 100'), true);
});

test('fixed fallback needs replicas within min..cap; staleAfter >= interval', () => {
  const a = parsePolicyText(GOOD.replace('{action: hold, after: 3}', '{action: fixed}'), 'a.yaml');
  assert.ok(a.errors.some((e) => e.path === 'spec.onSourceFailure.replicas' && e.message === 'is required'));
  const b = parsePolicyText(GOOD.replace('{action: hold, after: 3}', '{action: fixed, replicas: 50}'), 'b.yaml');
  assert.ok(b.errors.some((e) => e.path === 'spec.onSourceFailure.replicas' && /within min\.\.cap/.test(e.message)));
  const c = parsePolicyText(GOOD.replace('staleAfter: 2m', 'staleAfter: 10s'), 'c.yaml');
  assert.ok(c.errors.some((e) => e.path === 'spec.staleAfter'));
});

test('syntax errors, unknown kinds and non-mappings name the document', () => {
  const r = parsePolicyText('kind: Nope\n---\n- a\n---\nfoo: [unclosed\n', 'x.yaml');
  assert.equal(r.errors.length, 3);
  assert.match(formatPolicyError(r.errors[0]!), /x\.yaml:1:\d+ \(document 1\): kind: unknown kind "Nope"/);
  assert.match(r.errors[1]!.message, /must be a mapping/);
  assert.match(r.errors[2]!.message, /^YAML syntax/);
  assert.equal(r.errors[2]!.document, 3);
});

test('the store keeps the last good set when a candidate has errors', () => {
  const store = new PolicyStore();
  const good = parsePolicyText(GOOD, 'p.yaml');
  assert.equal(store.offer(good.policies, good.errors).applied, true);
  assert.equal(store.current().scaling.length, 1);
  const broken = parsePolicyText('kind: Nope', 'p.yaml');
  const out = store.offer(broken.policies, broken.errors);
  assert.equal(out.applied, false);
  assert.deepEqual(out.kept, ['ScalingPolicy/shop/checkout']);
  assert.equal(store.current().scaling[0]!.name, 'checkout');
  assert.equal(store.lastErrors().length, 1);
  const dup = store.offer([...good.policies, ...good.policies], []);
  assert.equal(dup.applied, false);
  assert.match(dup.errors[0]!.message, /duplicate policy name/);
});

test('governor test suites beside the policies are not policies and not errors', () => {
  const r = parsePolicyText(`apiVersion: governor.io/v1alpha1\nkind: GovernanceTest\nmetadata: {name: t}\n---\n${GOOD}`, 't.yaml');
  assert.deepEqual(r.errors, []);
  assert.equal(r.policies.length, 1);
});

test('compiled policies do not keep their file\'s text alive (YAML readers hand out slices of it), on both readers', async () => {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  // 100 policies, each with a long query, in a file of about 8 MB (the rest comments, which no value refers to).
  const filler = `# ${'x'.repeat(78)}\n`.repeat(1000);
  const make = (tag: string) =>
    Array.from({ length: 100 }, (_, i) => GOOD.replace('name: checkout, namespace', `name: c${i}, namespace`).replace('checkout"}[1m]', `checkout-${tag}-${i}"}[1m]`) + filler).join('---\n');
  for (const fastPath of [true, false]) {
    const before = heap();
    let text: string | undefined = make(String(fastPath));
    const bytes = text.length;
    const r = parsePolicyText(text, 'big.yaml', { fastPath });
    text = undefined;
    assert.equal(r.policies.length, 100, JSON.stringify(r.errors.slice(0, 2)));
    assert.match((r.policies[99] as ScalingPolicy).load.type === 'prometheus' ? JSON.stringify(r.policies[99]) : '', /checkout-(true|false)-99/);
    const kept = heap() - before;
    assert.ok(kept < bytes / 4, `fastPath ${fastPath}: ${kept} bytes kept for 100 policies parsed from ${bytes} bytes of text`);
  }
});

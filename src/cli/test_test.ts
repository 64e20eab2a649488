import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { skippedNamespaces } from '../governance/engine.js';
import { governorTest, subsetMismatch } from './test.js';
import { runCli } from './cli_harness.js';

const repo = new URL('../../', import.meta.url).pathname;

function sink() {
  let text = '';
  const stream = new Writable({
    write(c, _e, cb) {
      text += String(c);
      cb();
    },
  });
  return { stream, text: () => text };
}

test('the example policies pass their own governor test suites (policies/tests)', async () => {
  const out = sink();
  const err = sink();
  const code = await governorTest([join(repo, 'policies/tests')], out.stream, err.stream);
  assert.equal(code, 0, out.text() + err.text());
  assert.match(out.text(), /(\d+) passed, 0 failed \(5 suite\(s\)\)/);
  assert.ok(Number(/(\d+) passed/.exec(out.text())![1]) >= 20);
});

test('a wrong expectation fails with exit code 1 and says what differed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gtest-'));
  writeFileSync(
    join(dir, 'suite.yaml'),
    `apiVersion: governor.io/v1alpha1
kind: GovernanceTest
metadata: {name: wrong}
policies: [${join(repo, 'policies/governance/team-defaults.yaml')}]
namespaces: {shop: {labels: {tier: prod}}}
cases:
  - name: expects allowed but is denied
    resource: {apiVersion: apps/v1, kind: Deployment, metadata: {name: w, namespace: shop}, spec: {template: {spec: {containers: [{name: c, image: i}]}}}}
    expect:
      allowed: true
      violations: [require-limits]
      object: {metadata: {labels: {governor.io/migration: live}}}
  - name: right
    resource: {apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: shop}}
    expect: {allowed: true, patched: false}
---
# other documents beside the suite are ignored
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored}
`,
  );
  const out = sink();
  const code = await governorTest([dir], out.stream, sink().stream);
  assert.equal(code, 1);
  const t = out.text();
  assert.match(t, /FAIL expects allowed but is denied/);
  assert.match(t, /expected allowed, got denied/);
  assert.match(t, /violations differ: missing require-limits; unexpected team-defaults\/require-labels, team-defaults\/require-annotations/);
  assert.match(t, /mutated object: metadata\.labels\.governor\.io\/migration: expected "live", got "restart"/);
  assert.match(t, /PASS right/);
  assert.match(t, /1 passed, 1 failed/);
});

test('an invalid suite is a usage error (exit 2) naming the field; no suite at all is exit 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gtest-'));
  writeFileSync(join(dir, 'bad.yaml'), `apiVersion: governor.io/v1alpha1\nkind: GovernanceTest\nmetadata: {name: b}\npolicies: [x.yaml]\ncases: [{name: a, expect: {alowed: true}}]\n`);
  const err = sink();
  assert.equal(await governorTest([dir], sink().stream, err.stream), 2);
  assert.match(err.text(), /not a valid GovernanceTest:[\s\S]*alowed/);
  const empty = mkdtempSync(join(tmpdir(), 'gtest-'));
  assert.equal(await governorTest([empty], sink().stream, sink().stream), 1);
});

test('governor test skips the namespaces the webhook skips (kube-system and the default service namespace), and only those', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gtest-'));
  writeFileSync(join(dir, 'deny-all.yaml'), `apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: deny-all}\nspec: {mode: enforce, match: {kinds: [Deployment]}, labels: {owner: {required: true}}}\n`);
  const skipped = skippedNamespaces();
  assert.deepEqual([...skipped].sort(), ['kube-governor', 'kube-system']);
  const cases = [...skipped.map((ns) => ({ ns, allowed: true })), { ns: 'shop', allowed: false }]
    .map(({ ns, allowed }) => `  - name: in ${ns}\n    resource: {apiVersion: apps/v1, kind: Deployment, metadata: {name: w, namespace: ${ns}}, spec: {template: {spec: {containers: [{name: c, image: i}]}}}}\n    expect: {allowed: ${allowed}}\n`)
    .join('');
  writeFileSync(join(dir, 'suite.yaml'), `apiVersion: governor.io/v1alpha1\nkind: GovernanceTest\nmetadata: {name: skipped}\npolicies: [deny-all.yaml]\ncases:\n${cases}`);
  const out = sink();
  assert.equal(await governorTest([dir], out.stream, sink().stream), 0, out.text());
  assert.match(out.text(), /3 passed, 0 failed/);
});

test('subsetMismatch: maps by key, lists element-wise with equal length, scalars equal', () => {
  assert.equal(subsetMismatch({ a: { b: 1 } }, { a: { b: 1, c: 2 }, d: 3 }), undefined);
  assert.equal(subsetMismatch({ l: [{ x: 1 }] }, { l: [{ x: 1, y: 2 }] }), undefined);
  assert.equal(subsetMismatch({ l: [{ x: 1 }] }, { l: [{ x: 1 }, { x: 2 }] }), 'l: expected 1 item(s), got 2');
  assert.equal(subsetMismatch({ a: 'x' }, { a: 'y' }), 'a: expected "x", got "y"');
  assert.equal(subsetMismatch({ a: { b: 1 } }, { a: 5 }), 'a: expected a map, got 5');
});

function wrongSuite(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gtest-'));
  writeFileSync(
    join(dir, 'suite.yaml'),
    `apiVersion: governor.io/v1alpha1
kind: GovernanceTest
metadata: {name: limits}
policies: [${join(repo, 'policies/governance/team-defaults.yaml')}]
namespaces: {shop: {labels: {tier: prod}}}
cases:
  - name: unlabelled deployment is denied
    resource: {apiVersion: apps/v1, kind: Deployment, metadata: {name: w, namespace: shop}, spec: {template: {spec: {containers: [{name: c, image: i}]}}}}
    expect: {allowed: false}
  - name: wrong expectation
    resource: {apiVersion: apps/v1, kind: Deployment, metadata: {name: w, namespace: shop}, spec: {template: {spec: {containers: [{name: c, image: i}]}}}}
    expect: {allowed: true}
  - name: configmap passes
    resource: {apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: shop}}
    expect: {allowed: true, patched: false}
`,
  );
  return dir;
}

test('--run filters cases like go test -run ("case" or "suite/case", regular expressions); a filter that matches nothing fails', async () => {
  const dir = wrongSuite();
  const out = sink();
  assert.equal(await governorTest([dir], out.stream, sink().stream, { run: 'denied|configmap' }), 0);
  assert.match(out.text(), /PASS unlabelled deployment is denied\n  PASS configmap passes\n2 passed, 0 failed, 1 skipped \(1 suite\(s\)\)/);
  const bySuite = sink();
  assert.equal(await governorTest([dir], bySuite.stream, sink().stream, { run: 'limits/^wrong' }), 1);
  assert.match(bySuite.text(), /0 passed, 1 failed, 2 skipped/);
  assert.equal(await governorTest([dir], sink().stream, sink().stream, { run: 'other-suite/.' }), 1);
  const err = sink();
  assert.equal(await governorTest([dir], sink().stream, err.stream, { run: '(' }), 2);
  assert.match(err.text(), /--run "\("/);
});

test('--detailed-results prints the decision under passed cases too; -o json is a GovernanceTestReport', async () => {
  const dir = wrongSuite();
  const out = sink();
  await governorTest([dir], out.stream, sink().stream, { detailedResults: true, run: 'denied' });
  assert.match(out.text(), /PASS unlabelled deployment is denied\n      result: denied, patched\n      violation: metadata\.labels\.owner is required .*\(policy team-defaults, rule require-labels\)/);
  const json = sink();
  assert.equal(await governorTest([dir], json.stream, sink().stream, { output: 'json' }), 1);
  const report = JSON.parse(json.text());
  assert.equal(report.kind, 'GovernanceTestReport');
  assert.deepEqual([report.passed, report.failed, report.skipped], [2, 1, 0]);
  assert.deepEqual(
    report.suites[0].cases.map((c: any) => [c.name, c.passed, c.outcome.allowed]),
    [
      ['unlabelled deployment is denied', true, false],
      ['wrong expectation', false, false],
      ['configmap passes', true, true],
    ],
  );
  assert.match(report.suites[0].cases[1].problems[0], /expected allowed, got denied/);
});

test('governor test exit codes: 0 pass, 1 failure, 2 unknown flag, bad -o, unreadable path', async () => {
  const dir = wrongSuite();
  assert.equal((await runCli(['test', '--run', 'configmap', dir])).code, 0);
  assert.equal((await runCli(['test', dir])).code, 1);
  assert.equal((await runCli(['test', '--bogus', dir])).code, 2);
  assert.equal((await runCli(['test', '-o', 'xml', dir])).code, 2);
  assert.equal((await runCli(['test', join(dir, 'missing')])).code, 2);
  const yaml = await runCli(['test', '-o', 'yaml', '--run', 'configmap', dir]);
  assert.equal(yaml.code, 0);
  assert.match(yaml.stdout, /^apiVersion: governor\.io\/v1alpha1\nkind: GovernanceTestReport\n/);
});

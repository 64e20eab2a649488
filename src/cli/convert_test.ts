import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseAllDocuments } from 'yaml';
import { convertKyverno, type KyvernoConversionReport } from './convert.js';
import { REPO, runCli } from './cli_harness.js';

function sink() {
  let text = '';
  return {
    stream: new Writable({
      write(c, _e, cb) {
        text += String(c);
        cb();
      },
    }),
    text: () => text,
  };
}

const MIXED = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: mixed}
spec:
  validationFailureAction: Enforce
  rules:
    - name: team
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate: {pattern: {metadata: {labels: {team: "?*"}}}}
    - name: replicas
      match: {any: [{resources: {kinds: [Deployment]}}]}
      validate: {deny: {conditions: {any: [{key: "{{ request.object.spec.replicas }}", operator: GreaterThan, value: 10}]}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-a-policy}
`;

test('convert kyverno: translated rules on stdout, each refused rule on stderr with file, policy, rule and reason; exit 1, or 0 with --partial', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'convert-'));
  const file = join(dir, 'mixed.yaml');
  writeFileSync(file, MIXED);
  const out = sink();
  const err = sink();
  assert.equal(await convertKyverno({ filenames: [dir] }, out.stream, err.stream), 1);
  const docs = parseAllDocuments(out.text()).map((d) => d.toJS());
  assert.deepEqual(
    docs.map((d) => [d.metadata.name, d.spec.mode, d.spec.labels]),
    [['mixed-team', 'enforce', { team: { required: true } }]],
  );
  assert.match(err.text(), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ClusterPolicy/mixed rule replicas: refused: validate\\.deny: JMESPath`));
  assert.match(err.text(), /1 Kyverno policy: 1 rule\(s\) converted, 1 refused; 1 other document\(s\) ignored/);
  assert.equal(await convertKyverno({ filenames: [file], partial: true }, sink().stream, sink().stream), 0);

  const json = sink();
  assert.equal(await convertKyverno({ filenames: [file], output: 'json', partial: true }, json.stream, sink().stream), 0);
  const report = JSON.parse(json.text()) as KyvernoConversionReport;
  assert.equal(report.kind, 'KyvernoConversion');
  assert.deepEqual(report.summary, { kyvernoPolicies: 1, rules: 2, converted: 1, refused: 1 });
  assert.deepEqual(
    report.refused.map((r) => [r.file, r.policy, r.rule]),
    [[file, 'ClusterPolicy/mixed', 'replicas']],
  );
});

test('convert kyverno exit codes: 2 without -f, with no Kyverno policy in the input, or for a malformed one; the output passes governor lint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'convert-'));
  writeFileSync(join(dir, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
  const none = await runCli(['convert', 'kyverno', '-f', dir]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no Kyverno ClusterPolicy or Policy in/);
  assert.equal((await runCli(['convert', 'kyverno'])).code, 2);
  const norules = await runCli(['convert', 'kyverno', '-f', '-'], { stdin: 'apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec: {}\n' });
  assert.equal(norules.code, 2);
  assert.match(norules.stderr, /<stdin> \(document 1\): ClusterPolicy\/x: spec\.rules is missing or empty/);
  const ok = await runCli(['convert', 'kyverno', '-f', join(REPO, 'test/kyverno/require-team/policy.yaml')]);
  assert.equal(ok.code, 0, ok.stderr);
  const converted = join(dir, 'converted.yaml');
  writeFileSync(converted, ok.stdout);
  const lint = await runCli(['lint', converted]);
  assert.equal(lint.code, 0, lint.stderr + lint.stdout);
});

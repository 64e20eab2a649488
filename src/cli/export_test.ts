import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { runCli } from './cli_harness.js';

const dir = mkdtempSync(join(tmpdir(), 'kg-export-'));
const policy = (name: string, spec: string) => `apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: ${name}}\nspec:\n${spec}`;
writeFileSync(join(dir, 'cel.yaml'), policy('cel', `  match: {kinds: [Deployment]}\n  validations: [{expression: "object.spec.replicas <= 5", message: "at most 5"}]\n`));
writeFileSync(join(dir, 'ratio.yaml'), policy('ratio', `  resources: {maxLimitRequestRatio: {cpu: 2}, max: {cpu: '4'}}\n`));
writeFileSync(join(dir, 'broken.yaml'), policy('broken', `  validations: [{expression: "object.spec.replicas <="}]\n`));

test('governor export vap: objects on stdout (YAML stream or a JSON List); exit 0 when everything is exported', async () => {
  const r = await runCli(['export', 'vap', join(dir, 'cel.yaml')]);
  assert.equal(r.code, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
  assert.deepEqual(docs.map((d) => d.kind), ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
  assert.match(r.stderr, /1 GovernancePolicy: 1 ValidatingAdmissionPolicy, 0 MutatingAdmissionPolicy \(with bindings\); 0 rule\(s\) not exported/);
  const j = await runCli(['export', 'vap', '-o', 'json', '--policies', join(dir, 'cel.yaml')]);
  assert.equal(j.code, 0, j.stderr);
  const list = JSON.parse(j.stdout);
  assert.equal(list.kind, 'List');
  assert.equal(list.items[0].spec.validations[0].message, 'at most 5');
});

test('governor export vap: a rule not exported is named on stderr with its reason, exit 1 unless --partial', async () => {
  const r = await runCli(['export', 'vap', join(dir, 'ratio.yaml')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /not exported: ratio\/max-limit-request-ratio \(spec\.resources\.maxLimitRequestRatio\.cpu\): the CEL quantity library/);
  assert.match(r.stdout, /quantity\("4"\)/);
  const p = await runCli(['export', 'vap', '--partial', join(dir, 'ratio.yaml')]);
  assert.equal(p.code, 0);
});

test('governor export vap: a broken policy, an unknown version or format are usage errors (exit 2)', async () => {
  const b = await runCli(['export', 'vap', join(dir, 'broken.yaml')]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /broken\.yaml:\d+:\d+.*spec\.validations\[0\]\.expression.*invalid CEL: syntax error/);
  const v = await runCli(['export', 'vap', '--kube-version', '1.27', join(dir, 'cel.yaml')]);
  assert.equal(v.code, 2);
  assert.match(v.stderr, /served from Kubernetes 1\.30/);
  const o = await runCli(['export', 'vap', '-o', 'table', join(dir, 'cel.yaml')]);
  assert.equal(o.code, 2);
});

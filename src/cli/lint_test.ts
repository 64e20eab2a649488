import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lint } from './lint.js';
import { REPO, runCli, sink } from './cli_harness.js';

test('governor lint refuses a pattern RE2 cannot run, with file, line, path and what to use instead', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lint-'));
  writeFileSync(
    join(dir, 'tags.yaml'),
    'apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: tags}\nspec:\n  labels:\n    team: {pattern: "^(?!default$)[a-z-]+$"}\n',
  );
  const out = sink();
  const err = sink();
  assert.equal(await lint([dir], out.stream, err.stream), 1);
  assert.match(err.text(), /tags\.yaml.*:6.*spec\.labels\.team\.pattern: invalid regular expression: lookahead \(\?!…\) is not supported: patterns run on RE2 \(linear time\); use an allowed list or split the rule/);
  assert.equal(out.text(), '');
});

test('governor lint exit codes: 0 valid, 1 policy errors, 2 unreadable path, empty directory, unknown flag or bad -o; -o json is a LintReport', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lint-'));
  writeFileSync(join(dir, 'bad.yaml'), 'apiVersion: governor.io/v1alpha1\nkind: ScalingPolicy\nmetadata:\n  name: bad\nspec:\n  nonsense: true\n');
  const good = join(REPO, 'policies/governance');
  assert.equal((await runCli(['lint', good])).code, 0);
  const bad = await runCli(['lint', '-o', 'json', dir]);
  assert.equal(bad.code, 1);
  const report = JSON.parse(bad.stdout);
  assert.equal(report.kind, 'LintReport');
  assert.equal(report.ok, false);
  assert.ok(report.errors.length > 0);
  assert.match(report.errors[0].file, /bad\.yaml$/);
  assert.equal(typeof report.errors[0].path, 'string');
  assert.equal((await runCli(['lint', join(dir, 'missing.yaml')])).code, 2);
  assert.equal((await runCli(['lint', mkdtempSync(join(tmpdir(), 'lint-empty-'))])).code, 2);
  assert.equal((await runCli(['lint', '--strict', good])).code, 2);
  assert.equal((await runCli(['lint', '-o', 'table', good])).code, 2);
  const yaml = await runCli(['lint', '-o', 'yaml', good]);
  assert.equal(yaml.code, 0);
  assert.match(yaml.stdout, /kind: LintReport\nok: true\n/);
});

// Converted Kyverno policies reproduce Kyverno's own test expectations (kyverno-test.yaml) on fixtures written for this
// project (test/kyverno/*/), through the same harness as hack/kyverno-agreement.ts uses on a kyverno/policies checkout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPolicy } from '../../hack/kyverno-agreement.js';

const ROOT = fileURLToPath(new URL('.', import.meta.url));
const FIXTURES = ['require-team', 'require-memory', 'default-cpu'];

test('every case of the fixtures: the converted policy gives the result kyverno-test.yaml expects (pass, fail, skip, patched object)', async () => {
  const work = mkdtempSync(join(tmpdir(), 'kyverno-agreement-'));
  const seen = new Set<string>();
  for (const dir of FIXTURES) {
    const row = await checkPolicy(ROOT, dir, undefined, work);
    assert.equal(row.source, 'convert', `${dir}: ${row.refused.join('; ')}`);
    assert.ok(row.cases.length >= 2, `${dir}: only ${row.cases.length} cases`);
    for (const c of row.cases) {
      assert.ok(c.agree, `${dir} ${c.resource} (${c.rule}): expected ${c.expected}, got ${c.got} ${c.note ?? ''}`);
      seen.add(c.expected);
    }
  }
  assert.deepEqual([...seen].sort(), ['fail', 'pass', 'skip']);
});

test('the harness reports a disagreement: flipped expectations and a different patched object are not agreements', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kyverno-flip-'));
  for (const dir of ['require-team', 'default-cpu']) cpSync(join(ROOT, dir), join(root, dir), { recursive: true });
  const t = join(root, 'require-team', 'kyverno-test.yaml');
  writeFileSync(t, readFileSync(t, 'utf8').replace('resources: [good], result: pass', 'resources: [good], result: fail'));
  const p = join(root, 'default-cpu', 'patched.yaml');
  writeFileSync(p, readFileSync(p, 'utf8').replace('cpu: 250m', 'cpu: 500m'));
  const work = mkdtempSync(join(tmpdir(), 'kyverno-agreement-'));
  const team = await checkPolicy(root, 'require-team', undefined, work);
  assert.deepEqual(
    team.cases.filter((c) => !c.agree).map((c) => [c.resource, c.expected, c.got]),
    [['good', 'fail', 'pass']],
  );
  const cpu = await checkPolicy(root, 'default-cpu', undefined, work);
  assert.deepEqual(
    cpu.cases.filter((c) => !c.agree).map((c) => [c.resource, c.got]),
    [['no-cpu', 'pass (different object)']],
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderValidators, VALIDATORS_FILE } from './validators-gen.js';
import { parsePolicyText } from './parse.js';

test('src/policy/schemas/validators.generated.ts is generated from src/policy/schemas (run `npm run gen-validators` after a schema change)', () => {
  const file = fileURLToPath(new URL(`../../${VALIDATORS_FILE}`, import.meta.url));
  assert.ok(readFileSync(file, 'utf8') === renderValidators(), `${VALIDATORS_FILE} is out of date: run npm run gen-validators`);
});

test('the generated validators check $data comparisons and patterns (on RE2) as the schemas say', () => {
  const doc = (spec: string) => `apiVersion: governor.io/v1alpha1\nkind: ScalingPolicy\nmetadata: {name: s, namespace: shop}\nspec:\n${spec}\n`;
  const base = `  target: {kind: Deployment, name: web}\n  replicas: {min: 2, max: 10}\n  load: {prometheus: {query: up}}\n  thresholds: {low: 10, high: 5}`;
  const r = parsePolicyText(doc(base), 'p.yaml');
  assert.ok(r.errors.some((e) => e.path === 'spec.thresholds.high' && /greater than thresholds\.low \(10\)/.test(e.message)), JSON.stringify(r.errors));
  const long = parsePolicyText(`apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: ${'a'.repeat(20_000)}-}\nspec: {labels: {x: {required: true}}}\n`, 'g.yaml');
  assert.ok(long.errors.some((e) => e.path === 'metadata.name'), JSON.stringify(long.errors.map((e) => e.message)));
});

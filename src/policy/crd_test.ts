import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { buildCrd, CRD_KINDS, crdFileName, CrdSchemaError, renderCrd, toStructural, type CelRule, type CrdKind } from './crd.js';
import { compileObject } from './parse.js';
import { parseDuration } from '../common/duration.js';

const CRD_DIR = new URL('../../manifests/base/crds/', import.meta.url);

test('manifests/base/crds are generated from src/policy/schemas (run `npm run gen-crds` after a schema change)', () => {
  for (const k of CRD_KINDS) {
    const onDisk = readFileSync(new URL(crdFileName(k), CRD_DIR), 'utf8');
    assert.equal(onDisk, renderCrd(k), `manifests/base/crds/${crdFileName(k)} drifted from ${k.kind}'s JSON Schema: run npm run gen-crds`);
  }
});

/** Every node has a type (or is an explicit any-scalar), no JSON Schema-only keyword survives, and spec prunes nothing silently. */
function assertStructural(node: any, where: string): void {
  for (const k of ['$ref', '$schema', '$id', 'const', 'if', 'then', 'patternProperties', 'examples', 'definitions']) assert.ok(!(k in node), `${where}: ${k} left in`);
  assert.ok(node.additionalProperties === undefined || typeof node.additionalProperties === 'object', `${where}: additionalProperties must be a schema`);
  if (node['x-kubernetes-preserve-unknown-fields'] === true) {
    assert.ok(!node.properties && !node.type, `${where}: a preserve-unknown-fields node here is only the any-scalar quantity`);
    return;
  }
  assert.ok(typeof node.type === 'string', `${where}: no type`);
  for (const [name, s] of Object.entries(node.properties ?? {})) assertStructural(s, `${where}.${name}`);
  if (node.items) assertStructural(node.items, `${where}[]`);
  if (typeof node.additionalProperties === 'object') assertStructural(node.additionalProperties, `${where}{}`);
}

test('the generated schemas are structural, refuse unknown fields in spec, and keep descriptions for kubectl explain', () => {
  for (const k of CRD_KINDS) {
    const crd = buildCrd(k);
    const v = crd.spec.versions[0];
    const root = v.schema.openAPIV3Schema;
    assert.equal(root.properties.spec['x-kubernetes-preserve-unknown-fields'], undefined);
    assertStructural(root.properties.spec, `${k.kind}.spec`);
    assertStructural(root.properties.status, `${k.kind}.status`);
    assert.deepEqual(v.subresources, { status: {} });
    assert.ok(v.additionalPrinterColumns.some((c: any) => c.name === 'Age'));
  }
  const scaling = buildCrd(CRD_KINDS.find((k) => k.kind === 'ScalingPolicy')!).spec.versions[0];
  const spec = scaling.schema.openAPIV3Schema.properties.spec;
  assert.match(spec.properties.thresholds.properties.high.description, /Tmax/);
  assert.deepEqual(spec.properties.onSourceFailure.properties.action.enum, ['hold', 'fixed']);
  assert.equal(spec.properties.onSourceFailure.properties.action.type, 'string');
  assert.deepEqual(
    scaling.additionalPrinterColumns.map((c: any) => c.name),
    ['Target', 'Load', 'Regime', 'Replicas', 'Ready', 'Age'],
  );
});

test('the converter resolves $ref with sibling keywords, maps const, numeric exclusive bounds and patternProperties, and refuses what it cannot express', () => {
  const local = { definitions: { n: { type: 'integer', minimum: 0 } } };
  assert.deepEqual(toStructural({ $ref: '#/definitions/n', description: 'd', default: 2 }, local), { type: 'integer', minimum: 0, description: 'd', default: 2 });
  assert.deepEqual(toStructural({ const: 'x' }, local), { enum: ['x'], type: 'string' });
  assert.deepEqual(toStructural({ type: 'number', exclusiveMinimum: 0 }, local), { type: 'number', minimum: 0, exclusiveMinimum: true });
  assert.deepEqual(toStructural({ type: 'number', minimum: { $data: '1/x' } }, local), { type: 'number' });
  assert.deepEqual(toStructural({ type: 'object', patternProperties: { '^a': { type: 'string' } } }, local), { type: 'object', additionalProperties: { type: 'string' } });
  assert.deepEqual(toStructural({ type: 'object', additionalProperties: false, properties: { a: { type: 'string' } } }, local), { type: 'object', properties: { a: { type: 'string' } } });
  assert.throws(() => toStructural({ type: 'object', oneOf: [] }, local, '#/x'), (e: unknown) => e instanceof CrdSchemaError && /#\/x: keyword oneOf/.test((e as Error).message));
  assert.throws(() => toStructural({ $ref: '#/definitions/missing' }, local), CrdSchemaError);
  assert.throws(() => toStructural({ enum: ['a', 1] }, local), CrdSchemaError);
});

// ------------------------------------------------------------------------- CEL rules against `governor lint`
// The rules use a small subset of CEL (has(), string(), duration(), comparisons, ternaries, concatenation), so they
// can be run here as JavaScript and compared with compileObject on the same documents.

function celToJs(expr: string): (self: any) => unknown {
  const js = expr
    .replace(/has\(([\w.]+)\)/g, '($1 !== undefined)')
    .replace(/^('[^']*')\.format\(\[(.*)\]\)$/, '__f($1, [$2])')
    .replace(/([\w.]+)\.matches\(('(?:[^'\\]|\\.)*')\)/g, '(new RegExp($2).test($1))')
    .replace(/\bduration\(/g, '__d(');
  assert.doesNotMatch(js, /\bstring\(/, 'string(<number>) makes the API server refuse the CRD (cost estimate); use format()');
  // CEL's %d and %s print numbers as JavaScript does (checked on the API server: 10, 0.5, 1e+21).
  const format = (text: string, args: unknown[]) => {
    let i = 0;
    return text.replace(/%[ds]/g, () => String(args[i++]));
  };
  const f = new Function('self', '__d', '__f', `return (${js});`) as (self: any, d: (s: string) => number, fmt: typeof format) => unknown;
  return (self) => f(self, parseDuration, format);
}

function at(obj: any, path: readonly string[]): any {
  return path.reduce((o, k) => o?.[k], obj);
}

/** The errors the API server would report: `<path>: <message>` for each failing rule, on the defaulted document. */
function celErrors(k: CrdKind, doc: any): string[] {
  return k.rules.flatMap((r: CelRule) => {
    const self = at(doc.spec, r.at);
    if (self === undefined || celToJs(r.rule)(self)) return [];
    const path = ['spec', ...r.at].join('.') + (r.fieldPath ?? '');
    return [`${path}: ${r.message ?? String(celToJs(r.messageExpression!)(self))}`];
  });
}

function lintErrors(doc: any): { errors: string[]; defaulted: any } {
  const copy = structuredClone(doc);
  const r = compileObject(copy, { file: 'x.yaml', document: 1 });
  return { errors: r.errors.map((e) => `${e.path}: ${e.message}`), defaulted: copy };
}

const scaling = (spec: object) => ({
  apiVersion: 'governor.io/v1alpha1',
  kind: 'ScalingPolicy',
  metadata: { name: 'p', namespace: 'n' },
  spec: { target: { kind: 'Deployment', name: 'w' }, load: { prometheus: { query: 'q' } }, thresholds: { low: 10, high: 100 }, replicas: { min: 2, max: 10 }, ...spec },
});
const migration = (spec: object) => ({
  apiVersion: 'governor.io/v1alpha1',
  kind: 'MigrationPolicy',
  metadata: { name: 'm', namespace: 'n' },
  spec: { source: { kind: 'Deployment', name: 'a' }, target: { kind: 'Deployment', name: 'b' }, load: { prometheus: { query: 'q' } }, thresholds: { low: 1, high: 2 }, ...spec },
});

const CASES: [string, any][] = [
  ['valid scaling', scaling({})],
  ['valid scaling, every field', scaling({ replicas: { min: 1, base: 2, max: 5, cap: 8 }, interval: '10s', staleAfter: '1m', onSourceFailure: { action: 'fixed', replicas: 8 } })],
  ['high = low', scaling({ thresholds: { low: 10, high: 10 } })],
  ['high < low (fractions)', scaling({ thresholds: { low: 0.5, high: 0.25 } })],
  ['base < min', scaling({ replicas: { min: 3, base: 2, max: 10 } })],
  ['base > max', scaling({ replicas: { min: 1, base: 12, max: 10 } })],
  ['min > max', scaling({ replicas: { min: 12, max: 10 } })],
  ['cap < max', scaling({ replicas: { min: 1, max: 10, cap: 9 } })],
  ['interval < 1s', scaling({ interval: '500ms' })],
  ['staleAfter < interval', scaling({ interval: '1m', staleAfter: '30s' })],
  ['fixed without replicas', scaling({ onSourceFailure: { action: 'fixed' } })],
  ['fixed outside min..cap', scaling({ replicas: { min: 2, max: 10, cap: 12 }, onSourceFailure: { action: 'fixed', replicas: 13 } })],
  ['fixed below the default min', scaling({ replicas: { max: 10 }, onSourceFailure: { action: 'fixed', replicas: 0 } })],
  ['valid migration', migration({ target: { kind: 'Deployment', name: 'b', minReplicas: 1, maxReplicas: 9 }, capacity: { replicas: 9 } })],
  ['migration thresholds', migration({ thresholds: { low: 3, high: 2 } })],
  ['migration min > max', migration({ target: { kind: 'Deployment', name: 'b', minReplicas: 5, maxReplicas: 4 } })],
  ['migration same workload', migration({ target: { kind: 'Deployment', name: 'a' } })],
  ['migration interval', migration({ interval: '0.5s' })],
  ['interval not a duration (the schema says so; CEL stays quiet)', scaling({ interval: '30x' })],
  ['migration capacity > maxReplicas', migration({ target: { kind: 'Deployment', name: 'b', maxReplicas: 4 }, capacity: { replicas: 5 } })],
];

test('each CEL rule fails exactly when `governor lint` reports the cross-field problem, with the same path and message', () => {
  for (const [name, doc] of CASES) {
    const k = CRD_KINDS.find((c) => c.kind === doc.kind)!;
    const lint = lintErrors(doc);
    // The API server applies the schema defaults before CEL runs, as ajv's useDefaults does before compile.
    const cel = celErrors(k, lint.defaulted);
    if (name.startsWith('valid')) {
      assert.deepEqual(lint.errors, [], name);
      assert.deepEqual(cel, [], name);
      continue;
    }
    if (name.includes('CEL stays quiet')) {
      assert.ok(lint.errors.length > 0, name);
      assert.deepEqual(cel, [], name);
      continue;
    }
    assert.ok(cel.length > 0, `${name}: no CEL rule fails (lint: ${lint.errors.join('; ')})`);
    for (const e of cel) assert.ok(lint.errors.includes(e), `${name}: CEL says "${e}", lint says ${JSON.stringify(lint.errors)}`);
  }
});

test('the rendered YAML parses back to the built object', () => {
  for (const k of CRD_KINDS) assert.deepEqual(parseYaml(renderCrd(k)), buildCrd(k));
});

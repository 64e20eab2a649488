// The import graph of src/ points down: the CLI above the composition root, the composition root above the server
// components, those above the infrastructure, and that above the pure core. Read from the sources, so a new upward
// import fails here with the file and the import that broke the rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Top-level folder (or root file) → layer; a module may import its own layer or lower ones. */
const LAYERS: Record<string, number> = {
  common: 0,
  wire: 0,
  policy: 1,
  scaling: 1,
  governance: 1,
  observability: 2,
  tls: 2,
  sources: 2,
  kube: 2,
  server: 2,
  status: 2,
  adapter: 3,
  admission: 3,
  keda: 3,
  main: 4,
  components: 4,
  cli: 5,
};
/** The pure core: none of these may import I/O libraries. */
const PURE = new Set(['common', 'wire', 'policy', 'scaling', 'governance']);
const IO_MODULES = /^(express|node:https?|node:fs(\/promises)?|@kubernetes\/client-node|prom-client|@grpc\/.*)$/;
/** Files inside a pure folder that are its thin I/O edge (docs/… layout: "thin loaders (files, cluster)"). */
const IO_EDGES = new Set(['policy/load-files.ts', 'policy/load-cluster.ts', 'policy/load-source.ts']);

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'testdata' ? [] : files(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('_test.ts') ? [p] : [];
  });
}

// Specifiers name the compiled file (../main.js); the sources end in .ts.
const unitOf = (file: string) => relative(SRC, file).split('/')[0]!.replace(/\.[jt]s$/, '');

interface Import {
  readonly spec: string;
  readonly typeOnly: boolean;
}

function importsOf(text: string): Import[] {
  const out: Import[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)) out.push({ spec: m[3]!, typeOnly: Boolean(m[2]) });
  for (const m of text.matchAll(/^\s*import\s+'([^']+)'/gm)) out.push({ spec: m[1]!, typeOnly: false });
  for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) out.push({ spec: m[1]!, typeOnly: false });
  return out;
}

/** The imports of one source file that point to a higher layer, as messages. */
function upwardImports(file: string, text: string): string[] {
  const from = unitOf(file);
  // A pure folder's I/O edge sits with the infrastructure.
  const fromLayer = IO_EDGES.has(relative(SRC, file)) ? LAYERS.observability : LAYERS[from];
  if (fromLayer === undefined) return [`${relative(SRC, file)}: folder "${from}" has no layer in test/architecture_test.ts`];
  const problems: string[] = [];
  for (const imp of importsOf(text)) {
    if (!imp.spec.startsWith('.')) continue;
    const to = unitOf(resolve(dirname(file), imp.spec));
    const toLayer = LAYERS[to];
    if (toLayer === undefined || to === from || toLayer <= fromLayer) continue;
    problems.push(`${relative(SRC, file)} (${from}, layer ${fromLayer}) imports ${imp.spec} (${to}, layer ${toLayer})`);
  }
  return problems;
}

test('every import in src/ points to its own layer or a lower one, type-only imports included', () => {
  const all = files(SRC);
  assert.ok(all.length > 50, `found only ${all.length} source files`);
  assert.deepEqual(all.flatMap((file) => upwardImports(file, readFileSync(file, 'utf8'))), []);
});

test('the pure core imports no I/O library (express, node:http(s), node:fs, client-node, prom-client, grpc)', () => {
  const problems: string[] = [];
  for (const file of files(SRC)) {
    const rel = relative(SRC, file);
    if (!PURE.has(unitOf(file)) || IO_EDGES.has(rel)) continue;
    for (const imp of importsOf(readFileSync(file, 'utf8'))) if (IO_MODULES.test(imp.spec) && !imp.typeOnly) problems.push(`${rel} imports ${imp.spec}`);
  }
  assert.deepEqual(problems, []);
});

test('the rule is not vacuous: upward imports in a sample are reported, type-only ones too', () => {
  const sample = "import { serveComponents } from '../cli/serve.js';\nimport type { X } from '../main.js';\nconst m = await import('../keda/component.js');\nimport { y } from '../common/errors.js';";
  assert.deepEqual(importsOf(sample), [
    { spec: '../cli/serve.js', typeOnly: false },
    { spec: '../main.js', typeOnly: true },
    { spec: '../common/errors.js', typeOnly: false },
    { spec: '../keda/component.js', typeOnly: false },
  ]);
  assert.deepEqual(upwardImports(join(SRC, 'server/x.ts'), sample), [
    'server/x.ts (server, layer 2) imports ../cli/serve.js (cli, layer 5)',
    'server/x.ts (server, layer 2) imports ../main.js (main, layer 4)',
    'server/x.ts (server, layer 2) imports ../keda/component.js (keda, layer 3)',
  ]);
});

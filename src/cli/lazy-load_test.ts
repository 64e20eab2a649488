// Each command loads what it runs and nothing more: `governor review` none of the servers' libraries (start-up time),
// `governor serve` none of the CLI's converters and exporters (the server's memory). Read from the modules a child
// process actually loads (a module.registerHooks load hook writes every URL), from the TypeScript sources and from the
// bundle the package and the image run (hack/bundle.mjs: its code splitting must keep the commands apart too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO } from './cli_harness.js';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));

type Runtime = 'sources' | 'bundle';
let bundleCli: string | undefined;

/** `npm run build` into a temporary directory (tsc, then hack/bundle.mjs), so the test never reads a stale dist/. */
function bundle(): string {
  if (!bundleCli) {
    const root = mkdtempSync(join(tmpdir(), 'lazy-load-bundle-'));
    const opts = { cwd: REPO, stdio: 'pipe', timeout: 180_000 } as const;
    execFileSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(REPO, 'tsconfig.build.json'), '--outDir', join(root, 'dist'), '--sourceMap', 'false'], opts);
    copyFileSync(join(REPO, 'package.json'), join(root, 'package.json'));
    symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'), 'dir');
    execFileSync(process.execPath, [join(REPO, 'hack/bundle.mjs'), join(root, 'dist/cli.js'), join(root, 'dist/bundle')], opts);
    bundleCli = join(root, 'dist/bundle/cli.js');
  }
  return bundleCli;
}

/**
 * A bundle chunk stands for the modules esbuild put in it (its `// dist/x.js` and `// node_modules/…` comments), named
 * as the sources' URLs are (`/src/x.ts`, `/node_modules/…`), so one list of expectations holds for both runtimes.
 */
function modulesOfChunk(url: string): string[] {
  const text = readFileSync(fileURLToPath(url), 'utf8');
  return [...text.matchAll(/^\/\/ (\S+)$/gm)].flatMap(([, path]) => {
    const nm = `/${path}`.indexOf('/node_modules/');
    if (nm >= 0) return [`/${path}`.slice(nm)];
    const dist = /(?:^|\/)dist\/(.+)\.js$/.exec(path!);
    return dist ? [`/src/${dist[1]}.ts`] : [];
  });
}

/** The URLs of every module `governor args` loads, and its exit code. */
async function loadedModules(args: readonly string[], runtime: Runtime = 'sources'): Promise<{ code: number | null; modules: string[]; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'lazy-load-'));
  const hook = join(dir, 'hook.mjs');
  const list = join(dir, 'modules.txt');
  // ES modules through the load hook; CommonJS ones (tsx loads those itself) from require's cache at exit.
  writeFileSync(
    hook,
    `import { createRequire, registerHooks } from 'node:module';\nimport { appendFileSync } from 'node:fs';\nimport { pathToFileURL } from 'node:url';\n` +
      `const list = ${JSON.stringify(list)};\n` +
      `registerHooks({ load(url, context, next) { appendFileSync(list, url + '\\n'); return next(url, context); } });\n` +
      `const cache = createRequire(import.meta.url).cache;\n` +
      `process.on('exit', () => appendFileSync(list, Object.keys(cache).map((f) => pathToFileURL(f).href + '\\n').join('')));\n`,
  );
  writeFileSync(list, '');
  return new Promise((resolve, reject) => {
    const entry = runtime === 'sources' ? ['--import', 'tsx', CLI] : [bundle()];
    const child = spawn(process.execPath, ['--import', hook, ...entry, ...args], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += String(c)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const urls = readFileSync(list, 'utf8').split('\n').filter(Boolean);
      const chunks = runtime === 'bundle' ? urls.filter((u) => u.startsWith('file:') && u.includes('/dist/bundle/')) : [];
      resolve({ code, modules: [...urls, ...chunks.flatMap(modulesOfChunk)], stderr });
    });
  });
}

/** Libraries and modules, by a part of their URL, that one command must not load. */
const SERVER_ONLY = ['/node_modules/express/', '/node_modules/@kubernetes/client-node/', '/node_modules/prom-client/', '/node_modules/@grpc/', '/node_modules/pino/', '/src/main.ts', '/src/components.ts'];
const CLI_ONLY = ['/src/policy/kyverno.ts', '/src/governance/vap.ts', '/src/cli/review.ts', '/src/cli/convert.ts', '/src/cli/export.ts', '/src/cli/lint.ts', '/src/cli/simulate.ts', '/node_modules/asciichart/', '/node_modules/cli-progress/'];
/** ajv's schema compiler (the generated validators need its runtime helpers only) and the CEL library. */
const COMPILERS = ['/node_modules/ajv/dist/compile/', '/node_modules/ajv/dist/core.js', '/node_modules/@bufbuild/cel/'];

const loaded = (modules: readonly string[], parts: readonly string[]) => parts.filter((p) => modules.some((m) => m.includes(p)));

for (const runtime of ['sources', 'bundle'] as const) {
test(`${runtime}: governor review on one object loads neither the servers, the other commands, the schema compiler nor CEL`, { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lazy-load-'));
  writeFileSync(join(dir, 'one.yaml'), 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {template: {spec: {containers: [{name: c, image: c}]}}}\n');
  const r = await loadedModules(['review', '--policies', join(REPO, 'policies/governance'), join(dir, 'one.yaml')], runtime);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(loaded(r.modules, ['/src/cli/review.ts', '/src/governance/engine.ts', '/node_modules/yaml/']).length === 3, 'the trace sees the modules review needs');
  assert.deepEqual(loaded(r.modules, [...SERVER_ONLY, ...CLI_ONLY.filter((m) => m !== '/src/cli/review.ts'), ...COMPILERS]), []);
  // A policy with spec.validations brings the CEL library in, and only then.
  const cel = await loadedModules(['review', '--policies', join(REPO, 'policies/cel'), join(dir, 'one.yaml')], runtime);
  assert.ok(cel.code === 0 || cel.code === 1, cel.stderr);
  assert.deepEqual(loaded(cel.modules, ['/node_modules/@bufbuild/cel/']), ['/node_modules/@bufbuild/cel/']);
});

test(`${runtime}: governor serve loads the servers and none of the CLI-only modules, the schema compiler or CEL; --version no command`, { timeout: 300_000 }, async () => {
  const r = await loadedModules(['serve', '--help'], runtime);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(loaded(r.modules, ['/node_modules/express/', '/src/components.ts']), ['/node_modules/express/', '/src/components.ts'], 'serve loads its own graph');
  assert.deepEqual(loaded(r.modules, [...CLI_ONLY, ...COMPILERS]), []);
  const version = await loadedModules(['--version'], runtime);
  assert.equal(version.code, 0, version.stderr);
  assert.deepEqual(loaded(version.modules, ['/src/cli/serve.ts', '/src/cli/version.ts', '/src/cli/review.ts', '/src/governance/engine.ts']), [], '--version loads no command');
});
}

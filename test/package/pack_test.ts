// The npm package is an installable CLI: `npm pack` builds dist/ through `prepare` (the script `npm ci` runs in a
// fresh clone, so `npx governor` works there too), the tarball holds the built CLI and nothing of the sources or
// tests, and once installed into an empty prefix `governor` runs, lints good policies and rejects a bad one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string> };
// Bounds: tsc on 2 busy cores, and an install whose dependencies come from npm's cache (filled by `npm ci`).
const PACK_TIMEOUT_MS = 180_000;
const INSTALL_TIMEOUT_MS = 240_000;
const CLI_TIMEOUT_MS = 30_000;

type Packed = { filename: string; files: { path: string }[] };

test('npm pack builds the CLI through prepare and npm install -g of the tarball gives a working governor', { timeout: 600_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'kg-pack-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));

  // A copy of what a clone has (no dist/), so packing never rebuilds the repository's own dist/ under other tests.
  const src = join(work, 'src-tree');
  for (const p of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'src', 'policies', 'hack/bundle.mjs']) {
    cpSync(join(repo, p), join(src, p), { recursive: true });
  }
  symlinkSync(join(repo, 'node_modules'), join(src, 'node_modules'), 'dir');

  const out = join(work, 'out');
  mkdirSync(out);
  const packed = await run('npm', ['pack', '--json', '--pack-destination', out, '--no-audit', '--no-fund'], {
    cwd: src,
    timeout: PACK_TIMEOUT_MS,
    maxBuffer: 64 << 20,
  });
  // The JSON report follows whatever the scripts print on stdout.
  const report = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Packed[];
  assert.equal(report.length, 1);
  const files = report[0].files.map((f) => f.path);
  const cli = pkg.bin.governor;
  assert.ok(files.includes(cli), `the tarball lacks ${cli} (bin): prepare did not build dist/`);
  assert.ok(files.includes('dist/bundle/externalscaler.proto'), 'the tarball lacks the KEDA scaler proto next to the bundle');
  for (const schema of ['common', 'scaling-policy', 'migration-policy', 'governance-policy']) {
    assert.ok(files.includes(`dist/policy/schemas/${schema}.schema.json`), `the tarball lacks the ${schema} schema the CLI imports`);
  }
  assert.deepEqual(files.filter((f) => /(^src\/|_test\.|\.map$|^test\/|^node_modules\/)/.test(f)), [], 'sources, tests or source maps were packed');

  const prefix = join(work, 'prefix');
  await run(
    'npm',
    ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(out, report[0].filename)],
    { cwd: work, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 << 20 },
  );
  const governor = join(prefix, 'bin', 'governor');
  const opts = { cwd: work, timeout: CLI_TIMEOUT_MS };

  const help = await run(governor, ['--help'], opts);
  assert.match(help.stdout, /^Usage: governor /m);
  for (const command of ['serve', 'lint', 'review', 'certs']) assert.match(help.stdout, new RegExp(`^\\s+${command}\\b`, 'm'), `--help lists ${command}`);
  assert.equal((await run(governor, ['--version'], opts)).stdout.trim(), pkg.version);

  // The sample policies travel in the package; lint them from the installed copy.
  const installed = join(prefix, 'lib', 'node_modules', pkg.name);
  const lint = await run(governor, ['lint', join(installed, 'policies/governance'), join(installed, 'policies/scaling'), join(installed, 'policies/migration')], opts);
  assert.match(lint.stdout, /^ok: .*GovernancePolicy.* in \d+ file\(s\)/m);

  // A policy with an error: exit code 1 and the error named, not a crash of the installed CLI.
  const bad = join(work, 'bad.yaml');
  writeFileSync(bad, 'apiVersion: governor.io/v1alpha1\nkind: ScalingPolicy\nmetadata:\n  name: bad\nspec:\n  nonsense: true\n');
  const failed = await run(governor, ['lint', bad], opts).then(
    () => assert.fail('governor lint accepted an invalid policy'),
    (e: { code?: number; stderr?: string }) => e,
  );
  assert.equal(failed.code, 1);
  assert.match(failed.stderr ?? '', /bad\.yaml/);
  assert.match(failed.stderr ?? '', /error\(s\) in 1 file/);

  // The installed bin is the esbuild bundle (hack/bundle.mjs): it reviews exactly as the TypeScript sources do, the
  // sample policies' CEL validations included; the example Deployment is denied, so both exit 1.
  const reviewArgs = ['review', '--policies', 'policies/governance', '-o', 'json', 'examples/manifests'];
  const exitOf = (p: Promise<{ stdout: string }>) =>
    p.then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code, stdout: e.stdout ?? '', stderr: e.stderr }),
    );
  const fromBundle = await exitOf(run(governor, reviewArgs, { cwd: repo, timeout: CLI_TIMEOUT_MS }));
  const fromSources = await exitOf(run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...reviewArgs], { cwd: repo, timeout: CLI_TIMEOUT_MS }));
  assert.equal(fromBundle.code, 1, JSON.stringify(fromBundle));
  assert.equal(fromSources.code, 1, JSON.stringify(fromSources));
  assert.ok(JSON.parse(fromBundle.stdout).results.length >= 2);
  assert.equal(fromBundle.stdout, fromSources.stdout);
});

test('the image starts the package bin: one entry point', () => {
  const entrypoint = /^ENTRYPOINT\s+(\[.*\])$/m.exec(readFileSync(join(repo, 'Dockerfile'), 'utf8'));
  assert.ok(entrypoint, 'the Dockerfile has an exec-form ENTRYPOINT');
  assert.deepEqual(JSON.parse(entrypoint[1]), ['node', pkg.bin.governor]);
});

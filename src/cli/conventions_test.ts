// The conventions every command shares: kubeconfig loading (kubectl's rules), exit codes, durations, version, completion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfigError, loadCliKubeConfig, loadKubeConfig } from '../kube/client.js';
import { parseDuration } from '../common/duration.js';
import { durationFlag, exitCodeFor, goDuration, UsageError } from './conventions.js';
import { REPO, runCli } from './cli_harness.js';

function kubeconfig(o: { cluster: string; server: string; user: string; token: string; context: string; namespace?: string; current?: string }): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: ${o.cluster}
  cluster: {server: "${o.server}", insecure-skip-tls-verify: true}
users:
- name: ${o.user}
  user: {token: "${o.token}"}
contexts:
- name: ${o.context}
  context: {cluster: ${o.cluster}, user: ${o.user}${o.namespace ? `, namespace: ${o.namespace}` : ''}}
${o.current !== undefined ? `current-context: "${o.current}"\n` : ''}`;
}

function twoFiles(secondServer = 'https://127.0.0.1:7002') {
  const dir = mkdtempSync(join(tmpdir(), 'kc-cli-'));
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  writeFileSync(a, kubeconfig({ cluster: 'one', server: 'https://127.0.0.1:7001', user: 'u1', token: 'one-token', context: 'first', namespace: 'ns-a', current: 'first' }));
  writeFileSync(b, kubeconfig({ cluster: 'two', server: secondServer, user: 'u2', token: 'two-token', context: 'second', namespace: 'ns-b', current: 'second' }));
  return { dir, a, b };
}

test('KUBECONFIG=a:b merges the files like kubectl: the first current-context wins, contexts of b are there for --context', () => {
  const { a, b } = twoFiles();
  const kc = loadCliKubeConfig({ env: { KUBECONFIG: `${a}:${b}`, HOME: '/nonexistent' } })!;
  assert.equal(kc.getCurrentContext(), 'first');
  assert.equal(kc.getCurrentCluster()?.server, 'https://127.0.0.1:7001');
  const second = loadCliKubeConfig({ env: { KUBECONFIG: `${a}:${b}` }, context: 'second' })!;
  assert.equal(second.getCurrentCluster()?.server, 'https://127.0.0.1:7002');
  assert.equal(second.getCurrentUser()?.token, 'two-token');
  // Missing entries are skipped (kubectl's); none existing is an error.
  assert.equal(loadCliKubeConfig({ env: { KUBECONFIG: `/nope:${b}` } })!.getCurrentContext(), 'second');
  assert.throws(() => loadCliKubeConfig({ env: { KUBECONFIG: '/nope:/nope2' } }), KubeConfigError);
  assert.throws(() => loadCliKubeConfig({ env: { KUBECONFIG: `${a}:${b}` }, context: 'third' }), /context "third" does not exist \(contexts: first, second\)/);
});

test('--kubeconfig names one file; --context picks its context; without KUBECONFIG, $HOME/.kube/config; else in-cluster or none', () => {
  const { a, dir } = twoFiles();
  assert.equal(loadCliKubeConfig({ kubeconfig: a, env: { KUBECONFIG: '/nope' } })!.getCurrentContext(), 'first');
  assert.throws(() => loadCliKubeConfig({ kubeconfig: a, context: 'second' }), KubeConfigError);
  const home = join(dir, 'home');
  mkdirSync(join(home, '.kube'), { recursive: true });
  writeFileSync(join(home, '.kube', 'config'), kubeconfig({ cluster: 'h', server: 'https://127.0.0.1:7003', user: 'h', token: 'home', context: 'home', current: 'home' }));
  assert.equal(loadCliKubeConfig({ env: { HOME: home } })!.getCurrentCluster()?.server, 'https://127.0.0.1:7003');
  const empty = mkdtempSync(join(tmpdir(), 'kc-home-'));
  const saved = { h: process.env.KUBERNETES_SERVICE_HOST, p: process.env.KUBERNETES_SERVICE_PORT };
  delete process.env.KUBERNETES_SERVICE_HOST;
  try {
    assert.equal(loadCliKubeConfig({ env: { HOME: empty }, pathPrefix: empty }), undefined);
  } finally {
    if (saved.h !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.h;
    if (saved.p !== undefined) process.env.KUBERNETES_SERVICE_PORT = saved.p;
  }
  // The server's loader: --kubeconfig with --context; --context alone needs a file.
  const { b } = twoFiles();
  assert.equal(loadKubeConfig(b, { context: 'second' })!.getCurrentContext(), 'second');
  assert.throws(() => loadKubeConfig(b, { context: 'first' }), /context "first" does not exist/);
});

test('migrate status talks to the cluster of the context picked from the second KUBECONFIG file, with its namespace', async () => {
  const seen: { url: string; auth: string }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    seen.push({ url: req.url ?? '', auth: req.headers.authorization ?? '' });
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    const { a, b, dir } = twoFiles(`http://127.0.0.1:${port}`);
    const policy = join(dir, 'm.yaml');
    writeFileSync(
      policy,
      `apiVersion: governor.io/v1alpha1\nkind: MigrationPolicy\nmetadata: {name: m, namespace: ns-b}\nspec:\n  source: {kind: Deployment, name: a}\n  target: {kind: Deployment, name: b, maxReplicas: 8}\n  base: 4\n  load: {prometheus: {query: x}}\n  thresholds: {low: 1, high: 2}\n`,
    );
    const r = await runCli(['migrate', 'status', 'm', '--policies', policy, '--context', 'second'], { env: { KUBECONFIG: `${a}:${b}`, HOME: dir } });
    assert.ok(seen.length > 0, `no request reached the second context's server: ${r.stderr}`);
    assert.ok(seen.every((s) => s.auth === 'Bearer two-token'));
    // The policy is looked up in the context's namespace (ns-b) before any request: a request means it was found there.
    assert.doesNotMatch(r.stderr, /no MigrationPolicy/);
    assert.equal(r.code, 1, r.stderr); // the source workload is not found: a failure, not a usage error
    const bad = await runCli(['migrate', 'status', 'm', '--policies', policy, '--context', 'third'], { env: { KUBECONFIG: `${a}:${b}` } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /context "third" does not exist/);
  } finally {
    server.close();
  }
});

test('durations: Go durations; plain milliseconds still work with a deprecation warning; nonsense is refused', () => {
  const warnings: string[] = [];
  const poll = durationFlag('--policy-poll', { min: 1, warn: (l) => warnings.push(l) });
  assert.equal(poll('2s'), 2000);
  assert.equal(poll('1m30s'), 90_000);
  assert.equal(poll('250ms'), 250);
  assert.deepEqual(warnings, []);
  assert.equal(poll('2000'), 2000);
  assert.deepEqual(warnings, ['warning: --policy-poll 2000 (milliseconds) is deprecated; write 2s']);
  assert.throws(() => poll('soon'), /--policy-poll "soon" is not a duration/);
  assert.throws(() => poll('0s'), /at least 1ms/);
  assert.equal(goDuration(1500), '1500ms');
  assert.equal(goDuration(3_600_000 + 60_000), '1h1m');
  for (const ms of [0, 1, 999, 1000, 59_000, 60_000, 90_000, 3_600_000, 3_600_000 + 1000, 7_261_000]) assert.equal(parseDuration(goDuration(ms)), ms, goDuration(ms));
});

test('exit codes of errors: usage and input errors 2, other failures 1', () => {
  assert.equal(exitCodeFor(new UsageError('x')), 2);
  assert.equal(exitCodeFor(Object.assign(new Error('gone'), { code: 'ENOENT' })), 2);
  assert.equal(exitCodeFor(new KubeConfigError('/x', new Error('bad'))), 2);
  assert.equal(exitCodeFor(new Error('connection refused')), 1);
});

test('serve: durations with the deprecation warning on stderr; a bad duration or unknown flag is exit 2', async () => {
  const warned = await runCli(['serve', '--policy-poll', '2000', '--shutdown-grace=10s', '--no-such-flag']);
  assert.equal(warned.code, 2);
  assert.match(warned.stderr, /--policy-poll 2000 \(milliseconds\) is deprecated; write 2s/);
  assert.doesNotMatch(warned.stderr, /--shutdown-grace .* deprecated/);
  assert.match(warned.stderr, /unknown option '--no-such-flag'/);
  const bad = await runCli(['serve', '--registration-interval', 'often']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--registration-interval "often" is not a duration/);
});

test('governor version (text, -o json) and --version', async () => {
  const pkg = (await import(join(REPO, 'package.json'), { with: { type: 'json' } })).default as { version: string };
  const text = await runCli(['version']);
  assert.equal(text.code, 0);
  assert.match(text.stdout, new RegExp(`^governor version ${pkg.version.replace(/\./g, '\\.')}\ngit commit: \\S+\nnode: v\\d+`));
  const json = await runCli(['version', '-o', 'json'], { env: { GOVERNOR_COMMIT: 'abc123' } });
  assert.deepEqual(JSON.parse(json.stdout), { version: pkg.version, commit: 'abc123', node: process.version });
  const flag = await runCli(['--version']);
  assert.equal(flag.code, 0);
  assert.equal(flag.stdout.trim(), pkg.version);
  assert.equal((await runCli(['version', '-o', 'xml'])).code, 2);
});

test('governor completion bash|zsh: scripts that parse, with the commands, subcommands and -o values', async () => {
  const bash = await runCli(['completion', 'bash']);
  assert.equal(bash.code, 0, bash.stderr);
  const dir = mkdtempSync(join(tmpdir(), 'completion-'));
  writeFileSync(join(dir, 'governor.bash'), bash.stdout);
  execFileSync('bash', ['-n', join(dir, 'governor.bash')]);
  for (const word of ['serve', 'review', 'migrate', "' migrate status'", '--policy-poll', '--kubeconfig', '--context', 'complete -o default -F']) assert.ok(bash.stdout.includes(word), word);
  // The completion function answers: subcommands of migrate, and -o values of review.
  const ask = (line: string) =>
    execFileSync('bash', ['-c', `source ${join(dir, 'governor.bash')}; COMP_WORDS=(${line}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _governor_completion; echo "\${COMPREPLY[*]}"`]).toString().trim();
  assert.equal(ask(`governor migrate ''`), 'status pause resume rollback');
  assert.equal(ask(`governor review -o ''`), 'yaml json');
  assert.equal(ask(`governor serve --policy-p`), '--policy-poll');
  const zsh = await runCli(['completion', 'zsh']);
  assert.equal(zsh.code, 0);
  assert.match(zsh.stdout, /^#compdef governor\n/);
  assert.match(zsh.stdout, /bashcompinit/);
  const fish = await runCli(['completion', 'fish']);
  assert.equal(fish.code, 2);
});

test('certs: -n and --context are accepted; an unknown --context or a bad value is exit 2', async () => {
  const { a, b } = twoFiles();
  const r = await runCli(['certs', '-n', 'kube-governor', '--context', 'third'], { env: { KUBECONFIG: `${a}:${b}` } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /context "third" does not exist/);
  assert.equal((await runCli(['certs', '--validity-days', 'zero', '--no-secret', '--no-patch'])).code, 2);
});

test('help: --help and help <command> exit 0; no command at all is a usage error (2)', async () => {
  assert.equal((await runCli(['--help'])).code, 0);
  assert.equal((await runCli(['review', '--help'])).code, 0);
  assert.equal((await runCli(['help', 'review'])).code, 0);
  assert.equal((await runCli([])).code, 2);
  const unknown = await runCli(['reveiw']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'reveiw'/);
});

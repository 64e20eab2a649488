import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseReviewTimeout } from './serve.js';
import { runCli } from './cli_harness.js';

test('--review-timeout takes a Go duration above 0 and at most 10s', () => {
  assert.equal(parseReviewTimeout('500ms'), 500);
  assert.equal(parseReviewTimeout('1s'), 1000);
  assert.equal(parseReviewTimeout('1.5s'), 1500);
  assert.throws(() => parseReviewTimeout('0s'), /--review-timeout "0s" must be above 0 and at most 10s/);
  assert.throws(() => parseReviewTimeout('1m'), /at most 10s/);
  assert.throws(() => parseReviewTimeout('fast'), /is not a duration/);
});

test('serve --context: needs --kubeconfig (serve never reads $KUBECONFIG or ~/.kube/config); an unknown context is exit 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'serve-ctx-'));
  const kc = join(dir, 'kubeconfig');
  writeFileSync(
    kc,
    'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: only, context: {cluster: c, user: u}}]\ncurrent-context: only\n',
  );
  const base = ['serve', '--bind-address', '127.0.0.1', '--secure-port', '0', '--webhook-port', '0', '--metrics-port', '0', '--cert-dir', join(dir, 'certs'), '--policies', 'policies/governance', '--insecure-dev'];
  const env = { KUBECONFIG: kc, KUBERNETES_SERVICE_HOST: undefined };
  const alone = await runCli([...base, '--context', 'only'], { env });
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /--context "only" needs a kubeconfig \(--kubeconfig\)/);
  const unknown = await runCli([...base, '--kubeconfig', kc, '--context', 'other'], { env });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /context "other" does not exist \(contexts: only\)/);
});

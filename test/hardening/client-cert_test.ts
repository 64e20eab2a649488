// Callers are who they should be (issue 17): with --webhook-client-ca-file the webhook port completes a TLS handshake
// only with a client certificate from that CA (the API server's, presented through its admission kubeconfig). No
// certificate, or one from another CA, is refused before any request is read; a rotated CA file is picked up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGovernor } from '../../src/main.js';
import { silentLogger } from '../../src/observability/log.js';
import { generateCA, generateClientCert, parseCaBundle } from '../../src/tls/certs.js';
import { governorOptions } from '../integration/adapter_helpers.js';
import { admissionReview, POLICY_DIR, realisticDeployment } from '../integration/webhook_fixtures.js';
import { webhookComponent } from '../../src/components.js';

type Outcome = { status: number; uid?: string } | { error: string };

function post(port: number, ca: string, client?: { certPem: string; keyPem: string }): Promise<Outcome> {
  const body = JSON.stringify(admissionReview({ uid: 'mtls', kind: 'Deployment', namespace: 'shop', name: 'checkout', object: realisticDeployment() }));
  return new Promise((resolve) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/validate?timeout=5s',
        method: 'POST',
        ca,
        servername: 'localhost',
        agent: false,
        ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, uid: JSON.parse(text)?.response?.uid }));
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end(body);
  });
}

test('--webhook-client-ca-file: clients without a certificate from the CA are refused; the API server with one is served; the CA reloads', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kg-mtls-'));
  const saved = process.env.KUBERNETES_SERVICE_HOST;
  delete process.env.KUBERNETES_SERVICE_HOST;
  const apiserverCA = generateCA({ commonName: 'apiserver-webhook-client-ca' });
  const otherCA = generateCA({ commonName: 'someone-else' });
  const apiserver = generateClientCert(apiserverCA, { commonName: 'kube-apiserver-webhook-client' });
  const intruder = generateClientCert(otherCA, { commonName: 'kube-apiserver-webhook-client' });
  const caFile = join(dir, 'client-ca.crt');
  writeFileSync(caFile, apiserverCA.certPem);
  const running = await startGovernor(
    governorOptions(dir, { policies: [POLICY_DIR], enableAdapter: false, enableWebhook: true, webhookClientCaFile: caFile }),
    [webhookComponent],
    silentLogger,
  );
  try {
    const port = running.ports.webhook!;
    const ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
    const ok = await post(port, ca, apiserver);
    assert.deepEqual(ok, { status: 200, uid: 'mtls' });
    const none = await post(port, ca);
    assert.ok('error' in none, `no client certificate: refused at the handshake, got ${JSON.stringify(none)}`);
    const other = await post(port, ca, intruder);
    assert.ok('error' in other, `a certificate from another CA: refused, got ${JSON.stringify(other)}`);

    // Rotation: the file now holds the other CA (and only it); new connections are checked against it.
    writeFileSync(caFile, otherCA.certPem);
    const deadline = Date.now() + 15_000;
    let rotated: Outcome = { error: 'not tried' };
    while (Date.now() < deadline) {
      rotated = await post(port, ca, intruder);
      if (!('error' in rotated)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.deepEqual(rotated, { status: 200, uid: 'mtls' }, 'the rotated CA is in force for new connections');
    assert.ok('error' in (await post(port, ca, apiserver)), 'the old CA is no longer trusted');
    // A broken file keeps the CA in force.
    writeFileSync(caFile, 'not a certificate');
    await new Promise((r) => setTimeout(r, 6000));
    assert.deepEqual(await post(port, ca, intruder), { status: 200, uid: 'mtls' });
  } finally {
    await running.stop();
    if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parseCaBundle: needs one certificate at least and refuses blocks that do not parse', () => {
  const ca = generateCA({ commonName: 'x' }).certPem;
  assert.match(parseCaBundle(`# comment\n${ca}`, 'f'), /^-----BEGIN CERTIFICATE-----/);
  assert.throws(() => parseCaBundle('', 'ca.crt'), /ca\.crt: no PEM certificate/);
  assert.throws(() => parseCaBundle('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', 'ca.crt'), /ca\.crt: certificate 1 of the CA bundle does not parse/);
});

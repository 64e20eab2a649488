// Security properties: TLS 1.2+ only (also after a certificate reload), client-certificate identity per connection
// with renegotiation refused, X-Remote-* ignored without the front-proxy certificate, no secrets or request bodies in
// info-level logs, a non-root image. (RBAC without wildcards: test/manifests/manifests_test.ts.)
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions, type SecureVersion, type TLSSocket } from 'node:tls';
import { startGovernor, type RunningGovernor } from '../../src/main.js';
import { createSecureServer, listen } from '../../src/server/https.js';
import { generateCA, generateServingCert } from '../../src/tls/certs.js';
import { governorOptions, httpsGet, makePki, type Pki } from '../integration/adapter_helpers.js';
import { admissionReview, realisticDeployment } from '../integration/webhook_fixtures.js';
import { capturingLogger } from './helpers.js';
import { adapterComponent, webhookComponent } from '../../src/components.js';

const ROOT = join(import.meta.dirname, '..', '..');
const VALUES = '/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/desired-replicas';

/** Handshake with exactly one protocol version; the client itself allows old versions (security level 0). */
function handshake(port: number, version: SecureVersion, extra: ConnectionOptions = {}): Promise<{ ok: true; protocol: string } | { ok: false; code: string }> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, minVersion: version, maxVersion: version, ciphers: 'DEFAULT:@SECLEVEL=0', rejectUnauthorized: false, ...extra }, () => {
      resolve({ ok: true, protocol: s.getProtocol() ?? '' });
      s.end();
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, code: e.code ?? e.message }));
  });
}

async function assertTls12Plus(port: number, what: string) {
  for (const v of ['TLSv1', 'TLSv1.1'] as const) {
    const r = await handshake(port, v);
    assert.equal(r.ok, false, `${what}: ${v} handshake succeeded`);
    // The server's protocol_version alert, not a client that could not even offer the version.
    assert.match((r as { code: string }).code, /ALERT_PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION|VERSION_TOO_LOW/i, `${what} ${v}`);
  }
  for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
    const r = await handshake(port, v);
    assert.deepEqual(r, { ok: true, protocol: v }, `${what}: ${v}`);
  }
}

test('TLS 1.0 and 1.1 handshakes fail, 1.2 and 1.3 succeed, before and after a certificate reload', async () => {
  const ca = generateCA({ commonName: 'tls-ca' });
  const a = generateServingCert(ca, { commonName: 'a', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const b = generateServingCert(ca, { commonName: 'b', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  for (const clientCA of [undefined, ca.certPem]) {
    const server = createSecureServer((_q, s) => s.end('ok'), { tls: { cert: a.certPem, key: a.keyPem }, ...(clientCA ? { clientCA } : {}) });
    const port = await listen(server.server, 0, '127.0.0.1');
    try {
      await assertTls12Plus(port, clientCA ? 'with client CA' : 'server');
      server.setTls({ cert: b.certPem, key: b.keyPem });
      await assertTls12Plus(port, 'after setTls');
    } finally {
      await server.close(100);
    }
  }
});

describe('governor serve (adapter with the front-proxy CA, and the webhook)', () => {
  let dir: string;
  let pki: Pki;
  let running: RunningGovernor;
  let ca: string;
  const captured = capturingLogger('info');
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kg-security-'));
    pki = makePki();
    const o = governorOptions(dir, {
      policies: [join(ROOT, 'policies/governance'), join(ROOT, 'policies/scaling/shop.yaml')],
      requestheaderClientCaFile: pki.files.frontProxyCa,
      clientCaFile: pki.files.clientCa,
      requestheaderAllowedNames: ['front-proxy-client'],
      allowedSourceHosts: ['127.0.0.1'],
      enableWebhook: true,
      clusterPolicies: false,
      shutdownGraceMs: 500,
    });
    running = await startGovernor(o, [adapterComponent, webhookComponent], captured.log);
    ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
  });
  after(async () => {
    await running.stop();
    pki.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test('both servers refuse TLS 1.0/1.1', async () => {
    await assertTls12Plus(running.ports.adapter!, 'adapter');
    await assertTls12Plus(running.ports.webhook!, 'webhook');
  });

  test('without a valid front-proxy certificate X-Remote-* headers count for nothing (fast path and express routes)', async () => {
    const forged = { 'X-Remote-User': 'system:kube-aggregator', 'X-Remote-Group': 'system:masters', 'X-Remote-Extra-Scopes': 'all' };
    for (const path of [VALUES, `${VALUES}?labelSelector=governor.io%2Fpolicy%3Dcheckout`, '/apis/external.metrics.k8s.io/v1beta1', '/apis']) {
      const none = await httpsGet(running.ports.adapter!, path, { ca, headers: forged });
      assert.equal(none.status, 401, `${path} without a certificate`);
      assert.equal(none.json.kind, 'Status');
      const rogue = await httpsGet(running.ports.adapter!, path, { ca, cert: pki.rogue, headers: forged });
      assert.equal(rogue.status, 401, `${path} with a certificate from an unknown CA`);
      const intruder = await httpsGet(running.ports.adapter!, path, { ca, cert: pki.intruder, headers: forged });
      assert.equal(intruder.status, 401, `${path} with a front-proxy CA certificate whose CN is not allowed`);
    }
    const ok = await httpsGet(running.ports.adapter!, '/apis/external.metrics.k8s.io/v1beta1', { ca, cert: pki.aggregator, headers: forged });
    assert.equal(ok.status, 200, 'the real front proxy is let in');
  });

  test('one connection, one identity: keep-alive requests are authenticated from the connection certificate; a TLS renegotiation drops the connection', async () => {
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: running.ports.adapter!, ca, servername: 'localhost', maxVersion: 'TLSv1.2', cert: pki.aggregator.certPem, key: pki.aggregator.keyPem }, () => resolve(s));
      s.on('error', reject);
    });
    const send = (headers: string) =>
      new Promise<string>((resolve) => {
        let out = '';
        const onData = (d: Buffer) => {
          out += d;
          const h = out.indexOf('\r\n\r\n');
          const len = Number(/content-length: (\d+)/i.exec(out)?.[1] ?? -1);
          if (h >= 0 && len >= 0 && out.length >= h + 4 + len) {
            socket.off('data', onData);
            resolve(out);
          }
        };
        socket.on('data', onData);
        socket.write(`GET /apis/external.metrics.k8s.io/v1beta1 HTTP/1.1\r\nHost: x\r\n${headers}\r\n`);
      });
    for (let i = 0; i < 5; i++) assert.match(await send('X-Remote-User: system:kube-aggregator\r\n'), /^HTTP\/1\.1 200 /);
    assert.match(await send(''), /^HTTP\/1\.1 401 /, 'the front proxy without X-Remote-User');
    // The server answers a renegotiation by dropping the connection, whatever the client's handshake callback says.
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.renegotiate({ rejectUnauthorized: false }, () => undefined);
    await closed;
    assert.equal(socket.destroyed, true, 'the renegotiating connection is gone');
    const after = await httpsGet(running.ports.adapter!, '/apis/external.metrics.k8s.io/v1beta1', { ca, cert: pki.aggregator, headers: { 'X-Remote-User': 'system:kube-aggregator' } });
    assert.equal(after.status, 200, 'the server keeps serving');
  });

  test('no secrets, request bodies or key material in info-level logs', async () => {
    const SECRET = 'SUPERSECRET-7f3a9c';
    const PEM = readFileSync(join(dir, 'certs', 'tls.key'), 'utf8');
    const keyLine = PEM.split('\n')[1]!;
    const dep = realisticDeployment('shop') as any;
    dep.spec.template.spec.containers[0].env.push({ name: 'DB_PASSWORD', value: SECRET });
    dep.metadata.annotations['tls-key'] = PEM;
    const secretObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'shop', annotations: { note: SECRET } }, data: { password: Buffer.from(SECRET).toString('base64') }, stringData: { token: SECRET } };
    const denied = structuredClone(dep);
    delete denied.metadata.labels.owner;
    const post = (path: string, body: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: running.ports.webhook!, path, method: 'POST', ca, servername: 'localhost', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${SECRET}` } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end(body);
      });
    const bodies = [
      JSON.stringify(admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', object: dep })),
      JSON.stringify(admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', object: denied })),
      JSON.stringify(admissionReview({ kind: 'ConfigMap', namespace: 'shop', name: 'db', object: secretObject })),
      JSON.stringify(admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', operation: 'UPDATE', object: dep, oldObject: denied })),
      `{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "x", "object": {"password": ${SECRET}}}}`,
      `{"request": {"password": "${SECRET}"`,
    ];
    const codes: number[] = [];
    for (const path of ['/mutate', '/validate']) for (const b of bodies) codes.push(await post(path, b));
    assert.ok(codes.includes(200) && codes.includes(400), codes.join(','));
    await httpsGet(running.ports.adapter!, `${VALUES}?labelSelector=${encodeURIComponent(`governor.io/policy=${SECRET}`)}`, { ca, headers: { 'X-Remote-User': SECRET, authorization: `Bearer ${SECRET}` } });
    await httpsGet(running.ports.adapter!, `${VALUES}?labelSelector=${encodeURIComponent(`governor.io/policy=${SECRET}`)}`, { ca, cert: pki.aggregator, headers: { 'X-Remote-User': SECRET } });
    const logs = captured.lines();
    assert.ok(logs.some((l) => /"level":"(info|warn)"/.test(l) && /denied|malformed/.test(l)), 'the requests were logged');
    for (const l of logs) {
      assert.ok(!l.includes(SECRET), `secret in the log: ${l.slice(0, 300)}`);
      assert.ok(!l.includes(Buffer.from(SECRET).toString('base64')), `encoded secret in the log: ${l.slice(0, 300)}`);
      assert.ok(!l.includes(keyLine) && !/PRIVATE KEY/.test(l), `key material in the log: ${l.slice(0, 300)}`);
      assert.ok(!l.includes('"object"') && !l.includes('DB_PASSWORD'), `a request body in the log: ${l.slice(0, 300)}`);
    }
  });
});

test('the image runs as a non-root numeric user', () => {
  const lines = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').split('\n');
  const finalStage = lines.slice(lines.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true));
  const users = finalStage.filter((l) => /^USER\s/i.test(l)).map((l) => l.replace(/^USER\s+/i, '').trim());
  assert.ok(users.length > 0, 'the final stage sets USER');
  const user = users.at(-1)!;
  assert.match(user, /^\d+(:\d+)?$/, 'numeric, so runAsNonRoot can be verified without /etc/passwd');
  assert.ok(user.split(':').every((id) => Number(id) !== 0), `USER ${user} is root`);
});

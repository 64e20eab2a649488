// Against a real Prometheus (Debian's binary on loopback) behind its own --web.config.file: basic auth and TLS with
// client certificates; and a token-checking gateway (Mimir-like: bearer token + X-Scope-OrgID) in front of it. Right
// credentials pass, wrong ones give a clear source error without the credential, a rotated token file is used
// without a restart, and through the adapter no secret reaches a Status body or the log.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import bcrypt from 'bcryptjs';
import type { RunningGovernor } from '../../src/main.js';
import { createLogger } from '../../src/observability/log.js';
import type { LoadSource, SourceAuth } from '../../src/policy/types.js';
import { CredentialResolver } from '../../src/sources/credentials.js';
import { isSourceError } from '../../src/sources/errors.js';
import { PrometheusSource } from '../../src/sources/prometheus.js';
import { generateCA, generateClientCert, generateServingCert } from '../../src/tls/certs.js';
import { freePort } from '../e2e/harness/prometheus.js';
import { governorOptions, httpsGet, startAdapter } from './adapter_helpers.js';

const PASSWORD = 'correct-horse-battery-staple';
const WRONG_PASSWORD = 'wrong-horse-battery-staple';
const TOKEN_1 = 'gateway-token-one-0123456789';
const TOKEN_2 = 'gateway-token-two-9876543210';
const TENANT = 'tenant-shop-42';
const SERVER_NAME = 'prometheus.monitoring.svc';

let dir: string;
let creds: string;
let prom: ChildProcess | undefined;
let promExited: Promise<void>;
let promUrl: string;
let gatewayServer: Server;
let gatewayUrl: string;
/** The token the gateway accepts (the "issuer" rotates it). */
let gatewayToken = TOKEN_1;
const gatewaySeen: { authorization?: string; tenant?: string; status: number }[] = [];
const f = (name: string) => join(creds, name);
let gov: RunningGovernor | undefined;
const logLines: string[] = [];
let ca: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Right credentials for the secured Prometheus (basic auth from files, CA, client certificate, server name). */
const rightAuth = (): SourceAuth => ({
  basicAuth: { username: 'alice', passwordFile: f('password') },
  tls: { caFile: f('ca.crt'), certFile: f('client.crt'), keyFile: f('client.key'), serverName: SERVER_NAME },
});

const source = () => new PrometheusSource({ defaultUrl: promUrl, credentials: new CredentialResolver({ policyFileDirs: [creds] }) });
const load = (auth: SourceAuth, query = 'vector(42)'): LoadSource => ({ type: 'prometheus', query, timeoutMs: 3000, auth });

async function failure(p: Promise<number>): Promise<Error> {
  return p.then(
    (v) => assert.fail(`expected a source error, got ${v}`),
    (e: unknown) => {
      assert.ok(isSourceError(e), String(e));
      return e;
    },
  );
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kg-prom-secured-'));
  creds = join(dir, 'creds');
  mkdirSync(creds);
  const serverCa = generateCA({ commonName: 'monitoring-ca' });
  const clientCa = generateCA({ commonName: 'monitoring-client-ca' });
  const otherCa = generateCA({ commonName: 'monitoring-ca' }); // same name, other key
  // DNS name only: reaching it as 127.0.0.1 verifies only with serverName.
  const serving = generateServingCert(serverCa, { commonName: SERVER_NAME, dnsNames: [SERVER_NAME] });
  const client = generateClientCert(clientCa, { commonName: 'kube-governor' });
  writeFileSync(f('ca.crt'), serverCa.certPem);
  writeFileSync(f('other-ca.crt'), otherCa.certPem);
  writeFileSync(f('client.crt'), client.certPem);
  writeFileSync(f('client.key'), client.keyPem);
  writeFileSync(f('password'), `${PASSWORD}\n`);
  writeFileSync(f('wrong-password'), WRONG_PASSWORD);
  writeFileSync(f('username'), 'alice');
  writeFileSync(f('token'), TOKEN_1);
  writeFileSync(f('wrong-token'), 'not-the-gateway-token-555');
  const pdir = join(dir, 'prometheus');
  mkdirSync(pdir);
  writeFileSync(join(pdir, 'serving.crt'), serving.certPem);
  writeFileSync(join(pdir, 'serving.key'), serving.keyPem);
  writeFileSync(join(pdir, 'client-ca.crt'), clientCa.certPem);
  writeFileSync(
    join(pdir, 'web.yml'),
    [
      'tls_server_config:',
      `  cert_file: ${join(pdir, 'serving.crt')}`,
      `  key_file: ${join(pdir, 'serving.key')}`,
      '  client_auth_type: RequireAndVerifyClientCert',
      `  client_ca_file: ${join(pdir, 'client-ca.crt')}`,
      'basic_auth_users:',
      // Cost 4: the lowest bcrypt allows; the test is about the protocol, not the hash.
      `  alice: ${bcrypt.hashSync(PASSWORD, 4)}`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(pdir, 'prometheus.yml'), 'global:\n  evaluation_interval: 1s\n');
  const port = await freePort();
  promUrl = `https://127.0.0.1:${port}`;
  const logFd = openSync(join(pdir, 'prometheus.log'), 'a');
  prom = spawn(
    process.env.PROMETHEUS_BIN ?? 'prometheus',
    [
      `--config.file=${join(pdir, 'prometheus.yml')}`,
      `--web.config.file=${join(pdir, 'web.yml')}`,
      `--storage.tsdb.path=${join(pdir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  let exited = false;
  promExited = new Promise((r) => prom!.on('exit', () => ((exited = true), r())));
  process.on('exit', () => prom?.kill('SIGKILL'));
  // Ready when the product's own client gets an answer with the right credentials (bounded: 30 s).
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`prometheus exited:\n${readFileSync(join(pdir, 'prometheus.log'), 'utf8').slice(-2000)}`);
    try {
      if ((await source().query(load(rightAuth(), 'vector(1)'))) === 1) break;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`prometheus not ready: ${(e as Error).message}\n${readFileSync(join(pdir, 'prometheus.log'), 'utf8').slice(-2000)}`);
    }
    await sleep(200);
  }

  // The gateway: checks the bearer token and the tenant, then forwards to the secured Prometheus with its own
  // credentials (as a Mimir or Thanos gateway would).
  gatewayServer = createServer((req, res) => {
    const h: IncomingHttpHeaders = req.headers;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const ok = h.authorization === `Bearer ${gatewayToken}` && h['x-scope-orgid'] === TENANT;
      gatewaySeen.push({ ...(h.authorization ? { authorization: h.authorization } : {}), ...(h['x-scope-orgid'] ? { tenant: String(h['x-scope-orgid']) } : {}), status: ok ? 200 : 401 });
      if (!ok) {
        res.writeHead(401, { 'content-type': 'text/plain' }).end('invalid token\n');
        return;
      }
      const up = httpsRequest(
        `${promUrl}${req.url}`,
        {
          method: req.method,
          ca: readFileSync(f('ca.crt')),
          cert: readFileSync(f('client.crt')),
          key: readFileSync(f('client.key')),
          servername: SERVER_NAME,
          headers: { 'content-type': h['content-type'] ?? '', authorization: `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}` },
          timeout: 5000,
        },
        (r) => {
          res.writeHead(r.statusCode ?? 502, { 'content-type': r.headers['content-type'] ?? 'application/json' });
          r.pipe(res);
        },
      );
      up.on('error', () => res.writeHead(502).end());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => gatewayServer.listen(0, '127.0.0.1', r));
  const a = gatewayServer.address();
  gatewayUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});

after(async () => {
  await gov?.stop();
  if (gatewayServer) {
    gatewayServer.closeAllConnections();
    await new Promise<void>((r) => gatewayServer.close(() => r()));
  }
  if (prom && prom.exitCode === null) {
    prom.kill('SIGTERM');
    const t = setTimeout(() => prom?.kill('SIGKILL'), 10_000);
    await promExited;
    clearTimeout(t);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('right credentials pass: basic auth from files, the CA, a client certificate and the server name', async () => {
  assert.equal(await source().query(load(rightAuth())), 42);
  assert.equal(await source().query(load({ ...rightAuth(), basicAuth: { usernameFile: f('username'), passwordFile: f('password') } })), 42);
});

test('a wrong password: "authentication failed (HTTP 401)", and the password appears nowhere in the error', async () => {
  const e = await failure(source().query(load({ ...rightAuth(), basicAuth: { username: 'alice', passwordFile: f('wrong-password') } })));
  assert.match(e.message, /authentication failed \(HTTP 401\)/);
  assert.equal(e.name, 'SourceAuthError');
  for (const s of [WRONG_PASSWORD, Buffer.from(`alice:${WRONG_PASSWORD}`).toString('base64')]) assert.ok(!`${e.message}${e.stack}`.includes(s));
  // No credentials at all: the same clear error.
  const { basicAuth: _, ...noBasic } = rightAuth();
  assert.match((await failure(source().query(load(noBasic)))).message, /authentication failed \(HTTP 401\)/);
});

test('a wrong CA gives a TLS error', async () => {
  const e = await failure(source().query(load({ ...rightAuth(), tls: { ...rightAuth().tls, caFile: f('other-ca.crt') } })));
  assert.match(e.message, /TLS error UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  assert.doesNotMatch(e.message, new RegExp(PASSWORD));
});

test('insecureSkipVerify: refused by default; with --allow-insecure-source-tls a wrong CA no longer matters', async () => {
  const insecure = { ...rightAuth(), tls: { ...rightAuth().tls, caFile: f('other-ca.crt'), insecureSkipVerify: true } };
  assert.match((await failure(source().query(load(insecure)))).message, /insecureSkipVerify is refused/);
  const allowed = new PrometheusSource({ defaultUrl: promUrl, credentials: new CredentialResolver({ policyFileDirs: [creds], allowInsecureTls: true }) });
  assert.equal(await allowed.query(load(insecure)), 42);
});

test('serverName is what the certificate is checked against: without it, 127.0.0.1 does not match', async () => {
  const { serverName: _, ...noName } = rightAuth().tls!;
  const e = await failure(source().query(load({ ...rightAuth(), tls: noName })));
  assert.match(e.message, /TLS error ERR_TLS_CERT_ALTNAME_INVALID/);
  const wrong = await failure(source().query(load({ ...rightAuth(), tls: { ...noName, serverName: 'grafana.monitoring.svc' } })));
  assert.match(wrong.message, /TLS error ERR_TLS_CERT_ALTNAME_INVALID/);
});

test('Prometheus requires a client certificate: without one the query fails as unavailable', async () => {
  const { certFile: _c, keyFile: _k, ...noClient } = rightAuth().tls!;
  const e = await failure(source().query(load({ ...rightAuth(), tls: noClient })));
  assert.equal(e.name, 'SourceUnavailableError');
});

test('through the gateway: bearer token and tenant pass; a rotated token file is used by the next query', async () => {
  const s = source();
  const l = load({ bearerTokenFile: f('token'), headers: { 'X-Scope-OrgID': TENANT } });
  const gl = { ...l, url: gatewayUrl } as LoadSource;
  assert.equal(await s.query(gl), 42);
  assert.deepEqual(gatewaySeen.at(-1), { authorization: `Bearer ${TOKEN_1}`, tenant: TENANT, status: 200 });
  // The issuer rotates: the old token is refused from now on, the file gets the new one.
  gatewayToken = TOKEN_2;
  writeFileSync(f('token'), TOKEN_2);
  assert.equal(await s.query(gl), 42);
  assert.deepEqual(gatewaySeen.at(-1), { authorization: `Bearer ${TOKEN_2}`, tenant: TENANT, status: 200 });
  // A wrong tenant or token: a clear error naming neither.
  for (const auth of [
    { bearerTokenFile: f('token'), headers: { 'X-Scope-OrgID': 'tenant-other-99' } },
    { bearerTokenFile: f('wrong-token'), headers: { 'X-Scope-OrgID': TENANT } },
  ]) {
    const e = await failure(s.query({ ...load(auth), url: gatewayUrl } as LoadSource));
    assert.match(e.message, /authentication failed \(HTTP 401\)/);
    for (const secret of [TOKEN_2, 'not-the-gateway-token-555', TENANT, 'tenant-other-99']) assert.ok(!e.message.includes(secret), e.message);
  }
});

const policy = (name: string, load: string) => `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: ${name}, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: ${name}}
  load: ${load}
  thresholds: {low: 100, high: 800}
  replicas: {min: 2, base: 3, max: 20}
  interval: 1s
  staleAfter: 5s
  onSourceFailure: {action: hold, after: 2}
---
`;

async function published(name: string): Promise<{ status: number; value?: string; text: string }> {
  const r = await httpsGet(gov!.ports.adapter!, `/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/desired-replicas?labelSelector=${encodeURIComponent(`governor.io/policy=${name}`)}`, { ca });
  return { status: r.status, text: r.text, ...(r.status === 200 ? { value: r.json.items[0].value } : {}) };
}

async function waitFor(name: string, ok: (p: { status: number; value?: string }) => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await published(name);
    if (ok(p)) return p;
    if (Date.now() > deadline) throw new Error(`${name}: never reached the expected answer; last ${JSON.stringify(p)}`);
    await sleep(250);
  }
}

test('through the adapter: --prometheus-* defaults, a policy with its own gateway and token, rotation, and no secret in a 503 or the log', async () => {
  gatewayToken = TOKEN_1;
  writeFileSync(f('token'), TOKEN_1);
  mkdirSync(join(dir, 'policies'));
  writeFileSync(
    join(dir, 'policies', 'p.yaml'),
    policy('defaults', `{prometheus: {query: 'vector(450)', timeout: 3s}}`) +
      policy('gateway', `{prometheus: {query: 'vector(800)', url: '${gatewayUrl}', bearerTokenFile: '${f('token')}', headers: {X-Scope-OrgID: ${TENANT}}, timeout: 3s}}`) +
      policy('denied', `{prometheus: {query: 'vector(800)', url: '${gatewayUrl}', bearerTokenFile: '${f('wrong-token')}', headers: {X-Scope-OrgID: ${TENANT}}, timeout: 3s}}`),
  );
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => logLines.push(c.toString('utf8')));
  gov = await startAdapter(
    governorOptions(dir, {
      prometheusUrl: promUrl,
      // What `--prometheus-basic-auth-*-file --prometheus-ca-file --prometheus-cert-file --prometheus-key-file
      // --prometheus-server-name` produce.
      prometheusAuth: { basicAuth: { usernameFile: f('username'), passwordFile: f('password') }, tls: { caFile: f('ca.crt'), certFile: f('client.crt'), keyFile: f('client.key'), serverName: SERVER_NAME } },
      sourceCredentialDirs: [creds],
      insecureDev: true,
    }),
    createLogger({ level: 'debug', destination: sink }),
  );
  ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
  assert.equal((await waitFor('defaults', (p) => p.status === 200)).value, '12'); // 3 + (450-100)/700 · 17 = 11.5 → 12
  assert.equal((await waitFor('gateway', (p) => p.status === 200)).value, '20');
  const before = gatewaySeen.length;
  gatewayToken = TOKEN_2;
  writeFileSync(f('token'), TOKEN_2);
  const deadline = Date.now() + 10_000;
  while (!gatewaySeen.slice(before).some((s) => s.authorization === `Bearer ${TOKEN_2}` && s.status === 200)) {
    if (Date.now() > deadline) throw new Error(`the rotated token was never sent: ${JSON.stringify(gatewaySeen.slice(before))}`);
    // Queries are made when the metric is read (as the HPA does every 15 s), at most once per interval.
    await published('gateway');
    await sleep(200);
  }
  assert.equal((await published('gateway')).value, '20');
  const denied = await waitFor('denied', (p) => p.status === 503);
  assert.match(denied.text, /authentication failed or access denied \(HTTP 401\/403\): check its credentials/); // the class only: the detail (URL, query) is in the log
  await sleep(300);
  const log = logLines.join('');
  assert.match(log, /authentication failed/, 'the failure is logged');
  for (const secret of [PASSWORD, TOKEN_1, TOKEN_2, 'not-the-gateway-token-555', TENANT, Buffer.from(`alice:${PASSWORD}`).toString('base64')]) {
    assert.ok(!denied.text.includes(secret), `503 body holds a secret: ${denied.text}`);
    assert.ok(!log.includes(secret), `the log holds a secret (${secret.slice(0, 6)}…)`);
  }
});

test('governor serve refuses contradictory --prometheus-* flags before anything listens, without quoting a header value', async () => {
  const { execFile } = await import('node:child_process');
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const c = execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--insecure-dev', '--no-webhook', ...args], { timeout: 20_000 }, () => undefined);
      let stderr = '';
      c.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      c.on('exit', (code) => resolve({ code, stderr }));
    });
  const tls = await run(['--prometheus-url', 'http://127.0.0.1:9', '--prometheus-ca-file', f('ca.crt')]);
  assert.equal(tls.code, 2, tls.stderr);
  assert.match(tls.stderr, /need an https --prometheus-url/);
  const hdr = await run(['--prometheus-bearer-token-file', f('token'), '--prometheus-header', 'Authorization=Bearer flag-secret-123']);
  assert.equal(hdr.code, 2, hdr.stderr);
  assert.match(hdr.stderr, /Authorization conflicts/);
  assert.ok(!hdr.stderr.includes('flag-secret-123'));
});

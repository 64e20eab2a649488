// Secured sources against a loopback HTTP server that records what it receives: credentials from files, rotation,
// server defaults only for --prometheus-url, the credential-file fence, and no secret in any error message.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadSource, SourceAuth } from '../policy/types.js';
import { CredentialResolver } from './credentials.js';
import { isSourceError, SourceUnavailableError } from './errors.js';
import { HttpJsonSource } from './http-json.js';
import { PrometheusSource } from './prometheus.js';
import { prometheusDefaults } from './prometheus-defaults.js';

const TOKEN_A = 'token-aaaa-1111-secret';
const TOKEN_B = 'token-bbbb-2222-secret';
const PASSWORD = 'pässword-with-ümlauts-9';
const TENANT = 'tenant-echoed-back';

let dir: string;
let creds: string;
let server: Server;
let url: string;
const seen: IncomingHttpHeaders[] = [];
/** What the server answers: 200 vector, or the status given (with an error body echoing the tenant header). */
let answer: number = 200;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kg-creds-'));
  creds = join(dir, 'creds');
  mkdirSync(creds);
  writeFileSync(join(creds, 'token'), `${TOKEN_A}\n`);
  writeFileSync(join(creds, 'password'), `${PASSWORD}\n`);
  writeFileSync(join(creds, 'username'), 'alice\n');
  writeFileSync(join(dir, 'outside-token'), 'not-for-policies');
  server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    if (answer !== 200) {
      // A careless proxy that echoes the request's credentials and tenant in its error text.
      res.writeHead(answer, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: `rejected ${req.headers.authorization} for ${req.headers['x-scope-orgid']}` }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.url?.startsWith('/api/v1/query')) res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [0, '42'] }] } }));
    else res.end(JSON.stringify({ data: { rps: 7 } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

const prom = (auth?: SourceAuth, extra: Partial<Extract<LoadSource, { type: 'prometheus' }>> = {}): LoadSource => ({ type: 'prometheus', query: 'vector(42)', ...(auth ? { auth } : {}), ...extra });
const last = () => seen.at(-1)!;

test('a bearer token file is sent, and a rewritten file is used by the next query without a restart', async () => {
  const source = new PrometheusSource({ defaultUrl: url, credentials: new CredentialResolver({ policyFileDirs: [creds] }) });
  const load = prom({ bearerTokenFile: join(creds, 'token'), headers: { 'X-Scope-OrgID': TENANT } });
  assert.equal(await source.query(load), 42);
  assert.equal(last().authorization, `Bearer ${TOKEN_A}`);
  assert.equal(last()['x-scope-orgid'], TENANT);
  assert.equal(await source.query(load), 42);
  assert.equal(last().authorization, `Bearer ${TOKEN_A}`, 'an unchanged file keeps its token');
  writeFileSync(join(creds, 'token'), `${TOKEN_B}\n`);
  assert.equal(await source.query(load), 42);
  assert.equal(last().authorization, `Bearer ${TOKEN_B}`);
  writeFileSync(join(creds, 'token'), `${TOKEN_A}\n`);
});

test('basic auth from a password file with username or usernameFile', async () => {
  const source = new PrometheusSource({ defaultUrl: url, credentials: new CredentialResolver({ policyFileDirs: [creds] }) });
  await source.query(prom({ basicAuth: { username: 'bob', passwordFile: join(creds, 'password') } }));
  assert.equal(last().authorization, `Basic ${Buffer.from(`bob:${PASSWORD}`).toString('base64')}`);
  await source.query(prom({ basicAuth: { usernameFile: join(creds, 'username'), passwordFile: join(creds, 'password') } }));
  assert.equal(last().authorization, `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`);
});

test('the HTTP JSON source sends the same credentials and headers', async () => {
  const source = new HttpJsonSource({ credentials: new CredentialResolver({ policyFileDirs: [creds] }) });
  const v = await source.query({ type: 'http', url: `${url}/load`, valuePath: 'data.rps', auth: { bearerTokenFile: join(creds, 'token'), headers: { 'X-Team': 'shop' } } });
  assert.equal(v, 7);
  assert.equal(last().authorization, `Bearer ${TOKEN_A}`);
  assert.equal(last()['x-team'], 'shop');
});

test('server defaults go to --prometheus-url only; a policy header wins over a default one', async () => {
  const defaults: SourceAuth = { bearerTokenFile: join(dir, 'outside-token'), headers: { 'X-Scope-OrgID': 'default-tenant', 'X-Other': 'kept' } };
  const source = new PrometheusSource({ defaultUrl: `${url}/`, defaults, credentials: new CredentialResolver() });
  await source.query(prom());
  assert.equal(last().authorization, 'Bearer not-for-policies', 'files from flags are not fenced');
  assert.equal(last()['x-scope-orgid'], 'default-tenant');
  await source.query(prom({ headers: { 'x-scope-orgid': 'shop' } }));
  assert.equal(last()['x-scope-orgid'], 'shop');
  assert.equal(last()['x-other'], 'kept');
  // The same server under another name: a policy URL that is not --prometheus-url gets none of the defaults.
  await source.query(prom(undefined, { url: url.replace('127.0.0.1', 'localhost') }));
  assert.equal(last().authorization, undefined);
  assert.equal(last()['x-scope-orgid'], undefined);
});

test('files named by a policy must lie under --source-credential-dirs (symlinks resolved)', async () => {
  const { symlinkSync } = await import('node:fs');
  symlinkSync(join(dir, 'outside-token'), join(creds, 'sneaky'));
  const fenced = new PrometheusSource({ defaultUrl: url, credentials: new CredentialResolver({ policyFileDirs: [creds] }) });
  const before = seen.length;
  await assert.rejects(fenced.query(prom({ bearerTokenFile: join(dir, 'outside-token') })), /is not under --source-credential-dirs/);
  await assert.rejects(fenced.query(prom({ bearerTokenFile: join(creds, 'sneaky') })), /is not under --source-credential-dirs/);
  await assert.rejects(fenced.query(prom({ bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' })), SourceUnavailableError);
  const none = new PrometheusSource({ defaultUrl: url, credentials: new CredentialResolver() });
  await assert.rejects(none.query(prom({ bearerTokenFile: join(creds, 'token') })), /none set: policies may not name credential files/);
  assert.equal(seen.length, before, 'nothing was sent');
});

test('unreadable, special, empty and oversized credential files give a clear source error', async () => {
  writeFileSync(join(creds, 'empty'), '\n');
  writeFileSync(join(creds, 'huge'), Buffer.alloc(70 * 1024, 'a'));
  const source = new PrometheusSource({ defaultUrl: url, credentials: new CredentialResolver({ policyFileDirs: [creds, '/dev'] }) });
  await assert.rejects(source.query(prom({ bearerTokenFile: join(creds, 'missing') })), /cannot read bearer token file .*missing \(ENOENT\)/);
  await assert.rejects(source.query(prom({ bearerTokenFile: '/dev/zero' })), /not a regular file/);
  await assert.rejects(source.query(prom({ bearerTokenFile: creds })), /not a regular file/);
  await assert.rejects(source.query(prom({ bearerTokenFile: join(creds, 'empty') })), /is empty/);
  await assert.rejects(source.query(prom({ bearerTokenFile: join(creds, 'huge') })), /larger than 65536 bytes/);
});

test('401 and 403 say authentication failed / access denied, and no token, password or header value appears', async () => {
  const source = new PrometheusSource({ defaultUrl: url, credentials: new CredentialResolver({ policyFileDirs: [creds] }) });
  const secrets = [TOKEN_A, PASSWORD, TENANT, Buffer.from(`bob:${PASSWORD}`).toString('base64')];
  try {
    for (const [status, text] of [
      [401, /authentication failed \(HTTP 401\)/],
      [403, /access denied \(HTTP 403\)/],
      [400, /rejected/],
    ] as const) {
      answer = status;
      for (const auth of [
        { bearerTokenFile: join(creds, 'token'), headers: { 'X-Scope-OrgID': TENANT } },
        { basicAuth: { username: 'bob', passwordFile: join(creds, 'password') }, headers: { 'X-Scope-OrgID': TENANT } },
      ]) {
        const err = await source.query(prom(auth)).then(
          () => assert.fail('must fail'),
          (e: unknown) => e,
        );
        assert.ok(isSourceError(err));
        assert.match(err.message, text);
        for (const s of secrets) {
          assert.ok(!err.message.includes(s), `message ${err.message} must not contain a secret`);
          assert.ok(!String(err.stack).includes(s), 'nor the stack');
        }
      }
    }
    const http = new HttpJsonSource({ credentials: new CredentialResolver({ policyFileDirs: [creds] }) });
    answer = 401;
    await assert.rejects(http.query({ type: 'http', url: `${url}/load`, valuePath: 'data.rps', auth: { bearerTokenFile: join(creds, 'token') } }), (e: Error) => {
      assert.match(e.message, /authentication failed \(HTTP 401\)/);
      assert.ok(!e.message.includes(TOKEN_A));
      return true;
    });
  } finally {
    answer = 200;
  }
});

test('user info in a URL is not shown in messages', async () => {
  const source = new PrometheusSource({ defaultUrl: 'http://user:hunter2-secret@127.0.0.1:9' });
  await assert.rejects(source.query(prom()), (e: Error) => !e.message.includes('hunter2-secret') && /prometheus http:\/\/127\.0\.0\.1:9/.test(e.message));
});

test('tls.insecureSkipVerify is refused without --allow-insecure-source-tls; tls on an http URL is refused', async () => {
  const source = new PrometheusSource({ defaultUrl: 'https://127.0.0.1:9', credentials: new CredentialResolver({ policyFileDirs: [creds] }) });
  await assert.rejects(source.query(prom({ tls: { insecureSkipVerify: true } })), /insecureSkipVerify is refused: the server was not started with --allow-insecure-source-tls/);
  const plain = new PrometheusSource({ defaultUrl: url, credentials: new CredentialResolver({ policyFileDirs: [creds], allowInsecureTls: true }) });
  await assert.rejects(plain.query(prom({ tls: { insecureSkipVerify: true } })), /tls options are set but the URL is not https/);
});

test('a header that fights the source is refused at query time too (defaults merged with a policy)', async () => {
  const source = new PrometheusSource({
    defaultUrl: url,
    defaults: { bearerTokenFile: join(creds, 'token') },
    credentials: new CredentialResolver({ policyFileDirs: [creds] }),
  });
  await assert.rejects(source.query(prom({ headers: { Authorization: 'Bearer mine-very-secret' } })), (e: Error) => {
    assert.match(e.message, /Authorization conflicts/);
    assert.ok(!e.message.includes('mine-very-secret'));
    return true;
  });
});

test('--prometheus-* flags: contradictions and malformed headers are refused, the rest becomes one SourceAuth', () => {
  assert.equal(prometheusDefaults({ headers: [] }, 'http://p:9090'), undefined);
  assert.deepEqual(prometheusDefaults({ bearerTokenFile: '/t', headers: ['X-Scope-OrgID=team=a'], caFile: '/ca', serverName: 'p.svc' }, 'https://p:9090'), {
    bearerTokenFile: '/t',
    tls: { caFile: '/ca', serverName: 'p.svc' },
    headers: { 'X-Scope-OrgID': 'team=a' },
  });
  assert.throws(() => prometheusDefaults({ bearerTokenFile: '/t', basicAuthUsernameFile: '/u', basicAuthPasswordFile: '/p' }, 'http://p'), /either/);
  assert.throws(() => prometheusDefaults({ basicAuthPasswordFile: '/p' }, 'http://p'), /go together/);
  assert.throws(() => prometheusDefaults({ certFile: '/c' }, 'https://p'), /go together/);
  assert.throws(() => prometheusDefaults({ caFile: '/ca' }, 'http://p'), /need an https --prometheus-url/);
  assert.throws(() => prometheusDefaults({ headers: ['novalue'] }, 'http://p'), /Name=value/);
  assert.throws(() => prometheusDefaults({ headers: ['Connection=close'] }, 'http://p'), /cannot be set/);
  assert.throws(
    () => prometheusDefaults({ bearerTokenFile: '/t', headers: ['Authorization=Bearer flag-secret'] }, 'http://p'),
    (e: Error) => /conflicts/.test(e.message) && !e.message.includes('flag-secret'),
  );
});

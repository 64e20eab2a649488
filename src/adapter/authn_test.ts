// RequestAuthenticator construction and the non-TLS cases (the TLS cases run in test/integration/adapter_tls_test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { generateCA } from '../tls/certs.js';
import { AuthnConfigError, parseBundle, RequestAuthenticator, withAuthenticated } from './authn.js';

const base = { requestheaderAllowedNames: [], requestheaderUsernameHeaders: ['X-Remote-User'], requestheaderGroupHeaders: ['X-Remote-Group'], requestheaderExtraHeadersPrefix: ['X-Remote-Extra-'] };

test('a CA file without a certificate is a clear configuration error', () => {
  assert.throws(() => parseBundle('not a pem', 'request-header client CA'), (e: unknown) => e instanceof AuthnConfigError && /request-header client CA contains no PEM certificate/.test(e.message));
  assert.throws(() => new RequestAuthenticator({ ...base, clientCa: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' }), /client CA: certificate 1 cannot be parsed/);
});

test('the TLS trust bundle holds both CAs; without any the authenticator is unconfigured', () => {
  const a = generateCA({ commonName: 'front-proxy-ca' });
  const b = generateCA({ commonName: 'client-ca' });
  const auth = new RequestAuthenticator({ ...base, requestheaderClientCa: a.certPem, clientCa: b.certPem });
  assert.equal(auth.configured, true);
  assert.equal(parseBundle(auth.trustBundle!, 'bundle').length, 2);
  assert.equal(new RequestAuthenticator(base).configured, false);
});

test('a request that did not come over TLS is not authenticated', () => {
  const auth = new RequestAuthenticator(base);
  const r = auth.authenticate({ socket: {}, headers: { 'x-remote-user': 'system:admin' }, headersDistinct: { 'x-remote-user': ['system:admin'] } } as unknown as IncomingMessage);
  assert.deepEqual(r, { ok: false, reason: 'not a TLS connection' });
});

test('every authenticated user is in system:authenticated (the aggregator sends discovery requests without groups)', () => {
  assert.deepEqual(withAuthenticated('system:kube-aggregator', []), ['system:authenticated']);
  assert.deepEqual(withAuthenticated('alice', ['devs', 'system:authenticated']), ['devs', 'system:authenticated']);
  assert.deepEqual(withAuthenticated('system:anonymous', []), []);
});

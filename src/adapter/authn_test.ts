// RequestAuthenticator construction and the non-TLS cases (the TLS cases run in test/integration/adapter_tls_test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { generateCA } from '../tls/certs.js';
import { AuthnConfigError, parseBundle, RequestAuthenticator, requestHeaderIdentity, requestHeaderNames, withAuthenticated } from './authn.js';

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

const names = requestHeaderNames(base);

test('front-proxy headers: the first non-blank user name, every group in configured order, extra keys decoded', () => {
  const multi = requestHeaderNames({ requestheaderUsernameHeaders: ['X-Remote-User', 'X-User'], requestheaderGroupHeaders: ['X-Remote-Group', 'X-Group'], requestheaderExtraHeadersPrefix: ['X-Remote-Extra-', 'X-Extra-'] });
  const raw = [
    'Host', 'x',
    'X-Group', 'late-but-second-name',
    'X-User', 'bob',
    'x-remote-user', '  ',
    'X-REMOTE-USER', ' alice ',
    'X-Remote-Group', 'devs',
    'X-Remote-Group', '',
    'x-remote-group', 'ops',
    'X-Remote-Extra-Scopes', 'a',
    'X-Extra-Scopes', 'b',
    'X-Remote-Extra-Acme.Com%2FProject', 'p1',
    'X-Remote-Extra-Bad%ZZ', 'dropped',
    'X-Remote-Extra-', 'no key',
  ];
  const id = requestHeaderIdentity(raw, multi);
  assert.equal(id.username, 'alice'); // the first configured header with a non-blank value wins, trimmed
  assert.deepEqual(id.groups, ['devs', 'ops', 'late-but-second-name']);
  assert.deepEqual({ ...id.extra }, { scopes: ['a', 'b'], 'acme.com/project': ['p1'] });
  assert.equal(requestHeaderIdentity(['X-Remote-User', ' '], names).username, undefined);
});

test('an extra key named like an Object property is a key like any other', () => {
  const id = requestHeaderIdentity(['X-Remote-User', 'u', 'X-Remote-Extra-__proto__', 'a', 'X-Remote-Extra-Constructor', 'b', 'X-Remote-Extra-toString', 'c'], names);
  assert.deepEqual(Object.entries(id.extra), [['__proto__', ['a']], ['constructor', ['b']], ['tostring', ['c']]]);
  assert.equal(JSON.stringify(id.extra), '{"__proto__":["a"],"constructor":["b"],"tostring":["c"]}');
});

test('front-proxy headers: the one-pass reading agrees with reading Node\'s headersDistinct, on random headers', () => {
  // The reference is what the authenticator did before: the same rules over req.headersDistinct (names lowercased,
  // values grouped per name in request order).
  const reference = (raw: string[]) => {
    const hd: Record<string, string[]> = Object.create(null);
    for (let i = 0; i < raw.length; i += 2) (hd[raw[i]!.toLowerCase()] ??= []).push(raw[i + 1]!);
    let username: string | undefined;
    for (const n of names.username) {
      const v = hd[n]?.find((s) => s.trim() !== '');
      if (v) {
        username = v.trim();
        break;
      }
    }
    const groups: string[] = [];
    for (const n of names.group) for (const v of hd[n] ?? []) if (v !== '') groups.push(v);
    const extra: Record<string, string[]> = Object.create(null);
    for (const [name, values] of Object.entries(hd)) {
      const p = names.extraPrefix.find((x) => name.startsWith(x));
      if (!p) continue;
      let key: string;
      try {
        key = decodeURIComponent(name.slice(p.length));
      } catch {
        continue;
      }
      if (key) (extra[key] ??= []).push(...values);
    }
    return { username, groups, extra: { ...extra } };
  };
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const pick = <T>(xs: readonly T[]) => xs[rand(xs.length)]!;
  const headerNames = ['X-Remote-User', 'x-remote-user', 'X-Remote-Group', 'X-REMOTE-GROUP', 'X-Remote-Extra-Scopes', 'x-remote-extra-scopes', 'X-Remote-Extra-A%2Fb', 'X-Remote-Extra-%E0', 'Accept', 'Host'];
  const values = ['', ' ', 'alice', ' bob ', 'system:masters', 'a,b'];
  for (let round = 0; round < 2000; round++) {
    const raw: string[] = [];
    for (let i = rand(8); i > 0; i--) raw.push(pick(headerNames), pick(values));
    // Distinct extra header names for one key (Scopes, scopes) keep their values in request order here, grouped by
    // name there; upstream reads a Go map, in no order: compare the values as sets.
    const a = requestHeaderIdentity(raw, names);
    const b = reference(raw);
    assert.equal(a.username, b.username, JSON.stringify(raw));
    assert.deepEqual(a.groups, b.groups, JSON.stringify(raw));
    assert.deepEqual(Object.fromEntries(Object.entries(a.extra).map(([k, v]) => [k, [...v].sort()])), Object.fromEntries(Object.entries(b.extra).map(([k, v]) => [k, [...v].sort()])), JSON.stringify(raw));
  }
});

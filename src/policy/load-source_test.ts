// The load block's credential, TLS and header options: compiled as written, contradictions refused with their path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicyText } from './parse.js';
import { policyYaml } from './testing.js';
import type { MigrationPolicy, ScalingPolicy } from './types.js';

const scaling = (load: string) =>
  policyYaml('ScalingPolicy', 'checkout', 'shop', { target: '{kind: Deployment, name: checkout}', load, thresholds: '{low: 100, high: 800}', replicas: '{min: 2, base: 3, max: 20}' });

test('prometheus: bearer token file, TLS and tenant header compile into load.auth', () => {
  const r = parsePolicyText(
    scaling(`{prometheus: {query: 'vector(1)', url: 'https://mimir.monitoring.svc/prometheus', bearerTokenFile: /var/run/secrets/tokens/mimir,
      tls: {caFile: /etc/ca/ca.crt, serverName: mimir.monitoring.svc}, headers: {X-Scope-OrgID: shop}}}`),
    'p.yaml',
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual((r.policies[0] as ScalingPolicy).load, {
    type: 'prometheus',
    query: 'vector(1)',
    url: 'https://mimir.monitoring.svc/prometheus',
    auth: { bearerTokenFile: '/var/run/secrets/tokens/mimir', tls: { caFile: '/etc/ca/ca.crt', serverName: 'mimir.monitoring.svc' }, headers: { 'X-Scope-OrgID': 'shop' } },
  });
});

test('http: basic auth with a client certificate compiles; a migration policy takes the same block', () => {
  const r = parsePolicyText(
    scaling(`{http: {url: 'https://lb.shop.svc/stats', valuePath: data.rps, basicAuth: {username: bob, passwordFile: /p}, tls: {certFile: /c, keyFile: /k}}}`),
    'p.yaml',
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual((r.policies[0] as ScalingPolicy).load.auth, { basicAuth: { username: 'bob', passwordFile: '/p' }, tls: { certFile: '/c', keyFile: '/k' } });
  const m = parsePolicyText(
    policyYaml('MigrationPolicy', 'move', 'shop', {
      source: '{kind: Deployment, name: old}',
      target: '{kind: Deployment, name: new, minReplicas: 1}',
      load: "{prometheus: {query: 'vector(1)', basicAuth: {usernameFile: /u, passwordFile: /p}}}",
      thresholds: '{low: 1, high: 2}',
    }),
    'm.yaml',
  );
  assert.deepEqual(m.errors, []);
  assert.deepEqual((m.policies[0] as MigrationPolicy).load.auth, { basicAuth: { usernameFile: '/u', passwordFile: '/p' } });
});

test('contradictions and dangerous headers are refused with their path, and header values are never quoted', () => {
  const cases: [string, RegExp][] = [
    [`{prometheus: {query: q, bearerTokenFile: /t, basicAuth: {username: a, passwordFile: /p}}}`, /spec\.load\.prometheus\.basicAuth: use either bearerTokenFile or basicAuth/],
    [`{prometheus: {query: q, basicAuth: {passwordFile: /p}}}`, /exactly one of username or usernameFile/],
    [`{prometheus: {query: q, basicAuth: {username: a, usernameFile: /u, passwordFile: /p}}}`, /exactly one of username or usernameFile/],
    [`{prometheus: {query: q, basicAuth: {username: a, password: inline-secret}}}`, /password/],
    [`{prometheus: {query: q, tls: {certFile: /c}}}`, /certFile and tls\.keyFile go together/],
    [`{prometheus: {query: q, bearerTokenFile: /t, headers: {Authorization: 'Bearer inline-secret'}}}`, /headers\.Authorization: header Authorization conflicts/],
    [`{http: {url: 'http://x/', headers: {Connection: close}}}`, /headers\.Connection: header Connection cannot be set/],
    [`{http: {url: 'http://x/', headers: {Host: evil}}}`, /cannot be set/],
    [`{http: {url: 'http://x/', headers: {'bad name': v}}}`, /not a valid header name/],
    [`{http: {url: 'http://x/', headers: {X-A: "line\\r\\nX-Injected: inline-secret"}}}`, /headers/],
    [`{http: {url: 'http://x/', headers: {X-A: a, x-a: b}}}`, /given twice/],
    [`{prometheus: {query: q, tls: {insecureSkipVerify: 'yes'}}}`, /insecureSkipVerify/],
  ];
  for (const [load, msg] of cases) {
    const r = parsePolicyText(scaling(load), 'p.yaml');
    assert.equal(r.policies.length, 0, load);
    const text = r.errors.map((e) => `${e.path}: ${e.message}`).join('\n');
    assert.match(text, msg, load);
    assert.ok(!text.includes('inline-secret'), `${load}: ${text}`);
  }
});

test('headers are bounded: at most 16, values at most 1024 characters', () => {
  const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`X-H${i}`, 'v']));
  assert.notEqual(parsePolicyText(scaling(JSON.stringify({ http: { url: 'http://x/', headers: many } })), 'p.yaml').errors.length, 0);
  assert.notEqual(parsePolicyText(scaling(JSON.stringify({ http: { url: 'http://x/', headers: { 'X-A': 'v'.repeat(1025) } } })), 'p.yaml').errors.length, 0);
  assert.deepEqual(parsePolicyText(scaling(JSON.stringify({ http: { url: 'http://x/', headers: { 'X-A': 'v'.repeat(1024) } } })), 'p.yaml').errors, []);
});

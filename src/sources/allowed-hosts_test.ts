import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostAllowed, urlHost } from './allowed-hosts.js';
import { LoadSourceRouter } from './router.js';
import { FakeMetricSource } from './fake.js';
import { SourceUnavailableError } from './errors.js';

test('hostAllowed: any, exact, suffix wildcard, IPv6 brackets, trailing dot', () => {
  assert.ok(hostAllowed('anything.example', undefined));
  assert.ok(hostAllowed('anything.example', ['*']));
  assert.ok(hostAllowed('127.0.0.1', ['127.0.0.1', 'localhost']));
  assert.ok(hostAllowed('prometheus.monitoring.svc', ['*.svc']));
  assert.ok(hostAllowed('Prometheus.Monitoring.SVC.', ['*.svc']));
  assert.ok(!hostAllowed('svc', ['*.svc']));
  assert.ok(!hostAllowed('evil-svc', ['*.svc']));
  assert.ok(!hostAllowed('lb-status.edge.svc', ['127.0.0.1', 'localhost']));
  assert.ok(hostAllowed('[::1]', ['::1']));
  assert.equal(urlHost('http://lb-status.edge.svc:9000/status'), 'lb-status.edge.svc');
  assert.equal(urlHost('not a url'), undefined);
});

test('the router refuses a disallowed host before the source is asked', async () => {
  const fake = new FakeMetricSource();
  const router = new LoadSourceRouter({ prometheus: fake, http: fake }, { prometheusUrl: 'http://127.0.0.1:9090', allowedHosts: ['127.0.0.1'] });
  await assert.rejects(
    router.query({ type: 'http', url: 'http://lb-status.edge.svc:9000/status', valuePath: 'data.rps' }),
    (e: unknown) => e instanceof SourceUnavailableError && /lb-status\.edge\.svc is not allowed by --allowed-source-hosts/.test((e as Error).message),
  );
  await assert.rejects(
    router.query({ type: 'prometheus', query: 'up', url: 'http://prom.monitoring.svc:9090' }),
    /prom\.monitoring\.svc is not allowed/,
  );
});

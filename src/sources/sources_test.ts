// Source-specific cases beyond the shared contract: Prometheus result shapes and errors, value paths, routing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceResponseError, SourceTimeoutError, SourceUnavailableError } from './errors.js';
import { followPath, HttpJsonSource, parseValuePath, ValuePathError } from './http-json.js';
import { PrometheusSource, trimTrailingSlashes } from './prometheus.js';
import { LoadSourceRouter } from './router.js';
import { startScriptedServer, type ScriptedServer } from './testing.js';

let s: ScriptedServer;
before(async () => {
  s = await startScriptedServer();
});
after(() => s.close());

const prom = () => new PrometheusSource({ defaultUrl: `${s.url}/` });
const q = (query: string) => ({ type: 'prometheus' as const, query });

test('prometheus: a scalar result is a value', async () => {
  assert.equal(await prom().query(q('scalar')), 7);
});

test('prometheus: many series name the count and how to fix it', async () => {
  await assert.rejects(prom().query(q('many')), (e: unknown) => e instanceof SourceResponseError && /returned 3 series; it must return one \(aggregate it, e\.g\. sum/.test(e.message));
});

test('prometheus: +Inf and matrix results are rejected', async () => {
  await assert.rejects(prom().query(q('inf')), /returned \+Inf, not a finite number/);
  await assert.rejects(prom().query(q('matrix')), /returned a matrix; it must return a scalar or an instant vector/);
});

test('prometheus: a rejected query carries Prometheus own error text and the query', async () => {
  await assert.rejects(prom().query(q('bad')), (e: unknown) => e instanceof SourceResponseError && e.message.includes('bad_data: 1:5: parse error') && e.message.includes('"bad"'));
});

test('prometheus: its own evaluation timeout is a SourceTimeoutError; a non-JSON 5xx is unavailable', async () => {
  await assert.rejects(prom().query(q('prom-timeout')), SourceTimeoutError);
  await assert.rejects(prom().query(q('html')), (e: unknown) => e instanceof SourceUnavailableError && /HTTP 502 with a body that is not JSON/.test(e.message));
});

test('prometheus: the policy URL overrides the default one', async () => {
  const p = new PrometheusSource({ defaultUrl: 'http://127.0.0.1:1' });
  assert.equal(await p.query({ type: 'prometheus', query: 'value', url: s.url }), 42.5);
});

test('value paths: dotted names and indexes', () => {
  assert.deepEqual(parseValuePath(''), []);
  assert.deepEqual(parseValuePath('data.rps'), ['data', 'rps']);
  assert.deepEqual(parseValuePath('items[0].value'), ['items', 0, 'value']);
  assert.deepEqual(parseValuePath('m[1][2]'), ['m', 1, 2]);
  for (const bad of ['a..b', 'a[x]', 'a[0', '.a', 'a.']) assert.throws(() => parseValuePath(bad), ValuePathError, bad);
  assert.equal(followPath({ a: [{ b: 3 }] }, ['a', 0, 'b']), 3);
  assert.equal(followPath({ a: [] }, ['a', 0]), undefined);
  // Inherited properties are not data.
  assert.equal(followPath({}, ['constructor']), undefined);
});

test('http json: index paths, numeric strings and a bare number body', async () => {
  const h = new HttpJsonSource();
  assert.equal(await h.query({ type: 'http', url: `${s.url}/json/items`, valuePath: 'items[0].value' }), 17);
  assert.equal(await h.query({ type: 'http', url: `${s.url}/json/items`, valuePath: 'items[1].value' }), 3);
  assert.equal(await h.query({ type: 'http', url: `${s.url}/json/number`, valuePath: '' }), 12);
});

test('http json: wrong types, non-JSON bodies and HTTP errors are clear', async () => {
  const h = new HttpJsonSource();
  const get = (path: string, valuePath = 'data.rps') => h.query({ type: 'http', url: `${s.url}${path}`, valuePath });
  await assert.rejects(get('/json/bool'), /value path "data\.rps" holds true, not a finite number/);
  await assert.rejects(get('/json/notjson'), /response is not JSON/);
  await assert.rejects(get('/json/500'), (e: unknown) => e instanceof SourceUnavailableError && /HTTP 500/.test(e.message));
  await assert.rejects(get('/json/404'), (e: unknown) => e instanceof SourceResponseError && /HTTP 404/.test(e.message));
  await assert.rejects(get('/json/value', 'data..rps'), (e: unknown) => e instanceof SourceResponseError && /invalid value path/.test(e.message));
});

test('the router sends each load type to its source', async () => {
  const r = LoadSourceRouter.create({ prometheusUrl: s.url });
  assert.equal(await r.query(q('value')), 42.5);
  assert.equal(await r.query({ type: 'http', url: `${s.url}/json/value`, valuePath: 'data.rps' }), 42.5);
});

test('prometheus: trailing slashes of the URL are trimmed in linear time (a regex took seconds on a run of slashes)', async () => {
  assert.equal(trimTrailingSlashes('http://p:9090///'), 'http://p:9090');
  assert.equal(trimTrailingSlashes('http://p:9090/api'), 'http://p:9090/api');
  assert.equal(trimTrailingSlashes('///'), '');
  const hostile = `http://p${'/'.repeat(1 << 18)}x`;
  const trailing = `${hostile}${'/'.repeat(1 << 18)}`;
  const started = performance.now();
  const kept = trimTrailingSlashes(hostile);
  const trimmed = trimTrailingSlashes(trailing);
  const ms = performance.now() - started;
  assert.equal(kept, hostile);
  assert.equal(trimmed, hostile);
  assert.ok(ms < 100, `${ms.toFixed(1)} ms`);
  assert.equal(await new PrometheusSource({ defaultUrl: `${s.url}////` }).query({ type: 'prometheus', query: 'value' }), 42.5);
});

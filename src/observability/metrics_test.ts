import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Histogram, Registry } from 'prom-client';
import { createMetrics } from './metrics.js';

test('buffered admission counts reach governor_admission_requests_total at scrape time, per label set', async () => {
  const m = createMetrics({ defaultMetrics: false });
  const b = m.admissionRequestsBuffer;
  b.inc(['mutate', 'CREATE', 'Deployment', 'patched', 'a']);
  b.inc(['mutate', 'CREATE', 'Deployment', 'patched', 'a']);
  b.inc(['mutate', 'CREATE', 'Deployment', 'patched', 'b']);
  b.inc(['validate', 'UPDATE', 'other', 'allowed', '']);
  const text = await m.registry.metrics();
  assert.match(text, /governor_admission_requests_total\{webhook="mutate",operation="CREATE",kind="Deployment",result="patched",policy="a"\} 2\n/);
  assert.match(text, /governor_admission_requests_total\{webhook="mutate",operation="CREATE",kind="Deployment",result="patched",policy="b"\} 1\n/);
  assert.match(text, /governor_admission_requests_total\{webhook="validate",operation="UPDATE",kind="other",result="allowed",policy=""\} 1\n/);
  // A second scrape adds only what came since the first.
  b.inc(['mutate', 'CREATE', 'Deployment', 'patched', 'a']);
  const again = await m.registry.metrics();
  assert.match(again, /policy="a"\} 3\n/);
  assert.match(again, /policy="b"\} 1\n/);
  const values = (await m.admissionRequests.get()).values;
  assert.equal(values.reduce((s, v) => s + v.value, 0), 5);
});

test('FastHistogram exposes what a prom-client Histogram fed the same observations exposes: buckets, +Inf, sum, count, after a reset too', async () => {
  const m = createMetrics({ defaultMetrics: false });
  const h = m.admissionDuration;
  const reference = new Histogram({ name: h.name, help: h.help, labelNames: ['webhook'], buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1], registers: [] });
  const both = (webhook: string, v: number) => {
    h.observe([webhook], v);
    if (Number.isFinite(v)) reference.observe({ webhook }, v);
  };
  both('mutate', 0.00005); // first bucket (le 0.0001)
  both('mutate', 0.0003); // le 0.0005
  both('mutate', 7); // above every bound: +Inf only
  h.observe(['mutate'], Number.NaN); // dropped (prom-client would throw)
  both('validate', 0.001); // exactly on a bound counts in it
  both('mutate', 0.0002);
  const series = async () => new Map((await h.get()).values.map((v) => [`${v.metricName}${JSON.stringify(v.labels)}`, v.value]));
  let s = await series();
  assert.equal(s.get('governor_admission_review_duration_seconds_bucket{"le":0.0001,"webhook":"mutate"}'), 1);
  assert.equal(s.get('governor_admission_review_duration_seconds_bucket{"le":0.00025,"webhook":"mutate"}'), 2);
  assert.equal(s.get('governor_admission_review_duration_seconds_bucket{"le":0.0005,"webhook":"mutate"}'), 3);
  assert.equal(s.get('governor_admission_review_duration_seconds_bucket{"le":0.1,"webhook":"mutate"}'), 3);
  assert.equal(s.get('governor_admission_review_duration_seconds_bucket{"le":"+Inf","webhook":"mutate"}'), 4);
  assert.equal(s.get('governor_admission_review_duration_seconds_count{"webhook":"mutate"}'), 4);
  assert.ok(Math.abs(s.get('governor_admission_review_duration_seconds_sum{"webhook":"mutate"}')! - 7.00055) < 1e-9);
  assert.equal(s.get('governor_admission_review_duration_seconds_bucket{"le":0.0005,"webhook":"validate"}'), 0);
  assert.equal(s.get('governor_admission_review_duration_seconds_bucket{"le":0.001,"webhook":"validate"}'), 1);
  // The same lines, in the same order, as prom-client's own Histogram: in get() and in the exposition text.
  const lines = (values: readonly { labels: object; value: number; metricName?: string }[]) => values.map(({ labels, value, metricName }) => ({ labels, value, metricName }));
  assert.deepEqual(lines((await h.get()).values), lines((await reference.get()).values));
  const text = await m.registry.metrics();
  const own = text.split('\n').filter((l) => l.includes(h.name)).join('\n');
  const ref = new Registry();
  ref.registerMetric(reference);
  assert.equal(own, (await ref.metrics()).trim());
  // Counts are cumulative across scrapes; reset() starts over.
  both('mutate', 0.00005);
  s = await series();
  assert.equal(s.get('governor_admission_review_duration_seconds_count{"webhook":"mutate"}'), 5);
  assert.equal(s.get('governor_admission_review_duration_seconds_bucket{"le":0.0001,"webhook":"mutate"}'), 2);
  m.registry.resetMetrics();
  h.observe(['mutate'], 0.02);
  s = await series();
  assert.equal(s.get('governor_admission_review_duration_seconds_count{"webhook":"mutate"}'), 1);
  assert.equal(s.get('governor_admission_review_duration_seconds_bucket{"le":0.025,"webhook":"mutate"}'), 1);
  assert.equal(s.get('governor_admission_review_duration_seconds_count{"webhook":"validate"}'), undefined);
  assert.match(await m.registry.metrics(), /governor_admission_review_duration_seconds_count\{webhook="mutate"\} 1\n/);
  // The HTTP duration histogram goes the same way.
  m.httpRequestDuration.observe(['webhook', 'mutate', '200'], 0.0007);
  assert.match(await m.registry.metrics(), /governor_http_request_duration_seconds_bucket\{le="0.001",server="webhook",route="mutate",code="200"\} 1\n/);
  assert.equal(m.registry.getSingleMetric('governor_http_request_duration_seconds'), m.httpRequestDuration);
});

test('process and Node.js metrics under the standard client-library names, and no gauge ending in _total', async () => {
  const m = createMetrics();
  const text = await m.registry.metrics();
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'process_open_fds', 'process_max_fds', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds', 'nodejs_active_handles']) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }
  assert.doesNotMatch(text, /governor_(process|nodejs)_/);
  const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => ({ name: x[1]!, type: x[2]! }));
  assert.deepEqual(types.filter((t) => t.type !== 'counter' && t.name.endsWith('_total')), []);
});

test('governor_build_info is 1, labelled with the package version, GOVERNOR_COMMIT and the Node.js release', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const saved = process.env.GOVERNOR_COMMIT;
  try {
    process.env.GOVERNOR_COMMIT = '0123abc';
    const text = await createMetrics({ defaultMetrics: false }).registry.metrics();
    assert.ok(text.includes(`governor_build_info{version="${version}",commit="0123abc",node="${process.version}"} 1\n`), text);
    delete process.env.GOVERNOR_COMMIT;
    const without = await createMetrics({ defaultMetrics: false }).registry.metrics();
    assert.ok(without.includes(`governor_build_info{version="${version}",commit="",node="${process.version}"} 1\n`));
  } finally {
    if (saved === undefined) delete process.env.GOVERNOR_COMMIT;
    else process.env.GOVERNOR_COMMIT = saved;
  }
});

test('counts under a prefix (CounterBuffer.under) land on the same series as full label sets', async () => {
  const m = createMetrics({ defaultMetrics: false });
  const b = m.admissionRequestsBuffer;
  const node = b.under(['validate', 'CREATE', 'Deployment', 'denied']);
  b.incUnder(node, 'a');
  b.incUnder(node, 'a');
  b.inc(['validate', 'CREATE', 'Deployment', 'denied', 'a']);
  b.incUnder(node, 'b');
  b.incUnder(b.under(['validate', 'CREATE', 'Deployment', 'warned']), 'a');
  const text = await m.registry.metrics();
  assert.match(text, /governor_admission_requests_total\{webhook="validate",operation="CREATE",kind="Deployment",result="denied",policy="a"\} 3\n/);
  assert.match(text, /governor_admission_requests_total\{webhook="validate",operation="CREATE",kind="Deployment",result="denied",policy="b"\} 1\n/);
  assert.match(text, /governor_admission_requests_total\{webhook="validate",operation="CREATE",kind="Deployment",result="warned",policy="a"\} 1\n/);
  assert.throws(() => b.under(['validate', 'CREATE']), /4 label values expected/);
});

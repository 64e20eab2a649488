import { test } from 'node:test';
import assert from 'node:assert/strict';
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

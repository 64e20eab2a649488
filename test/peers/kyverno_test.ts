// The Kyverno peer benches' own logic (bench/peers/): that the two policy sets say the same thing, that the seeded
// workloads are valid Deployments, and that the verdicts and the API server's histograms are read correctly.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { convertKyvernoPolicy } from '../../src/policy/kyverno.js';
import { GOVERNOR_POLICIES, KYVERNO_POLICIES, kyvernoDenied } from '../../bench/peers/kyverno-cli.js';
import { writeDeployments } from '../../bench/peers/review.js';
import { webhookBodies, webhookDeltas } from '../../bench/peers/kyverno-webhook.js';

const docsOf = (file: string) => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as any);
const mi = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1] ?? Number.NaN);

describe('Kyverno peer policies', () => {
  it('review-policies.yaml is what `governor convert kyverno` makes of the ClusterPolicies', () => {
    const kyverno = readdirSync(KYVERNO_POLICIES).filter((f) => f.endsWith('.yaml')).flatMap((f) => docsOf(join(KYVERNO_POLICIES, f)));
    assert.equal(kyverno.length, 3);
    const converted = new Map<string, any>();
    for (const k of kyverno) {
      const c = convertKyvernoPolicy(k);
      assert.deepEqual(c.refused, [], `${k.metadata.name}: refused`);
      for (const p of c.policies) converted.set(p.metadata.name, structuredClone(p.spec));
    }
    const ours = docsOf(GOVERNOR_POLICIES);
    assert.deepEqual(new Set(ours.map((p) => p.metadata.name)), new Set(converted.keys()));
    // The converter writes Kyverno's default mode (Audit) for a mutate-only rule; a mode changes nothing for defaults.
    for (const p of ours) assert.deepEqual(p.spec, converted.get(p.metadata.name), p.metadata.name);
  });
});

describe('seeded Deployments', () => {
  it('the webhook load is the sequence of the review bench, memory requests capped at the limit, some denied', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kg-peers-test-'));
    try {
      const files = writeDeployments(dir, 250, 7);
      const written = files.flatMap(docsOf);
      const bodies = webhookBodies(250, 7).map((b) => JSON.parse(b));
      assert.deepEqual(webhookBodies(250, 7), webhookBodies(250, 7), 'the same for a seed');
      assert.equal(bodies.length, 250);
      let capped = 0;
      let noLimit = 0;
      let noOwner = 0;
      bodies.forEach((d, i) => {
        const w = written[i];
        assert.equal(d.metadata.name, w.metadata.name);
        assert.deepEqual(d.metadata.labels, w.metadata.labels);
        if (!d.metadata.labels.owner) noOwner++;
        d.spec.template.spec.containers.forEach((c: any, j: number) => {
          const req = c.resources?.requests?.memory;
          const lim = c.resources?.limits?.memory;
          const was = w.spec.template.spec.containers[j].resources?.requests?.memory;
          if (!lim) noLimit++;
          if (req && lim) assert.ok(mi(req) <= mi(lim), `${d.metadata.name}/${c.name}: request ${req} above limit ${lim}`);
          if (req !== was) {
            capped++;
            assert.equal(req, lim, 'only a request above the limit changes, to the limit');
          }
        });
      });
      assert.ok(capped > 0, 'the sequence has requests above limits, which the API server would refuse');
      assert.ok(noLimit > 0 && noOwner > 0, `some objects must be denied (no limit: ${noLimit}, no owner: ${noOwner})`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reading the results', () => {
  it('counts each object Kyverno denied once, whatever the number of failed policies', () => {
    const out = [
      'policy peer-require-labels -> resource shop/Deployment/svc-94 failed:',
      '1 - owner-and-classification validation error: ... failed at path /metadata/labels/owner/',
      'policy peer-require-resources -> resource shop/Deployment/svc-94 failed:',
      'policy peer-require-resources -> resource shop/Deployment/svc-97 failed:',
      'skipped mutate policy peer-default-resources -> resource shop/Deployment/svc-98',
      'policy peer-default-resources applied to shop/Deployment/svc-99:',
      'pass: 3, fail: 3, warn: 0, error: 0, skip: 1 ',
    ].join('\n');
    assert.deepEqual([...kyvernoDenied(out)].sort(), ['shop/svc-94', 'shop/svc-97']);
  });

  it('takes per-webhook deltas of the API server histogram between two scrapes', () => {
    const scrape = (n: number, sum: number, le5: number) =>
      [
        `apiserver_admission_webhook_admission_duration_seconds_bucket{name="w",operation="CREATE",rejected="false",type="admit",le="0.005"} ${le5}`,
        `apiserver_admission_webhook_admission_duration_seconds_bucket{name="w",operation="CREATE",rejected="false",type="admit",le="0.025"} ${n}`,
        `apiserver_admission_webhook_admission_duration_seconds_bucket{name="w",operation="CREATE",rejected="false",type="admit",le="+Inf"} ${n}`,
        `apiserver_admission_webhook_admission_duration_seconds_sum{name="w",operation="CREATE",rejected="false",type="admit"} ${sum}`,
        `apiserver_admission_webhook_admission_duration_seconds_count{name="w",operation="CREATE",rejected="false",type="admit"} ${n}`,
        `apiserver_admission_webhook_admission_duration_seconds_count{name="idle",operation="CREATE",rejected="false",type="validating"} 4`,
      ].join('\n');
    const d = webhookDeltas(scrape(10, 0.1, 10), scrape(110, 1.1, 60));
    assert.equal(d.length, 1, 'a webhook not called in between is left out');
    assert.equal(d[0]!.webhook, 'w');
    assert.equal(d[0]!.count, 100);
    assert.ok(Math.abs(d[0]!.meanMs - 10) < 1e-9, `mean ${d[0]!.meanMs}`);
    assert.ok(d[0]!.p50Ms <= 5 + 1e-9 && d[0]!.p99Ms > 5 && d[0]!.p99Ms <= 25, `p50 ${d[0]!.p50Ms}, p99 ${d[0]!.p99Ms}`);
  });
});

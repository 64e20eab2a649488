// `governor hpa`: the generated YAML parses back into valid HPAs that land on any published value in one sync.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { generateHpaYaml, HpaUsageError } from './hpa.js';
import { runCli } from './cli_harness.js';
import { HpaReplay, validateHpaSpec, type HpaSpec } from '../scaling/hpa-replay.js';
import { HpaGenerationError } from '../scaling/hpa-manifest.js';
import { formatKubeVersion, MIN_KUBE_VERSION } from '../scaling/kube-version.js';
import { policyYaml } from '../policy/testing.js';

const repo = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'governor-hpa-'));
const CHECKOUT = join(repo, 'examples/policies/checkout-scaling.yaml');

function parse(text: string) {
  const docs = parseAllDocuments(text);
  assert.ok(Array.isArray(docs));
  for (const d of docs) assert.deepEqual(d.errors, []);
  return docs.map((d) => d.toJS());
}

/** The manifest as the replay reads it (what the API server would hold after defaulting nothing: all fields are set). */
function specOf(m: any): HpaSpec {
  const rules = (r: any) => ({
    stabilizationWindowSeconds: r.stabilizationWindowSeconds,
    selectPolicy: r.selectPolicy,
    policies: r.policies,
    ...(r.tolerance !== undefined ? { tolerance: Number(r.tolerance) } : {}),
  });
  return {
    minReplicas: m.spec.minReplicas,
    maxReplicas: m.spec.maxReplicas,
    targetAverageValue: Number(m.spec.metrics[0].external.target.averageValue),
    behavior: { scaleUp: rules(m.spec.behavior.scaleUp), scaleDown: rules(m.spec.behavior.scaleDown) },
  };
}

test('ScalingPolicy: one HPA with the External metric, policy selector, AverageValue 1, min/max and tracking behavior', async () => {
  const text = await generateHpaYaml([join(repo, 'examples/policies/checkout-scaling.yaml')], { kubeVersion: '1.35' });
  const [m, ...rest] = parse(text);
  assert.equal(rest.length, 0);
  assert.equal(m.apiVersion, 'autoscaling/v2');
  assert.equal(m.kind, 'HorizontalPodAutoscaler');
  assert.deepEqual(m.metadata, { name: 'checkout', namespace: 'shop', labels: { 'app.kubernetes.io/managed-by': 'kube-governor', 'governor.io/policy': 'checkout' } });
  assert.deepEqual(m.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'checkout' });
  assert.equal(m.spec.minReplicas, 2);
  assert.equal(m.spec.maxReplicas, 30); // the cap
  assert.deepEqual(m.spec.metrics, [
    {
      type: 'External',
      external: { metric: { name: 'desired-replicas', selector: { matchLabels: { 'governor.io/policy': 'checkout' } } }, target: { type: 'AverageValue', averageValue: '1' } },
    },
  ]);
  assert.equal(m.spec.behavior.scaleUp.stabilizationWindowSeconds, 0);
  assert.equal(m.spec.behavior.scaleDown.stabilizationWindowSeconds, 0);
  assert.equal(m.spec.behavior.scaleUp.tolerance, '0');
  assert.equal(m.spec.behavior.scaleDown.tolerance, '0');
  // comments explain the settings
  assert.match(text, /# HPA for ScalingPolicy shop\/checkout/);
  assert.match(text, /# No window: the default 300 s would keep the old size/);
  assert.match(text, /HPAConfigurableTolerance/);
  assert.match(text, /1\.35/);
  assert.deepEqual(validateHpaSpec(specOf(m)), []);
});

test('the generated behavior lands on any published value from any size in one sync (Kubernetes 1.35+)', async () => {
  const [m] = parse(await generateHpaYaml([join(repo, 'examples/policies/checkout-scaling.yaml')], { kubeVersion: '1.35' }));
  const spec = specOf(m);
  for (let from = 2; from <= 30; from++) {
    for (let to = 2; to <= 30; to++) {
      const h = new HpaReplay(spec, from);
      h.sync(0, from); // a first sync at the current size seeds the controller's history
      assert.equal(h.sync(15_000, to).replicas, to, `${from} → ${to}`);
      // and again right after (rate-limit periods still hold the previous change)
      assert.equal(h.sync(30_000, from).replicas, from, `${to} → ${from}`);
    }
  }
});

test('MigrationPolicy: two HPAs, source and target, each selecting its role', async () => {
  const docs = parse(await generateHpaYaml([join(repo, 'policies/migration/checkout-to-pool-b.yaml')]));
  assert.equal(docs.length, 2);
  const [s, t] = docs;
  assert.equal(s.metadata.name, 'checkout-to-pool-b-source');
  assert.equal(t.metadata.name, 'checkout-to-pool-b-target');
  assert.deepEqual(s.spec.metrics[0].external.metric.selector.matchLabels, { 'governor.io/policy': 'checkout-to-pool-b', 'governor.io/role': 'source' });
  assert.deepEqual(t.spec.metrics[0].external.metric.selector.matchLabels, { 'governor.io/policy': 'checkout-to-pool-b', 'governor.io/role': 'target' });
  assert.equal(s.spec.scaleTargetRef.name, 'checkout-a');
  assert.equal(t.spec.scaleTargetRef.name, 'checkout-b');
  assert.equal(s.spec.minReplicas, 1);
  assert.equal(s.spec.maxReplicas, 6); // spec.base
  assert.equal(t.spec.minReplicas, 1);
  assert.equal(t.spec.maxReplicas, 20);
  for (const d of docs) assert.deepEqual(validateHpaSpec(specOf(d)), []);
});

test('--hpa-tolerance none leaves the field out; a number sets it; nonsense is refused', async () => {
  const none = parse(await generateHpaYaml([CHECKOUT], { hpaTolerance: 'none', kubeVersion: '1.35' }))[0];
  assert.equal('tolerance' in none.spec.behavior.scaleUp, false);
  const five = parse(await generateHpaYaml([CHECKOUT], { hpaTolerance: '0.05', kubeVersion: '1.35' }))[0];
  assert.equal(five.spec.behavior.scaleDown.tolerance, '0.05');
  for (const bad of ['low', '-1', '']) await assert.rejects(generateHpaYaml([CHECKOUT], { hpaTolerance: bad, kubeVersion: '1.35' }), HpaUsageError);
});

test('--kube-version: by default the oldest supported version, so no tolerance field and a note why; the band it leaves is real', async () => {
  assert.equal(formatKubeVersion(MIN_KUBE_VERSION), '1.30');
  const text = await generateHpaYaml([CHECKOUT]);
  assert.equal(text, await generateHpaYaml([CHECKOUT], { kubeVersion: '1.30' }));
  const [m] = parse(text);
  assert.equal('tolerance' in m.spec.behavior.scaleUp, false);
  assert.equal('tolerance' in m.spec.behavior.scaleDown, false);
  assert.match(text, /# Note: behavior\.\*\.tolerance is left out for Kubernetes 1\.30 \(.*1\.33 behind the HPAConfigurableTolerance gate.*on by default from 1\.35\)/);
  // What the note warns of: without the field the controller's 10 % band swallows 20 -> 21, and 1.35's output does not.
  const banded = new HpaReplay(specOf(m), 20);
  banded.sync(0, 20);
  assert.equal(banded.sync(15_000, 21).replicas, 20);
  const [m35] = parse(await generateHpaYaml([CHECKOUT], { kubeVersion: 'v1.35.2' }));
  const exact = new HpaReplay(specOf(m35), 20);
  exact.sync(0, 20);
  assert.equal(exact.sync(15_000, 21).replicas, 21);
  // 1.33 and 1.34 have the field behind an alpha gate that is off by default: still left out unless asked for.
  for (const v of ['1.33', '1.34']) assert.equal('tolerance' in parse(await generateHpaYaml([CHECKOUT], { kubeVersion: v }))[0].spec.behavior.scaleUp, false, v);
});

test('--kube-version: a tolerance asked for where the field does not exist is refused, behind the alpha gate it is written with a warning', async () => {
  await assert.rejects(generateHpaYaml([CHECKOUT], { hpaTolerance: '0' }), (e: unknown) => e instanceof HpaUsageError && /Kubernetes 1\.30 has no behavior\.\*\.tolerance \(.*1\.33.*1\.35\)/.test((e as Error).message));
  await assert.rejects(generateHpaYaml([CHECKOUT], { hpaTolerance: '0', kubeVersion: '1.32' }), HpaUsageError);
  const warnings: string[] = [];
  const [m] = parse(await generateHpaYaml([CHECKOUT], { hpaTolerance: '0', kubeVersion: '1.33', warn: (w) => warnings.push(w) }));
  assert.equal(m.spec.behavior.scaleUp.tolerance, '0');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /1\.33: behavior\.\*\.tolerance needs the HPAConfigurableTolerance feature gate \(alpha, off by default\); without it the API server drops the field/);
  await generateHpaYaml([CHECKOUT], { hpaTolerance: '0', kubeVersion: '1.35', warn: (w) => warnings.push(w) });
  await generateHpaYaml([CHECKOUT], { hpaTolerance: 'none', warn: (w) => warnings.push(w) });
  assert.equal(warnings.length, 1);
  for (const v of ['1.29', '1', 'latest', '1.30.x', '2']) await assert.rejects(generateHpaYaml([CHECKOUT], { kubeVersion: v }), HpaUsageError, v);
  await assert.rejects(generateHpaYaml([CHECKOUT], { kubeVersion: '1.29' }), /governor supports Kubernetes 1\.30 and newer/);
});

test('the minimum Kubernetes version is one figure: --kube-version default, docs/install.md, the chart', () => {
  const min = formatKubeVersion(MIN_KUBE_VERSION);
  assert.match(readFileSync(join(repo, 'docs/install.md'), 'utf8'), new RegExp(`\\*\\*Kubernetes ${min.replace('.', '\\.')} or newer\\*\\*`));
  assert.match(readFileSync(join(repo, 'charts/kube-governor/Chart.yaml'), 'utf8'), new RegExp(`^kubeVersion: ">=${min.replace('.', '\\.')}\\.0-0"$`, 'm'));
});

test('capacity from a ScalingPolicy bounds the source HPA; --all covers every policy; a migration without base needs a flag', async () => {
  const all = parse(await generateHpaYaml([join(repo, 'examples/policies/migration-with-scaling-capacity.yaml')], { all: true }));
  assert.deepEqual(
    all.map((d) => d.metadata.name),
    ['checkout-a', 'checkout-to-pool-b-elastic-source', 'checkout-to-pool-b-elastic-target'],
  );
  assert.equal(all[1].spec.maxReplicas, 12); // max(base 6, the ScalingPolicy's cap 12)
  const file = join(dir, 'nobase.yaml');
  writeFileSync(
    file,
    policyYaml('MigrationPolicy', 'm', 'ns', { source: '{kind: Deployment, name: a}', target: '{kind: Deployment, name: b, maxReplicas: 8}', load: '{prometheus: {query: x}}', thresholds: '{low: 1, high: 2}' }),
  );
  await assert.rejects(generateHpaYaml([file]), (e: unknown) => e instanceof HpaGenerationError && /--source-max-replicas/.test((e as Error).message));
  const ok = parse(await generateHpaYaml([file], { sourceMaxReplicas: 9 }));
  assert.equal(ok[0].spec.maxReplicas, 9);
});

test('governor hpa: -o json gives the manifest (a v1 List for several); exit 2 for a bad flag value, a bad -o, a missing file, an unknown flag', async () => {
  const one = await runCli(['hpa', '-o', 'json', join(repo, 'examples/policies/checkout-scaling.yaml')]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(JSON.parse(one.stdout).kind, 'HorizontalPodAutoscaler');
  const two = JSON.parse((await runCli(['hpa', '--output=json', join(repo, 'policies/migration/checkout-to-pool-b.yaml')])).stdout);
  assert.deepEqual([two.kind, two.items.length], ['List', 2]);
  const gated = await runCli(['hpa', '--kube-version', '1.34', '--hpa-tolerance', '0', '-o', 'json', join(repo, 'examples/policies/checkout-scaling.yaml')]);
  assert.equal(gated.code, 0, gated.stderr);
  assert.equal(JSON.parse(gated.stdout).spec.behavior.scaleUp.tolerance, '0');
  assert.match(gated.stderr, /^warning: --hpa-tolerance on Kubernetes 1\.34: .*HPAConfigurableTolerance/);
  for (const args of [
    ['hpa', '--hpa-tolerance', 'low', join(repo, 'examples/policies/checkout-scaling.yaml')],
    ['hpa', '--hpa-tolerance', '0', join(repo, 'examples/policies/checkout-scaling.yaml')],
    ['hpa', '--kube-version', '1.29', join(repo, 'examples/policies/checkout-scaling.yaml')],
    ['hpa', '-o', 'table', join(repo, 'examples/policies/checkout-scaling.yaml')],
    ['hpa', join(repo, 'no-such-policy.yaml')],
    ['hpa', '--source-max-replicas', '0', join(repo, 'examples/policies/checkout-scaling.yaml')],
    ['hpa', '--name', 'nope', join(repo, 'examples/policies/checkout-scaling.yaml')],
    ['hpa', '--nope', join(repo, 'examples/policies/checkout-scaling.yaml')],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});

// `governor keda`: ScaledObjects on governor's external scaler with the same limits and behavior as `governor hpa`,
// scale to zero where the policy allows it, and the trigger metadata the scaler reads back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { generateKedaYaml, DEFAULT_SCALER_ADDRESS } from './keda.js';
import { generateHpaYaml, HpaUsageError } from './hpa.js';
import { runCli } from './cli_harness.js';
import { scalerTarget } from '../keda/scaler.js';
import { policyYaml } from '../policy/testing.js';

const repo = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'governor-keda-'));

function parse(text: string): any[] {
  const docs = parseAllDocuments(text);
  assert.ok(Array.isArray(docs));
  for (const d of docs) assert.deepEqual(d.errors, []);
  return docs.map((d) => d.toJS());
}

const zeroPolicy = join(dir, 'zero.yaml');
writeFileSync(
  zeroPolicy,
  policyYaml('ScalingPolicy', 'worker', 'jobs', {
    target: '{apiVersion: apps/v1, kind: Deployment, name: worker}',
    load: "{prometheus: {query: 'sum(queue_depth)'}}",
    thresholds: '{low: 1, high: 100}',
    replicas: '{min: 0, base: 0, max: 10, cap: 12}',
    interval: '15s',
  }),
);

test('ScalingPolicy: one ScaledObject, same target, max and behavior as the native HPA, trigger the scaler reads', async () => {
  const [so, ...rest] = parse(await generateKedaYaml([join(repo, 'examples/policies/checkout-scaling.yaml')]));
  assert.equal(rest.length, 0);
  const [hpa] = parse(await generateHpaYaml([join(repo, 'examples/policies/checkout-scaling.yaml')]));
  assert.equal(so.apiVersion, 'keda.sh/v1alpha1');
  assert.equal(so.kind, 'ScaledObject');
  assert.equal(so.metadata.namespace, hpa.metadata.namespace);
  assert.deepEqual(so.spec.scaleTargetRef, hpa.spec.scaleTargetRef);
  assert.equal(so.spec.maxReplicaCount, hpa.spec.maxReplicas);
  assert.equal(so.spec.minReplicaCount, hpa.spec.minReplicas);
  assert.deepEqual(so.spec.advanced.horizontalPodAutoscalerConfig.behavior, hpa.spec.behavior);
  const [t] = so.spec.triggers;
  assert.equal(t.type, 'external-push');
  assert.equal(t.metricType, 'AverageValue');
  assert.equal(t.metadata.scalerAddress, DEFAULT_SCALER_ADDRESS);
  assert.equal(t.authenticationRef, undefined);
  // The scaler reads back exactly the policy the HPA selects.
  const target = scalerTarget({ name: so.metadata.name, namespace: so.metadata.namespace, scalerMetadata: t.metadata });
  assert.deepEqual(target, { namespace: hpa.metadata.namespace, policy: hpa.spec.metrics[0].external.metric.selector.matchLabels['governor.io/policy'] });
});

test('replicas.min 0 gives minReplicaCount 0 (KEDA scales to zero), and pollingInterval is the policy interval', async () => {
  const [so] = parse(await generateKedaYaml([zeroPolicy], { trigger: 'external', cooldownPeriod: 60 }));
  assert.equal(so.spec.minReplicaCount, 0);
  assert.equal(so.spec.maxReplicaCount, 12);
  assert.equal(so.spec.pollingInterval, 15);
  assert.equal(so.spec.cooldownPeriod, 60);
  // A new ScaledObject that may reach zero waits a cooldown first (KEDA's initialCooldownPeriod defaults to 0).
  assert.equal(so.spec.initialCooldownPeriod, 60);
  assert.equal(so.spec.triggers[0].type, 'external');
  // the native HPA cannot go to 0 and says so
  assert.match(await generateHpaYaml([zeroPolicy]), /HPAScaleToZero/);
});

test('MigrationPolicy: one ScaledObject per role; the source may reach 0; TLS adds enableTLS and the authentication', async () => {
  const docs = parse(await generateKedaYaml([join(repo, 'policies/migration')], { tlsAuthentication: 'ClusterTriggerAuthentication/kube-governor-keda', scalerAddress: 'governor.gov:9443' }));
  assert.deepEqual(docs.map((d) => d.metadata.labels['governor.io/role']), ['source', 'target']);
  const [source, target] = docs;
  assert.equal(source.spec.minReplicaCount, 0);
  assert.ok(target.spec.minReplicaCount >= 1);
  // The source may reach zero: not at its ScaledObject's creation, before a cooldown (default 300 s) has passed.
  assert.equal(source.spec.initialCooldownPeriod, 300);
  assert.equal(target.spec.initialCooldownPeriod, undefined);
  for (const d of docs) {
    const t = d.spec.triggers[0];
    assert.equal(t.metadata.enableTLS, 'true');
    assert.equal(t.metadata.scalerAddress, 'governor.gov:9443');
    assert.deepEqual(t.authenticationRef, { name: 'kube-governor-keda', kind: 'ClusterTriggerAuthentication' });
    assert.equal(scalerTarget({ name: d.metadata.name, namespace: d.metadata.namespace, scalerMetadata: t.metadata }).role, d.metadata.labels['governor.io/role']);
  }
  assert.notEqual(source.spec.scaleTargetRef.name, target.spec.scaleTargetRef.name);
});

test('bad flags are usage errors naming the flag', async () => {
  await assert.rejects(generateKedaYaml([zeroPolicy], { trigger: 'pull' }), (e: Error) => e instanceof HpaUsageError && /--trigger/.test(e.message));
  await assert.rejects(generateKedaYaml([zeroPolicy], { scalerAddress: 'no-port' }), /--scaler-address/);
  await assert.rejects(generateKedaYaml([zeroPolicy], { tlsAuthentication: 'Secret/x' }), /--tls-authentication/);
  await assert.rejects(generateKedaYaml([zeroPolicy], { hpaTolerance: '-1' }), /--hpa-tolerance/);
});

test('governor keda: -o json; a bad --trigger, -o or missing file is exit 2', async () => {
  const ok = await runCli(['keda', '-o', 'json', zeroPolicy]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).kind, 'ScaledObject');
  for (const args of [
    ['keda', '--trigger', 'pull', zeroPolicy],
    ['keda', '-o', 'wide', zeroPolicy],
    ['keda', '--scaler-address', 'no-port', zeroPolicy],
    ['keda', join(dir, 'missing.yaml')],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});

test('--kube-version applies to the behavior KEDA hands to its HPA as it does to governor hpa', async () => {
  const policy = join(repo, 'examples/policies/checkout-scaling.yaml');
  for (const kubeVersion of ['1.30', '1.35']) {
    const [so] = parse(await generateKedaYaml([policy], { kubeVersion }));
    const [hpa] = parse(await generateHpaYaml([policy], { kubeVersion }));
    assert.deepEqual(so.spec.advanced.horizontalPodAutoscalerConfig.behavior, hpa.spec.behavior, kubeVersion);
    assert.equal('tolerance' in so.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp, kubeVersion === '1.35');
  }
  assert.match(await generateKedaYaml([policy]), /# Note: behavior\.\*\.tolerance is left out for Kubernetes 1\.30/);
  await assert.rejects(generateKedaYaml([policy], { hpaTolerance: '0.05' }), (e: unknown) => e instanceof HpaUsageError && /Kubernetes 1\.30 has no behavior\.\*\.tolerance/.test((e as Error).message));
  const warnings: string[] = [];
  await generateKedaYaml([policy], { hpaTolerance: '0.05', kubeVersion: '1.33', warn: (w) => warnings.push(w) });
  assert.equal(warnings.length, 1);
});

test('--initial-cooldown-period sets the creation grace of ScaledObjects that may reach zero, 0 included; others have none', async () => {
  const [zero] = parse(await generateKedaYaml([zeroPolicy], { cooldownPeriod: 60, initialCooldownPeriod: 0 }));
  assert.equal(zero.spec.initialCooldownPeriod, 0);
  assert.equal(zero.spec.cooldownPeriod, 60);
  const [source] = parse(await generateKedaYaml([join(repo, 'policies/migration')], { initialCooldownPeriod: 45 }));
  assert.equal(source.spec.initialCooldownPeriod, 45);
  assert.equal(source.spec.cooldownPeriod, 300);
  const others = parse(await generateKedaYaml([join(repo, 'policies/scaling')], { all: true }));
  assert.ok(others.length > 0 && others.every((d) => d.spec.minReplicaCount > 0 ? d.spec.initialCooldownPeriod === undefined : d.spec.initialCooldownPeriod === 300));
});

// The Helm chart (charts/kube-governor): `helm lint` passes, its defaults render the same objects as the kustomize
// base (so the two install paths never drift), and each value does what docs/install.md says.
//
// Parity is generic: both renders are reduced to a map of kind/namespace/name -> object without the labels and
// annotations that only say who manages it (helm's labels, kustomize's part-of), and compared object by object; the
// YAML files a ConfigMap carries (the registration templates the server applies) are compared as objects too. When
// manifests/base changes (a new object, a rule, a probe), the test names the object that differs; port the change to
// the chart's templates, or list an intended difference in BASE_ONLY / CHART_ONLY with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { CHART_DIR, helmBinary, localImageArgs } from '../lib/helm.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const chart = CHART_DIR;
const RELEASE = 'kube-governor';
const NAMESPACE = 'kube-governor';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: any };

/** Objects of the base with no chart counterpart, and why. */
const BASE_ONLY: Record<string, string> = {
  // helm does not own the namespace it installs into (`helm install --create-namespace`, or created beforehand).
  'Namespace//kube-governor': 'the release namespace',
};
/** Objects of the chart (defaults) with no base counterpart, and why. */
const CHART_ONLY: Record<string, string> = {
  // The base's first certificate run is a manual `kubectl create job --from=cronjob/…`; helm runs it at install.
  'Job/kube-governor/kube-governor-certs-1': 'first governor certs run of revision 1',
};

/** kubectl from the control-plane cache (hack/build-control-plane.sh), $KUBECTL, or PATH. */
function findKubectl(): string {
  if (process.env.KUBECTL) return process.env.KUBECTL;
  const cache = process.env.KUBE_GOVERNOR_CACHE ?? join(homedir(), '.cache', 'kube-governor');
  const cached = existsSync(cache)
    ? readdirSync(cache).filter((d) => d.startsWith('k8s-v')).sort().reverse().map((d) => join(cache, d, 'kubectl')).find(existsSync)
    : undefined;
  return cached ?? 'kubectl';
}

const helm = helmBinary();

function parse(text: string, source: string): Obj[] {
  return parseAllDocuments(text).flatMap((d, i) => {
    assert.equal(d.errors.length, 0, `${source} document ${i + 1}: ${d.errors.map((e) => e.message).join('; ')}`);
    const o = d.toJS();
    return o ? [o as Obj] : [];
  });
}

/** `helm template` with --set pairs; throws with helm's message when rendering fails. */
function render(set: Record<string, string> = {}, opts: { release?: string; namespace?: string; setJson?: Record<string, unknown> } = {}): Obj[] {
  const args = ['template', opts.release ?? RELEASE, chart, '--namespace', opts.namespace ?? NAMESPACE];
  for (const [k, v] of Object.entries(set)) args.push('--set', `${k}=${v}`);
  for (const [k, v] of Object.entries(opts.setJson ?? {})) args.push('--set-json', `${k}=${JSON.stringify(v)}`);
  return parse(execFileSync(helm, args, { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] }), 'helm template');
}

/** Rendering that must fail: returns helm's error output. */
function renderError(setJson: Record<string, unknown>): string {
  const args = ['template', RELEASE, chart, '--namespace', NAMESPACE];
  for (const [k, v] of Object.entries(setJson)) args.push('--set-json', `${k}=${JSON.stringify(v)}`);
  const r = spawnSync(helm, args, { encoding: 'utf8', timeout: 60_000 });
  assert.notEqual(r.status, 0, `helm template accepted ${JSON.stringify(setJson)}`);
  return r.stderr;
}

/** The objects the server registers itself: the YAML files of the ConfigMap <name>-registration, parsed. */
function registered(objs: Obj[]): Obj[] {
  const cm = objs.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-registration'));
  assert.equal(cm.length, 1, 'one registration ConfigMap');
  return Object.entries<string>(cm[0].data ?? {}).flatMap(([file, text]) => parse(text, file));
}

const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const byKey = (objs: Obj[]) => new Map(objs.map((o) => [key(o), o]));
const one = (objs: Obj[], kind: string, name?: string): Obj => {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0];
};
const container = (objs: Obj[]) => one(objs, 'Deployment').spec.template.spec.containers[0];

/** Drops what only records who manages an object: metadata labels/annotations at every level, and helm's instance
 * label inside selectors (the chart selects by release too, as charts do). */
function comparable(value: unknown, inMetadata = false): unknown {
  if (Array.isArray(value)) return value.map((v) => comparable(v));
  const o = value as Obj | null;
  if (o?.kind === 'ConfigMap' && o.data && !inMetadata) {
    // YAML files in a ConfigMap: compared as the objects they hold, not as text (comments and layout differ).
    const data = Object.fromEntries(
      Object.entries<string>(o.data).map(([f, text]) => [f, /\.ya?ml$/.test(f) ? parse(text, f).map((d) => comparable(d)) : text]),
    );
    const { data: _text, ...rest } = o;
    return { ...(comparable(rest) as object), data };
  }
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (inMetadata && (k === 'labels' || k === 'annotations')) continue;
    if (k === 'app.kubernetes.io/instance') continue;
    out[k] = comparable(v, k === 'metadata');
  }
  return out;
}

test('helm lint passes for the defaults and for the other certificate mode', () => {
  const lint = (...args: string[]) => spawnSync(helm, ['lint', '--strict', chart, ...args], { encoding: 'utf8', timeout: 60_000 });
  for (const r of [lint(), lint('--set', 'certificates.mode=cert-manager,adapter.enabled=false', '--set', 'serviceMonitor.enabled=true')]) {
    assert.equal(r.status, 0, `helm lint failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

test('the chart with its defaults renders the objects of manifests/base, object for object', () => {
  const base = byKey(parse(execFileSync(findKubectl(), ['kustomize', join(repo, 'manifests', 'base')], { encoding: 'utf8', timeout: 60_000 }), 'kubectl kustomize'));
  const charted = byKey(render());

  const missing = [...base.keys()].filter((k) => !charted.has(k) && !(k in BASE_ONLY));
  const extra = [...charted.keys()].filter((k) => !base.has(k) && !(k in CHART_ONLY));
  assert.deepEqual(missing, [], 'objects of manifests/base the chart does not render (port them to charts/kube-governor/templates)');
  assert.deepEqual(extra, [], 'objects the chart renders that manifests/base lacks');
  for (const k of Object.keys(BASE_ONLY)) assert.ok(base.has(k) && !charted.has(k), `BASE_ONLY lists ${k}, which is no longer base-only`);
  for (const k of Object.keys(CHART_ONLY)) assert.ok(charted.has(k) && !base.has(k), `CHART_ONLY lists ${k}, which is no longer chart-only`);

  // Every shared object is equal once management labels are dropped: names, RBAC rules and bindings, webhook rules
  // and settings, the APIService spec, CRD schemas, the Deployment's pod spec, the Service's ports.
  for (const [k, b] of base) {
    const c = charted.get(k);
    if (c) assert.deepEqual(comparable(c), comparable(b), `${k} differs between the chart (actual) and manifests/base (expected)`);
  }

  // Webhook configurations and the APIService are the server's to register, never helm's objects.
  assert.deepEqual([...charted.values()].filter((o) => /WebhookConfiguration$|^APIService$/.test(o.kind)).map(key), []);
  // The chart labels everything it renders as a helm release does.
  for (const o of charted.values()) {
    assert.equal(o.metadata.labels?.['app.kubernetes.io/managed-by'], 'Helm', `${key(o)} lacks the managed-by label`);
    assert.equal(o.metadata.labels?.['app.kubernetes.io/part-of'], 'kube-governor', `${key(o)} lacks the part-of label`);
  }
  // CRDs survive `helm uninstall` by default: deleting them deletes every policy object.
  for (const o of charted.values()) {
    if (o.kind === 'CustomResourceDefinition') assert.equal(o.metadata.annotations?.['helm.sh/resource-policy'], 'keep', key(o));
  }
  // The first certificate run is the CronJob's pod, so the two never differ in what they run.
  assert.deepEqual(
    charted.get('Job/kube-governor/kube-governor-certs-1')!.spec.template,
    charted.get('CronJob/kube-governor/kube-governor-certs')!.spec.jobTemplate.spec.template,
  );
});

test('the CRDs in the chart are the files of manifests/base/crds', () => {
  const files = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
  const baseDir = join(repo, 'manifests', 'base', 'crds');
  const chartDir = join(chart, 'files', 'crds');
  assert.deepEqual(files(chartDir), files(baseDir), 'copy manifests/base/crds/*.yaml to charts/kube-governor/files/crds/');
  for (const f of files(baseDir)) {
    assert.equal(readFileSync(join(chartDir, f), 'utf8'), readFileSync(join(baseDir, f), 'utf8'), `charts/kube-governor/files/crds/${f} differs from manifests/base/crds/${f}: copy it`);
  }
});

test('image values: a local tag with pullPolicy Never reaches the server and the certificate pods', () => {
  const args = localImageArgs('localhost:5000/team/kube-governor:test');
  assert.deepEqual(args, ['--set', 'image.repository=localhost:5000/team/kube-governor', '--set', 'image.tag=test', '--set', 'image.pullPolicy=Never']);
  const objs = render(Object.fromEntries(args.filter((_, i) => i % 2 === 1).map((a) => a.split(/=(.*)/s).slice(0, 2) as [string, string])));
  const pods = [one(objs, 'Deployment').spec.template.spec, one(objs, 'CronJob').spec.jobTemplate.spec.template.spec, one(objs, 'Job').spec.template.spec];
  for (const spec of pods) {
    assert.equal(spec.containers[0].image, 'localhost:5000/team/kube-governor:test');
    assert.equal(spec.containers[0].imagePullPolicy, 'Never');
  }
  assert.equal(container(render({ 'image.digest': 'sha256:' + 'a'.repeat(64) })).image, `kube-governor@sha256:${'a'.repeat(64)}`);
  assert.equal(container(render()).image, 'kube-governor:0.1.0', 'the tag defaults to the appVersion');
});

test('heap values: the old and young generation sizes reach NODE_OPTIONS; a young generation out of range is refused', () => {
  const env = (objs: Obj[]) => Object.fromEntries(container(objs).env.map((e: { name: string; value: string }) => [e.name, e.value]));
  assert.equal(env(render()).NODE_OPTIONS, '--max-old-space-size=192 --max-semi-space-size=8');
  assert.equal(env(render({ maxOldSpaceSizeMiB: '320', maxSemiSpaceSizeMiB: '16' })).NODE_OPTIONS, '--max-old-space-size=320 --max-semi-space-size=16');
  assert.match(renderError({ maxSemiSpaceSizeMiB: 0 }), /maxSemiSpaceSizeMiB/);
});

test('another release name and namespace: every reference follows, so certs, Service and webhooks agree', () => {
  const objs = render({}, { release: 'gov', namespace: 'platform' });
  const name = 'gov-kube-governor';
  const svc = one(objs, 'Service');
  assert.equal(svc.metadata.name, name);
  assert.equal(svc.metadata.namespace, 'platform');
  const reg = registered(objs);
  assert.deepEqual(one(reg, 'APIService').spec.service, { name, namespace: 'platform', port: 443 });
  for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
    const cfg = one(reg, kind, name);
    for (const w of cfg.webhooks) {
      assert.deepEqual({ ...w.clientConfig.service, path: undefined }, { name, namespace: 'platform', path: undefined, port: 8443 });
      const excluded = w.namespaceSelector.matchExpressions[0].values;
      assert.deepEqual(excluded, ['kube-system', 'kube-public', 'kube-node-lease', 'platform']);
    }
  }
  const args = container(objs).args;
  assert.ok(args.includes(`--service-name=${name}`) && args.includes('--service-namespace=platform'), args.join(' '));
  // The server's registrations are owned by (garbage-collected with) this release's ClusterRole, which it may read.
  assert.ok(args.includes(`--registration-owner=${name}`), args.join(' '));
  const serverRules = one(objs, 'ClusterRole', name).rules;
  assert.ok(serverRules.some((r: any) => r.resources.includes('clusterroles') && r.resourceNames.join() === name && r.verbs.join() === 'get'));
  assert.ok(serverRules.some((r: any) => r.resources.includes('validatingwebhookconfigurations') && r.resourceNames.join() === name));
  assert.equal(one(objs, 'Deployment').spec.template.spec.volumes.find((v: any) => v.name === 'registration').configMap.name, `${name}-registration`);
  const certsArgs = one(objs, 'CronJob').spec.jobTemplate.spec.template.spec.containers[0].args;
  for (const a of ['--namespace=platform', `--service-name=${name}`, `--secret=${name}-tls`, `--ca-secret=${name}-ca`, `--webhook-configuration=${name}`]) {
    assert.ok(certsArgs.includes(a), `governor certs lacks ${a}: ${certsArgs.join(' ')}`);
  }
  const certsRole = one(objs, 'Role', `${name}-certs`);
  assert.deepEqual(certsRole.rules[0].resourceNames, [`${name}-tls`, `${name}-ca`]);
  assert.deepEqual(one(objs, 'ClusterRole', `${name}-certs`).rules[1].resourceNames, [name]);
  assert.equal(one(objs, 'Deployment').spec.template.spec.volumes.find((v: any) => v.name === 'tls').secret.secretName, `${name}-tls`);
  for (const b of objs.filter((o) => o.kind.endsWith('Binding'))) {
    for (const s of b.subjects) if (s.kind === 'ServiceAccount' && s.name !== 'horizontal-pod-autoscaler') assert.equal(s.namespace, 'platform', key(b));
  }
});

test('webhook values: failure policies, timeouts and extra excluded namespaces; the release namespace stays excluded', () => {
  const objs = render({}, { setJson: { webhook: { enabled: true, excludedNamespaces: ['kube-system', 'monitoring'], mutate: { failurePolicy: 'Ignore', timeoutSeconds: 2 }, validate: { failurePolicy: 'Ignore', timeoutSeconds: 4 }, protectMigrationSource: { failurePolicy: 'Fail', timeoutSeconds: 6 } } } });
  const reg = registered(objs);
  const hooks = [...one(reg, 'MutatingWebhookConfiguration').webhooks, ...one(reg, 'ValidatingWebhookConfiguration').webhooks];
  const settings = Object.fromEntries(hooks.map((w: any) => [w.name, [w.failurePolicy, w.timeoutSeconds]]));
  assert.deepEqual(settings, { 'mutate.governor.io': ['Ignore', 2], 'validate.governor.io': ['Ignore', 4], 'protect-migration-source.governor.io': ['Fail', 6], 'validate-policies.governor.io': ['Fail', 5] });
  for (const w of hooks) assert.deepEqual(w.namespaceSelector.matchExpressions[0].values, ['kube-system', 'monitoring', NAMESPACE]);
  // The schema refuses what the API server would refuse at install time.
  assert.match(renderError({ 'webhook.validate.failurePolicy': 'Sometimes' }), /failurePolicy/);
  assert.match(renderError({ 'webhook.validate.timeoutSeconds': 31 }), /timeoutSeconds/);
});

test('certificates.mode=cert-manager: a Certificate writes the serving Secret, whose ca.crt the server registers', () => {
  const objs = render({ 'certificates.mode': 'cert-manager' });
  assert.equal(objs.filter((o) => o.kind === 'CronJob' || o.kind === 'Job').length, 0, 'no governor certs job');
  assert.equal(objs.filter((o) => o.metadata.name.endsWith('-certs')).length, 0, 'no RBAC or ServiceAccount for governor certs');
  const serving = one(objs, 'Certificate', 'kube-governor-serving');
  assert.equal(serving.spec.secretName, 'kube-governor-tls');
  assert.ok(serving.spec.dnsNames.includes('kube-governor.kube-governor.svc'), 'the name the API server verifies');
  assert.deepEqual(serving.spec.issuerRef, { kind: 'Issuer', name: 'kube-governor-ca', group: 'cert-manager.io' });
  assert.equal(one(objs, 'Certificate', 'kube-governor-ca').spec.isCA, true);
  // No cainjector: the server publishes the ca.crt of the Secret the Certificate writes.
  assert.ok(container(objs).args.includes('--ca-bundle-file=/etc/governor/tls/ca.crt'));
  assert.equal(one(objs, 'Deployment').spec.template.spec.volumes.find((v: any) => v.name === 'tls').secret.secretName, serving.spec.secretName);
  // An existing issuer: only the serving Certificate, signed by it.
  const own = render({ 'certificates.mode': 'cert-manager' }, { setJson: { 'certificates.certManager.issuerRef': { kind: 'ClusterIssuer', name: 'corp-ca', group: 'cert-manager.io' } } });
  assert.deepEqual(own.filter((o) => o.apiVersion.startsWith('cert-manager.io/')).map(key), ['Certificate/kube-governor/kube-governor-serving']);
  assert.deepEqual(one(own, 'Certificate').spec.issuerRef, { kind: 'ClusterIssuer', name: 'corp-ca', group: 'cert-manager.io' });
  for (const o of [...objs, ...registered(objs)]) assert.equal(o.metadata.annotations?.['cert-manager.io/inject-ca-from'], undefined, key(o));
});

test('adapter and webhook switches: the objects and the flags of the other component go away', () => {
  const noAdapter = render({ 'certificates.mode': 'cert-manager', 'adapter.enabled': 'false' });
  assert.deepEqual(registered(noAdapter).map((o) => o.kind), ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);
  assert.ok(container(noAdapter).args.includes('--registration-manifests=/etc/governor/registration/webhooks.yaml'));
  assert.ok(!one(noAdapter, 'ClusterRole', 'kube-governor').rules.some((r: any) => r.resources.includes('apiservices')), 'no APIService rights');
  assert.equal(noAdapter.filter((o) => o.metadata.name.includes('external-metrics')).length, 0, 'no HPA reader RBAC');
  assert.ok(container(noAdapter).args.includes('--no-adapter'));
  assert.equal(container(noAdapter).readinessProbe.httpGet.port, 'metrics', 'readiness is the pod aggregate on the metrics port, whichever component runs');

  const noWebhook = render({ 'certificates.mode': 'cert-manager', 'webhook.enabled': 'false' });
  assert.deepEqual(registered(noWebhook).map((o) => o.kind), ['APIService']);
  assert.ok(container(noWebhook).args.includes('--registration-manifests=/etc/governor/registration/apiservice.yaml'));
  assert.ok(!one(noWebhook, 'ClusterRole', 'kube-governor').rules.some((r: any) => r.resources.includes('validatingwebhookconfigurations')), 'no webhook rights');
  assert.ok(container(noWebhook).args.includes('--no-webhook'));
  assert.equal(container(noWebhook).readinessProbe.httpGet.port, 'metrics');

  assert.match(renderError({ 'adapter.enabled': false, 'webhook.enabled': false, 'certificates.mode': 'cert-manager' }), /nothing would be served/);
  // governor certs leaves objects that are not registered to the server: one component with self-managed certificates.
  assert.ok(container(render({ 'adapter.enabled': 'false' })).args.includes('--no-adapter'));
  assert.match(renderError({ 'certificates.mode': 'vault' }), /certificates|mode/);
});

test('policies: inline files become the ConfigMap, or an existing ConfigMap is mounted and none is created', () => {
  const text = 'apiVersion: governor.io/v1alpha1\nkind: ScalingPolicy\nmetadata:\n  name: checkout\n';
  const inline = render({}, { setJson: { 'policies.files': { 'checkout.yaml': text } } });
  assert.deepEqual(one(inline, 'ConfigMap', 'kube-governor-policies').data, { 'checkout.yaml': text });

  const existing = render({ 'policies.existingConfigMap': 'team-policies' });
  assert.deepEqual(existing.filter((o) => o.kind === 'ConfigMap').map((o) => o.metadata.name), ['kube-governor-registration'], 'no policies ConfigMap');
  assert.equal(one(existing, 'Deployment').spec.template.spec.volumes.find((v: any) => v.name === 'policies').configMap.name, 'team-policies');
});

test('server values: replicas, resources, Prometheus URL, allowed hosts, PodDisruptionBudget, topology spread, ServiceMonitor', () => {
  const objs = render(
    { prometheusUrl: 'http://prometheus-operated.monitoring.svc:9090', 'podDisruptionBudget.minAvailable': '2' },
    { setJson: { replicaCount: 3, allowedSourceHosts: ['*.monitoring.svc', 'prom.example.com'], resources: { requests: { cpu: '200m', memory: '256Mi' }, limits: { cpu: '2', memory: '512Mi' } }, 'serviceMonitor.enabled': true, 'serviceMonitor.labels': { release: 'prom' } } },
  );
  const d = one(objs, 'Deployment');
  assert.equal(d.spec.replicas, 3);
  assert.deepEqual(container(objs).resources, { requests: { cpu: '200m', memory: '256Mi' }, limits: { cpu: '2', memory: '512Mi' } });
  assert.ok(container(objs).args.includes('--prometheus-url=http://prometheus-operated.monitoring.svc:9090'));
  assert.ok(container(objs).args.includes('--allowed-source-hosts=*.monitoring.svc,prom.example.com'));
  assert.equal(one(objs, 'PodDisruptionBudget').spec.minAvailable, 2);
  const sm = one(objs, 'ServiceMonitor');
  assert.equal(sm.metadata.labels?.release, 'prom');
  assert.deepEqual(sm.spec.endpoints.map((e: any) => e.port), ['metrics']);
  // The ServiceMonitor selects the Service (by its labels), not the pods.
  const svcLabels = one(objs, 'Service').metadata.labels!;
  for (const [k, v] of Object.entries<string>(sm.spec.selector.matchLabels)) assert.equal(svcLabels[k], v, `Service label ${k}`);
  assert.deepEqual(sm.spec.namespaceSelector.matchNames, [NAMESPACE]);
  // The topology spread and the PDB select exactly the Deployment's pods.
  const podLabels = d.spec.template.metadata.labels;
  assert.deepEqual(d.spec.template.spec.topologySpreadConstraints[0].labelSelector.matchLabels, d.spec.selector.matchLabels);
  for (const [k, v] of Object.entries<string>(d.spec.selector.matchLabels)) assert.equal(podLabels[k], v);
  assert.deepEqual(one(objs, 'PodDisruptionBudget').spec.selector.matchLabels, d.spec.selector.matchLabels);
  assert.deepEqual(one(objs, 'Service').spec.selector, d.spec.selector.matchLabels);

  const off = render({}, { setJson: { 'podDisruptionBudget.enabled': false, 'topologySpread.enabled': false } });
  assert.equal(off.filter((o) => o.kind === 'PodDisruptionBudget').length, 0);
  assert.equal(one(off, 'Deployment').spec.template.spec.topologySpreadConstraints, undefined);
  assert.equal(render().filter((o) => o.kind === 'ServiceMonitor').length, 0, 'no ServiceMonitor by default (needs prometheus-operator CRDs)');
  assert.equal(render({}, { setJson: { 'crds.install': false } }).filter((o) => o.kind === 'CustomResourceDefinition').length, 0);
});

test('next to KEDA: the chart (adapter off, scaler on) renders what manifests/overlays/keda does, and neither takes the APIService', () => {
  const overlay = byKey(parse(execFileSync(findKubectl(), ['kustomize', join(repo, 'manifests', 'overlays', 'keda')], { encoding: 'utf8', timeout: 60_000 }), 'kubectl kustomize'));
  const charted = byKey(render({ 'adapter.enabled': 'false', 'keda.scaler.enabled': 'true' }));
  // The server's objects agree; RBAC may not: the chart also drops the adapter's rules when it is off, the overlay keeps
  // the base's (more than needed, never less), and the chart leaves the unused APIService template out of its ConfigMap.
  for (const k of [...overlay.keys()].filter((k) => charted.has(k) && /^(Deployment|Service|NetworkPolicy)\//.test(k))) {
    assert.deepEqual(comparable(charted.get(k)), comparable(overlay.get(k)), `${k} differs between the chart (actual) and manifests/overlays/keda (expected)`);
  }
  for (const objs of [overlay, charted]) {
    const d = [...objs.values()].find((o) => o.kind === 'Deployment')!;
    const c = d.spec.template.spec.containers[0];
    assert.ok(c.args.includes('--no-adapter'));
    assert.ok(c.args.includes('--keda-scaler-port=9090'));
    const reg = c.args.find((a: string) => a.startsWith('--registration-manifests='));
    assert.equal(reg, '--registration-manifests=/etc/governor/registration/webhooks.yaml', 'the APIService stays KEDA\'s: not registered');
    assert.ok(c.ports.some((p: any) => p.name === 'keda' && p.containerPort === 9090));
    const svc = [...objs.values()].find((o) => o.kind === 'Service')!;
    assert.ok(svc.spec.ports.some((p: any) => p.name === 'keda' && p.port === 9090 && p.targetPort === 'keda'));
    const np = [...objs.values()].find((o) => o.kind === 'NetworkPolicy')!;
    const rule = np.spec.ingress.find((r: any) => r.ports.some((p: any) => p.port === 'keda'));
    assert.deepEqual(rule.from[0].namespaceSelector.matchExpressions[0].values, ['keda']);
  }
  // TLS on the scaler is one value.
  const tls = [...byKey(render({ 'adapter.enabled': 'false', 'keda.scaler.enabled': 'true', 'keda.scaler.tls': 'true' })).values()].find((o) => o.kind === 'Deployment')!;
  assert.ok(tls.spec.template.spec.containers[0].args.includes('--keda-scaler-tls'));
  // Off by default: no scaler port anywhere.
  const d = [...byKey(render()).values()].find((o) => o.kind === 'Deployment')!;
  assert.ok(!d.spec.template.spec.containers[0].args.some((a: string) => a.startsWith('--keda-scaler')));
});

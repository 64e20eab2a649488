// Invariants of manifests/: least-privilege RBAC, hardened containers, webhooks that cannot take the cluster down,
// an APIService without insecureSkipTLSVerify, and names that agree with the code. Also renders both kustomizations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { APISERVICE_NAME, WEBHOOK_CONFIGURATION_NAME } from '../../src/kube/cabundle.js';
import { TLS_SECRET } from '../../src/cli/certs.js';
import { POLICY_GROUP, POLICY_PLURALS, POLICY_VERSION } from '../../src/policy/load-cluster.js';
import { DESIRED_REPLICAS_METRIC } from '../../src/scaling/contract.js';
import { WORKLOAD_CONTROLLER_USERNAMES } from '../../src/governance/workload-controllers.js';
import { STATUS_LEASE_NAME } from '../../src/status/wiring.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const manifests = join(repo, 'manifests');
const NAMESPACE = 'kube-governor';
const MUST_EXCLUDE = ['kube-system', 'kube-public', 'kube-node-lease', NAMESPACE];
// `governor serve` defaults (src/cli/serve.ts) that the local overlay points the apiserver at.
const SERVE_SECURE_PORT = 6443;
const SERVE_WEBHOOK_PORT = 8443;

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: any }; [k: string]: any };

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(n) ? [p] : [];
  });
}

function parseYaml(text: string, source: string): Obj[] {
  return parseAllDocuments(text).flatMap((d, i) => {
    assert.equal(d.errors.length, 0, `${source} document ${i + 1}: ${d.errors.map((e) => e.message).join('; ')}`);
    const o = d.toJS();
    return o ? [o as Obj] : [];
  });
}

/** Templates the server registers itself (kustomization.yaml puts them in a ConfigMap; never applied as objects). */
const TEMPLATE_FILES = ['webhooks.yaml', 'apiservice.yaml'];
const REGISTRATION_CONFIGMAP = 'kube-governor-registration';

/** Every object in the base, straight from the files (kustomization.yaml and the registration templates excluded). */
function baseObjects(): Obj[] {
  return yamlFiles(join(manifests, 'base'))
    .filter((f) => !f.endsWith('kustomization.yaml') && !TEMPLATE_FILES.some((t) => f === join(manifests, 'base', t)))
    .flatMap((f) => parseYaml(readFileSync(f, 'utf8'), relative(repo, f)));
}

function templateObjects(): Obj[] {
  return TEMPLATE_FILES.flatMap((t) => parseYaml(readFileSync(join(manifests, 'base', t), 'utf8'), `manifests/base/${t}`));
}

const id = (o: Obj) => `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
const find = (objs: Obj[], kind: string, name?: string) => objs.filter((o) => o.kind === kind && (!name || o.metadata.name === name));

/** Pod specs of every workload kind, with where they came from. */
function podSpecs(objs: Obj[]): { where: string; spec: any }[] {
  return objs.flatMap((o) => {
    const spec =
      o.kind === 'Pod' ? o.spec
      : o.kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template?.spec
      : ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(o.kind) ? o.spec?.template?.spec
      : undefined;
    return spec ? [{ where: id(o), spec }] : [];
  });
}

function checkRbac(objs: Obj[]): void {
  const roles = objs.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole');
  assert.ok(roles.length >= 3, 'expected the server, HPA reader and certs roles');
  for (const r of roles) {
    for (const [i, rule] of (r.rules ?? []).entries()) {
      for (const field of ['verbs', 'resources', 'apiGroups', 'resourceNames', 'nonResourceURLs']) {
        for (const v of rule[field] ?? []) assert.ok(!String(v).includes('*'), `${id(r)} rules[${i}].${field} has a wildcard: ${v}`);
      }
      assert.ok((rule.verbs ?? []).length > 0, `${id(r)} rules[${i}] has no verbs`);
      // Escalation verbs never belong to kube-governor.
      for (const v of ['escalate', 'bind', 'impersonate']) assert.ok(!rule.verbs.includes(v), `${id(r)} grants ${v}`);
    }
  }
  const serverRules = find(objs, 'ClusterRole', 'kube-governor')[0]?.rules ?? [];
  // Self-registration: exactly our objects by name, never delete (uninstall is the garbage collector's).
  const registration: Record<string, string[]> = {
    mutatingwebhookconfigurations: [WEBHOOK_CONFIGURATION_NAME],
    validatingwebhookconfigurations: [WEBHOOK_CONFIGURATION_NAME],
    apiservices: [APISERVICE_NAME],
    clusterroles: ['kube-governor'],
  };
  for (const [resource, names] of Object.entries(registration)) {
    const rules = serverRules.filter((r: any) => (r.resources ?? []).includes(resource));
    assert.ok(rules.length, `the server cannot read ${resource}`);
    for (const r of rules) {
      assert.deepEqual(r.resourceNames, names, `server rule on ${resource} is limited to ${names}`);
      assert.ok(!r.verbs.includes('delete') && !r.verbs.includes('deletecollection') && !r.verbs.includes('list'), `server rule on ${resource}: ${r.verbs}`);
      assert.ok(r.verbs.every((v: string) => (resource === 'clusterroles' ? ['get'] : ['get', 'create', 'patch', 'update']).includes(v)), `server rule on ${resource}: ${r.verbs}`);
    }
  }
  assert.ok(!serverRules.some((r: any) => (r.resources ?? []).includes('secrets')), 'the server must not read Secrets through its ClusterRole');
  for (const plural of POLICY_PLURALS) {
    assert.ok(
      serverRules.some((r: any) => r.apiGroups.includes(POLICY_GROUP) && r.resources.includes(plural) && ['list', 'watch'].every((v) => r.verbs.includes(v))),
      `the server may not list/watch ${plural}.${POLICY_GROUP}`,
    );
  }
  // Policy status: patch on each status subresource and nothing more on it; the status Lease in our namespace only.
  for (const plural of POLICY_PLURALS) {
    const verbs = serverRules.filter((r: any) => r.apiGroups.includes(POLICY_GROUP) && r.resources.includes(`${plural}/status`)).flatMap((r: any) => r.verbs);
    assert.deepEqual(verbs, ['patch'], `${plural}/status verbs`);
  }
  assert.ok(!serverRules.some((r: any) => r.apiGroups.includes('coordination.k8s.io')), 'Leases are granted in our namespace only, not cluster-wide');
  const leaseRules = objs.filter((o) => o.kind === 'Role' && o.metadata.namespace === NAMESPACE).flatMap((r) => r.rules).filter((r: any) => r.apiGroups.includes('coordination.k8s.io'));
  assert.deepEqual(leaseRules.flatMap((r: any) => r.verbs).sort(), ['create', 'get', 'update']);
  assert.ok(leaseRules.filter((r: any) => r.verbs.some((v: string) => v !== 'create')).every((r: any) => JSON.stringify(r.resourceNames) === JSON.stringify([STATUS_LEASE_NAME])), 'get/update only on the status Lease');
  const bindings = objs.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding');
  const bound = (roleKind: string, role: string, ns?: string) =>
    bindings.some(
      (b) =>
        b.roleRef.kind === roleKind &&
        b.roleRef.name === role &&
        (!ns || b.metadata.namespace === ns) &&
        b.subjects.some((s: any) => s.kind === 'ServiceAccount' && s.name === 'kube-governor' && s.namespace === NAMESPACE),
    );
  assert.ok(bound('ClusterRole', 'system:auth-delegator'), 'ServiceAccount kube-governor needs system:auth-delegator');
  assert.ok(bound('Role', 'extension-apiserver-authentication-reader', 'kube-system'), 'ServiceAccount kube-governor needs extension-apiserver-authentication-reader in kube-system');
  const hpaRole = objs.find(
    (o) => o.kind === 'ClusterRole' && o.rules?.some((r: any) => r.apiGroups.includes('external.metrics.k8s.io') && r.resources.includes(DESIRED_REPLICAS_METRIC)),
  );
  assert.ok(hpaRole, `no ClusterRole grants external.metrics.k8s.io ${DESIRED_REPLICAS_METRIC}`);
  assert.ok(
    bindings.some((b) => b.roleRef.name === hpaRole.metadata.name && b.subjects.some((s: any) => s.name === 'horizontal-pod-autoscaler' && s.namespace === 'kube-system')),
    'the HPA controller is not bound to the external metrics reader',
  );
}

function checkContainers(objs: Obj[]): void {
  const pods = podSpecs(objs);
  assert.ok(pods.length >= 1, 'no workloads found');
  for (const { where, spec } of pods) {
    const podSc = spec.securityContext ?? {};
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      const sc = c.securityContext ?? {};
      const at = `${where} container ${c.name}`;
      assert.equal(sc.runAsNonRoot ?? podSc.runAsNonRoot, true, `${at}: runAsNonRoot`);
      const uid = sc.runAsUser ?? podSc.runAsUser;
      assert.ok(uid === undefined || uid > 0, `${at}: runAsUser ${uid}`);
      assert.equal(sc.readOnlyRootFilesystem, true, `${at}: readOnlyRootFilesystem`);
      assert.equal(sc.allowPrivilegeEscalation, false, `${at}: allowPrivilegeEscalation`);
      assert.ok(sc.privileged !== true, `${at}: privileged`);
      assert.ok((sc.capabilities?.drop ?? []).includes('ALL'), `${at}: capabilities.drop ALL`);
      assert.ok(!(sc.capabilities?.add ?? []).length, `${at}: capabilities.add`);
      assert.equal((sc.seccompProfile ?? podSc.seccompProfile)?.type, 'RuntimeDefault', `${at}: seccompProfile RuntimeDefault`);
      for (const k of ['cpu', 'memory']) {
        assert.ok(c.resources?.requests?.[k], `${at}: resources.requests.${k}`);
        assert.ok(c.resources?.limits?.[k], `${at}: resources.limits.${k}`);
      }
    }
    assert.ok(!spec.hostNetwork && !spec.hostPID && !spec.hostIPC, `${where}: host namespaces`);
    assert.ok(!(spec.volumes ?? []).some((v: any) => v.hostPath), `${where}: hostPath volume`);
  }
}

function servicePorts(objs: Obj[], ref: { name: string; namespace: string }): number[] {
  const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === ref.name && o.metadata.namespace === ref.namespace);
  assert.ok(svc, `Service ${ref.namespace}/${ref.name} is missing`);
  return (svc.spec.ports ?? []).map((p: any) => p.port);
}

function checkWebhooks(objs: Obj[]): void {
  const configs = objs.filter((o) => o.kind === 'MutatingWebhookConfiguration' || o.kind === 'ValidatingWebhookConfiguration');
  assert.deepEqual(configs.map((c) => `${c.kind}/${c.metadata.name}`).sort(), [
    `MutatingWebhookConfiguration/${WEBHOOK_CONFIGURATION_NAME}`,
    `ValidatingWebhookConfiguration/${WEBHOOK_CONFIGURATION_NAME}`,
  ]);
  for (const c of configs) {
    for (const w of c.webhooks) {
      const at = `${c.kind} ${w.name}`;
      assert.ok(['None', 'NoneOnDryRun'].includes(w.sideEffects), `${at}: sideEffects ${w.sideEffects}`);
      assert.ok(Number.isInteger(w.timeoutSeconds) && w.timeoutSeconds >= 1 && w.timeoutSeconds <= 10, `${at}: timeoutSeconds ${w.timeoutSeconds}`);
      assert.ok(['Fail', 'Ignore'].includes(w.failurePolicy), `${at}: failurePolicy must be explicit`);
      assert.deepEqual(w.admissionReviewVersions, ['v1'], `${at}: admissionReviewVersions`);
      assert.equal(w.matchPolicy, 'Equivalent', `${at}: matchPolicy`);
      if (c.kind === 'MutatingWebhookConfiguration') assert.equal(w.reinvocationPolicy, 'IfNeeded', `${at}: reinvocationPolicy`);
      const excluded = (w.namespaceSelector?.matchExpressions ?? [])
        .filter((e: any) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn')
        .flatMap((e: any) => e.values);
      for (const ns of MUST_EXCLUDE) assert.ok(excluded.includes(ns), `${at}: namespaceSelector does not exclude ${ns}`);
      // Labels on an object must not be a way around enforcement.
      assert.equal(w.objectSelector, undefined, `${at}: objectSelector (opt-in only; none in the base)`);
      assert.equal(w.clientConfig.url, undefined, `${at}: clientConfig.url`);
      const svc = w.clientConfig.service;
      assert.equal(svc.namespace, NAMESPACE);
      assert.ok(servicePorts(objs, svc).includes(svc.port), `${at}: port ${svc.port} is not a port of Service ${svc.name}`);
      assert.ok(['/mutate', '/validate'].includes(svc.path), `${at}: path ${svc.path}`);
      assert.equal(w.clientConfig.caBundle, undefined, `${at}: caBundle belongs to governor certs, not to the manifests`);
      for (const m of w.matchConditions ?? []) {
        // An ownerReference is written by the creator: skipping on it lets a forged owner bypass validation.
        assert.doesNotMatch(m.expression, /ownerReferences/, `${at}: matchCondition ${m.name} trusts ownerReferences`);
        const names = [...m.expression.matchAll(/'([^']+)'/g)].map((x: RegExpMatchArray) => x[1]).sort();
        assert.match(m.expression, /^!\(request\.userInfo\.username in \[/, `${at}: matchCondition ${m.name} skips by requester`);
        assert.deepEqual(names, [...WORKLOAD_CONTROLLER_USERNAMES].sort(), `${at}: matchCondition ${m.name} names the workload controllers of src/governance/workload-controllers.ts`);
      }
      // Webhooks on what the workload controllers create skip them (scaling fast path); webhooks on other kinds need not.
      const controllerMade = ['pods', 'replicasets', 'jobs'];
      if (w.rules.some((r: any) => r.operations.includes('CREATE') && r.resources.some((x: string) => controllerMade.includes(x)))) {
        assert.ok(w.matchConditions?.length, `${at}: webhooks on Pods, ReplicaSets and Jobs skip the workload controllers (scaling fast path)`);
      }
      for (const r of w.rules) {
        for (const f of ['apiGroups', 'apiVersions', 'resources', 'operations']) {
          assert.ok(!r[f].includes('*'), `${at}: wildcard in rules.${f}`);
        }
      }
    }
  }
}

function checkApiService(objs: Obj[]): void {
  const [a, ...more] = find(objs, 'APIService');
  assert.ok(a && more.length === 0, 'exactly one APIService');
  assert.equal(a.metadata.name, APISERVICE_NAME);
  assert.equal(a.spec.group, 'external.metrics.k8s.io');
  assert.equal(a.spec.version, 'v1beta1');
  assert.equal(a.spec.groupPriorityMinimum, 100);
  assert.equal(a.spec.versionPriority, 100);
  assert.ok(!a.spec.insecureSkipTLSVerify, 'insecureSkipTLSVerify');
  assert.equal(a.spec.caBundle, undefined, 'caBundle belongs to governor certs');
  assert.ok(servicePorts(objs, a.spec.service).includes(a.spec.service.port ?? 443), 'APIService port is not a Service port');
}

test('every YAML file under manifests/ parses, and every object has a kind and a name', () => {
  const files = yamlFiles(manifests);
  assert.ok(files.length >= 10);
  for (const f of files) {
    for (const o of parseYaml(readFileSync(f, 'utf8'), relative(repo, f))) {
      assert.ok(o.apiVersion && o.kind, `${relative(repo, f)}: apiVersion and kind`);
      if (o.kind !== 'Kustomization') assert.ok(o.metadata?.name, `${relative(repo, f)}: metadata.name`);
    }
  }
});

test('RBAC is least privilege: no wildcards, delegated auth bound, HPA reads only desired-replicas', () => checkRbac(baseObjects()));

test('every container runs non-root, read-only, without privilege escalation or capabilities, with requests and limits', () =>
  checkContainers(baseObjects()));

test('webhooks exclude system namespaces and our own, with short timeouts, explicit failure policies and sideEffects', () =>
  checkWebhooks([...templateObjects(), ...baseObjects()]));

test('the APIService is verified by caBundle, never insecureSkipTLSVerify', () => checkApiService([...templateObjects(), ...baseObjects()]));

test('registration templates are registered by the server, which mounts them, never applied by kustomize', () => {
  const k = parseYaml(readFileSync(join(manifests, 'base', 'kustomization.yaml'), 'utf8'), 'kustomization.yaml')[0]!;
  for (const t of TEMPLATE_FILES) assert.ok(!k.resources.includes(t), `${t} must not be a kustomize resource (a Fail webhook before the server serves)`);
  const gen = k.configMapGenerator.find((g: any) => g.name === REGISTRATION_CONFIGMAP);
  assert.deepEqual(gen.files, TEMPLATE_FILES);
  assert.equal(gen.options?.disableNameSuffixHash, true, 'a fixed name: an upgrade updates the mounted files in place');
  const [d] = find(baseObjects(), 'Deployment', 'kube-governor');
  const spec = d!.spec.template.spec;
  const vol = spec.volumes.find((v: any) => v.configMap?.name === REGISTRATION_CONFIGMAP);
  assert.ok(vol, 'the Deployment mounts the registration templates');
  const c = spec.containers[0];
  const mount = c.volumeMounts.find((m: any) => m.name === vol.name);
  const arg = (flag: string) => c.args.find((a: string) => a.startsWith(`--${flag}=`))?.slice(flag.length + 3);
  assert.deepEqual(arg('registration-manifests')?.split(','), TEMPLATE_FILES.map((t) => `${mount.mountPath}/${t}`));
  const tls = c.volumeMounts.find((m: any) => m.name === spec.volumes.find((v: any) => v.secret?.secretName === TLS_SECRET).name);
  assert.equal(arg('ca-bundle-file'), `${tls.mountPath}/ca.crt`, 'caBundle comes from the serving Secret governor certs writes');
  assert.ok(find(baseObjects(), 'ClusterRole', arg('registration-owner')).length === 1, 'the owner of the registrations is a ClusterRole of the install');
});

test('the server Deployment is highly available, probed, and mounts what governor certs and the policies provide', () => {
  const objs = baseObjects();
  const [d] = find(objs, 'Deployment', 'kube-governor');
  assert.ok(d);
  assert.ok(d.spec.replicas >= 2);
  const pdb = find(objs, 'PodDisruptionBudget')[0];
  assert.ok(pdb && pdb.spec.minAvailable === 1);
  assert.deepEqual(pdb.spec.selector.matchLabels, d.spec.selector.matchLabels);
  const svc = find(objs, 'Service', 'kube-governor')[0]!;
  for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(d.spec.template.metadata.labels[k], v, `Service selector ${k}`);
  const c = d.spec.template.spec.containers[0];
  assert.ok(c.readinessProbe?.httpGet && c.livenessProbe?.httpGet, 'readiness and liveness probes');
  // The aggregated readiness (servers, namespace cache, policies) on the plain-HTTP metrics port; liveness apart from it.
  const metricsPort = c.ports.find((p: any) => p.name === 'metrics');
  assert.ok(metricsPort && c.args.includes(`--metrics-port=${metricsPort.containerPort}`));
  assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'metrics' });
  assert.deepEqual(c.livenessProbe.httpGet, { path: '/livez', port: 'metrics' });
  const named = new Set(c.ports.map((p: any) => p.name));
  for (const p of svc.spec.ports) assert.ok(named.has(p.targetPort), `Service targetPort ${p.targetPort} is not a container port`);
  const volumes = d.spec.template.spec.volumes;
  assert.equal(volumes.find((v: any) => v.secret)?.secret.secretName, TLS_SECRET);
  const cm = volumes.find((v: any) => v.configMap)?.configMap.name;
  assert.ok(find(objs, 'ConfigMap', cm).length === 1, `ConfigMap ${cm} is not in the base`);
  assert.ok(c.volumeMounts.some((m: any) => m.mountPath === '/etc/governor/policies' && m.readOnly));
  assert.ok(c.args.includes(`--tls-cert-file=/etc/governor/tls/tls.crt`));
  assert.ok(d.spec.template.spec.serviceAccountName === 'kube-governor');
});

/**
 * The NetworkPolicy selects exactly the server pods, isolates their ingress, and opens each container port to one
 * kind of caller: the API server ports only to address blocks (it is not a pod; no pod or namespace selector may open
 * them to in-cluster workloads), metrics only to selected namespaces.
 */
function checkNetworkPolicy(objs: Obj[]) {
  const [np] = find(objs, 'NetworkPolicy', 'kube-governor');
  assert.ok(np, 'a NetworkPolicy for the server');
  const [d] = find(objs, 'Deployment', 'kube-governor');
  const podLabels = d?.spec.template.metadata.labels ?? { 'app.kubernetes.io/name': 'kube-governor', 'app.kubernetes.io/component': 'server' };
  for (const [k, v] of Object.entries(np.spec.podSelector.matchLabels)) assert.equal(podLabels[k], v, `podSelector ${k}`);
  assert.deepEqual(np.spec.policyTypes, ['Ingress']);
  const rules: any[] = np.spec.ingress;
  const portsOf = (r: any) => r.ports.map((p: any) => p.port).sort();
  const apiserver = rules.find((r) => portsOf(r).includes('webhook'));
  assert.ok(apiserver, 'a rule for the webhook port');
  assert.deepEqual(portsOf(apiserver), ['https', 'webhook']);
  assert.ok(apiserver.from.length > 0 && apiserver.from.every((f: any) => f.ipBlock && !f.podSelector && !f.namespaceSelector), 'the API server ports open to address blocks only');
  const metrics = rules.find((r) => portsOf(r).includes('metrics'));
  assert.ok(metrics?.from.length > 0 && metrics.from.every((f: any) => f.namespaceSelector), 'metrics open to selected namespaces only');
  assert.equal(rules.length, 2, 'no other rule');
  if (d) {
    const named = new Set(d.spec.template.spec.containers[0].ports.map((p: any) => p.name));
    for (const r of rules) for (const p of r.ports) assert.ok(named.has(p.port), `NetworkPolicy port ${p.port} is not a container port`);
  }
}

test('a NetworkPolicy admits the API server ports from address blocks only and metrics from monitoring namespaces', () => checkNetworkPolicy(baseObjects()));

test('the CRDs are the governor.io kinds the server loads', () => {
  const crds = find(baseObjects(), 'CustomResourceDefinition');
  assert.deepEqual(crds.map((c) => c.spec.names.plural).sort(), [...POLICY_PLURALS].sort());
  for (const c of crds) {
    assert.equal(c.spec.group, POLICY_GROUP);
    assert.deepEqual(c.spec.versions.map((v: any) => v.name), [POLICY_VERSION]);
    assert.equal(c.spec.scope, c.spec.names.kind === 'GovernancePolicy' ? 'Cluster' : 'Namespaced');
  }
});

/** kubectl from the control-plane cache (hack/build-control-plane.sh), $KUBECTL, or PATH. */
function findKubectl(): string | undefined {
  if (process.env.KUBECTL) return process.env.KUBECTL;
  const cache = process.env.KUBE_GOVERNOR_CACHE ?? join(homedir(), '.cache', 'kube-governor');
  const cached = existsSync(cache)
    ? readdirSync(cache).filter((d) => d.startsWith('k8s-v')).sort().reverse().map((d) => join(cache, d, 'kubectl')).find(existsSync)
    : undefined;
  if (cached) return cached;
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return 'kubectl';
  } catch {
    return undefined;
  }
}

const kubectl = findKubectl();
const noKubectl = !kubectl && process.env.CI !== 'true' ? 'no kubectl (hack/build-control-plane.sh builds one); required under CI' : false;

test('kubectl kustomize renders the base and the local overlay, and the rendered objects keep every invariant', { skip: noKubectl }, () => {
  assert.ok(kubectl, 'kubectl not found: run hack/build-control-plane.sh');
  const render = (dir: string) => parseYaml(execFileSync(kubectl, ['kustomize', join(manifests, dir)], { encoding: 'utf8' }), dir);
  const base = render('base');
  assert.equal(base.length, baseObjects().length + 1, 'kustomize renders every object of the base, and the registration ConfigMap');
  checkRbac(base);
  checkContainers(base);
  assert.equal(base.filter((o) => /WebhookConfiguration$|^APIService$/.test(o.kind)).length, 0, 'the base applies no webhook configuration or APIService');
  const cm = find(base, 'ConfigMap', REGISTRATION_CONFIGMAP)[0]!;
  for (const t of TEMPLATE_FILES) assert.equal(cm.data[t], readFileSync(join(manifests, 'base', t), 'utf8'), `ConfigMap ${REGISTRATION_CONFIGMAP} carries ${t} as is`);
  const templates = TEMPLATE_FILES.flatMap((t) => parseYaml(cm.data[t], t));
  checkWebhooks([...templates, ...base]);
  checkApiService([...templates, ...base]);
  checkNetworkPolicy(base);

  const local = render('overlays/local');
  assert.deepEqual(podSpecs(local), [], 'the local overlay runs no pods (no kubelet)');
  assert.equal(find(local, 'PodDisruptionBudget').length, 0);
  const svc = find(local, 'Service', 'kube-governor')[0]!;
  assert.equal(svc.spec.type, 'ExternalName');
  assert.equal(svc.spec.externalName, 'localhost');
  assert.equal(svc.spec.clusterIP, undefined);
  // For an ExternalName Service the apiserver dials the port the APIService / webhook names: the e2e registers copies
  // of the templates that name its host ports; the Service keeps the `governor serve` defaults for anyone else.
  assert.deepEqual(svc.spec.ports.map((p: any) => p.port).sort(), [SERVE_SECURE_PORT, SERVE_WEBHOOK_PORT, 9100].sort());
  assert.equal(local.filter((o) => /WebhookConfiguration$|^APIService$/.test(o.kind)).length, 0);
  checkRbac(local);
  // Everything but the pods is applied as users apply it.
  const kept = new Set(local.map(id));
  for (const o of base) if (!['Deployment', 'PodDisruptionBudget', 'CronJob'].includes(o.kind)) assert.ok(kept.has(id(o)), `${id(o)} missing from the local overlay`);
});

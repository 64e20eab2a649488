// What the in-cluster e2e suite (E2E_TARGET=kind) applies, as text and files: the kustomization over manifests/base
// (image override, the suite's policies in the policies ConfigMap, the load endpoint admitted by
// --allowed-source-hosts), the loadgen Deployment + Service that serves the load, and the ScalingPolicy reading it.
// No cluster I/O here, so test/integration can check the same objects and scripts without a cluster.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../harness/cluster.js';

export const BASE_DIR = join(REPO_ROOT, 'manifests', 'base');
/**
 * The image under test: on kind, what hack/kind-e2e.sh builds from the Dockerfile and loads into the kind node; on the
 * local node cluster (E2E_TARGET=local), what podman builds (hack/image-test.sh) and `local-cluster.sh load-image`
 * imports into the node's containerd.
 */
export const E2E_IMAGE = process.env.E2E_IMAGE || ((process.env.E2E_TARGET ?? 'local') === 'local' ? 'localhost/kube-governor:e2e' : 'kube-governor:e2e');
/** Name of the policies ConfigMap in manifests/base (mounted at /etc/governor/policies by the Deployment). */
export const POLICIES_CONFIGMAP = 'kube-governor-policies';

export const LOADGEN = { name: 'loadgen', port: 8080, valuePath: 'data.rps' } as const;

/**
 * The host the governor pods contact for the load: the loadgen Service by its namespace-qualified name, or its
 * ClusterIP where the cluster has no DNS (the local node cluster runs no CoreDNS).
 */
export const loadgenHost = (ns: string) => `${LOADGEN.name}.${ns}.svc`;
export const loadgenUrl = (ns: string, host: string = loadgenHost(ns)) => `http://${host}:${LOADGEN.port}/load`;

/**
 * The loadgen server, run as `node -e` in the kube-governor image (no second image to build or pull).
 * GET /load → {"data":{"rps":N}}; POST /set?v=N sets N (400 unless finite). LOAD is the value at start (a restarted
 * pod starts from it again), HOST/PORT where to listen (PORT=0: any; the port is printed as {"listening":port}).
 * SIGTERM exits at once: as PID 1, node would otherwise ignore it and scaling to zero would wait for the grace period.
 */
export const LOADGEN_SCRIPT = `
const http = require('node:http');
let value = Number(process.env.LOAD || 0);
const reply = (res, code, body) => {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://loadgen');
  if (req.method === 'GET' && url.pathname === '/load') return reply(res, 200, { data: { rps: value } });
  if (req.method === 'POST' && url.pathname === '/set') {
    const raw = url.searchParams.get('v');
    const v = raw === null || raw.trim() === '' ? NaN : Number(raw);
    if (!Number.isFinite(v)) return reply(res, 400, { error: 'v must be a finite number' });
    value = v;
    return reply(res, 200, { data: { rps: value } });
  }
  reply(res, 404, { error: 'GET /load or POST /set?v=N' });
});
server.listen(Number(process.env.PORT || ${LOADGEN.port}), process.env.HOST || '0.0.0.0', () => {
  console.log(JSON.stringify({ listening: server.address().port, load: value }));
});
process.on('SIGTERM', () => process.exit(0));
`.trim();

/**
 * The `node -e` script the suite runs inside the loadgen pod (kubectl exec) to set the load: POST /set on loopback,
 * print the answer, exit non-zero unless it was 200.
 */
export function setLoadScript(value: number, port: number = LOADGEN.port): string {
  if (!Number.isFinite(value)) throw new RangeError(`load must be finite, got ${value}`);
  return (
    `fetch('http://127.0.0.1:${port}/set?v=${value}', { method: 'POST' })` +
    `.then(async (r) => { console.log(await r.text()); if (!r.ok) process.exit(1); })` +
    `.catch((e) => { console.error(String(e)); process.exit(1); })`
  );
}

/** Splits `name[:tag]` for kustomize's images: (a registry port is not a tag). */
export function splitImage(ref: string): { newName: string; newTag?: string } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (ref.includes('@') || colon <= slash) return { newName: ref };
  return { newName: ref.slice(0, colon), newTag: ref.slice(colon + 1) };
}

/** Restricted-profile container settings, as manifests/base uses them (the loadgen lives beside governed workloads). */
const RESTRICTED = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** The loadgen Deployment and Service (a kubectl List, JSON). */
export function loadgenManifests(ns: string, o: { image?: string; initialLoad: number }): string {
  const labels = { app: LOADGEN.name };
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: LOADGEN.name, namespace: ns, labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              terminationGracePeriodSeconds: 2,
              automountServiceAccountToken: false,
              securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
              containers: [
                {
                  name: LOADGEN.name,
                  image: o.image ?? E2E_IMAGE,
                  // The image is loaded into the kind node (kind load docker-image); never pulled.
                  imagePullPolicy: 'IfNotPresent',
                  command: ['node', '-e', LOADGEN_SCRIPT],
                  env: [
                    { name: 'LOAD', value: String(o.initialLoad) },
                    { name: 'PORT', value: String(LOADGEN.port) },
                  ],
                  ports: [{ name: 'http', containerPort: LOADGEN.port }],
                  readinessProbe: { httpGet: { path: '/load', port: 'http' }, periodSeconds: 2 },
                  resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '96Mi' } },
                  securityContext: RESTRICTED,
                },
              ],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: LOADGEN.name, namespace: ns, labels },
        spec: { selector: labels, ports: [{ name: 'http', port: LOADGEN.port, targetPort: 'http' }] },
      },
    ],
  });
}

/** Formula parameters of the in-cluster `web` policy (the oracle formulaReplicas reads the same object). */
export const IN_CLUSTER_WEB = { low: 10, high: 50, min: 1, base: 2, max: 6, cap: 8, step: 1, intervalMs: 2000 } as const;

/** The ScalingPolicy `web` in `ns`, its load read from the loadgen Service; the HPA holds while the source is down. */
export function inClusterScalingPolicy(ns: string, name = 'web', host: string = loadgenHost(ns)): string {
  const p = IN_CLUSTER_WEB;
  return `# e2e (in cluster): load from the loadgen Service over HTTP JSON
apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: ${name}}
  load: {http: {url: '${loadgenUrl(ns, host)}', valuePath: ${LOADGEN.valuePath}, timeout: 2s}}
  thresholds: {low: ${p.low}, high: ${p.high}}
  replicas: {min: ${p.min}, base: ${p.base}, max: ${p.max}, cap: ${p.cap}}
  step: ${p.step}
  interval: ${p.intervalMs / 1000}s
  staleAfter: 1m
  onSourceFailure: {action: hold, after: 2}
`;
}

export interface InstallKustomizationOptions {
  readonly image?: string;
  /** File name → policy text; becomes the data of the policies ConfigMap (one key per file). */
  readonly policyFiles: Readonly<Record<string, string>>;
  /** --allowed-source-hosts for the server (the loadgen Service's host). */
  readonly allowedSourceHosts: readonly string[];
}

/** The kustomization object (exported for the integration test); paths relative to `dir`. */
export function installKustomization(dir: string, o: InstallKustomizationOptions): Record<string, unknown> {
  const image = splitImage(o.image ?? E2E_IMAGE);
  return {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    // kustomize refuses absolute paths; a relative path to a base may leave the kustomization root.
    resources: [relative(dir, BASE_DIR)],
    images: [{ name: 'kube-governor', ...image }],
    // The policies ConfigMap of manifests/base, with the suite's files as data. Same name (no hash suffix): the
    // Deployment mounts it by that name, and the server polls the mounted files.
    configMapGenerator: [
      {
        name: POLICIES_CONFIGMAP,
        namespace: 'kube-governor',
        behavior: 'replace',
        files: Object.keys(o.policyFiles).sort(),
        options: { disableNameSuffixHash: true, labels: { 'app.kubernetes.io/name': 'kube-governor' } },
      },
    ],
    patches: [
      {
        target: { group: 'apps', version: 'v1', kind: 'Deployment', name: 'kube-governor', namespace: 'kube-governor' },
        patch: JSON.stringify([
          // Already so in the base; stated here because the image only exists in the kind node (kind load).
          { op: 'replace', path: '/spec/template/spec/containers/0/imagePullPolicy', value: 'IfNotPresent' },
          { op: 'add', path: '/spec/template/spec/containers/0/args/-', value: `--allowed-source-hosts=${o.allowedSourceHosts.join(',')}` },
        ]),
      },
    ],
  };
}

/** Writes kustomization.yaml and the policy files into `dir` (kustomize reads generator files from its root only). */
export function writeInstallKustomization(dir: string, o: InstallKustomizationOptions): string {
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(o.policyFiles)) {
    if (file.includes('/') || !/\.(ya?ml|json)$/.test(file)) throw new Error(`policy file name ${file}: a plain *.yaml/*.json name`);
    writeFileSync(join(dir, file), text);
  }
  writeFileSync(join(dir, 'kustomization.yaml'), JSON.stringify(installKustomization(dir, o), null, 2));
  return dir;
}

/** Parameters of the in-cluster MigrationPolicy `move` (old → new), as the local suite's MIG. */
export const IN_CLUSTER_MIG = { low: 10, high: 50, base: 4, capacity: 4, targetMax: 6, step: 1, intervalMs: 2000 } as const;

/** The MigrationPolicy `move` in `ns`: Deployment old drains into new as the load from that namespace's loadgen rises. */
export function inClusterMigrationPolicy(ns: string, host: string = loadgenHost(ns)): string {
  const p = IN_CLUSTER_MIG;
  return `# e2e (in cluster): a migration moving real pods, load from the loadgen Service over HTTP JSON
apiVersion: governor.io/v1alpha1
kind: MigrationPolicy
metadata: {name: move, namespace: ${ns}}
spec:
  source: {apiVersion: apps/v1, kind: Deployment, name: old}
  target: {apiVersion: apps/v1, kind: Deployment, name: new, minReplicas: 1, maxReplicas: ${p.targetMax}}
  load: {http: {url: '${loadgenUrl(ns, host)}', valuePath: ${LOADGEN.valuePath}, timeout: 2s}}
  thresholds: {low: ${p.low}, high: ${p.high}}
  base: ${p.base}
  minDrain: 0
  step: ${p.step}
  interval: ${p.intervalMs / 1000}s
  capacity: {replicas: ${p.capacity}}
`;
}

// Upstream KEDA (operator + metrics API server) on the e2e control plane (hack/local-cluster.sh), as host processes on
// loopback, so a test can drive a Deployment through a ScaledObject, e.g. one whose trigger is `type: external` (a gRPC
// scaler served by the test on 127.0.0.1).
//
//   const keda = await startKeda({ cluster, workDir });   // builds KEDA on first use (hack/build-keda.sh)
//   ... create a Deployment and a ScaledObject, wait for replicas ...
//   await keda.stop();                                      // before the test deletes its namespaces (finalizers)
//
// What it does, in order:
// 1. hack/build-keda.sh: the binaries, CRDs, RBAC manifests and externalscaler.proto of the pinned release (cached).
// 2. KEDA's CRDs (server-side apply: the ScaledJob CRD, 650 KB, is too big for the last-applied annotation).
// 3. KEDA's own namespace, ServiceAccount and RBAC (config/general, service_account, rbac, metrics-server/role*.yaml
//    of the release), as a user installs them. Both processes run with a token of that ServiceAccount (as both pods do
//    upstream), never with the admin kubeconfig, so the release's RBAC is what they get.
// 4. Certificates (node-forge, src/tls): one CA; the operator's gRPC serving certificate (SAN 127.0.0.1); the
//    adapter's gRPC client certificate (the operator requires and verifies one); the adapter's serving certificate
//    for keda-metrics-apiserver.keda.svc, the name the aggregator checks. KEDA's own cert rotation stays off.
// 5. The operator, then the adapter (metrics API server), every listener on 127.0.0.1 (ports below).
// 6. Service keda-metrics-apiserver (ExternalName 127.0.0.1: the aggregator dials 127.0.0.1:<adapter port> and still
//    verifies the certificate for keda-metrics-apiserver.keda.svc) and APIService v1beta1.external.metrics.k8s.io with
//    the CA as caBundle; waits for Available=True.
//
// Only one APIService per group/version exists in a cluster: while KEDA runs, it owns external.metrics.k8s.io, so a test
// that registers kube-governor's adapter must not run at the same time. stop() deletes the APIService (when it is still
// KEDA's) so the next test can register its own.
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { generateCA, generateClientCert, generateServingCert, serviceDnsNames } from '../../../src/tls/certs.js';
import { REPO_ROOT, run, type LocalCluster } from '../harness/cluster.js';
import { startLoggedProcess, type LoggedProcess } from './governor-process.js';
import { waitFor } from './wait.js';

export const KEDA_NAMESPACE = 'keda';
export const KEDA_SERVICE_ACCOUNT = 'keda-operator';
export const KEDA_METRICS_SERVICE = 'keda-metrics-apiserver';
export const KEDA_OPERATOR_SERVICE = 'keda-operator';
export const EXTERNAL_METRICS_APISERVICE = 'v1beta1.external.metrics.k8s.io';

/** Loopback ports of the KEDA processes. Fixed by default (17xxx; the cluster uses 16xxx), so a KEDA left over by a
 * crashed run makes the next start fail at once ("port in use") instead of two operators fighting over the same
 * ScaledObjects. */
export interface KedaPorts {
  /** Adapter: the external metrics API (the APIService's port), HTTPS. */
  readonly adapter: number;
  /** Adapter: its Prometheus /metrics (plain HTTP). */
  readonly adapterMetrics: number;
  /** Operator: the gRPC metrics service the adapter asks for metric values (mTLS). */
  readonly grpc: number;
  /** Operator: Prometheus /metrics (plain HTTP). */
  readonly operatorMetrics: number;
  /** Operator: /healthz and /readyz (plain HTTP). */
  readonly operatorHealth: number;
}

export const DEFAULT_KEDA_PORTS: KedaPorts = { adapter: 17443, adapterMetrics: 17480, grpc: 17666, operatorMetrics: 17481, operatorHealth: 17482 };

export interface KedaOptions {
  readonly cluster: LocalCluster;
  /** Scratch directory owned by the caller: certificates, kubeconfig, logs (kept after stop() for post-mortems). */
  readonly workDir: string;
  /** Directory from hack/build-keda.sh (KEDA_DIR=…); default: run the script (builds on first use, minutes). */
  readonly kedaDir?: string;
  readonly ports?: Partial<KedaPorts>;
  /** --zap-log-level of both processes (default info; debug shows every scaler call). */
  readonly logLevel?: string;
  /** Extra environment for both processes (e.g. KEDA_HTTP_DEFAULT_TIMEOUT). */
  readonly env?: Record<string, string>;
  /** Bound on the whole start, build excluded (default 120 s). */
  readonly timeoutMs?: number;
}

export interface KedaProcess extends LoggedProcess {
  readonly name: string;
}

export interface Keda {
  readonly kedaDir: string;
  readonly version: string;
  readonly ports: KedaPorts;
  /** KEDA's externalscaler.proto of this release (package externalscaler). */
  readonly protoFile: string;
  /** CA of the certificates made here (the APIService's caBundle). */
  readonly caFile: string;
  readonly operator: KedaProcess;
  readonly adapter: KedaProcess;
  logs(): { operator: string; adapter: string };
  /** APIService status, ScaledObjects, HPAs and events of the namespaces, and both log tails, for failure messages. */
  diagnostics(namespaces?: readonly string[]): Promise<string>;
  /**
   * Deletes the ScaledObjects and ScaledJobs left in the cluster while KEDA still runs (their finalizers need it;
   * a namespace holding one would otherwise stay Terminating), stops both processes, then deletes the APIService
   * (if still KEDA's), the Service, KEDA's RBAC and namespace. CRDs stay (cluster-scoped, re-applied by the next start).
   */
  stop(): Promise<void>;
}

/** Runs hack/build-keda.sh (cached after the first build) and returns KEDA_DIR. */
export async function buildKeda(timeoutMs = 60 * 60_000): Promise<string> {
  const r = await run('bash', [join(REPO_ROOT, 'hack', 'build-keda.sh')], { timeoutMs, teeStderr: process.env.KG_QUIET !== '1' });
  const dir = /^KEDA_DIR=(.+)$/m.exec(r.stdout)?.[1];
  if (r.code !== 0 || !dir) throw new Error(`hack/build-keda.sh failed (exit ${r.code}):\n${r.stderr.slice(-4000)}`);
  return dir.trim();
}

async function kubectlOk(cluster: LocalCluster, args: string[], input?: string, timeoutMs = 60_000): Promise<string> {
  const r = await cluster.kubectl(args, { ...(input !== undefined ? { input } : {}), timeoutMs });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

function startProcess(name: string, bin: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): KedaProcess {
  return { name, ...startLoggedProcess(bin, args, logFile, { cwd: join(logFile, '..'), env }) };
}

function hexToIPv4(h: string): string {
  // /proc/net/tcp prints the address as one 32-bit word in host (little-endian) order.
  return [6, 4, 2, 0].map((i) => parseInt(h.slice(i, i + 2), 16)).join('.');
}

function hexToIPv6(h: string): string {
  // Four 32-bit words, each in host (little-endian) order.
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) for (const i of [6, 4, 2, 0]) bytes.push(parseInt(h.slice(w * 8 + i, w * 8 + i + 2), 16));
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/**
 * The TCP addresses a process listens on ("127.0.0.1:17443", "::1:80", "0.0.0.0:8080"), from /proc: its socket fds
 * matched against the LISTEN entries of /proc/<pid>/net/tcp and tcp6. Linux only; for asserting "loopback only".
 */
export function listeningAddresses(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      /* closed meanwhile */
    }
  }
  const out: string[] = [];
  for (const [file, ip] of [['tcp', hexToIPv4], ['tcp6', hexToIPv6]] as const) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A' || !inodes.has(f[9]!)) continue;
      const [addr, port] = f[1]!.split(':');
      out.push(`${ip(addr!)}:${parseInt(port!, 16)}`);
    }
  }
  return out.sort();
}

/** The release's own manifests for namespace, ServiceAccount and RBAC, as hack/build-keda.sh copied them. */
function rbacFiles(kedaDir: string): string[] {
  const dir = join(kedaDir, 'rbac');
  const files = ['namespace.yaml', 'service_account.yaml', 'role.yaml', 'role_binding.yaml', 'aggregate_cluster_roles.yaml', 'metrics-server-role.yaml', 'metrics-server-role_binding.yaml'].map((f) => join(dir, f));
  for (const f of files) if (!existsSync(f)) throw new Error(`${f} is missing: rebuild the cache (hack/build-keda.sh)`);
  return files;
}

function writeTokenKubeconfig(cluster: LocalCluster, file: string, token: string): void {
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'e2e', cluster: { server: cluster.apiserverUrl, 'certificate-authority': cluster.caFile } }],
      users: [{ name: KEDA_SERVICE_ACCOUNT, user: { token } }],
      contexts: [{ name: KEDA_SERVICE_ACCOUNT, context: { cluster: 'e2e', user: KEDA_SERVICE_ACCOUNT, namespace: KEDA_NAMESPACE } }],
      'current-context': KEDA_SERVICE_ACCOUNT,
    }),
    { mode: 0o600 },
  );
}

function writeCerts(dir: string): { caFile: string; caPem: string; operatorDir: string; adapterGrpcDir: string; adapterServing: { cert: string; key: string } } {
  const ca = generateCA({ commonName: 'keda-e2e-ca', validityDays: 2 });
  const operatorDir = join(dir, 'operator');
  const adapterGrpcDir = join(dir, 'adapter-grpc');
  const servingDir = join(dir, 'adapter-serving');
  for (const d of [operatorDir, adapterGrpcDir, servingDir]) mkdirSync(d, { recursive: true });
  const write = (d: string, pair: { certPem: string; keyPem: string }) => {
    writeFileSync(join(d, 'ca.crt'), ca.certPem);
    writeFileSync(join(d, 'tls.crt'), pair.certPem);
    writeFileSync(join(d, 'tls.key'), pair.keyPem, { mode: 0o600 });
  };
  // The adapter dials 127.0.0.1:<grpc port> without an authority override, so the name checked is the IP.
  write(operatorDir, generateServingCert(ca, { commonName: KEDA_OPERATOR_SERVICE, dnsNames: [...serviceDnsNames(KEDA_OPERATOR_SERVICE, KEDA_NAMESPACE), 'localhost'], ipAddresses: ['127.0.0.1'], validityDays: 2 }));
  // The adapter's --cert-dir holds what its gRPC client presents (the operator requires a client certificate).
  write(adapterGrpcDir, generateClientCert(ca, { commonName: KEDA_METRICS_SERVICE, validityDays: 2 }));
  const serving = generateServingCert(ca, { commonName: KEDA_METRICS_SERVICE, dnsNames: [...serviceDnsNames(KEDA_METRICS_SERVICE, KEDA_NAMESPACE), 'localhost'], ipAddresses: ['127.0.0.1'], validityDays: 2 });
  write(servingDir, serving);
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, ca.certPem);
  return { caFile, caPem: ca.certPem, operatorDir, adapterGrpcDir, adapterServing: { cert: join(servingDir, 'tls.crt'), key: join(servingDir, 'tls.key') } };
}

async function apiServiceState(cluster: LocalCluster): Promise<{ service: string; status: string; reason: string; message: string }> {
  const r = await cluster.kubectl(['get', 'apiservice', EXTERNAL_METRICS_APISERVICE, '-o', 'json', '--ignore-not-found'], { timeoutMs: 15_000 });
  if (r.code !== 0) return { service: '', status: 'Error', reason: '', message: r.stderr.trim() };
  if (!r.stdout.trim()) return { service: '', status: 'Missing', reason: '', message: '' };
  const o = JSON.parse(r.stdout);
  const cond = (o.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Available') ?? {};
  const svc = o.spec?.service ? `${o.spec.service.namespace}/${o.spec.service.name}:${o.spec.service.port ?? 443}` : '(local)';
  return { service: svc, status: cond.status ?? 'Unknown', reason: cond.reason ?? '', message: cond.message ?? '' };
}

export async function startKeda(o: KedaOptions): Promise<Keda> {
  const { cluster, workDir } = o;
  if ((process.env.E2E_TARGET ?? 'local') !== 'local') {
    throw new Error(`E2E_TARGET=${process.env.E2E_TARGET}: KEDA runs as host processes behind an ExternalName Service, which only works with hack/local-cluster.sh`);
  }
  const kedaDir = o.kedaDir ?? (await buildKeda());
  const version = /keda-(v[^/]+)\/?$/.exec(kedaDir)?.[1] ?? 'unknown';
  const ports: KedaPorts = { ...DEFAULT_KEDA_PORTS, ...o.ports };
  const timeoutMs = o.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1000, deadline - Date.now());
  mkdirSync(workDir, { recursive: true });

  for (const [name, port] of Object.entries(ports)) {
    if (!(await portFree(port))) throw new Error(`KEDA port ${name}=${port} on 127.0.0.1 is in use (a KEDA left over by an earlier run?)`);
  }
  const existing = await apiServiceState(cluster);
  if (existing.status !== 'Missing' && existing.service !== `${KEDA_NAMESPACE}/${KEDA_METRICS_SERVICE}:${ports.adapter}`) {
    throw new Error(`APIService ${EXTERNAL_METRICS_APISERVICE} already exists (service ${existing.service}): another adapter is registered; stop it first`);
  }

  // 2. CRDs. Server-side apply: keda.sh_scaledjobs.yaml is larger than the client-side last-applied annotation allows.
  await kubectlOk(cluster, ['apply', '--server-side', '--force-conflicts', '--field-manager=kube-governor-e2e', '-f', join(kedaDir, 'crds')], undefined, left());
  // Polled rather than `kubectl wait`, which fails on a CRD that has no status yet.
  const crds = ['scaledobjects.keda.sh', 'scaledjobs.keda.sh', 'triggerauthentications.keda.sh', 'clustertriggerauthentications.keda.sh'];
  await waitFor(
    "KEDA's CRDs Established",
    async () => {
      const r = await cluster.kubectl(['get', 'crd', ...crds, '-o', 'json']);
      if (r.code !== 0) return { done: false, seen: r.stderr.trim() };
      const established = (JSON.parse(r.stdout).items ?? []).filter((c: any) => (c.status?.conditions ?? []).some((x: any) => x.type === 'Established' && x.status === 'True'));
      return { done: established.length === crds.length, seen: `${established.length}/${crds.length} Established` };
    },
    { timeoutMs: Math.min(60_000, left()), intervalMs: 250 },
  );

  // 3. Namespace (an earlier stop() may still be terminating it), ServiceAccount, RBAC.
  await waitFor(
    `namespace ${KEDA_NAMESPACE} of an earlier run to finish terminating`,
    async () => {
      const r = await cluster.kubectl(['get', 'namespace', KEDA_NAMESPACE, '-o', 'jsonpath={.status.phase}', '--ignore-not-found']);
      return { done: r.code === 0 && r.stdout.trim() !== 'Terminating', seen: r.stdout.trim() || r.stderr.trim() };
    },
    { timeoutMs: Math.min(90_000, left()), intervalMs: 500 },
  );
  const rbac = rbacFiles(kedaDir);
  await kubectlOk(cluster, ['apply', '--server-side', '--force-conflicts', '--field-manager=kube-governor-e2e', ...rbac.flatMap((f) => ['-f', f])], undefined, left());
  const token = (await kubectlOk(cluster, ['-n', KEDA_NAMESPACE, 'create', 'token', KEDA_SERVICE_ACCOUNT, '--duration=4h'])).trim();
  const kubeconfig = join(workDir, 'keda.kubeconfig');
  writeTokenKubeconfig(cluster, kubeconfig, token);

  // 4. Certificates.
  const certs = writeCerts(join(workDir, 'certs'));
  const caDir = join(workDir, 'custom-ca');
  mkdirSync(caDir, { recursive: true });

  // 5. Processes. As in KEDA's Deployments: all namespaces watched, cluster objects (TriggerAuthentication secrets,
  //    leases) in the keda namespace. KUBECONFIG is what controller-runtime's GetConfig reads out of cluster.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...o.env,
    KUBECONFIG: kubeconfig,
    WATCH_NAMESPACE: '',
    POD_NAMESPACE: KEDA_NAMESPACE,
    KEDA_CLUSTER_OBJECT_NAMESPACE: KEDA_NAMESPACE,
  };
  const logLevel = o.logLevel ?? 'info';
  const zap = [`--zap-log-level=${logLevel}`, '--zap-encoder=console', '--zap-time-encoding=rfc3339'];
  const operator = startProcess(
    'keda-operator',
    join(kedaDir, 'keda-operator'),
    [
      ...zap,
      '--leader-elect=false',
      `--metrics-bind-address=127.0.0.1:${ports.operatorMetrics}`,
      `--health-probe-bind-address=127.0.0.1:${ports.operatorHealth}`,
      `--metrics-service-bind-address=127.0.0.1:${ports.grpc}`,
      // The gRPC server's ca.crt (client CA), tls.crt, tls.key; made above, so no rotation (which would write a
      // Secret and patch the APIService and a webhook configuration).
      `--cert-dir=${certs.operatorDir}`,
      '--enable-cert-rotation=false',
      // Scalers' extra CAs; the default /custom/ca is a pod path.
      `--ca-dir=${caDir}`,
    ],
    env,
    join(workDir, 'keda-operator.log'),
  );
  const startAdapter = () => startProcess(
    'keda-adapter',
    join(kedaDir, 'keda-adapter'),
    [
      ...zap,
      '--bind-address=127.0.0.1',
      `--secure-port=${ports.adapter}`,
      `--tls-cert-file=${certs.adapterServing.cert}`,
      `--tls-private-key-file=${certs.adapterServing.key}`,
      // ca.crt, tls.crt and tls.key of the gRPC client to the operator.
      `--cert-dir=${certs.adapterGrpcDir}`,
      `--metrics-service-address=127.0.0.1:${ports.grpc}`,
      // The /metrics listener; hack/build-keda.sh binds it to 127.0.0.1 (upstream listens on every interface).
      `--port=${ports.adapterMetrics}`,
      // Out of cluster: the lister/discovery client, and delegated authentication (which reads the front-proxy CA
      // from kube-system/extension-apiserver-authentication) and authorization (SubjectAccessReview).
      `--lister-kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
    ],
    env,
    join(workDir, 'keda-adapter.log'),
  );

  // Started once the operator's gRPC server listens (the adapter's provider connects at once, and only logs while
  // it cannot).
  let adapter: KedaProcess | undefined;
  let stopped = false;

  const diagnostics = async (namespaces: readonly string[] = []): Promise<string> => {
    const parts: string[] = [`--- APIService ${EXTERNAL_METRICS_APISERVICE}: ${JSON.stringify(await apiServiceState(cluster))}`];
    const add = async (title: string, args: string[]) => {
      const r = await cluster.kubectl(args, { timeoutMs: 15_000 });
      parts.push(`--- ${title} ---\n${(r.stdout + r.stderr).trim().split('\n').slice(-60).join('\n')}`);
    };
    for (const ns of namespaces) {
      await add(`scaledobjects in ${ns}`, ['-n', ns, 'get', 'scaledobjects.keda.sh', '-o', 'wide']);
      await add(`deployments in ${ns}`, ['-n', ns, 'get', 'deploy', '-o', 'wide']);
      await add(`kubectl describe hpa -n ${ns}`, ['-n', ns, 'describe', 'hpa']);
      await add(`events in ${ns}`, ['-n', ns, 'get', 'events', '--sort-by=.lastTimestamp']);
    }
    parts.push(`--- keda-operator (pid ${operator.pid}, exited ${operator.exited()}, ${operator.logFile}) ---\n${operator.logTail(40)}`);
    if (adapter) parts.push(`--- keda-adapter (pid ${adapter.pid}, exited ${adapter.exited()}, ${adapter.logFile}) ---\n${adapter.logTail(40)}`);
    return parts.join('\n');
  };

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // ScaledObjects carry KEDA's finalizer: delete them while the operator can still remove it.
    if (!operator.exited()) {
      await cluster.kubectl(['delete', 'scaledobjects.keda.sh,scaledjobs.keda.sh', '--all-namespaces', '--all', '--wait=true', '--timeout=30s'], { timeoutMs: 40_000 });
    }
    await adapter?.stop();
    await operator.stop();
    // Any left (the operator was dead or slow): strip the finalizers so their namespaces can go.
    const remaining = await cluster.kubectl(['get', 'scaledobjects.keda.sh,scaledjobs.keda.sh', '--all-namespaces', '-o', 'json']);
    if (remaining.code === 0) {
      for (const item of JSON.parse(remaining.stdout).items ?? []) {
        await cluster.kubectl(['-n', item.metadata.namespace, 'patch', `${item.kind.toLowerCase()}.keda.sh`, item.metadata.name, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
      }
    }
    const a = await apiServiceState(cluster);
    if (a.service.startsWith(`${KEDA_NAMESPACE}/${KEDA_METRICS_SERVICE}:`)) {
      await cluster.kubectl(['delete', 'apiservice', EXTERNAL_METRICS_APISERVICE, '--ignore-not-found']);
    }
    // The namespace takes the Service, ServiceAccount, Role/RoleBinding; the cluster-scoped RBAC and the kube-system
    // RoleBinding go by file. --wait=false: the next startKeda waits for the namespace to be gone.
    await cluster.kubectl(['delete', '--ignore-not-found', '--wait=false', ...rbacFiles(kedaDir).flatMap((f) => ['-f', f])]);
  };

  // waitFor retries a probe that throws; a process that died ends the wait at once instead.
  const waitWhileAlive = async (what: string, procs: KedaProcess[], probe: () => Promise<{ done: boolean; seen?: unknown }>, ms: number) => {
    const dead = await waitFor<KedaProcess | null>(
      what,
      async () => {
        const gone = procs.find((p) => p.exited());
        if (gone) return { done: true, value: gone };
        const r = await probe();
        return { done: r.done, value: null, seen: r.seen };
      },
      { timeoutMs: Math.min(ms, left()), intervalMs: 300 },
    );
    if (dead) throw new Error(`${dead.name} (pid ${dead.pid}) exited while waiting for ${what}`);
  };

  try {
    await waitWhileAlive(
      `keda-operator (pid ${operator.pid}) /readyz on 127.0.0.1:${ports.operatorHealth}`,
      [operator],
      async () => {
        const s = await httpStatus(ports.operatorHealth, '/readyz');
        return { done: s === 200, seen: s };
      },
      90_000,
    );
    await waitWhileAlive(`keda-operator gRPC metrics service on 127.0.0.1:${ports.grpc}`, [operator], async () => ({ done: !(await portFree(ports.grpc)) }), 60_000);
    const started = (adapter = startAdapter());
    // 6. Service and APIService.
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: KEDA_METRICS_SERVICE, namespace: KEDA_NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'keda-operator' } },
      spec: { type: 'ExternalName', externalName: '127.0.0.1', ports: [{ name: 'https', port: ports.adapter }] },
    };
    const apiService = {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: EXTERNAL_METRICS_APISERVICE, labels: { 'app.kubernetes.io/part-of': 'keda-operator' } },
      spec: {
        service: { name: KEDA_METRICS_SERVICE, namespace: KEDA_NAMESPACE, port: ports.adapter },
        group: 'external.metrics.k8s.io',
        version: 'v1beta1',
        groupPriorityMinimum: 100,
        versionPriority: 100,
        caBundle: Buffer.from(certs.caPem).toString('base64'),
      },
    };
    await kubectlOk(cluster, ['apply', '--server-side', '--force-conflicts', '--field-manager=kube-governor-e2e', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [service, apiService] }), left());
    await waitWhileAlive(
      `APIService ${EXTERNAL_METRICS_APISERVICE} Available=True (keda-adapter on 127.0.0.1:${ports.adapter})`,
      [operator, started],
      async () => {
        const a = await apiServiceState(cluster);
        return { done: a.status === 'True', seen: a };
      },
      90_000,
    );
  } catch (e) {
    const diag = await diagnostics().catch((d) => `(diagnostics failed: ${(d as Error).message})`);
    await stop().catch(() => undefined);
    throw new Error(`starting KEDA ${version} failed: ${(e as Error).message}\n${diag}`);
  }

  return {
    kedaDir,
    version,
    ports,
    protoFile: join(kedaDir, 'externalscaler.proto'),
    caFile: certs.caFile,
    operator,
    adapter: adapter!,
    logs: () => ({ operator: operator.log(), adapter: adapter!.log() }),
    diagnostics,
    stop,
  };
}

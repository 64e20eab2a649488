// Peer bench: governor's admission webhook against Kyverno's admission controller (cmd/kyverno, built by
// hack/build-kyverno.sh, run out of cluster with --serverIP), with equivalent policies (bench/peers/kyverno/), on the
// shared local control plane (hack/local-cluster.sh; reused, never stopped). Measured where users feel it: the API
// server's own apiserver_admission_webhook_admission_duration_seconds for each webhook (GET /metrics before and after
// each phase), and the client's round trip, under the same bounded load: N server-side dry-run creates of the seeded
// Deployments of bench/peers/review.ts (memory requests capped at the limit), with bounded concurrency, in a namespace of the bench's own.
//
// Phases, one webhook registered at a time: none (the baseline), governor, Kyverno, none again. Every registration
// is limited to the bench namespace by its namespaceSelector, has failurePolicy Ignore, and is deleted in a `finally`
// (Kyverno's by its managed-by label and by name), so a stopped server can never block another user of the cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest, Agent } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalCluster, type LocalCluster } from '../../test/e2e/harness/cluster.js';
import { freePort } from '../../test/e2e/harness/prometheus.js';
import { generateCA, generateServingCert } from '../../src/tls/certs.js';
import { quantile } from '../lib/stats.js';
import { buildDist, GOVERNOR_POLICIES, kyvernoDir, KYVERNO_POLICIES } from './kyverno-cli.js';
import { deployment, random, ROOT } from './review.js';
import { BUILT_CLI } from '../lib/deployment.js';

/** The bench's namespaces and object names (nothing else on the shared cluster is touched). */
export const BENCH_NS = 'kg-peers-kyverno';
export const KYVERNO_NS = 'kg-peers-kyverno-system';
const GOVERNOR_WEBHOOK = 'kg-peers-kyverno-governor';
const KYVERNO_WEBHOOK_LABEL = 'webhook.kyverno.io/managed-by=kyverno';
/** Every webhook configuration cmd/kyverno may register (pkg/config/config.go), deleted by name as well. */
const KYVERNO_VWCS = ['kyverno-policy-validating-webhook-cfg', 'kyverno-resource-validating-webhook-cfg', 'kyverno-exception-validating-webhook-cfg', 'kyverno-cel-exception-validating-webhook-cfg', 'kyverno-global-context-validating-webhook-cfg', 'kyverno-cleanup-validating-webhook-cfg', 'kyverno-ttl-validating-webhook-cfg'];
const KYVERNO_MWCS = ['kyverno-policy-mutating-webhook-cfg', 'kyverno-resource-mutating-webhook-cfg', 'kyverno-verify-mutating-webhook-cfg'];

export type WebhookPhase = 'none' | 'governor' | 'kyverno';

export interface WebhookSeries {
  /** The webhook's name in the configuration (the metric's `name` label). */
  readonly webhook: string;
  readonly type: string;
  readonly count: number;
  readonly meanMs: number;
  /** Interpolated in the histogram's buckets (coarse: read with the bucket bounds). */
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface WebhookPhaseResult {
  readonly phase: WebhookPhase;
  /** Which round of the alternation (the last baseline has repeat = repeats). */
  readonly repeat: number;
  readonly order: number;
  readonly requests: number;
  readonly concurrency: number;
  readonly wallS: number;
  readonly rps: number;
  /** Client round trip of each create (ms). */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly created: number;
  readonly denied: number;
  readonly otherErrors: number;
  readonly firstError?: string;
  /** apiserver_admission_webhook_admission_duration_seconds deltas over the phase, per webhook. */
  readonly webhooks: WebhookSeries[];
  /** Webhook configurations registered cluster-wide during the phase (other users' too), for the record. */
  readonly registered: string[];
  /** Server CPU seconds (user+sys) and RSS at the end, for the webhook server of the phase. */
  readonly serverCpuS?: number;
  readonly serverRssMiB?: number;
}

export interface KyvernoWebhookResult {
  readonly apiserverVersion: string;
  readonly phases: WebhookPhaseResult[];
  /** Seconds from process start to enforcing (Kyverno: first probe denied; governor: /readyz), each phase. */
  readonly kyvernoStartS: number[];
  readonly governorStartS: number[];
  readonly histogramBuckets: number[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function kubectlOk(c: LocalCluster, args: string[], input?: string, timeoutMs = 120_000): Promise<string> {
  const r = await c.kubectl(args, { ...(input !== undefined ? { input } : {}), timeoutMs });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout.slice(0, 2000)}`);
  return r.stdout;
}

// ------------------------------------------------------------------------------------------ the API server's metrics

type Histogram = { buckets: Map<number, number>; sum: number; count: number };

/** apiserver_admission_webhook_admission_duration_seconds series, keyed by name|type|operation|rejected. */
function parseWebhookHistograms(text: string): Map<string, Histogram & { name: string; type: string }> {
  const out = new Map<string, Histogram & { name: string; type: string }>();
  const re = /^apiserver_admission_webhook_admission_duration_seconds_(bucket|sum|count)\{([^}]*)\} (\S+)$/gm;
  for (const m of text.matchAll(re)) {
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
    const key = `${labels.name}|${labels.type}|${labels.operation}|${labels.rejected}`;
    let h = out.get(key);
    if (!h) out.set(key, (h = { name: labels.name ?? '', type: labels.type ?? '', buckets: new Map(), sum: 0, count: 0 }));
    const v = Number(m[3]);
    if (m[1] === 'bucket') h.buckets.set(labels.le === '+Inf' ? Infinity : Number(labels.le), v);
    else if (m[1] === 'sum') h.sum = v;
    else h.count = v;
  }
  return out;
}

/** Quantile from cumulative buckets (linear within a bucket, as histogram_quantile does). */
function bucketQuantile(buckets: [number, number][], q: number): number {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (!total) return Number.NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, c] of buckets) {
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, c - prevCount);
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}

/** Per webhook (name, type): the deltas between two scrapes, all operations and rejected values together. */
export function webhookDeltas(before: string, after: string): WebhookSeries[] {
  const a = parseWebhookHistograms(before);
  const b = parseWebhookHistograms(after);
  const byHook = new Map<string, { name: string; type: string; buckets: Map<number, number>; sum: number; count: number }>();
  for (const [key, h] of b) {
    const p = a.get(key);
    const count = h.count - (p?.count ?? 0);
    if (count <= 0) continue;
    const id = `${h.name}|${h.type}`;
    let d = byHook.get(id);
    if (!d) byHook.set(id, (d = { name: h.name, type: h.type, buckets: new Map(), sum: 0, count: 0 }));
    d.count += count;
    d.sum += h.sum - (p?.sum ?? 0);
    for (const [le, c] of h.buckets) d.buckets.set(le, (d.buckets.get(le) ?? 0) + c - (p?.buckets.get(le) ?? 0));
  }
  return [...byHook.values()].map((d) => {
    const bs = [...d.buckets.entries()].sort((x, y) => x[0] - y[0]);
    return { webhook: d.name, type: d.type, count: d.count, meanMs: (d.sum / d.count) * 1000, p50Ms: bucketQuantile(bs, 0.5) * 1000, p99Ms: bucketQuantile(bs, 0.99) * 1000 };
  });
}

function histogramBuckets(text: string): number[] {
  const les = new Set<number>();
  for (const m of text.matchAll(/^apiserver_admission_webhook_admission_duration_seconds_bucket\{[^}]*le="([^"]+)"/gm)) if (m[1] !== '+Inf') les.add(Number(m[1]));
  return [...les].sort((x, y) => x - y);
}

// ---------------------------------------------------------------------------------------------------- the load

interface Client {
  readonly agent: Agent;
  readonly base: URL;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

function makeClient(c: LocalCluster, concurrency: number): Client {
  const cert = c.env.KG_ADMIN_CERT;
  const key = c.env.KG_ADMIN_KEY;
  if (!cert || !key) throw new Error('the cluster env has no KG_ADMIN_CERT/KG_ADMIN_KEY (hack/local-cluster.sh writes them)');
  return { agent: new Agent({ keepAlive: true, maxSockets: concurrency }), base: new URL(c.apiserverUrl), ca: readFileSync(c.caFile, 'utf8'), cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

/** POST a Deployment with dryRun=All; resolves with the status code and, on failure, the Status message. */
function createDryRun(cl: Client, ns: string, body: string): Promise<{ status: number; message: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = httpsRequest(
      {
        host: cl.base.hostname,
        port: cl.base.port,
        method: 'POST',
        path: `/apis/apps/v1/namespaces/${ns}/deployments?dryRun=All&fieldManager=kg-peers-bench`,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        agent: cl.agent,
        ca: cl.ca,
        cert: cl.cert,
        key: cl.key,
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const ms = performance.now() - t0;
          let message = '';
          if ((res.statusCode ?? 0) >= 300) {
            try {
              message = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message?: string }).message ?? '');
            } catch {
              message = Buffer.concat(chunks).toString('utf8').slice(0, 300);
            }
          }
          resolve({ status: res.statusCode ?? 0, message, ms });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, message: e.message, ms: performance.now() - t0 }));
    req.end(body);
  });
}

const deniedByWebhook = (m: string) => /admission webhook "[^"]+" denied the request/.test(m);

async function runLoad(cl: Client, bodies: readonly string[], concurrency: number, maxS: number) {
  const lat: number[] = [];
  let created = 0;
  let denied = 0;
  let otherErrors = 0;
  let firstError: string | undefined;
  let next = 0;
  const deadline = performance.now() + maxS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length && performance.now() < deadline) {
        const r = await createDryRun(cl, BENCH_NS, bodies[next++]!);
        lat.push(r.ms);
        if (r.status === 201 || r.status === 200) created++;
        else if (deniedByWebhook(r.message)) denied++;
        else {
          otherErrors++;
          firstError ??= `${r.status} ${r.message}`.slice(0, 300);
        }
      }
    }),
  );
  const wallS = (performance.now() - t0) / 1000;
  const sorted = Float64Array.from(lat).sort();
  return { requests: lat.length, wallS, rps: lat.length / wallS, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), meanMs: lat.reduce((a, x) => a + x, 0) / Math.max(1, lat.length), created, denied, otherErrors, ...(firstError ? { firstError } : {}) };
}

// ---------------------------------------------------------------------------------------------- processes

interface Server {
  readonly child: ChildProcess;
  readonly logFile: string;
  exited(): boolean;
  stop(): Promise<void>;
  logTail(n?: number): string;
}

function startServer(bin: string, args: readonly string[], logFile: string, env: NodeJS.ProcessEnv): Server {
  const fd = openSync(logFile, 'a');
  const child = spawn(bin, args, { cwd: ROOT, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let done = false;
  const exit = new Promise<void>((r) => child.once('exit', () => ((done = true), r())));
  const killer = () => child.pid && !done && process.kill(child.pid, 'SIGKILL');
  process.once('exit', killer);
  return {
    child,
    logFile,
    exited: () => done,
    logTail: (n = 30) => readFileSync(logFile, 'utf8').split('\n').slice(-n - 1).join('\n'),
    async stop() {
      process.off('exit', killer);
      if (done || !child.pid) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => !done && child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(t);
    },
  };
}

/** user+sys CPU seconds and RSS of a running process, from /proc. */
function procCost(pid: number | undefined): { cpuS: number; rssMiB: number } | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return { cpuS: ticks / 100, rssMiB: Number(rss ?? 0) / 1024 };
  } catch {
    return undefined;
  }
}

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>, server?: Server): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server?.exited()) throw new Error(`${what}: the server exited:\n${server.logTail()}`);
    if (await check().catch(() => false)) return;
    await sleep(500);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${server ? `\n--- log ---\n${server.logTail()}` : ''}`);
}

function httpGetStatus(port: number, path: string): Promise<number> {
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

// -------------------------------------------------------------------------------------------- registrations

function governorRegistrations(port: number, caPem: string) {
  const common = (path: string) => ({
    admissionReviewVersions: ['v1'],
    sideEffects: 'NoneOnDryRun',
    failurePolicy: 'Ignore',
    timeoutSeconds: 10,
    matchPolicy: 'Equivalent',
    clientConfig: { url: `https://127.0.0.1:${port}${path}`, caBundle: Buffer.from(caPem).toString('base64') },
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': BENCH_NS } },
    rules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'], scope: 'Namespaced' }],
  });
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: GOVERNOR_WEBHOOK }, webhooks: [{ name: 'mutate.peers.governor.io', reinvocationPolicy: 'IfNeeded', ...common('/mutate') }] },
      { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: GOVERNOR_WEBHOOK }, webhooks: [{ name: 'validate.peers.governor.io', ...common('/validate') }] },
    ],
  };
}

async function deleteGovernorRegistrations(c: LocalCluster): Promise<void> {
  await c.kubectl(['delete', 'mutatingwebhookconfiguration,validatingwebhookconfiguration', GOVERNOR_WEBHOOK, '--ignore-not-found', '--wait=false']);
}

async function deleteKyvernoRegistrations(c: LocalCluster): Promise<void> {
  await c.kubectl(['delete', 'mutatingwebhookconfiguration,validatingwebhookconfiguration', '-l', KYVERNO_WEBHOOK_LABEL, '--ignore-not-found', '--wait=false']);
  await c.kubectl(['delete', 'validatingwebhookconfiguration', ...KYVERNO_VWCS, '--ignore-not-found', '--wait=false']);
  await c.kubectl(['delete', 'mutatingwebhookconfiguration', ...KYVERNO_MWCS, '--ignore-not-found', '--wait=false']);
  // Policies Kyverno may have written as ValidatingAdmissionPolicies (--generateValidatingAdmissionPolicy is off here).
  await c.kubectl(['delete', 'validatingadmissionpolicy,validatingadmissionpolicybinding', '-l', 'app.kubernetes.io/managed-by=kyverno', '--ignore-not-found', '--wait=false']);
}

async function registeredWebhooks(c: LocalCluster): Promise<string[]> {
  const r = await c.kubectl(['get', 'mutatingwebhookconfiguration,validatingwebhookconfiguration', '-o', 'name']);
  return r.stdout.trim().split('\n').filter(Boolean);
}

/**
 * The load's request bodies: the seeded Deployments of bench/peers/review.ts (namespace: the bench's), the same
 * sequence `writeDeployments(dir, n, seed)` writes, with each memory request capped at its container's memory limit:
 * the API server refuses a request above the limit before any webhook sees it. The cap changes no verdict (both policy
 * sets need a request and a limit, not a relation between them).
 */
export function webhookBodies(n: number, seed: number): string[] {
  const rand = random(seed);
  const mi = (q: unknown) => Number(/^(\d+)Mi$/.exec(String(q))?.[1] ?? Number.NaN);
  return Array.from({ length: n }, (_, i) => {
    const d = deployment(rand, i, BENCH_NS) as { spec: { template: { spec: { containers: { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[] } } } };
    for (const c of d.spec.template.spec.containers) {
      const req = c.resources?.requests;
      const lim = c.resources?.limits?.memory;
      if (req?.memory && lim && mi(req.memory) > mi(lim)) req.memory = lim;
    }
    return JSON.stringify(d);
  });
}

// ------------------------------------------------------------------------------------------------ the bench

export async function benchKyvernoWebhook(o: { requests: number; concurrency: number; repeats: number; build?: boolean; kyvernoDir?: string; withKyverno?: boolean; log: (s: string) => void }): Promise<KyvernoWebhookResult> {
  const log = o.log;
  const kdir = o.kyvernoDir ?? (await kyvernoDir(log));
  if (o.build !== false) await buildDist(log);
  const cluster = await startLocalCluster({ verbose: false });
  const work = mkdtempSync(join(tmpdir(), 'kg-peers-kyverno-webhook-'));
  const env = { ...process.env, ...cluster.env };
  const scrape = () => kubectlOk(cluster, ['get', '--raw', '/metrics']);
  const phases: WebhookPhaseResult[] = [];
  let governor: Server | undefined;
  let kyverno: Server | undefined;
  const kyvernoStartS: number[] = [];
  const governorStartS: number[] = [];
  const client = makeClient(cluster, o.concurrency);
  const bodies = webhookBodies(o.requests, 16);
  // A Deployment both policy sets deny (no labels, no memory limit): the probe that a registration is in force.
  const probe = JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'probe', namespace: BENCH_NS }, spec: { selector: { matchLabels: { app: 'probe' } }, template: { metadata: { labels: { app: 'probe' } }, spec: { containers: [{ name: 'app', image: 'nginx' }] } } } });
  const enforced = async () => deniedByWebhook((await createDryRun(client, BENCH_NS, probe)).message);
  let order = 0;
  const phase = async (p: WebhookPhase, repeat: number, server?: Server) => {
    await sleep(1000);
    const registered = await registeredWebhooks(cluster);
    const before = await scrape();
    const cpu0 = procCost(server?.child.pid);
    const r = await runLoad(client, bodies, o.concurrency, 120);
    const cpu1 = procCost(server?.child.pid);
    const after = await scrape();
    const webhooks = webhookDeltas(before, after);
    const res: WebhookPhaseResult = {
      phase: p,
      repeat,
      order: order++,
      concurrency: o.concurrency,
      ...r,
      webhooks,
      registered,
      ...(cpu0 && cpu1 ? { serverCpuS: cpu1.cpuS - cpu0.cpuS, serverRssMiB: cpu1.rssMiB } : {}),
    };
    phases.push(res);
    log(`  ${p.padEnd(8)} ${r.requests} dry-run creates, ${o.concurrency} at a time: ${r.rps.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms; created ${r.created}, denied ${r.denied}, other errors ${r.otherErrors}${r.firstError ? ` (${r.firstError})` : ''}`);
    for (const w of webhooks) log(`           webhook ${w.webhook} (${w.type}): ${w.count} calls, mean ${w.meanMs.toFixed(2)} ms, p50 ~${w.p50Ms.toFixed(1)} ms, p99 ~${w.p99Ms.toFixed(1)} ms (API server histogram)`);
    if (res.serverCpuS !== undefined) log(`           server CPU ${res.serverCpuS.toFixed(2)} s over the phase, RSS ${res.serverRssMiB!.toFixed(0)} MiB`);
  };

  try {
    const version = JSON.parse(await kubectlOk(cluster, ['version', '-o', 'json'])).serverVersion?.gitVersion ?? '?';
    log(`  control plane ${version} (${cluster.apiserverUrl}); bench namespace ${BENCH_NS}`);
    await kubectlOk(cluster, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [BENCH_NS, KYVERNO_NS].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kg-peers': 'kyverno' } } })) }));
    // Leftovers of an interrupted run.
    await deleteGovernorRegistrations(cluster);
    await deleteKyvernoRegistrations(cluster);

    // governor serve from the build (the package's bin, as the image runs it), webhook only, with its own serving
    // certificate for 127.0.0.1.
    const governorPhase = async (repeat: number) => {
      const ca = generateCA({ commonName: 'kg-peers-governor-ca' });
      const serving = generateServingCert(ca, { commonName: '127.0.0.1', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
      const certDir = join(work, 'governor-certs');
      mkdirSync(certDir, { recursive: true });
      writeFileSync(join(certDir, 'tls.crt'), serving.certPem);
      writeFileSync(join(certDir, 'tls.key'), serving.keyPem);
      const [wport, mport] = [await freePort(), await freePort()];
      const t0 = performance.now();
      governor = startServer(process.execPath, [BUILT_CLI, 'serve', '--policies', GOVERNOR_POLICIES, '--bind-address', '127.0.0.1', '--webhook-port', String(wport), '--metrics-port', String(mport), '--no-adapter', '--no-cluster-policies', '--tls-cert-file', join(certDir, 'tls.crt'), '--tls-private-key-file', join(certDir, 'tls.key'), '--kubeconfig', cluster.kubeconfig, '--log-format', 'json'], join(work, 'governor.log'), env);
      try {
        await waitUntil('governor serve /readyz', 60_000, async () => (await httpGetStatus(mport, '/readyz')) === 200, governor);
        governorStartS.push((performance.now() - t0) / 1000);
        await kubectlOk(cluster, ['apply', '-f', '-'], JSON.stringify(governorRegistrations(wport, ca.certPem)));
        await waitUntil('the governor registration to deny the probe', 30_000, enforced, governor);
        await phase('governor', repeat, governor);
      } finally {
        await deleteGovernorRegistrations(cluster);
        await governor.stop();
      }
      await waitUntil('the governor registration to be gone', 30_000, async () => !(await enforced()));
    };

    // Kyverno: its CRDs, config and the three ClusterPolicies, once; cmd/kyverno out of cluster, once per phase.
    const kyvernoSetup = async () => {
      const crds = join(kdir, 'crds');
      await kubectlOk(cluster, ['apply', '--server-side', '--force-conflicts', '-f', crds], undefined, 300_000);
      await kubectlOk(cluster, ['wait', '--for=condition=Established', '--timeout=120s', '-f', crds], undefined, 150_000);
      const webhooks = JSON.stringify({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': BENCH_NS } } });
      const cm = (name: string, data: Record<string, string>) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: KYVERNO_NS }, data });
      await kubectlOk(
        cluster,
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'List',
          items: [
            // The release's defaults (config/install-latest-testing.yaml), the webhooks limited to the bench namespace.
            cm('kyverno', { enableDefaultRegistryMutation: 'true', defaultRegistry: 'docker.io', generateSuccessEvents: 'false', excludeGroups: 'system:nodes', resourceFilters: `[*/*,${KYVERNO_NS},*] [Event,*,*] [*/*,kube-system,*] [*/*,kube-public,*] [*/*,kube-node-lease,*] [Node,*,*] [Node/?*,*,*] [APIService,*,*] [APIService/?*,*,*] [TokenReview,*,*] [SubjectAccessReview,*,*] [SelfSubjectAccessReview,*,*] [Binding,*,*] [Pod/binding,*,*] [ReplicaSet,*,*] [ReplicaSet/?*,*,*] [EphemeralReport,*,*] [ClusterEphemeralReport,*,*]`, webhooks }),
            cm('kyverno-metrics', { namespaces: '{"exclude":[],"include":[]}', bucketBoundaries: '0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 25, 30' }),
          ],
        }),
      );
      await kubectlOk(cluster, ['apply', '-f', KYVERNO_POLICIES]);
    };

    const kyvernoPhase = async (repeat: number) => {
      const [wport, mport, crport] = [await freePort(), await freePort(), await freePort()];
      const t0 = performance.now();
      kyverno = startServer(
        join(kdir, 'kyverno-controller'),
        [
          `--kubeconfig=${cluster.kubeconfig}`,
          `--serverIP=127.0.0.1:${wport}`,
          '--webhookServerHost=127.0.0.1',
          `--webhookServerPort=${wport}`,
          `--caSecretName=kyverno-svc.${KYVERNO_NS}.svc.kyverno-tls-ca`,
          `--tlsSecretName=kyverno-svc.${KYVERNO_NS}.svc.kyverno-tls-pair`,
          '--metricsHost=127.0.0.1',
          `--metricsPort=${mport}`,
          `--controllerRuntimeMetricsAddress=127.0.0.1:${crport}`,
          '--otelConfig=prometheus',
          '--admissionReports=false',
          '--generateValidatingAdmissionPolicy=false',
          '--generateMutatingAdmissionPolicy=false',
          '--enablePolicyException=false',
          '--omitEvents=PolicyApplied,PolicySkipped,PolicyViolation,PolicyError',
          '--autoUpdateWebhooks=true',
          '--enableConfigMapCaching=true',
          '--enableDeferredLoading=true',
          '--loggingFormat=text',
          '--v=1',
        ],
        join(work, 'kyverno.log'),
        { ...env, KYVERNO_NAMESPACE: KYVERNO_NS, KYVERNO_POD_NAME: 'kyverno-local', KYVERNO_DEPLOYMENT: 'kyverno-admission-controller', KYVERNO_SVC: 'kyverno-svc', KYVERNO_SERVICEACCOUNT_NAME: 'kyverno-admission-controller', KYVERNO_ROLE_NAME: 'kyverno:admission-controller', INIT_CONFIG: 'kyverno', METRICS_CONFIG: 'kyverno-metrics' },
      );
      try {
        await waitUntil('Kyverno to register its resource webhooks and deny the probe', 240_000, enforced, kyverno);
        kyvernoStartS.push((performance.now() - t0) / 1000);
        log(`  Kyverno enforcing ${kyvernoStartS.at(-1)!.toFixed(1)} s after start`);
        await phase('kyverno', repeat, kyverno);
      } finally {
        await kyverno.stop();
        await deleteKyvernoRegistrations(cluster);
        // Kept past the run for diagnosis (the work directory goes).
        writeFileSync(join(tmpdir(), 'kg-peers-kyverno-controller.log'), kyverno.logTail(2000));
      }
      await waitUntil('the Kyverno registrations to be gone', 30_000, async () => !(await enforced()));
    };

    // Warm-up (not measured): the API server's first requests to a namespace and a resource are slower.
    await runLoad(client, bodies.slice(0, Math.min(100, bodies.length)), o.concurrency, 60);
    if (o.withKyverno !== false) await kyvernoSetup();
    // Alternating which webhook goes first; the baseline before each pair and at the end.
    for (let r = 0; r < o.repeats; r++) {
      await phase('none', r);
      const pair: WebhookPhase[] = r % 2 === 0 ? ['governor', 'kyverno'] : ['kyverno', 'governor'];
      for (const p of pair) {
        if (p === 'governor') await governorPhase(r);
        else if (o.withKyverno !== false) await kyvernoPhase(r);
      }
    }
    await phase('none', o.repeats);
    return { apiserverVersion: version, phases, kyvernoStartS, governorStartS, histogramBuckets: histogramBuckets(await scrape()) };
  } finally {
    await governor?.stop();
    await kyverno?.stop();
    await deleteGovernorRegistrations(cluster).catch(() => undefined);
    await deleteKyvernoRegistrations(cluster).catch(() => undefined);
    await cluster.kubectl(['delete', '-f', KYVERNO_POLICIES, '--ignore-not-found', '--wait=false']).catch(() => undefined);
    await cluster.kubectl(['delete', 'namespace', BENCH_NS, KYVERNO_NS, '--ignore-not-found', '--wait=false']).catch(() => undefined);
    const crds = join(kdir, 'crds');
    if (o.withKyverno !== false && readdirSync(crds, { withFileTypes: true }).length) await cluster.kubectl(['delete', '-f', crds, '--ignore-not-found', '--wait=false'], { timeoutMs: 120_000 }).catch(() => undefined);
    client.agent.destroy();
    rmSync(work, { recursive: true, force: true });
    // Never cluster.stop(): the control plane is shared.
  }
}

const f1 = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');

/** Markdown tables: client round trip per phase, and the API server's webhook histogram per webhook. */
export function kyvernoWebhookTable(r: KyvernoWebhookResult): string[] {
  // The baselines of a phase: the no-webhook phases that open and close its round (the load of a shared machine moves
  // within a round, so the ratio is given to both).
  const baresOf = (p: WebhookPhaseResult) => r.phases.filter((b) => b.phase === 'none' && (b.repeat === p.repeat || b.repeat === p.repeat + 1));
  const span = (xs: number[], d: number) => (xs.length ? xs.map((x) => x.toFixed(d)).join(' / ') : '–');
  const kyvOf = (p: WebhookPhaseResult) => r.phases.find((b) => b.phase === 'kyverno' && b.repeat === p.repeat);
  const md = [
    `### Peers: governor webhook vs Kyverno admission controller (control plane ${r.apiserverVersion})`,
    '',
    '| phase (round, order) | requests | concurrency | req/s | ratio to no webhook (before, after) | ratio to Kyverno (same round) | round trip p50 ms | p99 ms | p50 added over no webhook ms (before, after) | created | denied | other errors | server CPU ms/request | server RSS MiB |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const p of r.phases) {
    const bares = p.phase === 'none' ? [] : baresOf(p);
    const kyv = kyvOf(p);
    md.push(`| ${p.phase} (${p.repeat + 1}, ${p.order + 1}) | ${p.requests} | ${p.concurrency} | ${f1(p.rps, 0)} | ${span(bares.map((b) => p.rps / b.rps), 2)} | ${kyv && p.phase !== 'none' ? f1(p.rps / kyv.rps, 2) : '–'} | ${f1(p.p50Ms)} | ${f1(p.p99Ms)} | ${span(bares.map((b) => p.p50Ms - b.p50Ms), 1)} | ${p.created} | ${p.denied} | ${p.otherErrors} | ${p.serverCpuS !== undefined ? f1((p.serverCpuS * 1000) / p.requests, 2) : '–'} | ${p.serverRssMiB !== undefined ? f1(p.serverRssMiB, 0) : '–'} |`);
  }
  md.push('', `The API server's \`apiserver_admission_webhook_admission_duration_seconds\` over each phase (buckets ${r.histogramBuckets.map((b) => `${b * 1000}`).join(', ')} ms: p50/p99 are interpolated inside them, so read them with the bounds; the mean is exact):`, '');
  md.push('| phase (round) | webhook | type | calls | mean ms | p50 ms | p99 ms | mean ratio to Kyverno (same type, same round) |', '|---|---|---|---|---|---|---|---|');
  for (const p of r.phases) {
    for (const w of p.webhooks) {
      // Kyverno's resource webhooks only (not monitor-webhooks.kyverno.svc, its own health check on a Lease).
      const resource = (x: WebhookSeries) => /^(mutate|validate)\.kyverno\.svc|peers\.governor\.io$/.test(x.webhook);
      const peer = resource(w) ? kyvOf(p)?.webhooks.find((k) => k.type === w.type && resource(k) && k.webhook.includes('.kyverno.')) : undefined;
      md.push(`| ${p.phase} (${p.repeat + 1}) | ${w.webhook} | ${w.type} | ${w.count} | ${f1(w.meanMs, 2)} | ${f1(w.p50Ms)} | ${f1(w.p99Ms)} | ${peer ? f1(w.meanMs / peer.meanMs, 2) : '–'} |`);
    }
  }
  md.push('', `Start to enforcing: governor ${r.governorStartS.map((x) => f1(x)).join(', ') || '–'} s (to /readyz); Kyverno ${r.kyvernoStartS.map((x) => f1(x)).join(', ') || '–'} s (to the first denied probe: certificate generation and webhook registration included).`, '');
  return md;
}

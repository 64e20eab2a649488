// Bench 3: the external metrics adapter's value route (what the HPA polls) on the cached path, with the aggregator's
// front-proxy client certificate, at a fixed rate and at saturation, with 10 and with 10,000 ScalingPolicies; RSS; and
// how many source queries each policy caused per interval however fast it was polled. Every server runs with the
// Deployment's NODE_OPTIONS (bench/lib/deployment.ts), as in the pod. Baseline: node:https that
// checks the client certificate and answers a fixed ExternalMetricValueList.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/observability/log.js';
import { generateCA, generateClientCert, serviceDnsNames } from '../src/tls/certs.js';
import { ensureServingCert } from '../src/tls/serving.js';
import { fixedRate, saturate, type LatencyResult, type RequestSpec, type SaturationResult, type Target } from './lib/load.js';
import { deploymentEnv } from './lib/deployment.js';
import { startServer, type AdapterVariant } from './lib/servers.js';

export interface AdapterBenchOptions {
  readonly variants: readonly AdapterVariant[];
  /** Policy counts to load (the express comparison runs at the largest). */
  readonly policyCounts: readonly number[];
  readonly rate: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly repeats: number;
  readonly connections: number;
  readonly saturationConnections: number;
  /** Policy evaluation interval (s): short, so a run spans several intervals. */
  readonly intervalS: number;
  readonly cpuProfDir?: string;
  /** The servers' environment instead of the Deployment's NODE_OPTIONS (bench/ab-node-options.ts compares heap options). */
  readonly env?: NodeJS.ProcessEnv;
  readonly log: (s: string) => void;
}

/** What the server's RSS is made of (MiB), after a full collection. */
export interface MemoryBreakdown {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly newSpace: number;
  readonly oldSpace: number;
  readonly codeSpace: number;
}

export interface AdapterRun {
  readonly repeat: number;
  readonly variant: AdapterVariant;
  readonly policies: number;
  readonly startMs: number;
  readonly fixed: LatencyResult;
  readonly saturation: SaturationResult;
  /** Server CPU time per request during the saturation run (warm-up included, estimated at the same rate). */
  readonly cpuPerRequestUs: number;
  readonly rssMiB: number;
  /** Memory once the start-up evaluation is done (before any load) and after the load runs. */
  readonly memory?: { readonly ready: MemoryBreakdown; readonly afterLoad: MemoryBreakdown };
  /** The longest event-loop stall in the server during the fixed-rate run (ms). */
  readonly fixedStallMs: number;
  /** Source queries of the polled policies during fixed + saturation runs, per policy and interval spanned. */
  readonly queries?: { readonly polled: number; readonly total: number; readonly intervals: number; readonly maxPerPolicyPerInterval: number; readonly requests: number };
}

const POLLED = 20;

const MiB = (b: number | undefined) => (b ?? 0) / 2 ** 20;
function breakdown(m: NodeJS.MemoryUsage & { spaces: Record<string, number> }): MemoryBreakdown {
  return { rss: MiB(m.rss), heapTotal: MiB(m.heapTotal), heapUsed: MiB(m.heapUsed), external: MiB(m.external), newSpace: MiB(m.spaces.new_space), oldSpace: MiB(m.spaces.old_space), codeSpace: MiB(m.spaces.code_space) };
}

/** A fake load source on loopback: every policy has its own URL; hits are counted per URL. */
async function loadSource(): Promise<{ server: Server; port: number; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":{"rps":450}}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, hits };
}

const nsOf = (i: number) => `team-${i % 100}`;

function writePolicies(dir: string, n: number, sourcePort: number, intervalS: number): void {
  mkdirSync(dir, { recursive: true });
  const docs: string[] = [];
  for (let i = 0; i < n; i++) {
    docs.push(`apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: svc-${i}, namespace: ${nsOf(i)}}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: svc-${i}}
  load: {http: {url: 'http://127.0.0.1:${sourcePort}/load/${i}', valuePath: data.rps}}
  thresholds: {low: 100, high: 800}
  replicas: {min: 2, base: 3, max: 20}
  interval: ${intervalS}s
  staleAfter: ${intervalS * 4}s
`);
  }
  // Several files, as a policy directory usually holds.
  const perFile = 500;
  for (let f = 0; f * perFile < n; f++) writeFileSync(join(dir, `policies-${f}.yaml`), docs.slice(f * perFile, (f + 1) * perFile).join('---\n'));
}

/** What the HPA controller sends through the aggregator: one request per HPA, POLLED different policies in turn. */
function valueRequests(n: number): RequestSpec[] {
  const step = Math.max(1, Math.floor(n / POLLED));
  return Array.from({ length: Math.min(POLLED, n) }, (_, k) => {
    const i = k * step;
    return {
      method: 'GET',
      path: `/apis/external.metrics.k8s.io/v1beta1/namespaces/${nsOf(i)}/desired-replicas?labelSelector=${encodeURIComponent(`governor.io/policy=svc-${i}`)}`,
      headers: { accept: 'application/json', 'x-remote-user': 'system:serviceaccount:kube-system:horizontal-pod-autoscaler', 'x-remote-group': 'system:serviceaccounts' },
    };
  });
}

export async function benchAdapter(o: AdapterBenchOptions): Promise<AdapterRun[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-adapter-'));
  const source = await loadSource();
  const runs: AdapterRun[] = [];
  try {
    const frontProxyCa = generateCA({ commonName: 'front-proxy-ca' });
    const aggregator = generateClientCert(frontProxyCa, { commonName: 'front-proxy-client' });
    const frontProxyCaFile = join(dir, 'front-proxy-ca.crt');
    writeFileSync(frontProxyCaFile, frontProxyCa.certPem);
    const certDir = join(dir, 'certs');
    // The names startGovernor asks for, so it keeps this certificate instead of generating another.
    const certs = await ensureServingCert({ certDir, dnsNames: [...serviceDnsNames('kube-governor', 'kube-governor'), 'localhost'], ipAddresses: ['127.0.0.1', '::1'] }, silentLogger);
    const ca = (await import('node:fs')).readFileSync(certs.caFile!, 'utf8');
    const largest = Math.max(...o.policyCounts);
    for (const n of o.policyCounts) writePolicies(join(dir, `p${n}`), n, source.port, o.intervalS);

    const plan: { variant: AdapterVariant; n: number }[] = [];
    for (const variant of o.variants) {
      if (variant === 'fast') for (const n of o.policyCounts) plan.push({ variant, n });
      else plan.push({ variant, n: largest });
    }
    for (let repeat = 1; repeat <= o.repeats; repeat++) {
      for (const { variant, n } of plan) {
        const server = await startServer({ kind: 'adapter', variant, policyDir: join(dir, `p${n}`), certDir, frontProxyCaFile }, { env: o.env ?? deploymentEnv(), ...(o.cpuProfDir && repeat === 1 ? { cpuProfDir: o.cpuProfDir } : {}), ...(process.env.KG_BENCH_SERVER_ARGS ? { execArgv: process.env.KG_BENCH_SERVER_ARGS.split(' ') } : {}) });
        const target: Target = { host: '127.0.0.1', port: server.port, ca, cert: aggregator.certPem, key: aggregator.keyPem, servername: 'localhost' };
        const requests = valueRequests(n);
        try {
          // Wait (bounded) for the start-up evaluation of every policy (warmUp): the cached path is what we measure.
          const startHits = [...source.hits.values()].reduce((a, b) => a + b, 0);
          for (let seen = -1, deadline = Date.now() + 120_000; variant !== 'bare' && Date.now() < deadline; ) {
            await new Promise((r) => setTimeout(r, 1000));
            const total = [...source.hits.values()].reduce((a, b) => a + b, 0);
            if (total - startHits >= n && total === seen) break;
            seen = total;
          }
          const before = new Map(source.hits);
          const ready = breakdown(await server.memory());
          // KG_BENCH_HEAP_DIR: heap snapshots of the production adapter at ready and after the load (bench/lib/heap-summary.ts).
          const heapDir = process.env.KG_BENCH_HEAP_DIR;
          if (heapDir && variant === 'fast' && repeat === 1) await server.heapSnapshot(join(heapDir, `adapter-${n}-ready.heapsnapshot`));
          await server.maxStallMs();
          const t0 = Date.now();
          const fixed = await fixedRate({ target, requests, connections: o.connections, rate: o.rate, durationS: o.durationS, warmupS: o.warmupS });
          const fixedStallMs = await server.maxStallMs();
          const cpu0 = await server.cpuMicros();
          const allocDir = variant === 'fast' && repeat === 1 ? process.env.KG_BENCH_ALLOC_DIR : undefined;
          if (allocDir) await server.allocStart();
          // KG_BENCH_CPU_DIR: a CPU profile of each server's first saturation run alone (bench/lib/profile.ts reads it).
          const cpuDir = repeat === 1 ? process.env.KG_BENCH_CPU_DIR : undefined;
          if (cpuDir) await server.cpuProfileStart();
          const saturation = await saturate({ target, requests, connections: o.saturationConnections, durationS: o.durationS, warmupS: o.warmupS });
          if (allocDir) await server.allocStop(join(allocDir, `adapter-${n}-saturation.heapprofile`));
          if (cpuDir) await server.cpuProfileStop(join(cpuDir, `adapter-${variant}-${n}-saturation.cpuprofile`));
          const cpuPerRequestUs = ((await server.cpuMicros()) - cpu0) / (saturation.requests * (1 + o.warmupS / o.durationS));
          const t1 = Date.now();
          const afterLoad = breakdown(await server.memory());
          if (heapDir && variant === 'fast' && repeat === 1) await server.heapSnapshot(join(heapDir, `adapter-${n}-after-load.heapsnapshot`));
          const rssMiB = afterLoad.rss;
          let queries: AdapterRun['queries'];
          if (variant !== 'bare') {
            const polled = requests.map((r) => `/load/${/svc-(\d+)/.exec(decodeURIComponent(r.path))![1]}`);
            const counts = polled.map((p) => (source.hits.get(p) ?? 0) - (before.get(p) ?? 0));
            const total = [...source.hits.entries()].reduce((a, [k, v]) => a + v - (before.get(k) ?? 0), 0);
            const intervals = Math.floor(t1 / 1000 / o.intervalS) - Math.floor(t0 / 1000 / o.intervalS) + 1;
            queries = { polled: polled.length, total, intervals, maxPerPolicyPerInterval: Math.max(...counts) / intervals, requests: fixed.measured + saturation.requests };
          }
          o.log(
            `  adapter ${variant.padEnd(8)} ${String(n).padStart(6)} policies #${repeat}: start ${server.startMs.toFixed(0)} ms, ${o.rate} req/s p50 ${fixed.p50.toFixed(2)} p99 ${fixed.p99.toFixed(2)} p99.9 ${fixed.p999.toFixed(2)} ms (longest stall ${fixedStallMs.toFixed(0)} ms)${fixed.non2xx + fixed.errors ? ` (non2xx ${fixed.non2xx}, errors ${fixed.errors})` : ''}; saturation ${saturation.rps.toFixed(0)} req/s${saturation.non2xx ? ` (non2xx ${saturation.non2xx})` : ''}, ${cpuPerRequestUs.toFixed(0)} µs CPU/request; RSS ${rssMiB.toFixed(0)} MiB (at ready ${ready.rss.toFixed(0)}; heap ${afterLoad.heapTotal.toFixed(0)}: new ${afterLoad.newSpace.toFixed(0)}, old ${afterLoad.oldSpace.toFixed(0)}, code ${afterLoad.codeSpace.toFixed(0)}; external ${afterLoad.external.toFixed(0)})` +
              (queries ? `; source queries ${queries.total} for ${queries.requests} requests over ${queries.intervals} intervals (max ${queries.maxPerPolicyPerInterval.toFixed(2)} per policy per interval)` : ''),
          );
          runs.push({ repeat, variant, policies: n, startMs: server.startMs, fixed, fixedStallMs, saturation, cpuPerRequestUs, rssMiB, memory: { ready, afterLoad }, ...(queries ? { queries } : {}) });
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    await new Promise<void>((r) => source.server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
  return runs;
}

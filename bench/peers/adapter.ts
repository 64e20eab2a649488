// Peer bench: the governor adapter against upstream prometheus-adapter (hack/build-prometheus-adapter.sh), both run as
// host processes against the local control plane (hack/local-cluster.sh: delegated authentication from the
// extension-apiserver-authentication ConfigMap, SubjectAccessReviews to its API server), both reading the same
// Prometheus (Debian's `prometheus`, test/e2e/harness/prometheus.ts) that scrapes a metrics target this bench controls,
// both called with the cluster's front-proxy client certificate and the HPA controller's X-Remote-User, with the bare
// adapter baseline (bench/lib/servers.ts) in the same run.
//
// The workload at N = 1 and 1,000: N series `bench_queue_depth{queue="q<i>"}`.
//   governor: N ScalingPolicies, each `load: {prometheus: {query: 'bench_queue_depth{queue="q<i>"}'}}`, polled as
//     desired-replicas?labelSelector=governor.io/policy=q<i>
//   prometheus-adapter: one external rule matching all N series (`namespaced: false`), polled as
//     bench_queue_depth?labelSelector=queue=q<i>
// One rule over N series rather than N rules: it is how prometheus-adapter is configured for many queues of one kind
// (one metric, a label selecting the queue), each request still selects one series, as each governor request selects
// one policy; N rules would add N metric names to its discovery and relist, not to a value request.
//
// prometheus-adapter sends one PromQL query to Prometheus per value request; governor answers from its per-interval
// cache (one query per policy per interval). Prometheus's CPU and the queries it answered are reported for each run.
// Nothing is created in the cluster: no APIService is registered, the governor's Lease namespace does not exist.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/observability/log.js';
import { serviceDnsNames } from '../../src/tls/certs.js';
import { ensureServingCert } from '../../src/tls/serving.js';
import { freePort, startMetricsTarget, startPrometheus } from '../../test/e2e/harness/prometheus.js';
import { BUILT_CLI, deploymentEnv } from '../lib/deployment.js';
import { fixedRate, saturate, type LatencyResult, type RequestSpec, type SaturationResult, type Target } from '../lib/load.js';
import { startServer } from '../lib/servers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NAMESPACE = 'p16adapter-peers';
const METRIC = 'bench_queue_depth';
const POLLED = 20;
const HPA_HEADERS = { accept: 'application/json', 'x-remote-user': 'system:serviceaccount:kube-system:horizontal-pod-autoscaler', 'x-remote-group': 'system:serviceaccounts' };

export type PeerAdapterServer = 'bare' | 'governor' | 'prometheus-adapter';

export interface PeerAdapterRun {
  readonly repeat: number;
  readonly server: PeerAdapterServer;
  readonly series: number;
  readonly fixed: LatencyResult;
  readonly saturation: SaturationResult;
  readonly cpuPerRequestUs: number;
  readonly rssMiB: number;
  /** Prometheus during the fixed-rate and saturation runs: CPU seconds per second of wall time, queries answered. */
  readonly prometheus: { readonly cpuCores: number; readonly queries: number; readonly requests: number };
}

export interface PeerAdapterOptions {
  readonly counts: readonly number[];
  readonly rate: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly repeats: number;
  readonly log: (s: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** utime + stime of a process, in µs (/proc/<pid>/stat, clock ticks of 10 ms). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

function clusterEnv(): Record<string, string> {
  const dir = process.env.KG_CLUSTER_DIR ?? '/tmp/kube-governor-cluster';
  let text: string;
  try {
    text = readFileSync(join(dir, 'env'), 'utf8');
  } catch {
    throw new Error(`no local control plane in ${dir}: run hack/local-cluster.sh up`);
  }
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/^export (\w+)='([^']*)'$/gm)) env[m[1]!] = m[2]!;
  return env;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout!.on('data', (d) => (out += String(d)));
    const limit = setTimeout(() => c.kill('SIGKILL'), 60 * 60_000);
    c.once('exit', (code) => {
      clearTimeout(limit);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`));
    });
  });
}

interface Proc {
  readonly child: ChildProcess;
  readonly logFile: string;
  stop(): Promise<void>;
}

function startProc(bin: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = {}): Proc {
  const fd = openSync(logFile, 'a');
  const child = spawn(bin, args, { cwd: ROOT, stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  closeSync(fd);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    logFile,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    },
  };
}

/** GET with the front-proxy certificate until it answers 200 (bounded); returns the body. */
async function getOk(target: Target, path: string, proc: Proc | undefined, timeoutMs: number): Promise<string> {
  const { request } = await import('node:https');
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc && proc.child.exitCode !== null) throw new Error(`exited with ${proc.child.exitCode}; log ${proc.logFile}:\n${readFileSync(proc.logFile, 'utf8').slice(-2000)}`);
    const r = await new Promise<{ code: number; body: string }>((resolve) => {
      const q = request({ host: target.host, port: target.port, path, ca: target.ca, cert: target.cert, key: target.key, servername: target.servername, headers: HPA_HEADERS, agent: false, timeout: 5000 }, (res) => {
        let body = '';
        res.on('data', (d) => (body += String(d)));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
      });
      q.on('error', (e) => resolve({ code: 0, body: e.message }));
      q.on('timeout', () => q.destroy(new Error('timeout')));
      q.end();
    });
    if (r.code === 200) return r.body;
    last = `${r.code} ${r.body.slice(0, 300)}`;
    await sleep(500);
  }
  throw new Error(`GET ${path} never answered 200 (last: ${last})${proc ? `; log ${proc.logFile}` : ''}`);
}

/** Counters of Prometheus's own /metrics: instant queries answered and HTTP requests. */
async function prometheusCounters(url: string): Promise<{ queries: number; requests: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let queries = 0;
  let requests = 0;
  for (const m of text.matchAll(/^prometheus_http_requests_total\{([^}]*)\} (\S+)$/gm)) {
    requests += Number(m[2]);
    if (/handler="\/api\/v1\/query"/.test(m[1]!)) queries += Number(m[2]);
  }
  return { queries, requests };
}

function policies(n: number): string {
  const docs: string[] = [];
  for (let i = 0; i < n; i++) {
    docs.push(`apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: q${i}, namespace: ${NAMESPACE}}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: q${i}}
  load: {prometheus: {query: '${METRIC}{queue="q${i}"}'}}
  thresholds: {low: 100, high: 800}
  replicas: {min: 2, base: 3, max: 20}
  interval: 15s
`);
  }
  return docs.join('---\n');
}

const ADAPTER_CONFIG = `externalRules:
- seriesQuery: '{__name__="${METRIC}",queue!=""}'
  resources:
    namespaced: false
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)
`;

const polled = (n: number) => Array.from({ length: Math.min(POLLED, n) }, (_, k) => k * Math.max(1, Math.floor(n / POLLED)));

export async function benchPeersAdapter(o: PeerAdapterOptions): Promise<PeerAdapterRun[]> {
  const cluster = clusterEnv();
  await run('bash', ['hack/local-cluster.sh', 'status']).catch(() => {
    throw new Error('the local control plane is not healthy: run hack/local-cluster.sh up');
  });
  o.log('  building (or reusing) prometheus-adapter: hack/build-prometheus-adapter.sh');
  const built = (await run('bash', ['hack/build-prometheus-adapter.sh'])).trim().split('\n').at(-1)!;
  const adapterBin = join(built.replace(/^PROMETHEUS_ADAPTER_DIR=/, ''), 'prometheus-adapter');
  const distCli = BUILT_CLI;
  o.log('  building dist/ (npm run build)');
  await run('npm', ['run', '--silent', 'build']);

  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-peers-adapter-'));
  const largest = Math.max(...o.counts);
  const target = await startMetricsTarget();
  for (let i = 0; i < largest; i++) target.set(METRIC, 450, { queue: `q${i}` });
  const prom = await startPrometheus({ targets: [target.address], scrapeInterval: '5s' });
  const runs: PeerAdapterRun[] = [];
  try {
    await prom.waitForQuery(`count(${METRIC})`, (v) => v === largest, 60_000);
    const certDir = join(dir, 'certs');
    const certs = await ensureServingCert({ certDir, dnsNames: [...serviceDnsNames('kube-governor', 'kube-governor'), 'localhost'], ipAddresses: ['127.0.0.1', '::1'] }, silentLogger);
    const ca = readFileSync(certs.caFile!, 'utf8');
    const tls = { ca, cert: readFileSync(cluster.KG_FRONT_PROXY_CERT!, 'utf8'), key: readFileSync(cluster.KG_FRONT_PROXY_KEY!, 'utf8'), servername: 'localhost' };
    const kubeconfig = cluster.KUBECONFIG!;
    writeFileSync(join(dir, 'adapter-config.yaml'), ADAPTER_CONFIG);
    for (const n of o.counts) {
      mkdirSync(join(dir, `p${n}`));
      writeFileSync(join(dir, `p${n}`, 'policies.yaml'), policies(n));
    }

    const startGovernor = async (n: number) => {
      const [a, w, m] = [await freePort(), await freePort(), await freePort()];
      const proc = startProc(process.execPath, [distCli, 'serve', '--policies', join(dir, `p${n}`), '--kubeconfig', kubeconfig, '--no-cluster-policies', '--service-namespace', NAMESPACE, '--prometheus-url', prom.url, '--tls-cert-file', join(certDir, 'tls.crt'), '--tls-private-key-file', join(certDir, 'tls.key'), '--cert-dir', join(dir, 'governor-cert-dir'), '--bind-address', '127.0.0.1', '--secure-port', String(a), '--webhook-port', String(w), '--metrics-port', String(m), '--allowed-source-hosts', '127.0.0.1', '--log-level', 'warn'], join(dir, `governor-${n}.log`), deploymentEnv());
      return { proc, port: a, paths: polled(n).map((i) => `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/desired-replicas?labelSelector=${encodeURIComponent(`governor.io/policy=q${i}`)}`) };
    };
    const startPeer = async (n: number) => {
      const port = await freePort();
      const proc = startProc(adapterBin, [`--secure-port=${port}`, '--bind-address=127.0.0.1', `--tls-cert-file=${join(certDir, 'tls.crt')}`, `--tls-private-key-file=${join(certDir, 'tls.key')}`, `--lister-kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`, `--prometheus-url=${prom.url}`, `--config=${join(dir, 'adapter-config.yaml')}`, '--metrics-relist-interval=1m', '--v=0'], join(dir, `prometheus-adapter-${n}.log`));
      return { proc, port, paths: polled(n).map((i) => `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/${METRIC}?labelSelector=${encodeURIComponent(`queue=q${i}`)}`) };
    };

    for (let repeat = 1; repeat <= o.repeats; repeat++) {
      for (const n of o.counts) {
        // Alternating order between repeats, so drift of the shared machine falls on every server.
        const order: PeerAdapterServer[] = repeat % 2 ? ['bare', 'governor', 'prometheus-adapter'] : ['prometheus-adapter', 'governor', 'bare'];
        for (const server of order) {
          let proc: Proc | undefined;
          let bare: Awaited<ReturnType<typeof startServer>> | undefined;
          let port: number;
          let paths: string[];
          if (server === 'bare') {
            bare = await startServer({ kind: 'adapter', variant: 'bare', policyDir: join(dir, `p${n}`), certDir, frontProxyCaFile: cluster.KG_FRONT_PROXY_CA! }, { env: deploymentEnv() });
            port = bare.port;
            paths = polled(n).map((i) => `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/desired-replicas?labelSelector=${encodeURIComponent(`governor.io/policy=q${i}`)}`);
          } else {
            const s = server === 'governor' ? await startGovernor(n) : await startPeer(n);
            proc = s.proc;
            port = s.port;
            paths = s.paths;
          }
          try {
            const t: Target = { host: '127.0.0.1', port, ...tls };
            // Ready and serving a value for every polled series (bounded), checked before any load.
            for (const p of paths) {
              const body = await getOk(t, p, proc, 90_000);
              if (server !== 'bare' && !/"value":"\d+m?"/.test(body)) throw new Error(`${server}: no value in ${body.slice(0, 300)}`);
            }
            // governor evaluates every policy once at start (one Prometheus query and one scale read each): wait
            // (bounded) until Prometheus's query count has stopped moving, so the load runs measure the value route.
            for (let last = -1, deadline = Date.now() + 120_000; Date.now() < deadline; ) {
              await sleep(1000);
              const q = (await prometheusCounters(prom.url)).queries;
              if (q === last) break;
              last = q;
            }
            const requests: RequestSpec[] = paths.map((path) => ({ method: 'GET', path, headers: HPA_HEADERS }));
            const pid = bare ? bare.pid : proc!.child.pid!;
            const p0 = await prometheusCounters(prom.url);
            const pc0 = cpuMicros(prom.pid);
            const w0 = performance.now();
            const fixed = await fixedRate({ target: t, requests, connections: 8, rate: o.rate, durationS: o.durationS, warmupS: o.warmupS });
            const c0 = cpuMicros(pid);
            const saturation = await saturate({ target: t, requests, connections: 32, durationS: o.durationS, warmupS: o.warmupS });
            const cpuPerRequestUs = (cpuMicros(pid) - c0) / (saturation.requests * (1 + o.warmupS / o.durationS));
            const cpuCores = (cpuMicros(prom.pid) - pc0) / 1000 / (performance.now() - w0);
            const p1 = await prometheusCounters(prom.url);
            const rss = rssMiB(pid);
            const prometheus = { cpuCores, queries: p1.queries - p0.queries, requests: p1.requests - p0.requests };
            o.log(
              `  peers-adapter ${server.padEnd(18)} ${String(n).padStart(5)} series #${repeat}: ${o.rate} req/s p50 ${fixed.p50.toFixed(2)} p99 ${fixed.p99.toFixed(2)} ms${fixed.non2xx + fixed.errors ? ` (non2xx ${fixed.non2xx}, errors ${fixed.errors})` : ''}; saturation ${saturation.rps.toFixed(0)} req/s${saturation.non2xx + saturation.errors ? ` (non2xx ${saturation.non2xx}, errors ${saturation.errors})` : ''}, ${cpuPerRequestUs.toFixed(0)} µs CPU/request; RSS ${rss.toFixed(0)} MiB; Prometheus ${prometheus.cpuCores.toFixed(2)} cores, ${prometheus.queries} queries`,
            );
            runs.push({ repeat, server, series: n, fixed, saturation, cpuPerRequestUs, rssMiB: rss, prometheus });
          } finally {
            await proc?.stop();
            await bare?.stop();
          }
        }
      }
    }
  } finally {
    await prom.stop();
    await target.close();
    if (process.env.KG_BENCH_KEEP === '1') o.log(`  kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  return runs;
}

const range = (xs: readonly number[], digits = 0) => {
  const lo = Math.min(...xs).toFixed(digits);
  const hi = Math.max(...xs).toFixed(digits);
  return lo === hi ? lo : `${lo}–${hi}`;
};

/** The BENCHMARKS.md table: per server and series count, ranges over repeats, ratios from the same repeat. */
export function peersAdapterTable(runs: readonly PeerAdapterRun[], o: { readonly durationS: number; readonly warmupS: number }): string[] {
  const out = [
    '| server | series / policies | saturation req/s | ratio to bare | governor ÷ prometheus-adapter (req/s) | p50 ms at 1000 req/s | p99 ms at 1000 req/s | server CPU µs/request | RSS MiB | Prometheus CPU (cores) | Prometheus queries per 1,000 requests (warm-up included) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const counts = [...new Set(runs.map((r) => r.series))];
  for (const n of counts) {
    for (const server of ['bare', 'governor', 'prometheus-adapter'] as const) {
      const rs = runs.filter((r) => r.series === n && r.server === server);
      if (!rs.length) continue;
      const same = (r: PeerAdapterRun, s: PeerAdapterServer) => runs.find((x) => x.series === n && x.repeat === r.repeat && x.server === s);
      const toBare = rs.map((r) => r.saturation.rps / (same(r, 'bare')?.saturation.rps ?? Number.NaN));
      const toPeer = server === 'governor' ? rs.map((r) => r.saturation.rps / (same(r, 'prometheus-adapter')?.saturation.rps ?? Number.NaN)) : [];
      // Requests sent, warm-ups included (estimated at the measured rates), against the queries Prometheus answered.
      const perK = rs.map((r) => (1000 * r.prometheus.queries) / ((r.fixed.measured + r.saturation.requests) * (1 + o.warmupS / o.durationS)));
      out.push(
        `| ${server} | ${n} | ${range(rs.map((r) => r.saturation.rps))} | ${range(toBare, 2)} | ${toPeer.length ? range(toPeer, 1) : '–'} | ${range(rs.map((r) => r.fixed.p50), 2)} | ${range(rs.map((r) => r.fixed.p99), 2)} | ${range(rs.map((r) => r.cpuPerRequestUs))} | ${range(rs.map((r) => r.rssMiB))} | ${range(rs.map((r) => r.prometheus.cpuCores), 2)} | ${server === 'bare' ? '–' : range(perK, 1)} |`,
      );
    }
  }
  return out;
}
